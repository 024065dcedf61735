"""How a trial ended: the status strings of trials.csv, in one dependency-free place.

- ``ok``: trained to its last epoch with finite losses;
- ``stopped``: stopped before its last epoch by a time limit (or an early-termination rule); its
  metrics are those of the last epoch it trained, and it ranks below every ``ok`` trial;
- ``diverged``: a loss became NaN or infinite (a result, ranked below every ``ok`` trial);
- ``failed``: the trial raised an exception (its traceback is in ``errors/``);
- ``crashed``: the worker running it died (a segfault, the out-of-memory killer, ``os._exit``).
"""

OK, STOPPED, DIVERGED, FAILED, CRASHED = "ok", "stopped", "diverged", "failed", "crashed"
#: Every status a finished trial can have, in ranking order.
STATUSES = (OK, STOPPED, DIVERGED, FAILED, CRASHED)
#: Statuses of trials that ran to their end (a diverged run is a result, ranked last).
COMPLETED = (OK, DIVERGED)
#: Not a recorded status: a trial that reached a milestone of early termination and waits there.
PAUSED = "paused"

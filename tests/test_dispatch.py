"""The dispatcher against a scripted pool: every event and every branch of the failure policy.

The fake pool runs nothing: each task's attempts follow a script (``ok``, ``raise``, ``kill``,
``lose``, ``break``) and the futures settle on the next wait, the way loky and Dask report them.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from sweep.config import parse_experiment
from sweep.dispatch import MAX_LOSSES, MAX_RESTARTS_WITHOUT_PROGRESS, Dispatcher
from sweep.errors import SweepError
from sweep.plan import group_tasks
from sweep.pools import Outcome, Pool
from sweep.strategies import plan_trials
from sweep.task import TrialResult


class Raised(Exception):
    """What a task raises."""


class Killed(Exception):
    """Dask's KilledWorker: the pool knows this task killed its workers."""


class Lost(Exception):
    """A task lost without the pool knowing why (loky's BrokenProcessPool, Dask's CancelledError)."""


class Gone(Exception):
    """The pool itself is gone (a lost Dask scheduler)."""


class Future:
    def __init__(self, task, outcome):
        self.task, self.outcome = task, outcome


class ScriptedPool(Pool):
    """A pool whose task attempts follow ``script[hidden_size]`` (a list, one entry per attempt; then ``ok``).

    ``break`` kills the worker and, as in loky, every task in flight with it (all of them raise
    Lost). ``submit_breaks`` makes that many submits raise Lost (the pool broke between two waits).
    """

    def __init__(self, script=None, finds_culprits=False, slots=2, submit_breaks=0):
        self.script = defaultdict(list, {k: list(v) for k, v in (script or {}).items()})
        self.finds_culprits, self._slots, self.submit_breaks = finds_culprits, slots, submit_breaks
        self.submitted, self.restarts, self.max_in_flight, self.in_flight = [], 0, 0, set()
        self.shared = []

    def describe(self):
        return "scripted"

    def slots(self):
        return self._slots

    def share(self, data):
        self.shared.append(data)
        return data

    def submit(self, fn, task, shared):
        if self.submit_breaks:
            self.submit_breaks -= 1
            raise Lost("broken between waits")
        attempts = self.script[task.params["hidden_size"]]
        future = Future(task, attempts.pop(0) if attempts else "ok")
        self.submitted.append((task.params["hidden_size"], future.outcome))
        self.in_flight.add(future)
        self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
        return future

    def wait(self, futures, timeout=None):
        futures = set(futures)
        if any(f.outcome == "break" for f in futures):  # a dead loky worker takes the others down too
            for f in futures:
                f.outcome = "lost with the others" if f.outcome != "break" else f.outcome
        self.in_flight -= futures
        return futures, set()

    def result(self, future):
        if future.outcome == "ok":
            return [TrialResult(t.trial_id, "ok", {"val_acc": 0.5}) for t in future.task.trials]
        raise {"raise": Raised, "kill": Killed, "gone": Gone}.get(future.outcome, Lost)(future.outcome)

    def classify(self, exc):
        if isinstance(exc, Gone):
            raise SweepError("the scheduler is gone")
        if isinstance(exc, Raised):
            return Outcome.RAISED
        if isinstance(exc, Killed):
            return Outcome.KILLED_ITS_WORKER
        if isinstance(exc, Lost):
            return Outcome.LOST
        return Outcome.RAISED

    def restart(self):
        self.restarts += 1

    def shutdown(self, kill=False, keep=False):
        pass


class Data:
    def astype(self, dtype):
        return self


def tasks(*hidden_sizes):
    experiment = parse_experiment({"name": "d", "dataset": "digits", "method": "grid", "parameters": {
        "hidden_size": {"values": list(hidden_sizes)}}, "fixed": {"epochs": 1}})
    return group_tasks(plan_trials(experiment))


def dispatch(pool, queued):
    """Run ``queued`` to the end on ``pool``; (hidden size -> status, messages)."""
    reported, messages = {}, []

    def report(task, results):
        assert task.params["hidden_size"] not in reported, "a task is reported once"
        reported[task.params["hidden_size"]] = (results[0].status, results[0].error)

    dispatcher = Dispatcher(pool, fn, Data(), report, messages.append, poll_seconds=0)
    dispatcher.add(queued)
    for _ in range(200):
        if dispatcher.idle:
            return reported, messages
        dispatcher.step()
    raise AssertionError("the dispatcher did not finish")


def fn(task, data):  # never called: the pool is scripted
    raise AssertionError


def test_tasks_run_within_the_pools_slots_and_each_result_is_reported_once():
    pool = ScriptedPool(slots=2)
    reported, messages = dispatch(pool, tasks(1, 2, 3, 4, 5))
    assert {h: s for h, (s, _) in reported.items()} == dict.fromkeys([1, 2, 3, 4, 5], "ok")
    assert pool.max_in_flight == 2 and pool.restarts == 0 and messages == []
    assert len(pool.shared) == 1  # the data set is shared once per dtype


def test_a_task_that_raises_fails_its_trials_and_nothing_else():
    pool = ScriptedPool({2: ["raise"]})
    reported, _ = dispatch(pool, tasks(1, 2, 3))
    assert reported[2] == ("failed", "Raised: raise") and reported[1][0] == reported[3][0] == "ok"
    assert pool.restarts == 0


def test_loky_a_worker_death_reruns_every_task_in_flight_alone_and_crashes_only_the_culprit():
    pool = ScriptedPool({2: ["break", "break"]}, finds_culprits=False, slots=3)
    reported, messages = dispatch(pool, tasks(1, 2, 3, 4))
    assert reported[2][0] == "crashed" and all(reported[h][0] == "ok" for h in (1, 3, 4))
    assert pool.restarts == 1 and "re-running the 3 task(s) it may have taken down, one at a time" in messages[0]
    alone = pool.submitted[3:6]  # after the break: the three suspects, one at a time
    assert sorted(h for h, _ in alone) == [1, 2, 3]


def test_dask_a_task_that_killed_its_workers_is_run_alone_before_it_is_called_the_culprit():
    pool = ScriptedPool({2: ["kill", "kill"], 3: ["kill"]}, finds_culprits=True)
    reported, messages = dispatch(pool, tasks(1, 2, 3))
    assert reported[2][0] == "crashed" and reported[3][0] == "ok" and reported[1][0] == "ok"  # 3 was innocent
    assert pool.restarts == 0 and any("running it alone" in m for m in messages)


def test_dask_a_lost_task_is_submitted_again_and_crashed_after_too_many_losses():
    pool = ScriptedPool({1: ["lose"], 2: ["lose"] * (MAX_LOSSES + 1)}, finds_culprits=True)
    reported, _ = dispatch(pool, tasks(1, 2))
    assert reported[1][0] == "ok"  # lost once, then run again
    assert reported[2] == ("crashed", f"WorkerDied: lost {MAX_LOSSES + 1} times (lose)")
    assert [h for h, _ in pool.submitted].count(2) == MAX_LOSSES + 1


def test_a_pool_that_broke_between_two_waits_is_restarted_and_the_task_kept():
    pool = ScriptedPool(submit_breaks=1)
    reported, messages = dispatch(pool, tasks(1, 2))
    assert {h: s for h, (s, _) in reported.items()} == {1: "ok", 2: "ok"}
    assert pool.restarts == 1 and messages == []  # nothing was in flight, nothing to re-run alone


def test_a_pool_whose_workers_die_before_any_task_runs_is_given_up():
    pool = ScriptedPool(submit_breaks=100)
    with pytest.raises(SweepError, match="worker processes keep dying before they run any trial"):
        dispatch(pool, tasks(1))
    assert pool.restarts == MAX_RESTARTS_WITHOUT_PROGRESS


def test_a_lost_pool_is_fatal_once_the_other_finished_tasks_are_reported():
    pool = ScriptedPool({2: ["gone"]}, slots=3)
    reported = {}
    dispatcher = Dispatcher(pool, fn, Data(), lambda task, results: reported.setdefault(task.params["hidden_size"],
                                                                                         results[0].status),
                            poll_seconds=0)
    dispatcher.add(tasks(1, 2, 3))
    with pytest.raises(SweepError, match="the scheduler is gone"):
        dispatcher.step()
    assert reported == {1: "ok", 3: "ok"}


def test_a_submit_that_fails_for_another_reason_is_raised():
    class Refusing(ScriptedPool):
        def submit(self, fn, task, shared):
            raise Raised("cannot pickle")

    with pytest.raises(Raised):
        dispatch(Refusing(), tasks(1))


def test_a_cluster_without_workers_is_waited_for():
    class Empty(ScriptedPool):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def slots(self):
            self.calls += 1
            return 0 if self.calls < 3 else 2

    pool = Empty()
    reported, _ = dispatch(pool, tasks(1))
    assert reported[1][0] == "ok" and pool.calls >= 3

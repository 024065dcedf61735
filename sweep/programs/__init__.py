"""A sweep of a user's training script, run per trial as W&B's agent runs it (``program:``, ``command:``).

- :mod:`.spec`: the experiment's keys, and the parameters' kinds read from the sweep file;
- :mod:`.command`: the argv, with W&B's macros and formatting (never a shell);
- :mod:`.run`: one trial in a worker (the subprocess, its logs, its metric lines, its stop);
- :mod:`.metrics`: reading the metric lines; :mod:`.log`: ``sweep.log`` for Python scripts;
- :mod:`.processes`: process groups and pid files; :mod:`.runner`: the runner's side (stops, hyperband).
"""

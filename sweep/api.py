"""Running a sweep from Python (a notebook, a script): what ``sweep run`` does, returning the run.

    import sweep
    run = sweep.run_experiment("experiments/default.yaml", overrides=["epochs=5"], n_jobs=2)
    run.leaderboard(top=5)

In a Jupyter notebook the progress is tqdm's notebook bar (with ipywidgets installed; tqdm's text bar
otherwise); elsewhere it is what ``sweep run`` shows on the same stream.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable


def run_experiment(experiment: str | Path, *, overrides: Iterable[str] = (), out: str | Path | None = None,
                   resume: bool = False, n_jobs: int | None = None, max_trials: int | None = None,
                   time_limit: float | str | None = None, quiet: bool = False, report: bool = True):
    """Run (or with ``resume`` continue) the experiment file ``experiment`` and return its
    :class:`~sweep.results.Run`.

    ``overrides`` are ``sweep run``'s ``--set KEY=VALUE`` items; ``out`` the run folder (by default
    ``results/<name>/<time>/``, or with ``resume`` the experiment's latest run); ``n_jobs`` workers
    (-1: one per core; by default the file's ``n_jobs``); ``max_trials`` and ``time_limit`` (seconds,
    or text such as ``"30m"``) end an open-ended search; ``report`` writes the plots and report.html at
    the end. The workers stay up for the next sweep of this process (loky stops them after 5 idle minutes). An interrupt (the
    kernel's stop button) keeps every finished trial: the run returned is what was recorded, and
    ``resume=True`` goes on with it. Errors in the file raise :class:`~sweep.errors.ConfigError`
    naming its line; a bad argument raises :class:`~sweep.errors.SweepError` naming it, before any
    run folder is made.
    """
    from .cli import write_plots_and_report
    from .config import cpu_count, load_experiment
    from .durations import time_limit_of
    from .results import load_run
    from .runner import run_sweep

    overrides = _checked_arguments(experiment, overrides, n_jobs, max_trials)
    time_limit = time_limit_of(time_limit, "time_limit")
    loaded = load_experiment(Path(experiment), overrides)
    outcome = run_sweep(loaded, run_dir=None if out is None else Path(out), resume=resume, quiet=quiet,
                        n_jobs=cpu_count() if n_jobs == -1 else n_jobs, max_trials=max_trials,
                        time_limit=time_limit, live_report=report)
    if outcome.interrupted:
        print(f"interrupted: {sum(outcome.counts.values())} trials are recorded in {outcome.run_dir}; "
              f"run_experiment({str(experiment)!r}, resume=True, out={str(outcome.run_dir)!r}) goes on",
              file=sys.stderr)
    elif report:
        write_plots_and_report(outcome.run_dir, quiet=quiet)
    return load_run(outcome.run_dir)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _checked_arguments(experiment, overrides, n_jobs, max_trials) -> list[str]:
    """The checks ``sweep run`` makes of its options, as one-line SweepErrors; the overrides as a list."""
    from .errors import SweepError

    if not isinstance(experiment, (str, os.PathLike)):
        raise SweepError(f"experiment: the path of an experiment file, got {type(experiment).__name__}")
    if isinstance(overrides, (str, bytes)) or overrides is None:
        raise SweepError(f"overrides: a list of 'KEY=VALUE' strings, got {overrides!r}; write [{overrides!r}]"
                         if isinstance(overrides, str) else "overrides: a list of 'KEY=VALUE' strings, got None")
    overrides = list(overrides)
    bad = next((item for item in overrides if not isinstance(item, str)), None)
    if bad is not None:
        raise SweepError(f"overrides: each is a 'KEY=VALUE' string, got {bad!r}")
    if n_jobs is not None and (not _whole(n_jobs) or (n_jobs < 1 and n_jobs != -1)):
        raise SweepError(f"n_jobs {n_jobs!r}: a whole number >= 1, or -1 for one per core")
    if max_trials is not None and (not _whole(max_trials) or max_trials < 1):
        raise SweepError(f"max_trials {max_trials!r}: a whole number >= 1")
    return overrides

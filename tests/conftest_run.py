"""Small real run folders for the plot and report tests, each built once per test session.

Not a conftest.py: test modules import it (``from conftest_run import ...``) and wrap the
builders in session fixtures; the cache below makes both modules share the same folders.
"""

from __future__ import annotations

from pathlib import Path

from sweep.config import parse_experiment
from sweep.runner import run_sweep
from sweep.task import failed_result, run_task

#: Error text of the failing trials: markup in it checks that the report escapes it.
FAIL_MESSAGE = "boom <b>not bold</b> & co"
FAIL_HIDDEN = 13

_FIXED = {"optimizer": "sgd", "init": "he", "batch_size": 64}

GRID = {
    # 36 trials in 18 training runs: lr 50 with reg 0.1 diverges in both hidden sizes (a fully
    # diverged heatmap cell), lr 50 with less reg stays finite at chance level.
    "name": "grid",
    "dataset": {"name": "digits"},
    "method": "grid",
    "parameters": {
        "hidden_size": {"values": [10, 20]},
        "learning_rate": {"values": [50.0, 0.1, 0.01]},
        "reg": {"values": [0.0, 1e-3, 1e-1]},
        "epochs": {"values": [2, 3]},
    },
    "fixed": _FIXED,
    "n_jobs": 2,
}
ONE = {"name": "one", "dataset": {"name": "digits"}, "fixed": {**_FIXED, "epochs": 2, "hidden_size": 12,
                                                                "learning_rate": 0.1}, "n_jobs": 1}
FAILED = {
    "name": "failed",
    "dataset": {"name": "digits"},
    "parameters": {"hidden_size": {"values": [FAIL_HIDDEN, 16]}, "learning_rate": {"values": [0.1, 0.01]}},
    "fixed": {**_FIXED, "epochs": 2},
    "n_jobs": 2,
}
ALL_FAILED = {**FAILED, "name": "allfailed", "parameters": {"hidden_size": {"values": [FAIL_HIDDEN]},
                                                            "learning_rate": {"values": [0.1, 0.01]}}}
REGRESSION = {
    "name": "regression",
    "dataset": {"name": "synthetic", "kind": "regression", "n_samples": 400},
    "metric": {"name": "val_loss"},
    "parameters": {"learning_rate": {"values": [1e-1, 1e-2, 1e-3]}, "reg": {"values": [0.0, 1e-2]}},
    "fixed": {"loss": "mse", "epochs": 2, "init": "he", "optimizer": "sgd_momentum", "hidden_size": 8},
    "n_jobs": 2,
}
EXPERIMENTS = {"grid": GRID, "one": ONE, "failed": FAILED, "allfailed": ALL_FAILED, "regression": REGRESSION}


def fail_some(task, data):
    """A task function whose trials with hidden_size FAIL_HIDDEN fail; the others train."""
    if task.params["hidden_size"] == FAIL_HIDDEN:
        return [failed_result(t, ValueError(FAIL_MESSAGE)) for t in task.trials]
    return run_task(task, data)


_CACHE: dict[str, Path] = {}


def make_run(tmp_path_factory, kind: str) -> Path:
    """The run folder of experiment ``kind`` (see EXPERIMENTS), made on first use, with no plots."""
    if kind not in _CACHE:
        root = tmp_path_factory.mktemp(f"run-{kind}")
        task_fn = fail_some if kind in ("failed", "allfailed") else run_task
        run_sweep(parse_experiment(EXPERIMENTS[kind]), run_dir=root / "run", quiet=True, task_fn=task_fn)
        _CACHE[kind] = root / "run"
    return _CACHE[kind]

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
    "method": "grid",
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
    "method": "grid", "parameters": {"learning_rate": {"values": [1e-1, 1e-2, 1e-3]}, "reg": {"values": [0.0, 1e-2]}},
    "fixed": {"loss": "mse", "epochs": 2, "init": "he", "optimizer": "sgd_momentum", "hidden_size": 8},
    "n_jobs": 2,
}
#: Hyperband over a learning rate x reg grid: most trials are stopped at epoch 1 or 3 of 9, with scores.
HYPERBAND = {
    "name": "hb",
    "dataset": {"name": "digits"},
    "method": "grid",
    "parameters": {"hidden_size": {"values": [8, 16]}, "learning_rate": {"values": [0.3, 0.1, 0.01, 0.001]},
                   "reg": {"values": [0.0, 1e-3]}},
    "fixed": {**_FIXED, "epochs": 9, "optimizer": "sgd_momentum"},
    "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 3},
    "n_jobs": 2,
}
#: The same, searching one parameter only.
HYPERBAND_ONE_PARAM = {**HYPERBAND, "name": "hb1", "parameters": {"learning_rate": {"values": [0.3, 0.1, 0.01, 0.001]}},
                       "fixed": {**HYPERBAND["fixed"], "hidden_size": 16}}
#: Slow enough to kill mid-bracket (see :func:`make_paused_run`).
SLOW_HYPERBAND = {**HYPERBAND, "name": "slowhb",
                  "parameters": {"hidden_size": {"values": [128, 136, 144, 152]},
                                 "learning_rate": {"values": [0.1, 0.01, 0.001]}},
                  "fixed": {"epochs": 9, "optimizer": "sgd_momentum", "init": "he", "batch_size": 32}}
EXPERIMENTS = {"grid": GRID, "one": ONE, "failed": FAILED, "allfailed": ALL_FAILED, "regression": REGRESSION,
               "hyperband": HYPERBAND, "hyperband1": HYPERBAND_ONE_PARAM}


def fail_some(task, data):
    """A task function whose trials with hidden_size FAIL_HIDDEN fail; the others train."""
    if task.params["hidden_size"] == FAIL_HIDDEN:
        return [failed_result(t, ValueError(FAIL_MESSAGE)) for t in task.trials]
    return run_task(task, data)


_CACHE: dict[str, Path] = {}


def make_paused_run(tmp_path_factory, rows: int) -> Path:
    """An unfinished Hyperband run folder, made by ``sweep run`` killed with ``kill -9`` once trials wait
    in ``paused/`` and trials.csv records at least ``rows`` trials (0: maybe none)."""
    from conftest import kill_9_once_paused, write_experiment

    key = f"paused-{rows}"
    if key not in _CACHE:
        root = tmp_path_factory.mktemp(key)
        write_experiment(root / "hb.yaml", **SLOW_HYPERBAND)
        kill_9_once_paused(["run", "hb.yaml", "--out", "run", "--no-plots", "--quiet"], root, root / "run", rows=rows)
        _CACHE[key] = root / "run"
    return _CACHE[key]


def make_run(tmp_path_factory, kind: str) -> Path:
    """The run folder of experiment ``kind`` (see EXPERIMENTS), made on first use, with no plots."""
    if kind not in _CACHE:
        root = tmp_path_factory.mktemp(f"run-{kind}")
        task_fn = fail_some if kind in ("failed", "allfailed") else run_task
        run_sweep(parse_experiment(EXPERIMENTS[kind]), run_dir=root / "run", quiet=True, task_fn=task_fn)
        _CACHE[kind] = root / "run"
    return _CACHE[kind]

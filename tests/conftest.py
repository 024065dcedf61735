"""Shared helpers: experiment files on disk and the CLI in a subprocess."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

# The Dask clusters the tests start (subprocess clusters, dask-local in the CLI and in this process)
# inherit these: no statistical profiler sampling every worker's threads 100 times a second, and an
# event-loop health tick every second instead of 50 times. Idle, that took a fifth of a core per
# cluster; the suite runs on two cores. Nothing tested depends on either.
os.environ.setdefault("DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED", "False")
os.environ.setdefault("DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL", "1s")


@pytest.fixture(autouse=True, scope="session")
def _private_data_cache(tmp_path_factory):
    """The tests (and the CLI they start) keep prepared data sets, and the key that seals saved state,
    in folders of their own, not ~/.cache and ~/.config."""
    os.environ["SWEEP_CACHE_DIR"] = str(tmp_path_factory.mktemp("data-cache"))
    os.environ["SWEEP_KEY_FILE"] = str(tmp_path_factory.mktemp("key") / "state.key")
    yield


def idx_bytes(arr) -> bytes:
    """The bytes of an IDX file (MNIST's format: magic 0x08 for uint8, the dimensions, the data) holding ``arr``."""
    import struct

    import numpy as np

    arr = np.asarray(arr, dtype=np.uint8)
    return struct.pack(">I", 0x0800 | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write_experiment(path: Path, **doc) -> Path:
    """Write an experiment YAML file made of ``doc`` and return its path."""
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def sweep_cli(*args, cwd: Path, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m sweep ARGS`` in a subprocess, as a user would, and capture its output."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "sweep", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def sweep_cli_with_task(task_fn: str, *args, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``sweep ARGS`` in a subprocess whose trials run the task function ``faults.<task_fn>``.

    The command line is the real one; only the function the workers call is swapped, so a test
    can make trials fail in a way no valid experiment file can.
    """
    code = ("import functools, sys, faults, sweep.runner as runner; from sweep.cli import main; "
            f"runner.run_sweep = functools.partial(runner.run_sweep, task_fn=faults.{task_fn}); "
            "sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _as_from_a_terminal():
    """In the child: Ctrl-C as a terminal delivers it (a test runner started with ``&`` ignores it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args, cwd, **kwargs):
    """Start ``python -m sweep ARGS`` in its own process group, output captured."""
    return subprocess.Popen([sys.executable, "-m", "sweep", *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_as_from_a_terminal, **kwargs)


def kill_9_once_paused(args, cwd: Path, run: Path, timeout: float = 120, rows: int = 0) -> None:
    """Start ``sweep ARGS`` and ``kill -9`` its whole process group once ``run/paused/`` holds a state (a
    trial waits at, or goes on from, a milestone of early termination) and ``run/trials.csv`` records at
    least ``rows`` trials."""
    proc = start(args, cwd)
    paused, trials = run / "paused", run / "trials.csv"
    deadline = time.monotonic() + timeout

    def recorded() -> int:
        return len(trials.read_text().splitlines()) - 1 if trials.is_file() else 0

    while not (paused.is_dir() and any(paused.glob("*.npz")) and recorded() >= rows):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def wait_for_rows(path: Path, rows: int, proc, timeout=60.0):
    """Block until the CSV at ``path`` has at least ``rows`` data rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) - 1 >= rows:
            return
        if proc.poll() is not None:
            raise AssertionError(f"sweep ended early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {rows} rows")


#: A 12-trial grid on digits through the command line (hostile-use tests start from its finished run).
GRID = {
    "name": "small",
    "dataset": {"name": "digits"},
    "method": "grid",
    "parameters": {"hidden_size": {"values": [16, 32]}, "learning_rate": {"values": [0.1, 0.02]},
                   "epochs": {"values": [1, 3, 4]}},
    "fixed": {"optimizer": "sgd_momentum", "init": "he", "batch_size": 64},
    "n_jobs": 2,
}

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished GRID run folder with its report, made through the command line."""
    root = tmp_path_factory.mktemp("finished")
    write_experiment(root / "exp.yaml", **GRID)
    result = sweep_cli("run", "exp.yaml", "--quiet", "--out", "run", cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "run"


@pytest.fixture
def workdir(tmp_path, finished):
    """A folder holding exp.yaml and a copy of the finished run as ``run``."""
    write_experiment(tmp_path / "exp.yaml", **GRID)
    shutil.copytree(finished, tmp_path / "run")
    return tmp_path


@pytest.fixture
def small_grid():
    """A 12-trial grid on digits that trains in about a second (3 training runs x 4 epochs values)."""
    return {
        "name": "small",
        "dataset": {"name": "digits"},
        "method": "grid",
        "parameters": {
            "hidden_size": {"values": [16, 32]},
            "learning_rate": {"values": [0.1, 0.02]},
            "epochs": {"values": [1, 3, 4]},
        },
        "fixed": {"optimizer": "sgd_momentum", "init": "he", "batch_size": 64},
        "n_jobs": 2,
    }


#: Test files that take the longest, longest first. `make test` hands whole files to two pytest
#: workers in collection order (--no-loadscope-reorder); starting with the long ones keeps one worker
#: from finishing a long file alone at the end.
LONGEST_FILES = ["test_program_sweeps.py", "test_dask.py", "test_hostile.py", "test_cli.py", "test_report.py",
                 "test_run_folder_trust.py", "test_program_hostile.py", "test_hyperband.py", "test_adaptive_figures.py",
                 "test_live_report.py", "test_signals_and_handshake.py", "test_bayes.py", "test_open_ended.py",
                 "test_plots.py", "test_compare.py", "test_docs.py"]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a file kept

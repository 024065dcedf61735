"""The run folder: append-only CSV records written as each trial finishes, resumable after a crash.

Layout of ``results/<name>/<YYYYmmdd-HHMMSS>/``::

    experiment.yaml   resolved experiment, plus `provenance` (versions, command line, start time)
    plan.csv          every planned trial: trial_id, config_id, repeat, seed and its hyperparameters
    trials.csv        one row per finished trial (completion order), see TRIAL_COLUMNS
    history.csv       one row per finished trial and epoch, see HISTORY_COLUMNS
    errors/ID.txt     the traceback of each failed or crashed trial
    best/             model.npz and summary.json of the best trial (written at the end of a run)

Crash safety: a trial's history rows, then its trials.csv row, are each written with a single
``write`` on an unbuffered descriptor and ``fsync``-ed before the next trial is reported, so a
``kill -9`` loses at most the trials in flight. Opening a run for resume drops a torn last line and
history rows of trials that have no trials.csv row.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from .config import Experiment
from .errors import SweepError
from .params import PARAMETER_NAMES
from .plan import TrialSpec
from .task import CRASHED, FAILED, METRIC_COLUMNS, TrialResult
from . import yamlio

TRIAL_COLUMNS = ("trial_id", "status", *PARAMETER_NAMES, "seed", "repeat", "config_id", *METRIC_COLUMNS, "worker",
                 "error")
HISTORY_COLUMNS = ("trial_id", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
PLAN_COLUMNS = ("trial_id", "config_id", "repeat", "seed", *PARAMETER_NAMES)
EXPERIMENT_FILE, PLAN_FILE, TRIALS_FILE, HISTORY_FILE = "experiment.yaml", "plan.csv", "trials.csv", "history.csv"
BEST_DIR, ERRORS_DIR = "best", "errors"


def new_run_dir(results_root: Path, name: str) -> Path:
    """``results_root/name/YYYYmmdd-HHMMSS`` (with a ``-2``, ``-3``... suffix if taken)."""
    base = Path(results_root) / name / datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def latest_run_dir(results_root: Path, name: str) -> Path:
    """The most recent run folder of experiment ``name`` (folder names sort by time)."""
    parent = Path(results_root) / name
    runs = sorted(p for p in parent.glob("*") if (p / EXPERIMENT_FILE).is_file()) if parent.is_dir() else []
    if not runs:
        raise SweepError(f"no run of experiment '{name}' to resume under {parent}/")
    return runs[-1]


def _csv_line(values) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return buf.getvalue().encode()


class RunStore:
    """One run folder, opened for appending results. Holds an exclusive lock while open."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._lock_fd: int | None = None
        self._fds: dict[str, int] = {}
        self._recorded: set[str] = set()

    # ------------------------------------------------------------------------------ creation
    @classmethod
    def create(cls, run_dir: Path, experiment: Experiment, trials: list[TrialSpec],
               command: str | None = None) -> "RunStore":
        """Start a new run folder (it may exist, but must not hold a run already)."""
        run_dir = Path(run_dir)
        if (run_dir / TRIALS_FILE).exists():
            raise SweepError(f"{run_dir} already holds a run; resume it with --resume {run_dir}, "
                             "or choose another --out folder")
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            store = cls(run_dir)
            store._acquire_lock()
            document = experiment.to_dict()
            document["provenance"] = provenance(command)
            _atomic_write(run_dir / EXPERIMENT_FILE, yamlio.dumps(document).encode())
            plan = b"".join([_csv_line(PLAN_COLUMNS)] + [
                _csv_line([t.trial_id, t.config_id, t.repeat, t.seed, *(t.params[p] for p in PARAMETER_NAMES)])
                for t in trials])
            _atomic_write(run_dir / PLAN_FILE, plan)
            _atomic_write(run_dir / TRIALS_FILE, _csv_line(TRIAL_COLUMNS))
            _atomic_write(run_dir / HISTORY_FILE, _csv_line(HISTORY_COLUMNS))
            store._open_for_append()
        except OSError as exc:
            raise SweepError(f"cannot write the run folder {run_dir}: {exc.strerror or exc}") from None
        return store

    @classmethod
    def open(cls, run_dir: Path, experiment: Experiment, trials: list[TrialSpec],
             retry_failed: bool = False) -> "RunStore":
        """Re-open a run to resume it.

        Refuses when the run belongs to another experiment, was made with another data set or
        metric, or when ``trials`` no longer match its plan: mixing those would compare numbers
        that are not comparable. ``retry_failed`` forgets the failed and crashed trials, so they
        run again.
        """
        run_dir = Path(run_dir)
        for name in (EXPERIMENT_FILE, PLAN_FILE, TRIALS_FILE, HISTORY_FILE):
            if not (run_dir / name).is_file():
                raise SweepError(f"{run_dir} is not a run folder ({name} is missing)")
        _check_same_experiment(run_dir, experiment)
        store = cls(run_dir)
        store._acquire_lock()
        planned = [row["trial_id"] for row in _read_rows(run_dir / PLAN_FILE)]
        wanted = [t.trial_id for t in trials]
        if set(planned) != set(wanted):
            new, gone = len(set(wanted) - set(planned)), len(set(planned) - set(wanted))
            store.close()
            raise SweepError(
                f"cannot resume {run_dir}: the experiment no longer matches that run ({new} trial(s) planned now "
                f"are not in it, {gone} of its trial(s) are no longer planned); undo the edit, or start a new run "
                "without --resume")
        store._repair()
        if retry_failed:
            store._forget({tid for tid, status in store.finished().items() if status in (FAILED, CRASHED)})
        store._open_for_append()
        return store

    # ------------------------------------------------------------------------------ reading
    def finished(self) -> dict[str, str]:
        """trial_id -> status of every trial with a trials.csv row."""
        return {row["trial_id"]: row["status"] for row in _read_rows(self.run_dir / TRIALS_FILE)}

    # ------------------------------------------------------------------------------ writing
    def append(self, trial: TrialSpec, result: TrialResult) -> bool:
        """Record a finished trial: history rows, then its trials.csv row, each fsync-ed.

        A trial that already has a row is not recorded again (a cluster may run a task twice when
        the worker that ran it first died before reporting): returns False then.
        """
        if trial.trial_id in self._recorded:
            return False
        if result.history:
            rows = b"".join(_csv_line([trial.trial_id, *(r[c] for c in HISTORY_COLUMNS[1:])])
                            for r in result.history)
            self._write(HISTORY_FILE, rows)
        if result.traceback:
            errors = self.run_dir / ERRORS_DIR
            errors.mkdir(exist_ok=True)
            (errors / f"{trial.trial_id}.txt").write_text(result.traceback)
        metrics = [result.metrics.get(c) for c in METRIC_COLUMNS]
        row = [trial.trial_id, result.status, *(trial.params[p] for p in PARAMETER_NAMES), trial.seed,
               trial.repeat, trial.config_id, *metrics, result.worker, result.error]
        self._write(TRIALS_FILE, _csv_line(row))
        self._recorded.add(trial.trial_id)
        return True

    def _write(self, name: str, data: bytes) -> None:
        fd = self._fds[name]
        view = memoryview(data)
        while view:  # one write() for a regular file in practice; loop for the rare short write
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)

    def _open_for_append(self) -> None:
        self._recorded = set(self.finished())
        for name in (TRIALS_FILE, HISTORY_FILE):
            self._fds[name] = os.open(self.run_dir / name, os.O_WRONLY | os.O_APPEND)

    def _repair(self) -> None:
        """Drop a torn last line (kill -9 mid-write) and history rows of unrecorded trials.

        A trials.csv from an older version with other columns is rewritten with today's columns
        (values kept by name, new columns blank), so appended rows line up with the header.
        """
        for name in (TRIALS_FILE, HISTORY_FILE):
            path = self.run_dir / name
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                _atomic_write(path, data[:data.rfind(b"\n") + 1])
        path = self.run_dir / TRIALS_FILE
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        if tuple(header) != TRIAL_COLUMNS:
            rows = _read_rows(path)
            _atomic_write(path, b"".join([_csv_line(TRIAL_COLUMNS)] +
                                         [_csv_line([row.get(c) for c in TRIAL_COLUMNS]) for row in rows]))
        recorded = set(self.finished())
        path = self.run_dir / HISTORY_FILE
        lines = path.read_bytes().splitlines(keepends=True)
        kept = lines[:1] + [ln for ln in lines[1:] if ln.split(b",", 1)[0].decode() in recorded]
        if len(kept) != len(lines):
            _atomic_write(path, b"".join(kept))

    def _forget(self, trial_ids: set[str]) -> None:
        """Remove the rows (and tracebacks) of ``trial_ids``, rewriting the files atomically."""
        if not trial_ids:
            return
        for name in (TRIALS_FILE, HISTORY_FILE):
            path = self.run_dir / name
            lines = path.read_bytes().splitlines(keepends=True)
            kept = lines[:1] + [ln for ln in lines[1:] if ln.split(b",", 1)[0].decode() not in trial_ids]
            _atomic_write(path, b"".join(kept))
        for trial_id in trial_ids:
            (self.run_dir / ERRORS_DIR / f"{trial_id}.txt").unlink(missing_ok=True)

    # ------------------------------------------------------------------------------ lock
    def _acquire_lock(self) -> None:
        fd = os.open(self.run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SweepError(f"{self.run_dir} is in use by another running sweep") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _check_same_experiment(run_dir: Path, experiment: Experiment) -> None:
    """SweepError unless the run was made by an experiment of the same name, data set and metric."""
    recorded, _ = yamlio.read(run_dir / EXPERIMENT_FILE)
    recorded = recorded or {}
    now = experiment.to_dict()
    for key, what in (("name", "experiment"), ("dataset", "data set"), ("metric", "metric")):
        if recorded.get(key) != now[key]:
            raise SweepError(f"cannot resume {run_dir}: it was made with {what} {_inline(recorded.get(key))}, "
                             f"the experiment now says {_inline(now[key])}; start a new run without --resume, "
                             "or undo the edit")


def _inline(value) -> str:
    return yamlio.dumps(value).strip().replace("\n", ", ") if isinstance(value, dict) else repr(value)


def _read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f) if row.get("trial_id")]


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def provenance(command: str | None) -> dict:
    """Where and with what a run was made: command line, start time, Python and package versions."""
    from importlib import metadata

    versions = {"python": sys.version.split()[0]}
    for package in ("sweep", "numpy", "pandas", "joblib", "matplotlib", "pyyaml", "scikit-learn", "threadpoolctl"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"command": command or " ".join(sys.argv), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host_cpus": os.cpu_count(), "versions": versions}


def write_best(run_dir: Path, net, summary: dict) -> Path:
    """Write ``best/model.npz`` and ``best/summary.json`` (atomically replacing earlier ones)."""
    best = Path(run_dir) / BEST_DIR
    best.mkdir(exist_ok=True)
    tmp = best / "model.npz.tmp"
    net.save(tmp, trial_id=summary.get("trial_id"))
    os.replace(tmp, best / "model.npz")
    _atomic_write(best / "summary.json", (json.dumps(summary, indent=2, default=_json_default, allow_nan=False) + "\n").encode())
    return best


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

"""Run folders: their names, finding the latest of an experiment, checking ``--out``, and what a
run records about where it was made; the best model's files.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import time
from datetime import datetime
from pathlib import Path

from .. import yamlio
from ..config import Experiment
from ..errors import SweepError
from .files import (
    BEST_DIR,
    EXPERIMENT_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    PLAN_FILE,
    SUMMARY_FILE,
    TRIALS_FILE,
    atomic_write,
    own_folder,
    sha256_of,
    write_error,
)
from .seal import seal, unsealed_problem

#: What the seal of a best model's record binds (see :mod:`sweep.results.seal`).
BEST_SEAL_KIND = "sweep best model 1"
_STAMP = re.compile(r"^(\d{8}-\d{6})(?:-(\d+))?$")
#: The files that make a folder a run.
RUN_FILES = (EXPERIMENT_FILE, PLAN_FILE, TRIALS_FILE, HISTORY_FILE)


def new_run_dir(results_root: Path, name: str) -> Path:
    """The first free ``results_root/name/YYYYmmdd-HHMMSS`` (``-2``, ``-3``... if taken) right now.

    Only a suggestion: :meth:`RunStore.create_new` claims a name atomically.
    """
    base = Path(results_root) / name / datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def _run_order(path: Path) -> tuple:
    """Sort key of run folders: by their time stamp and suffix (``-10`` after ``-9``), others first."""
    match = _STAMP.match(path.name)
    return (match.group(1), int(match.group(2) or 1), "") if match else ("", 0, path.name)


def latest_run_dir(results_root: Path, experiment: Experiment, notices: list | None = None) -> Path:
    """The most recent complete run folder of ``experiment`` under ``results_root/<folder name>/``.

    Folders that are not complete runs (made by an older version and killed while being made) and
    runs of another experiment whose name has the same folder name are passed over; each folder
    passed over adds a line to ``notices``.
    """
    parent = Path(results_root) / experiment.folder_name
    notices = notices if notices is not None else []
    folders = sorted((p for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_run_order,
                     reverse=True) if parent.is_dir() else []
    for folder in folders:
        why = not_a_run(folder)
        if why:
            notices.append(f"skipped {folder}: not a complete run folder ({why})")
            continue
        try:
            recorded = yamlio.read(folder / EXPERIMENT_FILE).data
        except Exception:  # noqa: BLE001 - any damage: RunStore.open says what, if this folder is the one
            return folder
        name = recorded.get("name") if isinstance(recorded, dict) else None
        if name is not None and name != experiment.name:
            continue  # another experiment sharing the folder name
        return folder
    raise SweepError(f"no run of experiment '{experiment.name}' to resume under {parent}/")


def check_run_to_read(run_dir: Path) -> Path:
    """``run_dir`` when it can be read as a run (it holds trials.csv); otherwise the one-line
    SweepError that ``sweep show`` and :func:`sweep.load_run` both give."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        why = "no such folder" if not run_dir.exists() else "not a folder"
    elif not (run_dir / TRIALS_FILE).is_file():
        why = f"no {TRIALS_FILE}"
    else:
        return run_dir
    raise SweepError(f"{run_dir} is not a run folder ({why})")


#: Where ``sweep run`` makes run folders by default, and where the latest run is looked for.
RESULTS_ROOT = Path("results")


def find_run(run_dir: Path | str | None = None, results_root: Path = RESULTS_ROOT) -> Path:
    """The run folder a reading command means (``sweep show``, :func:`sweep.load_run`): ``run_dir``
    itself when it is a run; the latest run inside it when it is an experiment's folder of runs
    (``results/digits-grid``, or just ``digits-grid`` under ``results_root``); and with no
    ``run_dir``, the latest run under ``results_root``. "Latest" is the run whose trials.csv was
    written last. SweepError in one line when there is none."""
    if run_dir is None:
        latest = _latest_run(results_root, "*/*")
        if latest is None:
            raise SweepError(f"no run folder under {results_root}/; run one with: sweep run EXPERIMENT.yaml")
        return latest
    run_dir = Path(run_dir)
    if not (run_dir / TRIALS_FILE).is_file():
        for folder in (run_dir, Path(results_root) / run_dir):
            latest = _latest_run(folder, "*") if folder.is_dir() else None
            if latest is not None:
                return latest
    return check_run_to_read(run_dir)


def _latest_run(root: Path, pattern: str) -> Path | None:
    runs = [p for p in Path(root).glob(f"{pattern}/{TRIALS_FILE}")
            if not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return max(runs, key=lambda p: p.stat().st_mtime).parent if runs else None


def not_a_run(folder: Path) -> str | None:
    """Why ``folder`` is not a run folder (a file of :data:`RUN_FILES` missing, and what to do), or None.

    A folder that lost only plan.csv while trials.csv holds trials is a run: resuming rebuilds or
    refuses its plan (see :meth:`RunStore.open`, which says which), showing needs no plan.
    """
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if not missing:
        return None
    rows = {name: rows_after_header(folder / name) for name in (TRIALS_FILE, HISTORY_FILE)}
    if missing == [PLAN_FILE] and rows[TRIALS_FILE]:
        return None
    holding = next((name for name, count in rows.items() if count), None)
    if holding:  # trials ran: the folder is no half-made start
        return f"{missing[0]} is missing, while {holding} holds {rows[holding]} row(s): restore it, or start a new run"
    if (folder / EXPERIMENT_FILE).is_file() and missing[0] != EXPERIMENT_FILE:
        return f"{missing[0]} is missing; its start was interrupted before any trial ran: start a new run"
    return f"{missing[0]} is missing"


def rows_after_header(path: Path) -> int:
    """Non-blank lines of ``path`` after its first (0 when it is missing or unreadable): the rows of a
    CSV file, counted without reading it as one (NUL bytes a power cut left at its end are not a row)."""
    try:
        data = path.read_bytes().rstrip(b"\0")
    except OSError:
        return 0
    return max(sum(1 for line in data.splitlines() if line.strip()) - 1, 0)


def check_out_folder(out: Path) -> Path:
    """``--out``, checked before anything is loaded: a new folder, or an empty one; returns it resolved.

    Anything else is a one-line SweepError, and nothing in the folder is touched.
    """
    out = Path(out)
    if out.is_symlink() and out.is_dir():
        out = out.resolve()
    if not out.exists() and not out.is_symlink():
        return out
    if not out.is_dir():
        raise SweepError(f"--out {out}: exists and is not a folder; give a new or empty folder")
    if (out / TRIALS_FILE).exists():
        raise SweepError(f"{out} already holds a run; resume it with --resume {out}, or choose another --out folder")
    try:
        entries = sorted(entry.name for entry in out.iterdir())
    except OSError as exc:
        raise SweepError(f"--out {out}: cannot look inside it ({exc.strerror or exc})") from None
    if entries:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise SweepError(f"--out {out} is not empty ({len(entries)} entr{'y' if len(entries) == 1 else 'ies'}: "
                         f"{shown}); a run is written only into a new or empty folder, so nothing in it is "
                         "overwritten: choose another folder")
    return out


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
            "run_id": secrets.token_hex(8),  # tells this run from a copy of another: sealed files name it
            "host_cpus": os.cpu_count(), "versions": versions}


def write_best(run_dir: Path, net, summary: dict, preprocessing=None) -> Path:
    """Write ``best/model.npz`` (with ``preprocessing``: see :func:`sweep.modelfile.save_model`) and
    ``best/summary.json`` (atomically replacing earlier ones); the summary records the model file's
    SHA-256 (``model_sha256``), which :func:`model_file_problem` checks."""
    from ..modelfile import save_model

    tmp = None
    try:
        best = own_folder(run_dir, BEST_DIR)
        tmp = best / f".{MODEL_FILE}.tmp"
        tmp.unlink(missing_ok=True)  # left by a kill (or a link put there: removed, never followed)
        save_model(net, tmp, preprocessing, trial_id=summary.get("trial_id"))
        summary = {**summary, "model_sha256": sha256_of(tmp)}
        summary["seal"] = seal(BEST_SEAL_KIND, _best_identity(summary), {})
        text = json.dumps(summary, indent=2, default=_json_default, allow_nan=False) + "\n"
        os.replace(tmp, best / MODEL_FILE)
        atomic_write(best / SUMMARY_FILE, text.encode())
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise write_error(f"cannot save the best model in {Path(run_dir) / BEST_DIR} (every trial is recorded; free "
                          "space or fix the folder, then --resume finishes the run)", exc, full_disk="") from None
    return best


def best_record_problem(summary: dict) -> str | None:
    """Why ``summary`` is not a record of the best model written by this user's sweeps (its seal binds
    the trial, its epochs and the model file's SHA-256), or None. Only a resume asks: reading a run
    (shared, archived) needs no seal."""
    return unsealed_problem(BEST_SEAL_KIND, _best_identity(summary), {}, summary.get("seal"))


def _best_identity(summary: dict) -> str:
    return json.dumps({key: summary.get(key) for key in ("trial_id", "epochs_trained", "model_sha256")})


def model_file_problem(path: Path, summary: dict) -> str | None:
    """Why the model file at ``path`` is not the one whose SHA-256 ``summary`` records, or None (also
    when the summary records none: a run of an earlier version)."""
    expected = summary.get("model_sha256")
    if expected is None:
        return None
    if sha256_of(path) != expected:
        return f"it is not the model this run saved (its SHA-256 is not the one {SUMMARY_FILE} records)"
    return None


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

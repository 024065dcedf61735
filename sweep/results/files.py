"""The run folder's file names, its CSV columns, and how a file is written so that a crash never
leaves half of it: the one place that spells them.

Layout of ``results/<name>/<YYYYmmdd-HHMMSS>/``::

    experiment.yaml   resolved experiment, plus `provenance` (versions, command line, start time)
    plan.csv          every planned trial: trial_id, config_id, repeat, seed and its hyperparameters
    trials.csv        one row per finished trial (completion order), see TRIAL_COLUMNS
    history.csv       one row per finished trial and epoch, see HISTORY_COLUMNS
    errors/ID.txt     the traceback of each failed or crashed trial
    best/             model.npz and summary.json of the best trial (written at the end of a run)
    plots/, report.html, .drawn.json   the figures, the report, and the record of what sweep drew
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SweepError
from ..params import ADDED_LATER, PARAMETER_NAMES

#: Result columns of trials.csv, in order.
METRIC_COLUMNS = ("train_loss", "train_acc", "val_loss", "val_acc", "best_val_acc", "best_epoch", "seconds")
EXPERIMENT_FILE, PLAN_FILE, TRIALS_FILE, HISTORY_FILE = "experiment.yaml", "plan.csv", "trials.csv", "history.csv"
BEST_DIR, ERRORS_DIR, SUMMARY_FILE, MODEL_FILE = "best", "errors", "summary.json", "model.npz"
TRIAL_COLUMNS = ("trial_id", "status", *PARAMETER_NAMES, "seed", "repeat", "config_id", *METRIC_COLUMNS, "worker",
                 "error")
HISTORY_COLUMNS = ("trial_id", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
PLAN_COLUMNS = ("trial_id", "config_id", "repeat", "seed", *PARAMETER_NAMES)
#: Columns a run written by an earlier version lacks; read as :data:`COLUMN_DEFAULTS` says, else blank.
OPTIONAL_TRIAL_COLUMNS = ("worker", *ADDED_LATER)
OPTIONAL_PLAN_COLUMNS = tuple(ADDED_LATER)
COLUMN_DEFAULTS = {name: str(value) for name, value in ADDED_LATER.items()}


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and flush it to the disk."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step: readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write_file(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_error(action: str, exc: OSError) -> SweepError:
    """The one line for an OSError of the run folder (a full disk, a read-only folder...)."""
    return SweepError(f"{action}: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else ""))

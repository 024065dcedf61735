"""The run folder's file names, its CSV columns, and how a file is written so that a crash never
leaves half of it: the one place that spells them.

Layout of ``results/<name>/<YYYYmmdd-HHMMSS>/``::

    experiment.yaml   resolved experiment, plus `provenance` (versions, command line, start time)
    plan.csv          every planned trial: trial_id, config_id, repeat, seed and its hyperparameters
    trials.csv        one row per finished trial (completion order), see TRIAL_COLUMNS
    history.csv       one row per finished trial and epoch, see HISTORY_COLUMNS
    errors/ID.txt     the traceback of each failed or crashed trial
    best/             model.npz and summary.json of the best trial (written at the end of a run)
    paused/ID.npz     the state of a trial paused at a milestone of early termination
    candidates/ID.npz the weights of a trial that may be the best model
    plots/, report.html, .drawn.json   the figures, the report, and the record of what sweep drew
    .scratch/         the pool's files while a sweep runs (the shared data set, dask-local's workers)

A run folder is shared, archived and edited by people. Were a sub-folder replaced by a symbolic
link to a folder of the user's, a resume would delete and overwrite that folder's files (stale
``*.tmp`` files, kept weights by their names, ``model.npz``...). So every write or delete in a
sub-folder goes through :func:`own_folder`, which refuses a link, and :func:`refuse_links` checks
the whole folder before a resume or a drawing starts. A file is only ever replaced by a rename
(a link at its name is replaced, never followed) or appended to through a descriptor opened
without following a link.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import SweepError
from ..params import ADDED_LATER, PARAMETER_NAMES

#: Result columns of trials.csv, in order.
METRIC_COLUMNS = ("train_loss", "train_acc", "val_loss", "val_acc", "best_val_acc", "best_epoch", "seconds")
EXPERIMENT_FILE, PLAN_FILE, TRIALS_FILE, HISTORY_FILE = "experiment.yaml", "plan.csv", "trials.csv", "history.csv"
BEST_DIR, ERRORS_DIR, SUMMARY_FILE, MODEL_FILE = "best", "errors", "summary.json", "model.npz"
PAUSED_DIR, CANDIDATES_DIR, PLOTS_DIR, SCRATCH_DIR = "paused", "candidates", "plots", ".scratch"
#: The sub-folders a run makes, writes and deletes in.
SUBFOLDERS = (BEST_DIR, ERRORS_DIR, PAUSED_DIR, CANDIDATES_DIR, PLOTS_DIR, SCRATCH_DIR, "logs", "trials")
#: The files of the run folder itself that a run appends to or locks (the others are replaced by a rename).
APPENDED_FILES = ("plan.csv", "trials.csv", "history.csv", ".drawn.lock")
HISTORY_COLUMNS = ("trial_id", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
#: history.csv of a program sweep: one row per value a program logged (each line of it is a ``step``).
PROGRAM_HISTORY_COLUMNS = ("trial_id", "step", "name", "value")


@dataclass(frozen=True)
class ResultColumns:
    """What a run records of each trial: the metric columns of trials.csv (``required``: the one an
    ``ok`` row fills) and the columns of history.csv. A net's trials record :data:`METRIC_COLUMNS` and
    one history row per epoch; a program's, its metric, ``steps`` and ``seconds``, and one history row
    per value it logged (:data:`PROGRAM_HISTORY_COLUMNS`)."""

    metrics: tuple = METRIC_COLUMNS
    history: tuple = HISTORY_COLUMNS
    required: str = "val_loss"

    @property
    def program(self) -> bool:
        return self.history == PROGRAM_HISTORY_COLUMNS


#: The result columns of a run that trains a net (built-in or the user's).
MODEL_RESULTS = ResultColumns()


def program_results(metric: str) -> ResultColumns:
    """The result columns of a program sweep ranked by ``metric``."""
    return ResultColumns((metric, "steps", "seconds"), PROGRAM_HISTORY_COLUMNS, metric)


def trial_columns(names=PARAMETER_NAMES, metrics=METRIC_COLUMNS) -> tuple[str, ...]:
    """The columns of trials.csv for hyperparameters ``names`` (those of the run's :class:`~sweep.params.ParamTable`):
    they stand between ``status`` and ``seed``; ``metrics`` (those of its :class:`ResultColumns`) after ``config_id``."""
    return ("trial_id", "status", *names, "seed", "repeat", "config_id", *metrics, "worker", "error")


def plan_columns(names=PARAMETER_NAMES) -> tuple[str, ...]:
    """The columns of plan.csv for hyperparameters ``names``: they come after ``seed``."""
    return ("trial_id", "config_id", "repeat", "seed", *names)


#: The columns of a run of the built-in net.
TRIAL_COLUMNS, PLAN_COLUMNS = trial_columns(), plan_columns()
#: Columns a run written by an earlier version lacks; read as :data:`COLUMN_DEFAULTS` says, else blank.
OPTIONAL_TRIAL_COLUMNS = ("worker", *ADDED_LATER)
OPTIONAL_PLAN_COLUMNS = tuple(ADDED_LATER)
COLUMN_DEFAULTS = {name: str(value) for name, value in ADDED_LATER.items()}
#: Name prefix of the hidden folder a run folder is made in before it is renamed into place.
STAGING_PREFIX = ".creating-"
#: What to do when a disk fills up while a new run folder is made (:func:`write_error`'s default).
NEW_RUN_ON_A_FULL_DISK = "free space on that disk, or give --out a folder on another disk"


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to the new file ``path`` and flush it to the disk (a link or file at that name
    is an error: FileExistsError, never followed). An OSError names ``path`` (a write that fails on
    a full disk would not)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def new_temporary(folder: Path, prefix: str, suffix: str = ".tmp") -> Path:
    """A new empty file ``folder/PREFIX<random>SUFFIX``, made as ``open()`` makes files: its mode
    follows the umask (0644 under the usual 022). ``tempfile.mkstemp`` makes 0600 files, and a file
    renamed into a run folder keeps that mode: a shared run's report could not be read by others."""
    for _ in range(100):
        path = Path(folder) / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(Path(folder) / f"{prefix}*{suffix}"))


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
        tmp.unlink(missing_ok=True)  # left by a kill (or a link put there: removed, never followed)
        write_file(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_error(action: str, exc: OSError, full_disk: str = NEW_RUN_ON_A_FULL_DISK) -> SweepError:
    """The one line for an OSError of the run folder (a full disk, a read-only folder...): what
    failed, why, on which file, and on a full disk (or quota) what to do: ``full_disk``, by default
    what to do when a new run cannot be made (empty when ``action`` says it already)."""
    text = f"{action}: {exc.strerror or exc}{_which_file(exc.filename)}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) and full_disk:
        text += f"; {full_disk}"
    return SweepError(text)


def _which_file(filename) -> str:
    """`` (PATH)`` for a message; a file of a run folder being made is named within the run, since
    its hidden folder is removed when making it fails."""
    if not filename:
        return ""
    path = Path(os.fsdecode(filename))
    if path.name.startswith(STAGING_PREFIX):
        return " (making its folder)"
    if path.parent.name.startswith(STAGING_PREFIX):
        return f" (writing its {path.name})"
    return f" ({path})"


def own_folder(run_dir: Path, name: str, create: bool = True) -> Path | None:
    """The sub-folder ``name`` of ``run_dir``, made when absent (or None when absent and not ``create``).

    SweepError in one line when it is a symbolic link or not a folder: nothing is written or deleted
    through a link the run did not make.
    """
    path = Path(run_dir) / name
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        if not create:
            return None
        try:
            os.mkdir(path)
            return path
        except FileExistsError:  # made meanwhile by another process of this run (two trials starting): checked below
            mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise SweepError(_linked(path))
    if not stat.S_ISDIR(mode):
        raise SweepError(f"{path} is not a folder, where the run keeps its {name} files; move it away and run again")
    return path


def refuse_links(run_dir: Path) -> None:
    """SweepError in one line when a sub-folder the run writes in, or a file it appends to, is a link."""
    for name in (*SUBFOLDERS, *APPENDED_FILES):
        path = Path(run_dir) / name
        if path.is_symlink():
            raise SweepError(_linked(path))


def _linked(path: Path) -> str:
    return (f"{path} is a symbolic link (to {os.readlink(path)}), not something this run made; sweep writes and "
            "deletes only in what the run made: remove the link (what it points to is left alone), or move "
            "what it points to in its place, and run again")


def sha256_of(path: Path) -> str:
    """The SHA-256 of the file at ``path``, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

"""Candidate best models: the weights of each trial that may still be the run's best model,
``candidates/TRIAL_ID.npz`` in the run folder, so that the best model is the trial's own weights
and not a retrain at the end (see :mod:`sweep.best`).

A worker sends weights back only with a trial whose metric reaches the bar the runner gave its
task (:class:`~sweep.best.BestBar`); the runner writes them here before the trial's row, removes a
file once its trial can no longer be the best, and removes the folder once the best model is saved.
Each file holds the weights (``W1, b1, W2, b2``) and the epoch they were taken at (``epoch``); it is
written to a temporary name and renamed, so it is whole or absent.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from pathlib import Path

import numpy as np

from ..errors import SweepError
from ..memory import npz_bytes
from .files import atomic_write

CANDIDATES_DIR = "candidates"
_TRIAL_ID = re.compile(r"[0-9a-f]{12}")


def candidate_path(run_dir: Path, trial_id: str) -> Path:
    return Path(run_dir) / CANDIDATES_DIR / f"{trial_id}.npz"


def save_candidate(run_dir: Path, trial_id: str, epoch: int, weights: dict) -> None:
    """Write the weights ``trial_id`` had after ``epoch`` epochs (replacing an earlier file)."""
    buffer = io.BytesIO()
    np.savez(buffer, epoch=np.array(epoch), **weights)
    path = candidate_path(run_dir, trial_id)
    path.parent.mkdir(exist_ok=True)
    atomic_write(path, buffer.getvalue())


def load_candidate(run_dir: Path, trial_id: str, epoch: int, shapes: dict[str, tuple]) -> dict | None:
    """The weights of ``trial_id`` after ``epoch`` epochs, with exactly the arrays and ``shapes``
    given, or None when none were kept, or the file is unreadable, damaged or not as expected."""
    path = candidate_path(run_dir, trial_id)
    if not path.is_file():
        return None
    try:
        npz_bytes(path, str(path))  # a header claiming more than the file or the machine holds
        with np.load(path, allow_pickle=False) as archive:
            if set(archive.files) != {"epoch", *shapes} or int(archive["epoch"]) != epoch:
                return None
            weights = {name: archive[name] for name in shapes}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, SweepError):
        return None
    if any(weights[name].shape != tuple(shape) for name, shape in shapes.items()):
        return None
    return weights


def kept_trials(run_dir: Path) -> list[str]:
    """The trial ids that have a candidate file (names sweep gives: 12 hexadecimal digits)."""
    folder = Path(run_dir) / CANDIDATES_DIR
    if not folder.is_dir():
        return []
    return sorted(path.stem for path in folder.glob("*.npz") if _TRIAL_ID.fullmatch(path.stem))


def remove_candidate(run_dir: Path, trial_id: str) -> None:
    """Remove a candidate; one that cannot be removed (a read-only folder) is only left behind."""
    with contextlib.suppress(OSError):
        candidate_path(run_dir, trial_id).unlink(missing_ok=True)


def remove_candidates(run_dir: Path) -> None:
    """Remove every candidate (once the best model is saved), and the folder when nothing else is in it:
    a file sweep did not write there is left alone."""
    folder = Path(run_dir) / CANDIDATES_DIR
    for trial_id in kept_trials(run_dir):
        remove_candidate(run_dir, trial_id)
    for partial in folder.glob(".*.npz.tmp"):  # a save cut short by a kill
        with contextlib.suppress(OSError):
            partial.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()

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

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np

from .files import atomic_write

CANDIDATES_DIR = "candidates"


def candidate_path(run_dir: Path, trial_id: str) -> Path:
    return Path(run_dir) / CANDIDATES_DIR / f"{trial_id}.npz"


def save_candidate(run_dir: Path, trial_id: str, epoch: int, weights: dict) -> None:
    """Write the weights ``trial_id`` had after ``epoch`` epochs (replacing an earlier file)."""
    buffer = io.BytesIO()
    np.savez(buffer, epoch=np.array(epoch), **weights)
    path = candidate_path(run_dir, trial_id)
    path.parent.mkdir(exist_ok=True)
    atomic_write(path, buffer.getvalue())


def load_candidate(run_dir: Path, trial_id: str, epoch: int) -> dict | None:
    """The weights of ``trial_id`` after ``epoch`` epochs, or None when none were kept (or unreadable)."""
    path = candidate_path(run_dir, trial_id)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if int(archive["epoch"]) != epoch:
                return None
            return {name: archive[name] for name in archive.files if name != "epoch"}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return None


def kept_trials(run_dir: Path) -> list[str]:
    """The trial ids that have a candidate file."""
    folder = Path(run_dir) / CANDIDATES_DIR
    return sorted(path.stem for path in folder.glob("*.npz")) if folder.is_dir() else []


def remove_candidate(run_dir: Path, trial_id: str) -> None:
    candidate_path(run_dir, trial_id).unlink(missing_ok=True)


def remove_candidates(run_dir: Path) -> None:
    """Remove every candidate (once the best model is saved)."""
    shutil.rmtree(Path(run_dir) / CANDIDATES_DIR, ignore_errors=True)

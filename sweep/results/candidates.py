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
from pathlib import Path

import numpy as np

from .files import CANDIDATES_DIR, atomic_write, own_folder
from .proof import InDoubt, nonfinite_problem, npz_layout_problem

_TRIAL_ID = re.compile(r"[0-9a-f]{12}")


def candidate_path(run_dir: Path, trial_id: str) -> Path:
    return Path(run_dir) / CANDIDATES_DIR / f"{trial_id}.npz"


def save_candidate(run_dir: Path, trial_id: str, epoch: int, weights: dict) -> None:
    """Write the weights ``trial_id`` had after ``epoch`` epochs (replacing an earlier file)."""
    buffer = io.BytesIO()
    np.savez(buffer, epoch=np.array(epoch, dtype=np.int64), **weights)
    folder = own_folder(run_dir, CANDIDATES_DIR)
    atomic_write(folder / f"{trial_id}.npz", buffer.getvalue())


def load_candidate(run_dir: Path, trial_id: str, epoch: int, params: dict[str, np.ndarray]) -> dict | None:
    """The weights of ``trial_id`` after ``epoch`` epochs, shaped and typed as the trial's network's
    ``params``; None when none were kept. InDoubt when the file is not exactly such weights (other
    arrays, shapes or dtypes, another epoch, NaN or inf): see :mod:`sweep.results.proof`."""
    path = candidate_path(run_dir, trial_id)
    if not path.is_file():
        return None
    layout = {"epoch": ((), np.dtype(np.int64)), **{name: (value.shape, value.dtype) for name, value in params.items()}}
    problem = npz_layout_problem(path, layout)
    if problem:
        raise InDoubt(problem)
    with np.load(path, allow_pickle=False) as archive:
        if int(archive["epoch"]) != epoch:
            raise InDoubt(f"its weights are of epoch {int(archive['epoch'])}, the trial's model is of epoch {epoch}")
        weights = {name: archive[name] for name in params}
    problem = nonfinite_problem(weights)
    if problem:
        raise InDoubt(problem)
    return weights


def kept_trials(run_dir: Path) -> list[str]:
    """The trial ids that have a candidate file (names sweep gives: 12 hexadecimal digits)."""
    folder = own_folder(run_dir, CANDIDATES_DIR, create=False)
    if folder is None:
        return []
    return sorted(path.stem for path in folder.glob("*.npz") if _TRIAL_ID.fullmatch(path.stem))


def remove_candidate(run_dir: Path, trial_id: str) -> None:
    """Remove a candidate; one that cannot be removed (a read-only folder) is only left behind."""
    folder = own_folder(run_dir, CANDIDATES_DIR, create=False)
    if folder is not None:
        with contextlib.suppress(OSError):
            (folder / f"{trial_id}.npz").unlink(missing_ok=True)


def remove_candidates(run_dir: Path) -> None:
    """Remove every candidate (once the best model is saved), and the folder when nothing else is in it:
    a file sweep did not write there is left alone."""
    folder = own_folder(run_dir, CANDIDATES_DIR, create=False)
    if folder is None:
        return
    for trial_id in kept_trials(run_dir):
        remove_candidate(run_dir, trial_id)
    for partial in folder.glob(".*.npz.tmp"):  # a save cut short by a kill
        with contextlib.suppress(OSError):
            partial.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()

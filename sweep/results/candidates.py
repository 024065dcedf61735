"""Candidate best models: the weights of each trial that may still be the run's best model,
``candidates/TRIAL_ID.npz`` in the run folder, so that the best model is the trial's own weights
and not a retrain at the end (see :mod:`sweep.best`).

A worker sends weights back only with a trial whose metric reaches the bar the runner gave its
task (:class:`~sweep.best.BestBar`); the runner writes them here before the trial's row, removes a
file once its trial can no longer be the best, and removes the folder once the best model is saved.
Each file holds the weights (``param/NAME``), the epoch they were taken at (``epoch``) and the
seal of the trial's weights at that epoch (``seal``); it is written to a temporary name and
renamed, so it is whole or absent. Before kept weights become the best model they are proven to be
the trial's (:func:`load_candidate`, then rescored by :func:`sweep.best.saved_weights`).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np

from .files import CANDIDATES_DIR, atomic_write, own_folder
from .proof import InDoubt, nonfinite_problem, npz_layout_problem, read_npz
from .seal import seal, unsealed_problem

_TRIAL_ID = re.compile(r"[0-9a-f]{12}")
SEAL_KIND = "sweep kept weights 2"


def candidate_path(run_dir: Path, trial_id: str) -> Path:
    return Path(run_dir) / CANDIDATES_DIR / f"{trial_id}.npz"


def save_candidate(run_dir: Path, trial_id: str, epoch: int, weights: dict) -> None:
    """Write the weights ``trial_id`` had after ``epoch`` epochs (replacing an earlier file), sealed
    (see :mod:`sweep.results.seal`) as that trial's at that epoch."""
    arrays = {"epoch": np.array(epoch, dtype=np.int64), **{f"param/{name}": value for name, value in weights.items()}}
    buffer = io.BytesIO()
    np.savez(buffer, seal=np.array(seal(SEAL_KIND, _identity(trial_id, epoch), arrays)), **arrays)
    folder = own_folder(run_dir, CANDIDATES_DIR)
    atomic_write(folder / f"{trial_id}.npz", buffer.getvalue())


def load_candidate(run_dir: Path, trial_id: str, epoch: int, params: dict[str, np.ndarray]) -> dict | None:
    """The weights of ``trial_id`` after ``epoch`` epochs, shaped and typed as the trial's network's
    ``params``; None when none were kept. InDoubt when the file is not exactly such weights (other
    arrays, shapes or dtypes), does not carry the seal of that trial's weights at that epoch, or
    holds NaN or inf: see :mod:`sweep.results.proof`."""
    path = candidate_path(run_dir, trial_id)
    if not path.is_file():
        return None
    layout = {"epoch": ((), np.dtype(np.int64)),
              **{f"param/{name}": (value.shape, value.dtype) for name, value in params.items()}}
    problem = npz_layout_problem(path, layout, texts=("seal",))
    if problem:
        raise InDoubt(problem)
    content = read_npz(path, [*layout, "seal"])
    given = str(content.pop("seal"))
    if int(content["epoch"]) != epoch:
        raise InDoubt(f"its weights are of epoch {int(content['epoch'])}, the trial's model is of epoch {epoch}")
    problem = unsealed_problem(SEAL_KIND, _identity(trial_id, epoch), content, given)
    if problem:
        raise InDoubt(problem)
    weights = {name: content[f"param/{name}"] for name in params}
    problem = nonfinite_problem(weights)
    if problem:
        raise InDoubt(problem)
    return weights


def _identity(trial_id: str, epoch: int) -> str:
    """The text a candidate's seal binds its weights to."""
    return json.dumps({"trial_id": trial_id, "epoch": int(epoch)})


def kept_trials(run_dir: Path) -> list[str]:
    """The trial ids that have a candidate file (names sweep gives: 12 hexadecimal digits)."""
    folder = own_folder(run_dir, CANDIDATES_DIR, create=False)
    if folder is None:
        return []
    return sorted(path.stem for path in folder.glob("*.npz") if _TRIAL_ID.fullmatch(path.stem))


def remove_candidate(run_dir: Path, trial_id: str) -> None:
    """Remove a candidate, and a temporary file its save left; one that cannot be removed (a read-only
    folder) is only left behind."""
    folder = own_folder(run_dir, CANDIDATES_DIR, create=False)
    if folder is not None:
        for name in (f"{trial_id}.npz", f".{trial_id}.npz.tmp"):
            with contextlib.suppress(OSError):
                (folder / name).unlink(missing_ok=True)


def remove_candidates(run_dir: Path, trial_ids) -> None:
    """Remove the candidates of the run's ``trial_ids`` (once the best model is saved), and the folder
    when nothing else is in it: a file sweep did not write there is left alone."""
    folder = own_folder(run_dir, CANDIDATES_DIR, create=False)
    if folder is None:
        return
    for trial_id in trial_ids:
        remove_candidate(run_dir, trial_id)
    with contextlib.suppress(OSError):
        folder.rmdir()

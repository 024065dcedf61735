"""Paused trials: the state of each trial waiting at (or continuing from) a milestone of early
termination, ``paused/TRIAL_ID.npz`` in the run folder, so that ``kill -9`` and ``--resume`` lose
at most the epochs in flight. A file is removed once its trial is recorded.

Each file holds the weights (``param/NAME``), the update rules' arrays (``opt/NAME/KEY``) and one
JSON text (``meta``) with the epoch, the generator state, the rules' scalars and the per-epoch
records. It is written to a temporary name and renamed, so it is whole or absent.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from ..trainer import TrainState
from .files import atomic_write

PAUSED_DIR = "paused"


def state_path(run_dir: Path, trial_id: str) -> Path:
    return Path(run_dir) / PAUSED_DIR / f"{trial_id}.npz"


def save_state(run_dir: Path, trial_id: str, state: TrainState) -> None:
    """Write ``state`` as the paused state of ``trial_id`` (replacing an earlier one)."""
    arrays = {f"param/{name}": value for name, value in state.params.items()}
    scalars: dict = {}
    for name, config in state.configs.items():
        scalars[name] = {}
        for key, value in config.items():
            if isinstance(value, np.ndarray):
                arrays[f"opt/{name}/{key}"] = value
            else:
                scalars[name][key] = value.item() if isinstance(value, np.generic) else value
    meta = {"epoch": state.epoch, "rng_state": state.rng_state, "configs": scalars, "records": state.records}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)
    path = state_path(run_dir, trial_id)
    path.parent.mkdir(exist_ok=True)
    atomic_write(path, buffer.getvalue())


def load_state(run_dir: Path, trial_id: str) -> TrainState | None:
    """The paused state of ``trial_id``, or None when there is none (or it cannot be read)."""
    path = state_path(run_dir, trial_id)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            params = {key.removeprefix("param/"): archive[key] for key in archive.files if key.startswith("param/")}
            configs = {name: dict(values) for name, values in meta["configs"].items()}
            for key in archive.files:
                if key.startswith("opt/"):
                    _, name, entry = key.split("/", 2)
                    configs.setdefault(name, {})[entry] = archive[key]
        return TrainState(int(meta["epoch"]), params, configs, meta["rng_state"], meta["records"])
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError):
        return None


def remove_state(run_dir: Path, trial_id: str) -> None:
    state_path(run_dir, trial_id).unlink(missing_ok=True)


def remove_folder_if_empty(run_dir: Path) -> None:
    try:
        (Path(run_dir) / PAUSED_DIR).rmdir()
    except OSError:  # absent, or trials still paused in it
        pass

"""Paused trials: the state of each trial waiting at (or continuing from) a milestone of early
termination, ``paused/TRIAL_ID.npz`` in the run folder, so that ``kill -9`` and ``--resume`` lose
at most the epochs in flight. A file is removed once its trial is recorded.

Each file holds the weights (``param/NAME``), the update rules' arrays (``opt/NAME/KEY``), one
JSON text (``meta``) with the trial's identity (id, seed, hyperparameters), the epoch, the
generator state, the rules' scalars and the per-epoch records, and the seal of all that
(``seal``, :mod:`sweep.results.seal`). It is written to a temporary name and renamed, so it is
whole or absent.

A state read back is continued only once it is proven to be its trial's (:func:`load_state`):
exactly the arrays of the trial's network and update rule (shapes, dtypes, nothing compressed or
larger), the seal of this user's sweeps, then the trial's identity, finite values, the rule's
scalars and the records a run of these hyperparameters writes, a generator state NumPy accepts,
and weights that score on the validation split what the records say (these catch what a seal
cannot: a state of another trial, or one saved wrong). Anything else is
:class:`~sweep.results.proof.InDoubt`, and the trial trains from the start.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np

from ..nn.optim import UPDATE_RULES
from ..plan import TrialSpec
from ..trainer import TrainState
from .files import PAUSED_DIR, atomic_write, own_folder
from .proof import InDoubt, nonfinite_problem, npz_layout_problem, read_npz, records_problem, rescore_problem
from .seal import seal, unsealed_problem

#: Written in each state's ``meta``; a state without it (an earlier version's) is not continued.
STATE_FORMAT = 2
SEAL_KIND = "sweep paused state 2"
#: The member holding the keys of NumPy's global generator (MT19937) for a model that draws from it.
GLOBAL_RNG = "global_rng"
_PARTIAL = re.compile(r"\.[0-9a-f]{12}\.npz\.tmp")


def state_path(run_dir: Path, trial_id: str) -> Path:
    return Path(run_dir) / PAUSED_DIR / f"{trial_id}.npz"


def save_state(run_dir: Path, trial: TrialSpec, state: TrainState) -> None:
    """Write ``state`` as the paused state of ``trial`` (replacing an earlier one), sealed (see
    :mod:`sweep.results.seal`)."""
    arrays = {f"param/{name}": value for name, value in state.params.items()}
    scalars: dict = {}
    for name, config in state.configs.items():
        scalars[name] = {}
        for key, value in config.items():
            if isinstance(value, np.ndarray):
                arrays[f"opt/{name}/{key}"] = value
            else:
                scalars[name][key] = value.item() if isinstance(value, np.generic) else value
    global_rng = None
    if state.global_rng_state is not None:  # NumPy's global generator: (name, keys, pos, has_gauss, gauss)
        name, keys, *rest = state.global_rng_state
        arrays[GLOBAL_RNG] = np.asarray(keys, dtype=np.uint32)
        global_rng = [name, *(value.item() if isinstance(value, np.generic) else value for value in rest)]
    meta = json.dumps({"format": STATE_FORMAT, "trial_id": trial.trial_id, "seed": trial.seed, "params": trial.params,
                       "epoch": state.epoch, "rng_state": state.rng_state, "global_rng": global_rng,
                       "configs": scalars, "records": state.records})
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(meta), seal=np.array(seal(SEAL_KIND, meta, arrays)), **arrays)
    folder = own_folder(run_dir, PAUSED_DIR)
    atomic_write(folder / f"{trial.trial_id}.npz", buffer.getvalue())


def load_state(run_dir: Path, trial: TrialSpec, net, data) -> TrainState | None:
    """The paused state of ``trial``, proven to be its own; None when none is saved.

    ``net`` is the trial's network, built from its hyperparameters (its weights are overwritten
    with the state's to score them); ``data`` the data set in the trial's dtype. InDoubt when
    the file cannot be proven to be this trial's state.
    """
    path = state_path(run_dir, trial.trial_id)
    if not path.is_file():
        return None
    layout = state_layout(trial.params, net)
    problem = npz_layout_problem(path, layout, texts=("meta", "seal"))
    if problem:
        raise InDoubt(problem)
    content = read_npz(path, [*layout, "meta", "seal"])
    meta = str(content.pop("meta"))
    problem = unsealed_problem(SEAL_KIND, meta, content, str(content.pop("seal")))
    if problem:
        raise InDoubt(problem)
    state, identity = _state_of(meta, content)
    problem = _identity_problem(identity, trial) or _state_problem(state, trial, net, data)
    if problem:
        raise InDoubt(problem)
    return state


def state_layout(params: dict, net) -> dict[str, tuple[tuple, np.dtype]]:
    """The arrays of a paused state of a trial of hyperparameters ``params`` training ``net``: its
    weights, its update rule's arrays, and NumPy's global generator for a model that draws from it."""
    rule_arrays, _ = rule_state(params, _dtype_of(net))
    layout = {f"param/{name}": (value.shape, value.dtype) for name, value in net.params.items()}
    layout.update({f"opt/{name}/{key}": (value.shape, value.dtype) for name, value in net.params.items()
                   for key in rule_arrays})
    if not getattr(net, "takes_rng", False):
        layout[GLOBAL_RNG] = ((624,), np.dtype(np.uint32))
    return layout


def _dtype_of(net) -> np.dtype:
    """The floating point type of ``net``'s weights (a built-in net says it; a user's model's arrays do)."""
    return np.dtype(getattr(net, "dtype", None) or next(iter(net.params.values())).dtype)


def _state_of(text: str, arrays: dict[str, np.ndarray]) -> tuple[TrainState, dict]:
    """The state made of a file's ``meta`` text and its ``arrays`` (``param/...``, ``opt/.../...``), and its
    identity (the meta as a mapping)."""
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):
        raise InDoubt("its meta text is not JSON") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("configs"), dict) or \
            not all(isinstance(c, dict) for c in meta["configs"].values()):
        raise InDoubt("its meta text is not the mapping sweep writes")
    params = {key.removeprefix("param/"): value for key, value in arrays.items() if key.startswith("param/")}
    global_rng = meta.get("global_rng")
    if (GLOBAL_RNG in arrays) != (global_rng is not None):
        raise InDoubt("its NumPy global generator state is not whole")
    if global_rng is not None:
        if not isinstance(global_rng, list) or len(global_rng) != 4:
            raise InDoubt("its NumPy global generator state is not one NumPy accepts")
        global_rng = (global_rng[0], arrays[GLOBAL_RNG], *global_rng[1:])
    configs = {name: dict(values) for name, values in meta["configs"].items()}
    for key, value in arrays.items():
        if key.startswith("opt/"):  # (GLOBAL_RNG is not one)
            _, name, entry = key.split("/", 2)
            configs.setdefault(name, {})[entry] = value
    epoch = meta.get("epoch")
    if type(epoch) is not int:
        raise InDoubt(f"its epoch is {str(epoch)[:40]!r}")
    return TrainState(epoch, params, configs, meta.get("rng_state"), meta.get("records"), global_rng), meta


def _identity_problem(meta: dict, trial: TrialSpec) -> str | None:
    if meta.get("format") != STATE_FORMAT:
        return f"it was not written by this version of sweep (format {meta.get('format')!r}, not {STATE_FORMAT})"
    if meta.get("trial_id") != trial.trial_id:
        return f"it is the state of trial {str(meta.get('trial_id'))[:40]!r}, not of {trial.trial_id}"
    if meta.get("seed") != trial.seed or meta.get("params") != json.loads(json.dumps(trial.params)):
        return "its seed or hyperparameters are not the trial's"
    return None


def _state_problem(state: TrainState, trial: TrialSpec, net, data) -> str | None:
    """Why ``state`` is not what training ``trial`` for ``state.epoch`` epochs leaves, or None."""
    params = trial.params
    if not 1 <= state.epoch < params["epochs"]:
        return f"its epoch {state.epoch} is not one the trial pauses at"
    arrays = {**state.params, **{f"{name}/{key}": value for name, config in state.configs.items()
                                 for key, value in config.items() if isinstance(value, np.ndarray)}}
    problem = nonfinite_problem(arrays)
    if problem:
        return problem
    _, scalars = rule_state(params, _dtype_of(net))
    batch_size = min(params["batch_size"], len(data.X_train))
    expected = {**scalars, "learning_rate": params["learning_rate"] * params["lr_decay"] ** (state.epoch - 1)}
    if "t" in expected:  # adam's step count
        expected["t"] = state.epoch * math.ceil(len(data.X_train) / batch_size)
    if set(state.configs) != set(state.params):
        return "its update rule's settings are not one per array of the trial's network"
    for name, config in state.configs.items():
        if {k: v for k, v in config.items() if not isinstance(v, np.ndarray)} != expected:
            return f"the update rule's settings of {name} are not the trial's"
    problem = records_problem(state.records, state.epoch, params["learning_rate"], params["lr_decay"],
                              classification=data.y_val.ndim == 1)
    if problem:
        return problem
    try:
        np.random.default_rng(0).bit_generator.state = state.rng_state
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
        return "its generator state is not one NumPy's PCG64 accepts"
    if state.global_rng_state is not None:
        try:
            np.random.RandomState(0).set_state(state.global_rng_state)
        except (TypeError, ValueError, KeyError, OverflowError):
            return "its NumPy global generator state is not one NumPy accepts"
    net.params = {name: np.ascontiguousarray(value) for name, value in state.params.items()}
    return rescore_problem(net, data, state.records[-1])


def rule_state(params: dict, dtype) -> tuple[tuple[str, ...], dict]:
    """``(array keys, scalars)`` of the update rule's state in a run of ``params`` after one step (the
    trainer gives every rule the trial's ``momentum``)."""
    _, config = UPDATE_RULES[params["optimizer"]](np.zeros(1, dtype), np.zeros(1, dtype),
                                                  {"learning_rate": 0.0, "momentum": params["momentum"]})
    arrays = tuple(sorted(k for k, v in config.items() if isinstance(v, np.ndarray)))
    return arrays, {k: v for k, v in config.items() if not isinstance(v, np.ndarray)}


def set_aside(run_dir: Path, trial_id: str) -> Path:
    """Move a state in doubt out of the way (kept for the user to look at, never read again); its new path."""
    path = state_path(run_dir, trial_id)
    target, n = path.with_name(f"{path.name}.rejected"), 1
    while target.exists() or target.is_symlink():
        n += 1
        target = path.with_name(f"{path.name}.rejected-{n}")
    path.rename(target)
    return target


def remove_state(run_dir: Path, trial_id: str) -> None:
    folder = own_folder(run_dir, PAUSED_DIR, create=False)
    if folder is not None:
        (folder / f"{trial_id}.npz").unlink(missing_ok=True)


def remove_partial_saves(run_dir: Path) -> None:
    """Remove the temporary files of saves cut short by a kill (their names only: ``.TRIAL_ID.npz.tmp``)."""
    folder = own_folder(run_dir, PAUSED_DIR, create=False)
    for partial in folder.glob(".*.npz.tmp") if folder is not None else ():
        if _PARTIAL.fullmatch(partial.name):
            partial.unlink(missing_ok=True)


def remove_folder_if_empty(run_dir: Path) -> None:
    try:
        (Path(run_dir) / PAUSED_DIR).rmdir()
    except OSError:  # absent, a link, or trials still paused in it
        pass

"""Saved state proven before it is trusted: paused states, kept weights, the best model's file.

A run folder is copied, edited and written into by people, so nothing saved in it is used on its
word. Before saved arrays are read, the archive must have exactly the members, shapes and dtypes
the trial's network gives, stored uncompressed (so a small file cannot inflate to gigabytes, nor a
header claim what the file does not hold): :func:`npz_layout_problem`. Once read, weights must be
finite and score on the validation split what the run recorded for them
(:func:`rescore_problem`): that is what ties the weights to their trial's numbers. A paused state's
per-epoch records must also be what the trainer writes (:func:`records_problem`).

Each check returns the reason for doubt in a few words, or None; a loader raises it as
:class:`InDoubt`, and its caller says what it does instead (a paused trial trains from the start,
kept weights are retrained).
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from ..memory import npy_header
from ..trainer import evaluate

#: Largest JSON text a saved state may carry (its per-epoch records): far above any real one.
MAX_META_CHARS = 4 << 20
#: Relative difference allowed between a recomputed validation loss and the recorded one: the
#: recorded one may come from another machine's BLAS (a Dask worker), which rounds differently.
LOSS_RTOL = 1e-4
#: Validation rows whose prediction may differ from the recorded accuracy (ties rounded otherwise).
ACC_ROWS = 2
#: The keys of a per-epoch record, as :class:`~sweep.trainer.History` writes them.
RECORD_KEYS = frozenset({"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"})


class InDoubt(Exception):
    """Saved state that cannot be proven to be what it claims: the message says why, in a few words."""


def npz_layout_problem(path: Path, expected: dict[str, tuple[tuple, np.dtype]],
                       texts: tuple[str, ...] = ()) -> str | None:
    """Why the ``.npz`` at ``path`` is not exactly ``expected`` (member name -> (shape, dtype)), or None.

    ``texts`` name members that each hold one string (of at most :data:`MAX_META_CHARS`
    characters). Every member must be named once, as NumPy names them, be stored, not compressed,
    and hold exactly its header and data: nothing is inflated or allocated beyond what the trial's
    arrays take.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if len(set(names)) != len(names) or not all(name.endswith(".npy") for name in names):
                return "its members are not named as NumPy names them, once each"
            members = {info.filename.removesuffix(".npy"): info for info in infos}
            wanted = set(expected) | set(texts)
            if set(members) != wanted:
                extra, missing = sorted(set(members) - wanted), sorted(wanted - set(members))
                return ("it holds " + ", ".join(f"{what} {', '.join(names[:3])}" for what, names in
                                                (("unexpected arrays", extra), ("no", missing)) if names))
            for name, info in members.items():
                problem = _member_problem(archive, info, name, expected.get(name), name in texts)
                if problem:
                    return problem
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as exc:
        return f"not a readable archive of arrays ({str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__})"
    return None


def _member_problem(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, expected, text: bool) -> str | None:
    """Why one member is not ``expected`` (shape, dtype) or, with ``text``, one string, or None."""
    if info.compress_type != zipfile.ZIP_STORED:
        return f"array {name} is compressed, which sweep never writes"
    with archive.open(info) as member:
        shape, fortran, dtype = npy_header(member)
        header_bytes = member.tell()
    if fortran:
        return f"array {name} is in Fortran order, which sweep never writes"
    if text:
        if dtype.kind != "U" or shape != () or dtype.itemsize > 4 * MAX_META_CHARS:
            return f"{name} is not one text of at most {MAX_META_CHARS:,} characters"
        size = dtype.itemsize
    else:
        want_shape, want_dtype = expected
        if tuple(shape) != tuple(want_shape) or dtype != want_dtype:
            return (f"array {name} has shape {tuple(shape)} and dtype {dtype}, where the trial's network "
                    f"has {tuple(want_shape)} and {np.dtype(want_dtype)}")
        size = math.prod(shape) * dtype.itemsize
    if info.file_size != header_bytes + size:
        return f"array {name} holds {info.file_size:,} bytes, not the {header_bytes + size:,} its shape takes"
    return None


def read_npz(path: Path, names) -> dict[str, np.ndarray]:
    """The members ``names`` of the archive at ``path``, whose layout is checked; InDoubt when they cannot
    be read (a damaged member: its CRC, a cut file)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in names}
    except Exception as exc:  # noqa: BLE001 - any failure to read a checked archive is a damaged file
        raise InDoubt(f"it cannot be read ({first_line(exc)})") from None


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (at most 80 characters), or its type's name."""
    text = str(exc)
    return text.splitlines()[0][:80] if text.strip() else type(exc).__name__


def nonfinite_problem(arrays: dict[str, np.ndarray]) -> str | None:
    """Why ``arrays`` cannot be a trained state (an array with NaN or inf), or None."""
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            return f"array {name} holds NaN or inf, which no paused or kept trial has"
    return None


def rescore_problem(net, data, record: dict) -> str | None:
    """Why ``net`` (its weights just read) is not the model whose validation figures are ``record``
    (a per-epoch record of the run), or None. ``data`` is in the net's dtype."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), np.errstate(all="ignore"):
        val_loss, val_acc = evaluate(net, data.X_val, data.y_val)
    recorded_loss, recorded_acc = float(record["val_loss"]), float(record["val_acc"])
    if not math.isclose(val_loss, recorded_loss, rel_tol=LOSS_RTOL, abs_tol=1e-7):
        return (f"its weights score validation loss {val_loss:.6g}, the run recorded {recorded_loss:.6g} "
                f"at epoch {record['epoch']}")
    if math.isnan(recorded_acc) != math.isnan(val_acc) or \
            abs(val_acc - recorded_acc) > ACC_ROWS / max(len(data.y_val), 1):
        return (f"its weights score validation accuracy {val_acc:.6g}, the run recorded {recorded_acc:.6g} "
                f"at epoch {record['epoch']}")
    return None


def records_problem(records, epochs: int, learning_rate: float, lr_decay: float, classification: bool) -> str | None:
    """Why ``records`` are not the per-epoch records the trainer writes for ``epochs`` finite epochs
    of a run with this learning rate and decay, or None."""
    if not isinstance(records, list) or len(records) != epochs:
        return f"its records are not a list of {epochs} epochs"
    for k, record in enumerate(records):
        if not isinstance(record, dict) or set(record) != RECORD_KEYS:
            return f"its record of epoch {k + 1} does not have the keys {sorted(RECORD_KEYS)}"
        if not all(_plain_number(value) for value in record.values()):
            return f"its record of epoch {k + 1} holds something that is not a number"
        if record["epoch"] != k + 1:
            return f"its record {k + 1} is of epoch {record['epoch']}"
        if record["lr"] != float(learning_rate * lr_decay**k):
            return f"its record of epoch {k + 1} has learning rate {record['lr']!r}, not the trial's"
        for key in ("train_loss", "val_loss", "seconds"):
            if not (math.isfinite(record[key]) and record[key] >= 0):
                return f"its record of epoch {k + 1} has {key} {record[key]!r}"
        for key in ("train_acc", "val_acc"):
            value = record[key]
            if (classification and not 0 <= value <= 1) or (not classification and not math.isnan(value)):
                return f"its record of epoch {k + 1} has {key} {value!r}"
    return None


def _plain_number(value) -> bool:
    """A float, or an int a float holds exactly (JSON gives arbitrarily large ones)."""
    return isinstance(value, float) or (type(value) is int and abs(value) <= 2**53)

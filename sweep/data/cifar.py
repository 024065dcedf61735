"""CIFAR-10: the official binary version, or the python-pickle version read safely.

Binary version (``cifar-10-binary.tar.gz``): ``data_batch_1.bin`` .. ``data_batch_5.bin`` and
``test_batch.bin``, each a sequence of 3073-byte records: 1 label byte (0..9), then 3072 pixel
bytes stored channel-major (1024 red, 1024 green, 1024 blue, each 32x32 row-major).
``batches.meta.txt`` lists the class names, one per line.

Python version (``cifar-10-python.tar.gz``): ``data_batch_1`` .. ``data_batch_5`` and
``test_batch``, each a pickled dict with ``b"data"`` (N, 3072) uint8 (same channel-major layout)
and ``b"labels"`` (a list of N ints). Pickles can run arbitrary code, so they are read with
:class:`RestrictedUnpickler`, which resolves only the few NumPy globals such a batch needs.

Either way the images are returned as a (N, 32, 32, 3) height-width-channel view, so flattened rows
are in HWC order and ``image_shape == (32, 32, 3)``; values are 0..255 (``pixel_max == 255``).
Files may sit in the data directory itself or in its ``cifar-10-batches-bin/`` /
``cifar-10-batches-py/`` subfolder (as the archives extract).
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from sweep.data import locate
from sweep.data.prep import check_labels
from sweep.data.raw import RawData
from sweep.errors import DataError

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")
RECORD_BYTES = 1 + 3 * 32 * 32  # 3073
IMAGE_SHAPE = (32, 32, 3)

BIN_SUBDIR = "cifar-10-batches-bin"
BIN_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
BIN_TEST = "test_batch.bin"
BIN_META = "batches.meta.txt"

PY_SUBDIR = "cifar-10-batches-py"
PY_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
PY_TEST = "test_batch"


# ------------------------------------------------------------------------------ binary version


def read_binary(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Read binary batches into one buffer: (images (N, 32, 32, 3) uint8 view, labels (N,) uint8).

    Each file's size must be a non-zero multiple of 3073 bytes and its labels 0..9.
    """
    sizes = []
    for p in paths:
        size = p.stat().st_size
        if size == 0 or size % RECORD_BYTES:
            raise DataError(f"{p}: {size} bytes is not a whole number of {RECORD_BYTES}-byte "
                            "CIFAR-10 records (truncated or not a CIFAR-10 binary batch)")
        sizes.append(size // RECORD_BYTES)
    records = np.empty((sum(sizes), RECORD_BYTES), dtype=np.uint8)
    start = 0
    for p, n in zip(paths, sizes):
        chunk = records[start:start + n]
        with open(p, "rb") as f:
            got = f.readinto(memoryview(chunk).cast("B"))
        if got != chunk.nbytes:
            raise DataError(f"{p}: file shrank while being read ({got} of {chunk.nbytes} bytes)")
        check_labels(chunk[:, 0], str(p), "labels", len(CLASS_NAMES))
        start += n
    return _hwc(records[:, 1:]), records[:, 0]


def _hwc(rows: np.ndarray) -> np.ndarray:
    """(N, 3072) channel-major rows as a (N, 32, 32, 3) view (no copy)."""
    return rows.reshape(len(rows), 3, 32, 32).transpose(0, 2, 3, 1)


def read_class_names(path: Path) -> tuple[str, ...]:
    """Class names from ``batches.meta.txt`` (one per line, blank lines ignored)."""
    try:
        names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                      if line.strip())
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read class names ({e})") from None
    if len(names) != len(CLASS_NAMES):
        raise DataError(f"{path}: lists {len(names)} class names; CIFAR-10 has {len(CLASS_NAMES)}")
    return names


# ------------------------------------------------------------------------------ python version


def _allowed_globals() -> dict[tuple[str, str], object]:
    """The only globals a CIFAR-10 python batch references (Python 2 or 3 era NumPy pickles)."""
    try:
        from numpy._core import multiarray  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core import multiarray
    import _codecs

    allowed = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _codecs.encode,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
        allowed[(module, "ndarray")] = np.ndarray
        allowed[(module, "dtype")] = np.dtype
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only NumPy's array-rebuilding globals.

    ``find_class`` returns objects from a fixed table (it never imports anything), so a pickle
    that references e.g. ``os.system`` fails with :class:`pickle.UnpicklingError` before any of
    its code can run.
    """

    _ALLOWED = None

    def find_class(self, module: str, name: str):
        table = type(self)._ALLOWED
        if table is None:
            table = type(self)._ALLOWED = _allowed_globals()
        try:
            return table[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"global '{module}.{name}' is not allowed in a CIFAR-10 batch") from None


def restricted_load(path: Path):
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (bytes keys, as Python 2 wrote them)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as e:
        raise DataError(f"{path}: refused or invalid pickle: {e}") from None
    except Exception as e:  # truncated/garbled pickles raise all sorts of errors
        raise DataError(f"{path}: corrupted pickle ({type(e).__name__}: {e})") from None


def read_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(data (N, 3072) uint8, labels (N,) int64) of one python-pickle batch, validated."""
    obj = restricted_load(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict, found {type(obj).__name__}")
    data, labels = obj.get(b"data", obj.get("data")), obj.get(b"labels", obj.get("labels"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != RECORD_BYTES - 1:
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: b'data' must be a uint8 array of shape (N, 3072), found {desc}")
    if len(data) == 0:
        raise DataError(f"{path}: the batch is empty (zero rows)")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{path}: b'labels' must be a list of integers") from None
    if labels.ndim != 1 or len(labels) != len(data):
        raise DataError(f"{path}: {len(data)} images but b'labels' has shape {labels.shape}")
    check_labels(labels, str(path), "labels", len(CLASS_NAMES))
    return data, labels


def read_python(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate python batches: (images (N, 32, 32, 3) uint8 view, labels (N,) int64)."""
    batches = [read_python_batch(p) for p in paths]
    data = batches[0][0] if len(batches) == 1 else np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    return _hwc(data), labels


def read_python_class_names(path: Path) -> tuple[str, ...]:
    """Class names from the python version's ``batches.meta`` (dict with ``b"label_names"``)."""
    obj = restricted_load(path)
    names = obj.get(b"label_names") if isinstance(obj, dict) else None
    if not isinstance(names, list) or len(names) != len(CLASS_NAMES):
        raise DataError(f"{path}: expected b'label_names' with {len(CLASS_NAMES)} names")
    return tuple(n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names)


# ------------------------------------------------------------------------------------ loading


def _probe_factory(fmt: str):
    layouts = []
    if fmt in ("auto", "binary"):
        layouts.append(("binary", BIN_SUBDIR, BIN_TRAIN, BIN_TEST))
    if fmt in ("auto", "python"):
        layouts.append(("python", PY_SUBDIR, PY_TRAIN, PY_TEST))

    def probe(directory: Path):
        reasons = []
        for kind, sub, train, test in layouts:
            for d in (directory / sub, directory):
                if all((d / f).is_file() for f in (*train, test)):
                    return (kind, d), ""
            missing = [f for f in (*train, test) if not (directory / sub / f).is_file()
                       and not (directory / f).is_file()]
            reasons.append(f"no complete {kind} version: missing {', '.join(missing)}"
                           if missing else f"{kind} files split between {sub}/ and the directory")
        return None, "; ".join(reasons)

    return probe


def load(name: str, opts: dict) -> RawData:
    """Read CIFAR-10 (binary version preferred when ``format == "auto"``)."""
    kind, d = locate.search(name, opts.get("data_dir"), _probe_factory(opts.get("format", "auto")))
    if kind == "binary":
        train = [d / f for f in BIN_TRAIN]
        test = [d / BIN_TEST]
        X_train, y_train = read_binary(train)
        X_test, y_test = read_binary(test)
        meta = d / BIN_META
        classes = read_class_names(meta) if meta.is_file() else CLASS_NAMES
    else:
        train = [d / f for f in PY_TRAIN]
        test = [d / PY_TEST]
        X_train, y_train = read_python(train)
        X_test, y_test = read_python(test)
        meta = d / "batches.meta"
        classes = read_python_class_names(meta) if meta.is_file() else CLASS_NAMES
    sources = [str(p) for p in (*train, *test)] + ([str(meta)] if meta.is_file() else [])
    return RawData(
        X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
        image_shape=IMAGE_SHAPE, class_names=classes, pixel_max=255.0,
        files={"train": str(d), "test": str(test[0])}, sources=sources,
        format=f"cifar10-{kind}", extra_info={"data_dir": str(d)},
    )

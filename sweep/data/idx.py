"""Reader for the IDX format of MNIST and Fashion-MNIST (plain or gzip-compressed).

An IDX file is a 4-byte magic number ``0x0000TTDD`` (TT the element type, 0x08 = uint8; DD the
number of dimensions), DD big-endian uint32 sizes, then the elements in C order. MNIST uses
``0x00000801`` for label files (N,) and ``0x00000803`` for image files (N, rows, cols).

Files compressed with gzip are recognised by their content (magic bytes ``1f 8b``), not by name,
so a ``.gz`` file some browser already decompressed still loads.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from sweep.errors import DataError
from sweep.memory import require

LABELS_MAGIC = 0x00000801  # uint8, 1 dimension
IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions
_GZIP_MAGIC = b"\x1f\x8b"
#: Trailing bytes counted for the error message of a file longer than its header says.
_MAX_EXTRA = 1 << 20
#: Largest size ratio deflate achieves (about 1032:1), rounded up.
_MAX_GZIP_RATIO = 1100


def _open(path: Path):
    """``path`` opened for reading bytes, through gzip when its content is gzip-compressed."""
    f = open(path, "rb")
    if f.read(2) == _GZIP_MAGIC:
        f.close()
        return gzip.open(path, "rb")
    f.seek(0)
    return f


def _read(f, count: int, path: Path) -> bytes:
    """Up to ``count`` bytes of ``f``; DataError for a corrupted gzip stream."""
    try:
        return f.read(count)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupted or truncated gzip file ({e})") from None


def read_idx(path: Path | str, magic: int) -> np.ndarray:
    """Read an IDX file whose magic number must be ``magic``.

    Returns a read-only uint8 array of the shape the header declares: (N,) for
    ``LABELS_MAGIC``, (N, rows, cols) for ``IMAGES_MAGIC``. Raises DataError (naming the file) for
    a wrong magic number, a zero dimension, or a payload that is not exactly the declared size.
    The header is read first and the declared size checked against free memory, then at most that
    many bytes (plus one) are decompressed: a small gzip file cannot inflate past memory.
    """
    path = Path(path)
    kind = "labels" if magic == LABELS_MAGIC else "images"
    try:
        f = _open(path)
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    with f:
        head = _read(f, 4, path)
        if len(head) < 4:
            raise DataError(f"{path}: truncated IDX file ({len(head)} bytes, no header)")
        (found,) = struct.unpack(">I", head)
        if found != magic:
            raise DataError(f"{path}: bad IDX magic number 0x{found:08x}; expected 0x{magic:08x} "
                            f"(uint8 {kind}) — not an MNIST {kind} file?")
        ndim = magic & 0xFF
        header = 4 + 4 * ndim
        sizes = _read(f, 4 * ndim, path)
        if len(sizes) < 4 * ndim:
            raise DataError(f"{path}: truncated IDX file ({4 + len(sizes)} bytes, header needs {header})")
        dims = struct.unpack(f">{ndim}I", sizes)
        if 0 in dims:
            raise DataError(f"{path}: IDX header declares an empty array of shape {dims}")
        expected = math.prod(dims)
        compressed = isinstance(f, gzip.GzipFile)
        room = path.stat().st_size * (_MAX_GZIP_RATIO if compressed else 1)
        if expected > room:  # before any memory is asked for: a flipped header bit is not a huge array
            raise DataError(f"{path}: corrupted or truncated {'gzip' if compressed else 'IDX'} file: the IDX header "
                            f"declares shape {dims}, more than its {path.stat().st_size:,} bytes can hold")
        # the bytes themselves, then the float copy the data set is made of
        require(expected * (1 + 4), f"{path} (an IDX array of shape {dims}, then as float32)")
        data = _read(f, expected, path)
        extra = len(_read(f, _MAX_EXTRA + 1, path))
    got = len(data)
    if got < expected:
        raise DataError(f"{path}: truncated IDX file: header declares shape {dims} "
                        f"({expected} bytes of data) but only {got} bytes follow")
    if extra:
        count = f"{extra}" if extra <= _MAX_EXTRA else f"more than {_MAX_EXTRA:,}"
        raise DataError(f"{path}: corrupted IDX file: {count} unexpected bytes after the "
                        f"{expected} bytes of data declared by the header (shape {dims})")
    return np.frombuffer(data, dtype=np.uint8, count=expected).reshape(dims)

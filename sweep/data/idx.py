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

LABELS_MAGIC = 0x00000801  # uint8, 1 dimension
IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions
_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """The (decompressed) content of ``path``; DataError for unreadable or corrupted gzip files."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: corrupted or truncated gzip file ({e})") from None
    return data


def read_idx(path: Path | str, magic: int) -> np.ndarray:
    """Read an IDX file whose magic number must be ``magic``.

    Returns a read-only uint8 array of the shape the header declares: (N,) for
    ``LABELS_MAGIC``, (N, rows, cols) for ``IMAGES_MAGIC``. Raises DataError (naming the file) for
    a wrong magic number, a zero dimension, or a payload that is not exactly the declared size.
    """
    path = Path(path)
    data = read_bytes(path)
    kind = "labels" if magic == LABELS_MAGIC else "images"
    if len(data) < 4:
        raise DataError(f"{path}: truncated IDX file ({len(data)} bytes, no header)")
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        raise DataError(f"{path}: bad IDX magic number 0x{found:08x}; expected 0x{magic:08x} "
                        f"(uint8 {kind}) — not an MNIST {kind} file?")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX file ({len(data)} bytes, header needs {header})")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    if 0 in dims:
        raise DataError(f"{path}: IDX header declares an empty array of shape {dims}")
    expected = math.prod(dims)
    got = len(data) - header
    if got < expected:
        raise DataError(f"{path}: truncated IDX file: header declares shape {dims} "
                        f"({expected} bytes of data) but only {got} bytes follow")
    if got > expected:
        raise DataError(f"{path}: corrupted IDX file: {got - expected} unexpected bytes after the "
                        f"{expected} bytes of data declared by the header (shape {dims})")
    return np.frombuffer(data, dtype=np.uint8, count=expected, offset=header).reshape(dims)


def write_idx(path: Path | str, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write a uint8 array of 1 or 3 dimensions as IDX (gzip when ``compress`` or name ends .gz).

    The inverse of :func:`read_idx`; used by tests and to export small subsets.
    """
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim not in (1, 3):
        raise ValueError("IDX files hold labels (N,) or images (N, rows, cols)")
    magic = LABELS_MAGIC if array.ndim == 1 else IMAGES_MAGIC
    blob = struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        blob = gzip.compress(blob, mtime=0)
    path.write_bytes(blob)
    return path

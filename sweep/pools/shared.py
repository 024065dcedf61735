"""A data set handed to local worker processes through files they memory-map.

:func:`share` writes each array of a :class:`~sweep.data.Dataset` of at least
:data:`MAP_BYTES` to a ``.npy`` file in a folder (or hard-links the file it already is, for a data
set from the cache) and returns a :class:`SharedDataset`: a small
handle that travels with every task (smaller arrays travel inside it). A worker that unpickles
the handle gets a :class:`~sweep.data.Dataset` whose large arrays are read-only ``np.memmap``
views of those files, opened once per process and kept (:func:`open_shared`): every worker maps
the same pages, nothing is copied per task, and the workers need not be new for each sweep.
"""

from __future__ import annotations

import itertools
import mmap
import os
import secrets
import shutil
from pathlib import Path

import numpy as np

from ..data.dataset import Dataset
from ..memory import npy_header

#: Arrays at least this large are memory-mapped from a file; smaller ones are pickled with each
#: task (joblib's default threshold: a small array costs less to send than to map).
MAP_BYTES = 1 << 20

_counter = itertools.count()
#: The data set this worker process opened last: (folder, Dataset). One at a time, so the maps of
#: an earlier sweep's data set are let go when the next sweep's arrives.
_opened: tuple[str, Dataset] | None = None


class SharedDataset:
    """What a task carries instead of the data set: the folder of its mapped arrays and the rest.

    By default it arrives as the :class:`~sweep.data.Dataset` itself (unpickling opens it), which
    suits loky, whose tasks receive it directly. With ``open_on_arrival=False`` it travels as this
    handle and the receiver calls :meth:`open`: a Dask worker keeps a task's input to pass on to
    peers, and a handle (not the opened arrays, which would be pickled whole) is what should travel.
    """

    def __init__(self, folder: str, inline: dict, fields: dict, open_on_arrival: bool = True):
        self.folder, self.inline, self.fields = folder, inline, fields
        self.open_on_arrival = open_on_arrival

    def open(self) -> Dataset:
        return open_shared(self.folder, self.inline, self.fields)

    def __reduce__(self):
        if self.open_on_arrival:
            return open_shared, (self.folder, self.inline, self.fields)
        return SharedDataset, (self.folder, self.inline, self.fields, False)


#: The file each shared folder holds with a random token, so a process can check that the folder it
#: sees under that path is this one (a Dask worker on another machine sees another file system).
TOKEN_FILE = "token"


def share(data: Dataset, parent: Path, open_on_arrival: bool = True) -> SharedDataset:
    """Write the large arrays of ``data`` to a new folder under ``parent``; the handle to send."""
    token = secrets.token_hex(16)
    # The token in the name too: a worker of a long-lived cluster caches what it opened by folder, and
    # a later run of the same folder by a process with the same pid would otherwise get the same path.
    folder = Path(parent) / f"shared-{os.getpid()}-{next(_counter)}-{token[:12]}"
    folder.mkdir(parents=True)
    inline = {}
    try:
        (folder / TOKEN_FILE).write_text(token)
        for name in Dataset.ARRAYS:
            array = getattr(data, name)
            if array.nbytes < MAP_BYTES:
                inline[name] = np.ascontiguousarray(array)
            elif not _link_npy_file(array, folder / f"{name}.npy"):
                np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
    except BaseException:  # e.g. a full disk: no half-written folder is left behind
        shutil.rmtree(folder, ignore_errors=True)
        raise
    fields = {"name": data.name, "image_shape": data.image_shape, "class_names": data.class_names,
              "info": data.info}
    return SharedDataset(str(folder), inline, fields, open_on_arrival)


def _link_npy_file(array: np.ndarray, path: Path) -> bool:
    """Hard-link ``path`` to the ``.npy`` file ``array`` is a read-only map of, whole; whether it did.

    A data set from the cache (:mod:`sweep.data.cache`) is such a map: its files are never written
    in place (an entry is renamed into place whole), so a link shares them without copying them
    (0.2 s and 190 MB for Fashion-MNIST), and keeps them for the workers even if the entry is later
    evicted. Anything else (a view, a writable map, another file system) is copied as before.
    """
    if not (isinstance(array, np.memmap) and isinstance(array.base, mmap.mmap) and array.mode == "r"
            and array.flags.c_contiguous and str(array.filename or "").endswith(".npy")):
        return False
    try:
        with open(array.filename, "rb") as f:  # the file holds exactly this array, from its header
            shape, fortran, dtype = npy_header(f)
            whole = (tuple(shape), fortran, dtype, f.tell()) == (array.shape, False, array.dtype, array.offset)
        if whole:
            os.link(array.filename, path)
        return whole
    except (OSError, ValueError):
        return False


def token_of(folder: str) -> str | None:
    """The token in a shared folder as this process sees it; None when it cannot read it."""
    try:
        return (Path(folder) / TOKEN_FILE).read_text()
    except (OSError, UnicodeDecodeError):
        return None


def open_shared(folder: str, inline: dict, fields: dict) -> Dataset:
    """The data set of a :class:`SharedDataset`, mapped once per process and then reused."""
    global _opened
    if _opened is not None and _opened[0] == folder:
        return _opened[1]
    _opened = None  # the last sweep's maps go before this one's are opened
    arrays = {name: inline[name] if name in inline else np.load(Path(folder) / f"{name}.npy", mmap_mode="r",
                                                                allow_pickle=False)
              for name in Dataset.ARRAYS}
    data = Dataset(fields["name"], **arrays, image_shape=fields["image_shape"], class_names=fields["class_names"],
                   info=fields["info"])
    _opened = (folder, data)
    return data

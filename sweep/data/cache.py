"""A cache of prepared data sets, so the second sweep on the same files starts at once.

Preparing Fashion-MNIST (inflating four gzip files, splitting, converting to float32,
standardising) takes over a second, every time. The prepared arrays of a data set read from files
(MNIST and Fashion-MNIST) are saved as ``.npy`` files and memory-mapped read-only on the next
load, which then takes milliseconds; the run's shared folder hard-links them for the workers
(:mod:`sweep.pools.shared`), so nothing is written again either. The arrays are the ones a fresh load gives,
bitwise.

- **Key**: the data set's name and resolved options, a format number, and for each source file its
  path, size, modification time (ns) and a hash of its first and last 64 KiB (a gzip file ends with
  the CRC of its content): an edited or replaced file is a miss, never stale data.
- **Where**: ``$SWEEP_CACHE_DIR``, else ``$XDG_CACHE_HOME/sweep``, else ``~/.cache/sweep``, in
  ``data/<key>/``; ``SWEEP_CACHE_DIR=off`` turns the cache off.
- **Safety**: an entry is written in a temporary folder and renamed into place (whole or absent);
  one that cannot be read as written (damaged, truncated) is a miss and is replaced. Any error
  (a read-only home, a full disk) falls back to loading the files, silently. Only the
  :data:`MAX_ENTRIES` most recently used entries are kept, and nothing is written unless the disk
  keeps twice the entry's size free.
- **In use**: a process that maps an entry holds a shared ``flock`` on its ``meta.json`` until it
  exits, and eviction skips an entry it cannot lock exclusively, so another run never deletes the
  files a running sweep's workers map. A temporary folder left by a killed save is removed after
  an hour.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from sweep.data.dataset import Dataset

#: Bump when what :func:`~sweep.data.prep.build_dataset` produces changes for the same inputs.
FORMAT = 1
MAX_ENTRIES = 4
META = "meta.json"
_ENDS = 1 << 16
#: Seconds after which a temporary folder of a save is taken as abandoned.
_ABANDONED = 3600
#: Entries this process maps: folder -> the open meta.json holding a shared lock, for the process's life.
_IN_USE: dict[str, int] = {}


def cache_root() -> Path | None:
    """The cache folder, or None when turned off."""
    setting = os.environ.get("SWEEP_CACHE_DIR")
    if setting:
        return None if setting.lower() == "off" else Path(setting).expanduser() / "data"
    try:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    except RuntimeError:  # no home folder to be found
        return None
    return Path(base) / "sweep" / "data"


def entry_key(name: str, options: dict, sources: list[Path]) -> str:
    """The key of a prepared data set: its name, options and the identity of its source files."""
    files = []
    for path in sources:
        stat = os.stat(path)
        with open(path, "rb") as f:
            ends = hashlib.sha256(f.read(_ENDS))
            f.seek(max(stat.st_size - _ENDS, 0))
            ends.update(f.read(_ENDS))
        files.append([str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, ends.hexdigest()])
    text = json.dumps({"format": FORMAT, "name": name, "options": options, "files": files},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load(name: str, options: dict, sources: list[Path]) -> Dataset | None:
    """The cached data set, memory-mapped read-only; None on a miss (or any problem)."""
    root = cache_root()
    if root is None:
        return None
    try:
        folder = root / entry_key(name, options, sources)
    except OSError:
        return None
    try:
        if not _hold(folder):
            return None
        meta = json.loads((folder / META).read_text())
        arrays = {}
        for array in Dataset.ARRAYS:
            arrays[array] = np.load(folder / f"{array}.npy", mmap_mode="r", allow_pickle=False)
            if list(arrays[array].shape) != meta["shapes"][array] or str(arrays[array].dtype) != meta["dtypes"][array]:
                raise ValueError(f"{array} is not as written")
        shape = tuple(meta["image_shape"]) if meta["image_shape"] else None
        names = tuple(meta["class_names"]) if meta["class_names"] else None
        data = Dataset(str(meta["name"]), **arrays, image_shape=shape, class_names=names,
                       info={**meta["info"], "cache": str(folder)})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        _release(folder)
        return None
    try:
        os.utime(folder / META)  # most recently used (a read-only cache is still read)
    except OSError:
        pass
    return data


def _release(folder: Path) -> None:
    """Give up this process's lock on an entry it does not map after all (a damaged one, to be rebuilt)."""
    fd = _IN_USE.pop(str(folder), None)
    if fd is not None:
        os.close(fd)


def _hold(folder: Path) -> bool:
    """Take (once per process) a shared lock on the entry ``folder``: eviction leaves it alone while
    this process lives. False when the entry is absent or being removed."""
    key = str(folder)
    if key in _IN_USE:
        if os.fstat(_IN_USE[key]).st_ino == os.stat(folder / META).st_ino:
            return True
        os.close(_IN_USE.pop(key))  # the entry was rebuilt since: lock the new one
    fd = os.open(folder / META, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _IN_USE[key] = fd
    return True


def save(name: str, options: dict, sources: list[Path], data: Dataset) -> None:
    """Keep ``data`` in the cache (best effort: any error leaves the cache as it was)."""
    root = cache_root()
    if root is None:
        return
    size = sum(getattr(data, array).nbytes for array in Dataset.ARRAYS)
    tmp = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(root).free < 2 * size:
            return
        folder = root / entry_key(name, options, sources)
        tmp = Path(tempfile.mkdtemp(prefix=".writing-", dir=root))
        for array in Dataset.ARRAYS:
            np.save(tmp / f"{array}.npy", np.ascontiguousarray(getattr(data, array)), allow_pickle=False)
        meta = {"name": data.name, "image_shape": list(data.image_shape) if data.image_shape else None,
                "class_names": list(data.class_names) if data.class_names else None,
                "info": json.loads(json.dumps(data.info, default=str)),
                "shapes": {a: list(getattr(data, a).shape) for a in Dataset.ARRAYS},
                "dtypes": {a: str(getattr(data, a).dtype) for a in Dataset.ARRAYS}}
        (tmp / META).write_text(json.dumps(meta))
        if folder.exists() and not _remove_unless_in_use(folder):  # a damaged entry of the same key
            return
        os.replace(tmp, folder)
        tmp = None
        _evict(root)
    except (OSError, ValueError, TypeError):
        pass
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _evict(root: Path) -> None:
    """Remove all but the :data:`MAX_ENTRIES` most recently used entries, except those a process maps,
    and temporary folders abandoned by a killed save."""
    for partial in root.glob(".writing-*"):
        if time.time() - partial.stat().st_mtime > _ABANDONED:
            shutil.rmtree(partial, ignore_errors=True)
    entries = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    entries.sort(key=lambda p: (p / META).stat().st_mtime if (p / META).is_file() else 0, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        if str(old) not in _IN_USE:
            _remove_unless_in_use(old)


def _remove_unless_in_use(folder: Path) -> bool:
    """Remove the entry ``folder`` unless a process holds its lock; whether it is gone."""
    try:
        fd = os.open(folder / META, os.O_RDONLY)
    except OSError:  # no meta.json: a broken entry
        shutil.rmtree(folder, ignore_errors=True)
        return not folder.exists()
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        shutil.rmtree(folder, ignore_errors=True)
    except OSError:  # mapped by a running sweep
        pass
    finally:
        os.close(fd)
    return not folder.exists()

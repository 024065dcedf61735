"""A cache of prepared data sets, so the second sweep on the same files starts at once.

Preparing Fashion-MNIST (inflating four gzip files, splitting, converting to float32,
standardising) takes over a second, every time. The prepared arrays of a data set read from files
(MNIST and Fashion-MNIST) are saved as ``.npy`` files and memory-mapped read-only on the next
load, which then takes tens of milliseconds (most of it the checks below); the run's shared folder
hard-links them for the workers (:mod:`sweep.pools.shared`), so nothing is written again either.
The arrays are the ones a fresh load gives, bitwise.

- **Key**: the data set's name and resolved options, a format number, and for each source file its
  path, size, modification time (ns) and a hash of its first and last 64 KiB (a gzip file ends with
  the CRC of its content): an edited or replaced file is a miss, never stale data.
- **Where**: ``$SWEEP_CACHE_DIR``, else ``$XDG_CACHE_HOME/sweep``, else ``~/.cache/sweep``, in
  ``data/<key>/``; ``SWEEP_CACHE_DIR=off`` turns the cache off. A ``data`` folder that is a
  symbolic link is not the cache's own: the cache is then not used, with one warning per process.
- **Only its own**: that folder may hold anything else (``$SWEEP_CACHE_DIR`` may be a project whose
  ``data/`` keeps the user's data sets). The cache removes or replaces only a folder it can prove it
  made: a real folder (not a link) named like an entry (:func:`entry_key`: 32 hex digits) or like
  one of its temporary folders, whose ``meta.json`` (a regular file) carries :data:`MARKER`. Anything
  else is left alone, even in its way (then it is not used, with a warning naming it).
- **Safety**: an entry is written in a temporary folder and renamed into place (whole or absent).
  The mapped arrays are checked as a fresh load checks them (features finite, labels among the
  classes; about 40 ms for Fashion-MNIST): an entry that fails, or cannot be read as written
  (damaged, truncated), is a miss, said in one ``warning:`` line naming it, and is rebuilt. Any
  other error (a read-only home, a full disk) falls back to loading the files, silently. Only the
  :data:`MAX_ENTRIES` most recently used entries are kept, and nothing is written unless the disk
  keeps twice the entry's size free.
- **In use**: a process that maps an entry holds a shared ``flock`` on its ``meta.json`` until it
  exits, and eviction skips an entry it cannot lock exclusively, so another run never deletes the
  files a running sweep's workers map. A temporary folder left by a killed save or removal is
  removed after an hour.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from stat import S_ISDIR, S_ISREG

import numpy as np

from sweep.data.dataset import Dataset
from sweep.data.prep import check_finite, check_labels
from sweep.errors import DataError

#: Bump when what :func:`~sweep.data.prep.build_dataset` produces, or what an entry holds, changes
#: for the same inputs. 2: meta.json carries :data:`MARKER`; entries of format 1 (without it) are
#: neither read nor removed. 3: meta.json carries the preprocessing (a saved model applies it to raw inputs).
FORMAT = 3
MAX_ENTRIES = 4
META = "meta.json"
#: The key of meta.json that proves the cache wrote the folder (its value: the FORMAT that wrote it).
MARKER = "sweep_cache"
#: Names of the folders the cache makes: entries (:func:`entry_key`), and temporary ones (a save in
#: progress, an entry being removed) that start with :data:`_PARTIAL` and the entry's key.
_ENTRY_NAME = re.compile(r"[0-9a-f]{32}")
_PARTIAL = ".writing-"
_PARTIAL_NAME = re.compile(re.escape(_PARTIAL) + r"[0-9a-f]{32}-[a-z0-9_]+")
_ENDS = 1 << 16
#: Seconds after which a temporary folder of a save is taken as abandoned.
_ABANDONED = 3600
#: Entries this process maps: folder -> the open meta.json holding a shared lock, for the process's life.
_IN_USE: dict[str, int] = {}
#: Cache folders this process has warned about being symbolic links (once each).
_WARNED_LINKS: set[str] = set()


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


def _usable_root() -> Path | None:
    """The cache folder, or None when turned off or a symbolic link (said once per process)."""
    root = cache_root()
    if root is not None and root.is_symlink():
        if str(root) not in _WARNED_LINKS:
            _WARNED_LINKS.add(str(root))
            _warn(f"the data cache folder {root} is a symbolic link, which the cache does not follow: data "
                  "sets are loaded from their files; to keep the cache elsewhere set SWEEP_CACHE_DIR=DIR (it "
                  "uses DIR/data), or SWEEP_CACHE_DIR=off")
        return None
    return root


def _warn(message: str) -> None:
    """One ``warning:`` line on stderr, before any progress bar (data sets load before one is drawn)."""
    print(f"warning: {message}", file=sys.stderr)


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
    root = _usable_root()
    if root is None:
        return None
    try:
        folder = root / entry_key(name, options, sources)
        own = _open_own(folder)
    except OSError:
        return None
    if own is None:
        if os.path.lexists(folder):
            _warn(f"the data cache leaves {folder} alone (not a folder it can prove it wrote: a link, or no "
                  f"{MARKER!r} in its {META}) and loads the data set from its files; remove that folder to let the "
                  "cache keep it")
        return None
    fd, meta = own
    if not _hold(folder, fd):
        return None
    try:
        data = _mapped(folder, meta)
        _check_arrays(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, DataError) as exc:
        _release(folder)
        _warn(f"the data cache entry {folder} is damaged ({exc}): the data set is loaded from its files and "
              "the entry rebuilt")
        return None
    try:
        os.utime(_IN_USE[str(folder)])  # most recently used (a read-only cache is still read)
    except OSError:
        pass
    return data


def _open_own(folder: Path) -> tuple[int, dict] | None:
    """``folder``'s meta.json, open, and its content, when the cache provably made ``folder``: a real
    folder (not a link) named like an entry or a temporary folder, whose meta.json is a regular file
    (not a link) carrying :data:`MARKER`. None for anything else, which the cache must leave alone."""
    if not (_ENTRY_NAME.fullmatch(folder.name) or _PARTIAL_NAME.fullmatch(folder.name)):
        return None
    try:
        if not S_ISDIR(os.lstat(folder).st_mode):
            return None
        fd = os.open(folder / META, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # no link, no waiting on a FIFO
    except OSError:
        return None
    try:
        if S_ISREG(os.fstat(fd).st_mode):
            with open(fd, "rb", closefd=False) as f:
                meta = json.loads(f.read())
            if isinstance(meta, dict) and type(meta.get(MARKER)) is int:
                return fd, meta
    except (OSError, ValueError):
        pass
    os.close(fd)
    return None


def _mapped(folder: Path, meta: dict) -> Dataset:
    """The entry's arrays, memory-mapped read-only, as its meta.json describes them.

    Raises ValueError (or OSError, KeyError, TypeError) when they are not as written."""
    arrays = {}
    for array in Dataset.ARRAYS:
        path = folder / f"{array}.npy"
        if not S_ISREG(os.lstat(path).st_mode):  # a link to a file the cache did not write, a FIFO...
            raise ValueError(f"{path.name} is not a regular file")
        arrays[array] = np.load(path, mmap_mode="r", allow_pickle=False)
        if list(arrays[array].shape) != meta["shapes"][array] or str(arrays[array].dtype) != meta["dtypes"][array]:
            raise ValueError(f"{path.name} is not as written")
    shape = tuple(meta["image_shape"]) if meta["image_shape"] else None
    names = tuple(meta["class_names"]) if meta["class_names"] else None
    from sweep.data.transform import Preprocessing

    preprocessing = Preprocessing.from_json(meta["preprocessing"]) if meta.get("preprocessing") else None
    return Dataset(str(meta["name"]), **arrays, image_shape=shape, class_names=names,
                   info={**meta["info"], "cache": str(folder)}, preprocessing=preprocessing)


def _check_arrays(data: Dataset) -> None:
    """DataError unless the arrays pass the checks of a fresh load (:mod:`sweep.data.prep`): finite
    features (and targets), labels among the classes. Reads every page once: about 40 ms for
    Fashion-MNIST's 220 MB, most of a cached load."""
    classes = len(data.class_names) if data.class_names else None
    for split in ("train", "val", "test"):
        check_finite(getattr(data, f"X_{split}"), f"X_{split}.npy", f"{split} features")
        y = getattr(data, f"y_{split}")
        if data.task == "classification":
            check_labels(y, f"y_{split}.npy", f"{split} labels", classes)
        else:
            check_finite(y, f"y_{split}.npy", f"{split} targets")


def _release(folder: Path) -> None:
    """Give up this process's lock on an entry it does not map after all (a damaged one, to be rebuilt)."""
    fd = _IN_USE.pop(str(folder), None)
    if fd is not None:
        os.close(fd)


def _hold(folder: Path, fd: int) -> bool:
    """Take (once per process) a shared lock on the entry ``folder`` through ``fd``, its open meta.json
    (taken over: kept or closed): eviction leaves it alone while this process lives. False when the
    entry is being removed."""
    key = str(folder)
    held = _IN_USE.get(key)
    if held is not None and os.fstat(held).st_ino == os.fstat(fd).st_ino:
        os.close(fd)
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _release(folder)  # the entry was rebuilt since this process mapped it: hold the new one
    _IN_USE[key] = fd
    return True


def save(name: str, options: dict, sources: list[Path], data: Dataset) -> None:
    """Keep ``data`` in the cache (best effort: any error leaves the cache as it was)."""
    root = _usable_root()
    if root is None:
        return
    size = sum(getattr(data, array).nbytes for array in Dataset.ARRAYS)
    tmp = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(root).free < 2 * size:
            return
        key = entry_key(name, options, sources)
        folder = root / key
        if os.path.lexists(folder) and not _remove(folder):  # a damaged entry, in use, or not the cache's
            return
        tmp = Path(tempfile.mkdtemp(prefix=f"{_PARTIAL}{key}-", dir=root))
        (tmp / META).write_text(json.dumps(_meta(data)))  # first: a save killed midway leaves a folder it can prove
        for array in Dataset.ARRAYS:
            np.save(tmp / f"{array}.npy", np.ascontiguousarray(getattr(data, array)), allow_pickle=False)
        os.replace(tmp, folder)
        tmp = None
        _evict(root)
    except (OSError, ValueError, TypeError):
        pass
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _meta(data: Dataset) -> dict:
    """What an entry's meta.json holds: :data:`MARKER`, and what the arrays do not say of ``data``."""
    return {MARKER: FORMAT, "name": data.name,
            "image_shape": list(data.image_shape) if data.image_shape else None,
            "class_names": list(data.class_names) if data.class_names else None,
            "info": json.loads(json.dumps(data.info, default=str)),
            "preprocessing": data.preprocessing.to_json() if data.preprocessing is not None else None,
            "shapes": {a: list(getattr(data, a).shape) for a in Dataset.ARRAYS},
            "dtypes": {a: str(getattr(data, a).dtype) for a in Dataset.ARRAYS}}


def _evict(root: Path) -> None:
    """Remove all but the :data:`MAX_ENTRIES` most recently used entries, except those a process maps,
    and temporary folders abandoned by a killed save or removal. Only the cache's own (:func:`_open_own`)."""
    entries = []
    for path in root.iterdir():
        if _PARTIAL_NAME.fullmatch(path.name) and time.time() - path.lstat().st_mtime > _ABANDONED:
            _remove(path)
        elif _ENTRY_NAME.fullmatch(path.name):
            own = _open_own(path)
            if own is not None:
                entries.append((os.fstat(own[0]).st_mtime, path))
                os.close(own[0])
    entries.sort(reverse=True)
    for _, old in entries[MAX_ENTRIES:]:
        if str(old) not in _IN_USE:
            _remove(old)


def _remove(folder: Path) -> bool:
    """Remove ``folder`` if the cache made it (:func:`_open_own`) and no process maps it; whether it is gone."""
    own = _open_own(folder)
    if own is None:
        return not os.path.lexists(folder)
    fd, _ = own
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _delete(folder)
    except OSError:  # mapped by a running sweep (or removed by another process meanwhile)
        pass
    finally:
        os.close(fd)
    return not os.path.lexists(folder)


def _delete(folder: Path) -> None:
    """Delete the cache's own ``folder``, locked: an entry is first renamed to a temporary name (gone
    from its key at once), and its meta.json goes last, so a removal killed midway leaves a folder the
    cache can still prove it made, removed later as abandoned. Links inside are removed, never followed."""
    if _ENTRY_NAME.fullmatch(folder.name):
        doomed = folder.with_name(f"{_PARTIAL}{folder.name}-{secrets.token_hex(4)}")
        os.rename(folder, doomed)
        folder = doomed
    with os.scandir(folder) as children:
        for child in children:
            if child.name == META:
                continue
            if child.is_dir(follow_symlinks=False):
                shutil.rmtree(child.path)
            else:
                os.unlink(child.path)
    os.unlink(folder / META)
    os.rmdir(folder)

"""One sweep at a time in a run folder: an exclusive ``flock`` on the folder itself.

A lock file can be deleted while a sweep holds its lock: the next sweep then creates a new file,
locks that one and runs beside the first (both append to the same trials.csv). The folder's own
inode cannot be swapped from under a running sweep, so the lock is taken on a descriptor of the
folder (and on a ``.lock`` file an earlier version left, which that version would lock). Some
network file systems (Linux's NFS client emulates ``flock`` with byte-range locks,
which need a file open for writing) refuse a lock on a folder; there the lock falls back to the
``.lock`` file, checked after locking to still be the file of that name. That fallback cannot
stop a deletion while the lock is held; it is what such file systems allow.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from ..errors import SweepError

#: The lock file of the fallback (and of run folders of earlier versions, where it is left alone).
LOCK_FILE = ".lock"
#: What ``flock`` on a folder's descriptor fails with where the file system cannot lock a folder.
_UNSUPPORTED = (errno.EBADF, errno.EINVAL, errno.ENOLCK, errno.EOPNOTSUPP)


class FolderLock:
    """The locks held on a run folder; :meth:`close` releases them."""

    def __init__(self, fds: list[int]):
        self._fds = fds

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)  # closing releases the flock
        self._fds = []


def lock_folder(folder: Path, busy: str) -> FolderLock:
    """An exclusive lock on ``folder``, also on its ``.lock`` file when it has one (the lock of earlier
    versions, which may be resuming the run at the same time).

    SweepError(``busy``) when another process holds either. OSError when the folder cannot be opened.
    """
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SweepError(busy) from None
    except OSError as exc:
        os.close(fd)
        if exc.errno not in _UNSUPPORTED:
            raise
        return FolderLock([_lock_file(Path(folder) / LOCK_FILE, busy)])
    legacy = Path(folder) / LOCK_FILE
    if not (legacy.is_file() and not legacy.is_symlink()):
        return FolderLock([fd])
    try:
        return FolderLock([fd, _lock_file(legacy, busy)])
    except BaseException:
        os.close(fd)
        raise


def _lock_file(path: Path, busy: str) -> int:
    """The fallback: lock ``path`` (made if absent), and make sure it is still the file of that name
    (one deleted between its opening and its locking would lock nothing anyone else sees)."""
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SweepError(busy) from None
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise SweepError(busy)

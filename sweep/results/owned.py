"""Files sweep draws into a run folder (plots, the report): only those are ever replaced or removed.

A run folder is shared, archived, copied around and written into by people; a figure someone
saved as ``plots/heatmap.png``, or an edited ``report.html``, must survive ``sweep report``. Each
file sweep draws is recorded in ``.drawn.json`` with the SHA-256 of what was written. A file may
be replaced or removed only while it still has that content.

A run folder made by this version starts with an empty record. One drawn by an older version has
none: there a file with one of sweep's names may be replaced (it was drawn by sweep), but nothing
is removed.

Drawing holds an exclusive lock (``.drawn.lock``), so two ``sweep report`` at once take turns
instead of losing each other's record.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from .files import new_temporary, refuse_links, sha256_of

MANIFEST = ".drawn.json"
LOCK = ".drawn.lock"
EMPTY_MANIFEST = b"{}\n"


class OwnedFiles:
    """The record of what sweep drew in ``run_dir`` (paths relative to it); a context manager that
    holds the drawing lock and saves the record on exit."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / MANIFEST
        self.legacy = False
        self.hashes: dict[str, str] = {}
        self._lock_fd: int | None = None

    def __enter__(self) -> "OwnedFiles":
        refuse_links(self.run_dir)
        fd = os.open(self.run_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd
        self.legacy = not self.path.exists()
        if not self.legacy:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self.hashes = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
            except (OSError, UnicodeDecodeError, ValueError):
                self.hashes = {}  # a damaged record: nothing is known to be ours
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None or self.hashes:
                self._save()
        finally:
            os.close(self._lock_fd)  # closing releases the lock
            self._lock_fd = None

    def may_replace(self, relative: str, ours_by_name: bool = True) -> bool:
        """Whether the file at ``relative`` is absent, or sweep's and unchanged since sweep wrote it.

        ``ours_by_name``: in a folder without a record, whether a file of this name is sweep's.
        """
        path = self.run_dir / relative
        if not path.exists() and not path.is_symlink():
            return True
        if path.is_symlink() or not path.is_file():
            return False
        if self.legacy:
            return ours_by_name
        return self.hashes.get(relative) == sha256_of(path)

    def may_remove(self, relative: str) -> bool:
        """Whether the file at ``relative`` is sweep's, recorded and unchanged (never in an old folder)."""
        return not self.legacy and relative in self.hashes and self.may_replace(relative)

    def write(self, relative: str, write) -> Path:
        """Write a file through ``write(temporary path)``, then move it into place and record it."""
        path = self.run_dir / relative
        tmp = new_temporary(path.parent, prefix=f".{path.name}.")
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        self.hashes[relative] = sha256_of(path)
        return path

    def remove(self, relative: str) -> None:
        (self.run_dir / relative).unlink(missing_ok=True)
        self.hashes.pop(relative, None)

    def _save(self) -> None:
        tmp = new_temporary(self.run_dir, prefix=f"{MANIFEST}.")
        try:
            tmp.write_text(json.dumps(dict(sorted(self.hashes.items())), indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        self.legacy = False

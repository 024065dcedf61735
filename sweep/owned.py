"""Files sweep draws into a run folder (plots, the report): only those are ever replaced or removed.

A run folder is shared, archived, copied around and written into by people; a figure someone
saved as ``plots/heatmap.png``, or an edited ``report.html``, must survive ``sweep report``. Each
file sweep draws is recorded in ``.drawn.json`` with the SHA-256 of what was written. A file may
be replaced or removed only while it still has that content. A run folder drawn by a version
before this record existed has none: its files with sweep's own names are taken as sweep's.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

MANIFEST = ".drawn.json"


class OwnedFiles:
    """The record of what sweep drew in ``run_dir`` (paths relative to it)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / MANIFEST
        self.legacy = not self.path.exists()
        self.hashes: dict[str, str] = {}
        if not self.legacy:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self.hashes = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
            except (OSError, UnicodeDecodeError, ValueError):
                self.hashes = {}  # a damaged record: nothing is known to be ours

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
        return self.hashes.get(relative) == _sha256(path)

    def write(self, relative: str, write) -> Path:
        """Write a file through ``write(temporary path)``, then move it into place and record it."""
        path = self.run_dir / relative
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        self.hashes[relative] = _sha256(path)
        return path

    def remove(self, relative: str) -> None:
        (self.run_dir / relative).unlink(missing_ok=True)
        self.hashes.pop(relative, None)

    def save(self) -> None:
        tmp = self.path.with_name(f".{MANIFEST}.tmp")
        tmp.write_text(json.dumps(dict(sorted(self.hashes.items())), indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
        self.legacy = False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

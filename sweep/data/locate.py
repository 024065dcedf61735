"""Where the named data sets live on disk, and the error when they are not there.

Search order for a named set: the ``data_dir`` option (only it, when given), else
``./data/<name>/`` relative to the current directory, else system-wide copies installed by a
distribution package (Debian's ``dataset-fashion-mnist`` for Fashion-MNIST).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from sweep.errors import DataError

#: System-wide directories searched after ./data/<name>/ (module-level so tests can patch them).
SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}

#: How to obtain each named set, for the "not found" message.
HOW_TO_GET: dict[str, str] = {
    "mnist": "run `sweep data fetch mnist`",
    "fashion-mnist": "run `sweep data fetch fashion-mnist` "
                     "or `apt-get install dataset-fashion-mnist`",
    "cifar10": "run `sweep data fetch cifar10`",
}


def candidate_dirs(name: str, data_dir: Path | None) -> list[Path]:
    """Directories to search for data set ``name``, in order."""
    if data_dir is not None:
        return [Path(data_dir)]
    return [Path.cwd() / "data" / name, *SYSTEM_DIRS.get(name, ())]


def find_file(directory: Path, base: str) -> Path | None:
    """``directory/base`` or ``directory/base.gz``, whichever exists (plain first)."""
    for candidate in (directory / base, directory / f"{base}.gz"):
        if candidate.is_file():
            return candidate
    return None


def search(name: str, data_dir: Path | None,
           probe: Callable[[Path], "tuple[object | None, str]"]):
    """Return the first non-None ``probe(dir)`` result over the candidate directories.

    ``probe`` returns ``(found, why_not)``; when nothing is found a DataError lists every
    directory looked in with the reason, and how to get the files.
    """
    looked = []
    for d in candidate_dirs(name, data_dir):
        if not d.is_dir():
            looked.append(f"{d} (no such directory)")
            continue
        found, why_not = probe(d)
        if found is not None:
            return found
        looked.append(f"{d} ({why_not})")
    raise not_found(name, looked)


def not_found(name: str, looked: Sequence[str]) -> DataError:
    how = HOW_TO_GET.get(name, "download it")
    return DataError(
        f"{name} data not found; looked in: {'; '.join(looked)}. To get it: {how} "
        f"(it goes to ./data/{name}/), or pass data_dir=<directory holding the files>")

"""Download the official files of MNIST, Fashion-MNIST and CIFAR-10, checked by SHA-256.

This is the only module of the package that touches the network, and only when :func:`fetch`
is called. Each file is streamed into a temporary file next to its destination, its SHA-256 is
compared with :data:`SHA256` (or the ``checksums`` given), and only then renamed into place; a
mismatch deletes the download and raises DataError. A file already present with the right digest
is not downloaded again. The CIFAR-10 archive is then extracted, refusing any member that is not a
plain file or directory inside the destination (absolute paths, ``..``, links, devices).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Mapping

from sweep.errors import DataError


@dataclass(frozen=True)
class Source:
    """Where a data set's official files are: ``base_url + name`` for each file."""

    base_url: str
    files: tuple[str, ...]
    archive: bool = False  # extract the (single) file as a .tar.gz


SOURCES: dict[str, Source] = {
    "mnist": Source(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")),
    "fashion-mnist": Source(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")),
    "cifar10": Source(
        "https://www.cs.toronto.edu/~kriz/", ("cifar-10-binary.tar.gz",), archive=True),
}

#: Published SHA-256 digests of the official files, per data set and file name.
SHA256: dict[str, dict[str, str]] = {
    "mnist": {  # same files as yann.lecun.com/exdb/mnist (MD5s match torchvision's table)
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz":
            "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
        "train-labels-idx1-ubyte.gz":
            "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
        "t10k-images-idx3-ubyte.gz":
            "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
        "t10k-labels-idx1-ubyte.gz":
            "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
    },
    "cifar10": {
        "cifar-10-binary.tar.gz":
            "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    },
}

FETCHABLE: tuple[str, ...] = tuple(SOURCES)

_BLOCK = 1 << 20

Progress = Callable[[str, int, "int | None"], None]


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def _download(url: str, dest: Path, expected: str, timeout: float,
              progress: Progress | None) -> None:
    """Stream ``url`` into a temp file beside ``dest``; rename it to ``dest`` if digest is right."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                total = resp.headers.get("Content-Length")
                total = int(total) if total and total.isdigit() else None
                done = 0
                for block in iter(lambda: resp.read(_BLOCK), b""):
                    out.write(block)
                    h.update(block)
                    done += len(block)
                    if progress:
                        progress(url, done, total)
                if total is not None and done != total:
                    raise http.client.IncompleteRead(b"", total - done)
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                TimeoutError, OSError) as e:
            reason = getattr(e, "reason", None) or e
            if isinstance(e, urllib.error.HTTPError):
                reason = f"HTTP {e.code} {e.reason}"
            raise DataError(
                f"could not download {url}: {reason} (is there network access?); download it by "
                f"hand and put it in {dest.parent}/, or pass data_dir=<directory with the files>"
            ) from None
        digest = h.hexdigest()
        if digest != expected.lower():
            raise DataError(f"{url}: SHA-256 mismatch: got {digest}, expected {expected}; "
                            "the download was deleted (corrupted transfer or changed file?)")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a data file is world-readable
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _safe_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    members = []
    for m in tar.getmembers():
        p = PurePosixPath(m.name)
        if p.is_absolute() or ".." in p.parts or m.name.startswith(("/", "\\")) or "\\" in m.name:
            raise DataError(f"{archive}: refusing unsafe member path {m.name!r}")
        if not (m.isfile() or m.isdir()):
            raise DataError(f"{archive}: refusing member {m.name!r} "
                            "(links and devices are not allowed)")
        members.append(m)
    return members


def extract_tar(archive: Path, dest_dir: Path) -> list[Path]:
    """Extract a .tar.gz safely into ``dest_dir``; return the regular files written."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = _safe_members(tar, archive)
            staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest_dir))
            try:
                kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(staging, members=members, **kwargs)
                written = []
                for top in sorted(staging.iterdir()):
                    target = dest_dir / top.name
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    elif target.exists() or target.is_symlink():
                        target.unlink()
                    os.replace(top, target)
                for m in members:
                    if m.isfile():
                        written.append(dest_dir / PurePosixPath(m.name))
                return written
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{archive}: cannot extract ({e})") from None


def fetch(name: str, dest_dir: Path | str | None = None, base_url: str | None = None, *,
          checksums: Mapping[str, str] | None = None, timeout: float = 60.0,
          progress: Progress | None = None) -> list[Path]:
    """Download the official files of ``name`` (one of :data:`FETCHABLE`) into ``dest_dir``.

    ``dest_dir`` defaults to ``./data/<name>/`` (where the loaders look). ``base_url`` replaces
    the official host/folder (a mirror, or a local server in tests); ``checksums`` maps file names
    to expected SHA-256 hex digests, overriding :data:`SHA256` for those files (needed whenever the
    files served differ from the official ones). ``progress(url, bytes_done, bytes_total_or_None)``
    is called as data arrives.

    Returns the paths of the files fetched, followed for CIFAR-10 by the extracted files.
    Raises DataError on network errors, digest mismatches (the download is deleted) and unsafe
    archives.
    """
    if name not in SOURCES:
        from sweep.data.options import suggest

        raise DataError(f"cannot fetch {name!r}{suggest(name, FETCHABLE)}; fetchable: "
                        f"{', '.join(FETCHABLE)}")
    source = SOURCES[name]
    dest = Path(dest_dir) if dest_dir is not None else Path("data") / name
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create {dest}: {e.strerror or e}") from None
    base = (base_url or source.base_url).rstrip("/") + "/"
    digests = {**SHA256[name], **(checksums or {})}
    fetched: list[Path] = []
    for filename in source.files:
        target = dest / filename
        expected = digests[filename]
        if not (target.is_file() and sha256_of(target) == expected.lower()):
            _download(base + filename, target, expected, timeout, progress)
        fetched.append(target)
        if source.archive:
            fetched.extend(extract_tar(target, dest))
    return fetched

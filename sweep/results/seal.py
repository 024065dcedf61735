"""A seal on the state sweep saves to go on from: proof that a sweep of this user wrote it, unchanged.

Checks of shapes, values and scores (:mod:`sweep.results.proof`) catch a damaged or foreign file,
but not a forgery that stays plausible: records of earlier epochs, a generator state, an update
rule's moments, another repeat's state under this one's name. A keyed hash (HMAC-SHA256) of the
saved content does, with a key kept outside the run folder, readable by this user alone:
``$SWEEP_KEY_FILE``, else ``$XDG_CONFIG_HOME/sweep/state.key``, else ``~/.config/sweep/state.key``
(made on first use, mode 0600).

Only state that is recomputed when in doubt is sealed: a paused state (its trial then trains from
the start), kept weights and the saved best model's record (the trial is retrained). Both give the
same numbers, later. A run folder resumed by another user or on another machine therefore goes on
from none of them; one that is only read (shown, reported, loaded) needs no seal.
"""

from __future__ import annotations

import hmac
import os
import secrets
import sys
from hashlib import sha256
from pathlib import Path

import numpy as np

KEY_ENV = "SWEEP_KEY_FILE"
_KEY_BYTES = 32
_key_cache: dict[str, bytes] = {}


def key_path() -> Path | None:
    """Where the key lives (None when no home folder can be found)."""
    setting = os.environ.get(KEY_ENV)
    if setting:
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME")
    try:
        base = Path(base) if base else Path.home() / ".config"
    except RuntimeError:
        return None
    return base / "sweep" / "state.key"


def _key() -> bytes:
    """This user's key: read, or made once; a key of this process alone when neither can be done."""
    path = key_path()
    cached = _key_cache.get(str(path))
    if cached is not None:
        return cached
    key = None
    if path is not None:
        try:
            key = _read_or_make(path)
        except OSError as exc:
            print(f"warning: cannot keep the key that seals saved state at {path} ({exc.strerror or exc}): state "
                  f"saved by this process can be continued from by it alone; set {KEY_ENV} to a file to keep it in",
                  file=sys.stderr)
    key = key or secrets.token_bytes(_KEY_BYTES)
    _key_cache[str(path)] = key
    return key


def _read_or_make(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_bytes(_KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:  # made by another process meanwhile
            return _read_or_make(path)
        with open(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        return key
    with open(fd, "rb") as f:
        key = f.read(_KEY_BYTES + 1)
    if len(key) != _KEY_BYTES:
        raise OSError(f"{path} is not a key of {_KEY_BYTES} bytes")
    return key


def seal(kind: str, text: str, arrays: dict[str, np.ndarray]) -> str:
    """The seal (hex) of a saved state of ``kind``: its ``text`` (the JSON it carries, which names its
    trial) and its ``arrays``, each by name, dtype, shape and bytes."""
    mac = hmac.new(_key(), digestmod=sha256)
    for part in (kind, text):
        _add(mac, part.encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        for part in (name.encode(), array.dtype.str.encode(), repr(array.shape).encode()):
            _add(mac, part)
        _add(mac, array.tobytes())
    return mac.hexdigest()


def unsealed_problem(kind: str, text: str, arrays: dict[str, np.ndarray], given) -> str | None:
    """Why ``given`` is not the seal of this content, or None."""
    if not isinstance(given, str) or not hmac.compare_digest(given, seal(kind, text, arrays)):
        return ("it does not carry the seal of this user's sweeps (it was saved by another user, on another "
                "machine or by an earlier version of sweep, or changed since)")
    return None


def _add(mac, data) -> None:
    """Feed ``data`` with its length first, so that no two sequences of parts give the same bytes."""
    mac.update(len(data).to_bytes(8, "little"))
    mac.update(data)

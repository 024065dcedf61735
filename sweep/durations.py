"""Durations as people write them: ``90``, ``45s``, ``30m``, ``1.5h`` (``--time-limit``, ``time_limit:``)."""

from __future__ import annotations

import math
import re

#: Seconds per unit; a bare number is seconds.
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*$")
#: Longest time limit accepted (a year), so that a typo does not overflow a deadline.
MAX_SECONDS = 366 * 24 * 3600.0


def parse_duration(value) -> float:
    """Seconds (> 0) of ``value``: a number of seconds, or text such as ``45s``, ``30m``, ``2h``.

    Raises ValueError with a message that says what is allowed.
    """
    if isinstance(value, bool):
        seconds = math.nan
    elif isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        seconds = float(match.group(1)) * UNITS[match.group(2) or "s"] if match else math.nan
    if not (0 < seconds <= MAX_SECONDS):
        raise ValueError(f"{str(value)[:40]!r} is not a duration; write a number followed by s, m or h, "
                         "e.g. 45s, 30m, 1.5h (at most a year)")
    return seconds


def time_limit_of(value, label: str) -> float | None:
    """Seconds of a time limit given as ``label`` (``--time-limit``, ``time_limit``), None for None; a
    one-line SweepError naming ``label`` when it is not a duration."""
    if value is None:
        return None
    from .errors import SweepError

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise SweepError(f"{label} {exc}") from None


def format_duration(seconds: float) -> str:
    """``seconds`` in the largest unit that divides it: 1800 -> ``30m``, 90 -> ``90s``."""
    for unit in ("h", "m"):
        if seconds % UNITS[unit] == 0:
            return f"{seconds / UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"

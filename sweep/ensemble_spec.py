"""The ``ensemble:`` key of an experiment: how many trials the ensemble may draw on, how many rounds
of selection it makes and how much disk the kept weights may take. Apart from :mod:`sweep.ensemble` so
that the experiment's parser needs none of the selection's machinery."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

#: Defaults, from measurement on digits (see the README's ``ensemble:`` section).
DEFAULT_TOP_K, DEFAULT_ROUNDS, DEFAULT_MAX_DISK = 10, 10, 500 * 1000 ** 2
#: Largest ``top_k`` and ``rounds`` an experiment may ask for.
MAX_TOP_K, MAX_ROUNDS = 1000, 10_000
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "tb": 1000 ** 4,
          "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "tib": 1024 ** 4}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*")


@dataclass(frozen=True)
class EnsembleSpec:
    """The experiment's ``ensemble:`` key: ``top_k`` trials in the pool, ``rounds`` of selection,
    ``max_disk`` bytes of kept weights at most; ``asked``: the experiment file named the key (warnings
    about an ensemble that cannot be made are given only then)."""

    top_k: int = DEFAULT_TOP_K
    rounds: int = DEFAULT_ROUNDS
    max_disk: int = DEFAULT_MAX_DISK
    asked: bool = False

    def to_dict(self) -> dict:
        return {"top_k": self.top_k, "rounds": self.rounds, "max_disk": human_size(self.max_disk)}


def parse_size(value) -> int:
    """Bytes of ``200MB``, ``1.5 GiB``, ``1000000`` (ValueError for anything else, or a size below 0)."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        if value < 0:
            raise ValueError
        return value
    if not isinstance(value, str):
        raise ValueError
    match = _SIZE.fullmatch(value)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def human_size(n: int) -> str:
    """``500MB`` for 500,000,000 bytes: the shortest decimal unit that gives a whole number."""
    for unit in ("TB", "GB", "MB", "kB"):
        size = _UNITS[unit.lower()]
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}B"


def json_number(value):
    """A value fit for strict JSON: NaN and infinities become None, NumPy scalars Python ones."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

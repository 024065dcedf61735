"""``sweep.log``: what a Python training script calls to report its metrics to the sweep."""

from __future__ import annotations

import json
import os


def log(values: dict, **more) -> None:
    """Append ``values`` (and ``more``) as one JSON line to the file ``$SWEEP_METRICS`` names, and
    nothing else: ``sweep.log({"epoch": 3, "val_acc": 0.91})``. NumPy numbers are written as
    numbers. Outside a sweep (no ``SWEEP_METRICS``) it does nothing, so the script runs alone too.
    """
    path = os.environ.get("SWEEP_METRICS")
    if not path:
        return
    line = json.dumps({**dict(values), **more}, default=_plain) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line.encode())  # one write of one line: lines of a program never interleave
    finally:
        os.close(fd)


def _plain(value):
    """NumPy scalars and arrays as JSON numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a number, text or list: sweep.log cannot write it")

"""In-place ``y += a * x`` through BLAS axpy: one pass over memory and no temporary array; and gemm.

For a (784, 1000) float32 weight this halves the cost of a momentum or L2 step compared with
``y += a * x`` in NumPy, which allocates ``a * x`` first.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path

import numpy as np


def _fblas():
    """SciPy's BLAS extension module, loaded without running ``scipy.linalg/__init__``.

    ``from scipy.linalg.blas import ...`` first imports all of ``scipy.linalg`` (0.25 s), and every
    worker process of every sweep pays it before its first update; loading the one extension it
    needs takes 5 ms. It is the very module ``scipy.linalg.blas`` uses (CPython keeps one copy of an
    extension), so the numbers are the same. Any surprise in the layout falls back to the import.
    """
    try:
        scipy_dir = Path(importlib.util.find_spec("scipy").origin).parent
        [path] = (scipy_dir / "linalg").glob("_fblas.*.so")
        spec = importlib.util.spec_from_file_location("scipy.linalg._fblas", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        # Not left in sys.modules under its name without its package: `import scipy.linalg` later
        # registers it properly (and gets this same extension module back from CPython).
        sys.modules.pop("scipy.linalg._fblas", None)
        return module
    except Exception:  # noqa: BLE001 - any other layout or build: the documented way
        from scipy.linalg import _fblas

        return _fblas


@cache
def _routines() -> dict:
    """BLAS axpy by dtype."""
    fblas = _fblas()
    return {np.dtype(np.float32): fblas.saxpy, np.dtype(np.float64): fblas.daxpy}


@cache
def _gemms() -> dict:
    fblas = _fblas()
    return {np.dtype(np.float32): fblas.sgemm, np.dtype(np.float64): fblas.dgemm}


def gemm_routine(dtype):
    """BLAS gemm for float32 or float64, as SciPy wraps it: ``gemm(alpha, a, b, beta=0, c=None,
    trans_a=0, trans_b=0, overwrite_c=0)`` returns ``alpha * a @ b + beta * c``. Pass Fortran-ordered
    arrays (the ``.T`` of C-ordered ones): then nothing is copied, and with ``overwrite_c=1`` the
    result is written into ``c`` itself."""
    return _gemms()[np.dtype(dtype)]


# Loaded with this module, not on first use: SciPy's BLAS is a library of its own, and one loaded
# inside `threadpoolctl.threadpool_limits(1)` (as a benchmark or a notebook limits threads) would
# escape the limit and run on every core.
_routines()


def axpy(a: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y += a * x`` in place (x and y of the same shape); returns y."""
    routine = _routines().get(y.dtype)
    if routine is not None and x.dtype == y.dtype and x.flags.c_contiguous and y.flags.c_contiguous \
            and y.flags.writeable and y.size:
        routine(x.reshape(-1), y.reshape(-1), a=a)
    else:
        y += a * x
    return y

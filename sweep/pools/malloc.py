"""glibc's malloc set for training while a task runs in a Dask worker whose nanny set a trim threshold.

Dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536``, so that freed memory goes
back to the operating system at once. Setting that also freezes glibc's mmap threshold at 128 KiB:
every activation and gradient array of a training step (a 100 x 784 float32 minibatch is 313 KiB)
is then a fresh ``mmap`` whose pages fault in again, and each free at the top of the heap shrinks
it. A NumPy training loop took 2.0x as long in such a worker as in a plain process here, and still
1.25x with ``MALLOC_MMAP_THRESHOLD_`` set as well.

:func:`training_malloc` raises both thresholds with ``mallopt`` while a task runs, then puts back
what the environment asked for and calls ``malloc_trim(0)``: the memory still goes back to the
operating system when the task ends, as Dask wants, but not on every step. It does nothing where
no trim threshold was set, or where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import os
import threading
from contextlib import contextmanager

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: glibc's ceiling for the mmap threshold on 64-bit systems: smaller blocks come from the heap.
MMAP_CEILING = 32 * 1024 * 1024
#: glibc's own rule when it raises the mmap threshold: trim only beyond twice that.
TRIM_WHILE_TRAINING = 2 * MMAP_CEILING
#: glibc's default mmap threshold, to put back when only the trim threshold was set.
DEFAULT_MMAP_THRESHOLD = 128 * 1024

_lock = threading.Lock()
_tasks_running = 0  # tasks of this process inside training_malloc (a worker may run several threads)


def _environment_thresholds() -> tuple[int, int] | None:
    """(trim, mmap) thresholds the environment set, when it set a trim threshold; else None."""
    try:
        trim = int(os.environ["MALLOC_TRIM_THRESHOLD_"])
        mmap = int(os.environ.get("MALLOC_MMAP_THRESHOLD_", DEFAULT_MMAP_THRESHOLD))
    except (KeyError, ValueError):
        return None
    return trim, mmap


def _glibc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both must exist (glibc), or nothing is changed
    except (OSError, AttributeError):
        return None
    return libc


@contextmanager
def training_malloc():
    """Within: no per-step ``mmap`` and trimming (see the module); after: the environment's thresholds."""
    thresholds = _environment_thresholds()
    libc = _glibc() if thresholds is not None else None
    if libc is None:
        yield
        return
    global _tasks_running
    with _lock:
        if _tasks_running == 0:
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_CEILING)
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_WHILE_TRAINING)
        _tasks_running += 1
    try:
        yield
    finally:
        with _lock:
            _tasks_running -= 1
            if _tasks_running == 0:
                trim, mmap = thresholds
                libc.mallopt(M_TRIM_THRESHOLD, trim)
                libc.mallopt(M_MMAP_THRESHOLD, mmap)
                libc.malloc_trim(0)

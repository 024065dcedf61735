"""Worker pools: loky processes on this machine (through joblib), or a Dask cluster.

Every pool gives the runner the same small interface:

- ``share(data)`` once per data set, ``submit(fn, task, shared)`` per task, ``wait(futures)`` for
  whichever finish first, ``result(future)`` for each of those;
- ``slots()``: how many tasks it can run at once right now;
- ``classify(exc)`` for a task whose future raised: :data:`RAISED`, :data:`KILLED_ITS_WORKER` or
  :data:`LOST`;
- ``restart()`` after tasks were lost, ``describe()`` for the progress line, ``warnings``,
  ``shutdown()``.

:class:`LokyPool` uses joblib's memory-mapping executor: the large arrays of the data set are
dumped once to a folder and every task receives them as read-only ``np.memmap`` views (joblib
caches the dump by array identity, so nothing is re-pickled per task). Workers start with
BLAS/OpenMP thread variables set to 1 and ignore SIGINT: the parent decides what an interrupt does.
The Dask pool lives in :mod:`sweep.dask_pool`.
"""

from __future__ import annotations

import concurrent.futures as cf
import signal
from pathlib import Path

from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError

#: The task itself raised (its trials are ``failed``).
RAISED = "raised"
#: The task killed the worker running it, as the pool knows for sure (its trials are ``crashed``).
KILLED_ITS_WORKER = "killed its worker"
#: The task was lost without the pool knowing why. If the pool ``finds_culprits`` (Dask), it is
#: submitted again; otherwise (loky) whatever else was in flight was lost with it, and the runner
#: re-runs those tasks one at a time to find the one that kills workers.
LOST = "lost"

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def single_thread_env(threads: int = 1) -> dict[str, str]:
    """Environment variables that cap BLAS/OpenMP threads in a worker process."""
    return {name: str(threads) for name in THREAD_VARIABLES}


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LokyPool:
    """``n_jobs`` loky worker processes with joblib's memory-mapping of large arrays."""

    #: A dead loky worker takes the whole pool down: the runner finds the culprit itself.
    finds_culprits = False
    warnings: tuple[str, ...] = ()

    def __init__(self, n_jobs: int, threads_per_worker: int = 1, temp_folder: Path | None = None):
        self.n_jobs = n_jobs
        self.temp_folder = temp_folder
        self.env = single_thread_env(threads_per_worker)
        self._executor = None
        self.restart()

    def describe(self) -> str:
        return f"loky: {self.n_jobs} worker process(es) on this machine"

    def slots(self) -> int:
        return self.n_jobs

    def submit(self, fn, *args) -> cf.Future:
        return self._executor.submit(fn, *args)

    def wait(self, futures, timeout: float | None = None):
        """The futures that finished (at least one, unless ``timeout`` ran out) and the others."""
        return cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)

    def result(self, future):
        """The task's result, or the exception it (or its dead worker) raised."""
        return future.result()

    def restart(self) -> None:
        """A fresh set of workers (after a crash the old executor is broken: shut it down first)."""
        from joblib.executor import get_memmapping_executor

        if self._executor is not None:
            self._executor.terminate(kill_workers=True)
        self._executor = get_memmapping_executor(self.n_jobs, timeout=300, env=self.env,
                                                 initializer=_ignore_sigint,
                                                 temp_folder=str(self.temp_folder) if self.temp_folder else None)

    def share(self, data):
        return data  # joblib's reducers memory-map the arrays when the first task is pickled

    def classify(self, exc: BaseException) -> str:
        # A dead loky worker breaks the whole pool and every task in flight with it: the culprit is unknown.
        return LOST if isinstance(exc, (TerminatedWorkerError, BrokenProcessPool)) else RAISED

    def shutdown(self, kill: bool = False) -> None:
        if self._executor is not None:
            # terminate() also deletes the memory-mapped copies of the data set
            self._executor.terminate(kill_workers=kill)
            self._executor = None


def open_pool(backend, n_jobs: int, scratch: Path | None = None):
    """The pool for an experiment's :class:`~sweep.config.Backend`.

    ``n_jobs`` is the number of local worker processes (loky and dask-local; an existing Dask
    cluster has the workers it has). ``scratch`` is a folder the pool may fill and the runner
    deletes at the end: loky's memory-mapped copy of the data set (by default joblib would use
    /dev/shm, where a ``kill -9`` leaves it behind) and dask-local's worker folders.
    """
    if backend.name in ("dask", "dask-local"):
        from .dask_pool import DaskPool

        return DaskPool(backend, n_jobs, scratch)
    return LokyPool(n_jobs, temp_folder=scratch)

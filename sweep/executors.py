"""Worker pools: loky processes on this machine (through joblib), or a Dask cluster.

Both give the runner the same small interface: ``share(data)`` once, ``submit(fn, *args)`` per task,
``wait(futures)`` for whichever finish first, ``restart()`` after a worker died, ``shutdown()``.

- :class:`LokyPool` uses joblib's memory-mapping executor: the large arrays of the data set are
  dumped once to a temporary folder and every task receives them as read-only ``np.memmap`` views
  (joblib caches the dump by array identity, so nothing is re-pickled per task). Workers start with
  BLAS/OpenMP thread variables set to 1 and ignore SIGINT: the parent decides what an interrupt does.
- :class:`DaskPool` scatters the data set to every worker once and submits tasks as futures. With
  no address it starts a local cluster of single-threaded worker processes on 127.0.0.1.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import signal
from pathlib import Path

#: Exceptions that mean "the worker running this task died" rather than "the task raised".
CRASH_ERRORS: tuple[type[BaseException], ...]
from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError  # noqa: E402

CRASH_ERRORS = (TerminatedWorkerError, BrokenProcessPool)

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _ExecutorPool:
    """What both pools share: tasks go to a concurrent.futures executor (``self._executor``)."""

    def submit(self, fn, *args) -> cf.Future:
        return self._executor.submit(fn, *args)

    def wait(self, futures, timeout: float | None = None):
        """The futures that finished (at least one, unless ``timeout`` ran out) and the others."""
        return cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)


class LokyPool(_ExecutorPool):
    """``n_jobs`` loky worker processes with joblib's memory-mapping of large arrays."""

    #: A dead loky worker breaks every task in flight, so the runner re-runs those one at a time to
    #: find the one that kills its worker.
    isolates_crashes = False

    def __init__(self, n_jobs: int, threads_per_worker: int = 1, temp_folder: Path | None = None):
        self.n_jobs = n_jobs
        self.temp_folder = temp_folder
        self.env = {name: str(threads_per_worker) for name in THREAD_VARIABLES}
        self._executor = None
        self.restart()

    @property
    def capacity(self) -> int:
        return self.n_jobs

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

    def is_crash(self, exc: BaseException) -> bool:
        return isinstance(exc, CRASH_ERRORS)

    def shutdown(self, kill: bool = False) -> None:
        if self._executor is not None:
            # terminate() also deletes the memory-mapped copies of the data set
            self._executor.terminate(kill_workers=kill)
            self._executor = None


class DaskPool(_ExecutorPool):
    """Tasks as Dask futures on a cluster (a local one on 127.0.0.1 when no address is given)."""

    isolates_crashes = True  # the scheduler knows which task a dead worker was running

    def __init__(self, n_jobs: int, address: str | None = None):
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - depends on the installation
            from .errors import SweepError

            raise SweepError("backend: dask needs the dask extra: pip install 'sweep[dask]'") from None
        # A task whose worker dies is not retried on another worker: it is recorded as crashed.
        dask.config.set({"distributed.scheduler.allowed-failures": 0})
        self._cluster = None
        if address is None:
            self._cluster = LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                                         host="127.0.0.1", dashboard_address=None,
                                         silence_logs=logging.WARNING,
                                         env={name: "1" for name in THREAD_VARIABLES})
            address = self._cluster.scheduler_address
        self.client = Client(address, set_as_default=False)
        # concurrent.futures view of the client, so the runner waits on dask and loky tasks alike
        self._executor = self.client.get_executor(pure=False)
        self.address = address
        self.n_jobs = n_jobs
        # Tasks in flight: one per worker thread of the cluster (n_jobs until workers have joined).
        workers = self.client.scheduler_info().get("workers", {})
        self._capacity = sum(w.get("nthreads", 1) for w in workers.values()) or n_jobs

    @property
    def capacity(self) -> int:
        return self._capacity

    def restart(self) -> None:
        pass  # the scheduler replaces dead workers itself

    def share(self, data):
        return self.client.scatter(data, broadcast=True, hash=False)

    def is_crash(self, exc: BaseException) -> bool:
        from distributed.scheduler import KilledWorker

        return isinstance(exc, KilledWorker)

    def shutdown(self, kill: bool = False) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def open_pool(backend, n_jobs: int, temp_folder: Path | None = None):
    """The pool for an experiment's :class:`~sweep.config.Backend`.

    ``temp_folder`` holds loky's memory-mapped copy of the data set (default: joblib's choice,
    usually /dev/shm). The runner puts it in the run folder, where a ``kill -9`` cannot leave it
    behind in shared memory and the next run or resume deletes it.
    """
    if backend.name == "dask":
        return DaskPool(n_jobs, backend.address)
    return LokyPool(n_jobs, temp_folder=temp_folder)

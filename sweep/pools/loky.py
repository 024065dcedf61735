"""Trials in loky processes on this machine, through joblib.

:class:`LokyPool` uses joblib's memory-mapping executor: the large arrays of the data set are
dumped once to a folder and every task receives them as read-only ``np.memmap`` views (joblib
caches the dump by array identity, so nothing is re-pickled per task). Workers start with
BLAS/OpenMP thread variables set to 1 and ignore SIGINT: the parent decides what an interrupt does.
"""

from __future__ import annotations

import concurrent.futures as cf
import signal
import threading
from pathlib import Path

from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError

from .base import Outcome, Pool, single_thread_env


#: loky's threads in this process that talk to the workers.
_POOL_THREADS = ("ExecutorManagerThread", "QueueFeederThread")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _quiet_pool_threads() -> None:
    """From now on, an exception in one of loky's threads is not printed.

    Called when the pool is killed on purpose (Ctrl-C, SIGTERM): the workers vanish under loky's
    manager thread, which may then fail reading from them: seen once in 11 loaded runs of the
    interrupt tests (SIGTERM, two busy loops on the two cores) as a thread traceback after the
    one-line interrupt message. The command is ending with status 130 anyway.
    """
    previous = threading.excepthook

    def hook(args):
        if args.thread is not None and args.thread.name in _POOL_THREADS:
            return
        previous(args)

    threading.excepthook = hook


class LokyPool(Pool):
    """``n_jobs`` loky worker processes with joblib's memory-mapping of large arrays."""

    #: A dead loky worker takes the whole pool down: the runner finds the culprit itself.
    finds_culprits = False

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

    def classify(self, exc: BaseException) -> Outcome:
        # A dead loky worker breaks the whole pool and every task in flight with it: the culprit is unknown.
        return Outcome.LOST if isinstance(exc, (TerminatedWorkerError, BrokenProcessPool)) else Outcome.RAISED

    def shutdown(self, kill: bool = False) -> None:
        if self._executor is not None:
            if kill:
                _quiet_pool_threads()
            # terminate() also deletes the memory-mapped copies of the data set
            self._executor.terminate(kill_workers=kill)
            self._executor = None

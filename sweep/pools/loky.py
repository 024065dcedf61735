"""Trials in loky processes on this machine.

:class:`LokyPool` hands the data set to its workers as files they memory-map
(:mod:`sweep.pools.shared`): written once per sweep, mapped once per worker, never pickled per
task. Its workers are loky's reusable executor, as joblib's ``Parallel`` uses it: a sweep that
ends normally leaves them running, idle, so the next sweep in the same process (a notebook, a
script calling ``run_sweep`` in a loop, the test suite) starts without spawning processes and
importing NumPy again; loky stops them after :data:`IDLE_SECONDS` without work, or at exit. Workers
start with BLAS/OpenMP thread variables set to 1 and ignore SIGINT: the parent decides what an
interrupt does.

loky is imported as its own package rather than as joblib's copy (``joblib.externals.loky``): the
same code, but importing it does not run ``joblib/__init__``, 0.2 s in the parent and in every
worker it starts.
"""

from __future__ import annotations

import concurrent.futures as cf
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from loky.process_executor import BrokenProcessPool, TerminatedWorkerError

from .base import Outcome, Pool, single_thread_env
from .shared import share

#: Seconds an idle worker of the reusable executor waits for more work before loky stops it.
IDLE_SECONDS = 300
#: Whether a LokyPool of this process holds loky's reusable executor now: a second one at the
#: same time (two sweeps in two threads) gets workers of its own, since resizing the shared
#: executor under the first sweep's tasks would disturb them.
_reusable_in_use = False


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
    """``n_jobs`` loky worker processes, kept for the next sweep of this process when this one ends well."""

    #: A dead loky worker takes the whole pool down: the runner finds the culprit itself.
    finds_culprits = False

    def __init__(self, n_jobs: int, threads_per_worker: int = 1, temp_folder: Path | None = None):
        self.n_jobs = n_jobs
        self.temp_folder = temp_folder
        self.env = single_thread_env(threads_per_worker)
        self._executor = None
        self._reusable = False
        self._own_temp: str | None = None
        self._futures: set = set()
        self.restart()

    def describe(self) -> str:
        return f"loky: {self.n_jobs} worker process(es) on this machine"

    def slots(self) -> int:
        return self.n_jobs

    def submit(self, fn, *args) -> cf.Future:
        future = self._executor.submit(fn, *args)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return future

    def wait(self, futures, timeout: float | None = None):
        """The futures that finished (at least one, unless ``timeout`` ran out) and the others."""
        return cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)

    def result(self, future):
        """The task's result, or the exception it (or its dead worker) raised."""
        return future.result()

    def restart(self) -> None:
        """Workers to run tasks: loky's reusable executor (its idle workers, if a sweep of this process
        left some), or fresh ones after a crash broke the executor (it is shut down first)."""
        global _reusable_in_use
        from loky import ProcessPoolExecutor, get_reusable_executor

        if self._executor is not None:
            self._executor.shutdown(wait=True, kill_workers=True)
        if self._reusable or not _reusable_in_use:
            self._reusable = _reusable_in_use = True
            self._executor = get_reusable_executor(self.n_jobs, timeout=IDLE_SECONDS, env=self.env,
                                                   initializer=_ignore_sigint)
        else:
            self._executor = ProcessPoolExecutor(self.n_jobs, timeout=IDLE_SECONDS, env=self.env,
                                                 initializer=_ignore_sigint)

    def share(self, data):
        """The data set as a handle whose large arrays the workers memory-map (see :mod:`.shared`)."""
        if self.temp_folder is None and self._own_temp is None:
            self._own_temp = tempfile.mkdtemp(prefix="sweep-shared-")
        return share(data, self.temp_folder or self._own_temp)

    def classify(self, exc: BaseException) -> Outcome:
        # A dead loky worker breaks the whole pool and every task in flight with it: the culprit is unknown.
        return Outcome.LOST if isinstance(exc, (TerminatedWorkerError, BrokenProcessPool)) else Outcome.RAISED

    def shutdown(self, kill: bool = False, keep: bool = False) -> None:
        """Stop the workers (waiting for the tasks in flight unless ``kill``); with ``keep`` and no
        task in flight, leave them idle for the next sweep instead (see the module's docstring)."""
        global _reusable_in_use
        if self._executor is not None:
            if kill:
                _quiet_pool_threads()
            if kill or not keep or self._futures or not self._reusable:
                self._executor.shutdown(wait=True, kill_workers=kill)
            self._executor = None
        if self._reusable:
            self._reusable = _reusable_in_use = False
        if self._own_temp is not None:
            shutil.rmtree(self._own_temp, ignore_errors=True)
            self._own_temp = None

"""The pool interface: what the dispatcher asks of a place where tasks run.

A pool runs ``fn(task, shared_data)`` calls in worker processes and hands back what happened. The
dispatcher (:mod:`sweep.dispatch`) keeps at most :meth:`Pool.slots` tasks in flight, so it always
knows which tasks a dying worker may have taken with it.

When a task's future raises, :meth:`Pool.classify` says which :class:`Outcome` it was. A pool that
``finds_culprits`` (Dask) knows which task killed its workers; one that does not (loky, where a dead
worker breaks the whole pool) leaves the dispatcher to find it by running the suspects alone.

Worker processes run with one BLAS/OpenMP thread (:func:`single_thread_env`): OpenBLAS rounds
differently with one and two threads, so a fixed count is what makes results the same for any
``n_jobs``; parallelism comes from running tasks side by side.
"""

from __future__ import annotations

import abc
import enum

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def single_thread_env(threads: int = 1) -> dict[str, str]:
    """Environment variables that cap BLAS/OpenMP threads in a worker process."""
    return {name: str(threads) for name in THREAD_VARIABLES}


class Outcome(str, enum.Enum):
    """Why a task's future raised."""

    #: The task itself raised: its trials are ``failed``.
    RAISED = "raised"
    #: The task killed the worker running it, as the pool knows for sure: its trials are ``crashed``.
    KILLED_ITS_WORKER = "killed its worker"
    #: The task was lost without the pool knowing why. A pool that ``finds_culprits`` submits it
    #: again; otherwise (loky) whatever else was in flight was lost with it, and the dispatcher
    #: re-runs those tasks one at a time to find the one that kills workers.
    LOST = "lost"


class Pool(abc.ABC):
    """Worker processes that run tasks: loky here (:mod:`.loky`) or a Dask cluster (:mod:`.dask`)."""

    #: Whether the pool knows which task killed its workers (:attr:`Outcome.KILLED_ITS_WORKER`).
    finds_culprits: bool = False
    #: Lines for the user about the pool (another NumPy on the workers, a slow malloc setting...).
    warnings: tuple[str, ...] = ()

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for the progress output: what runs the tasks."""

    @abc.abstractmethod
    def slots(self) -> int:
        """How many tasks to keep in flight now; also a liveness check (SweepError when the pool is gone)."""

    @abc.abstractmethod
    def share(self, data):
        """``data`` as the pool passes it to every task (once per worker, not pickled per task)."""

    @abc.abstractmethod
    def submit(self, fn, *args):
        """Start ``fn(*args)``; a future. Raises what :meth:`classify` calls LOST when the pool broke."""

    @abc.abstractmethod
    def wait(self, futures, timeout: float | None = None) -> tuple[set, set]:
        """(done, not done): at least one done, unless ``timeout`` (seconds) ran out."""

    @abc.abstractmethod
    def result(self, future):
        """The task's result, or the exception it (or its dead worker) raised."""

    @abc.abstractmethod
    def classify(self, exc: BaseException) -> Outcome:
        """The :class:`Outcome` of a future that raised ``exc`` (SweepError when the pool itself is gone)."""

    @abc.abstractmethod
    def restart(self) -> None:
        """Fresh workers after tasks were lost (a broken loky pool must be replaced)."""

    @abc.abstractmethod
    def shutdown(self, kill: bool = False, keep: bool = False) -> None:
        """Stop: wait for the tasks in flight, or with ``kill`` stop at once. With ``keep`` a pool that
        can may leave its idle workers running for the next sweep of this process."""

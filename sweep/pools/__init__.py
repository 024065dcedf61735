"""Worker pools: where tasks run, behind one interface.

- :mod:`.base`: the :class:`Pool` interface, the :class:`Outcome` of a failed task, the
  one-BLAS-thread environment of workers;
- :mod:`.loky`: ``n_jobs`` joblib/loky processes on this machine;
- :mod:`.dask`: an existing Dask cluster, or a ``dask-local`` one started here.

:func:`open_pool` picks one for an experiment's backend.
"""

from __future__ import annotations

from pathlib import Path

from .base import Outcome, Pool, single_thread_env

__all__ = ["Outcome", "Pool", "open_pool", "single_thread_env"]


def open_pool(backend, n_jobs: int, scratch: Path | None = None) -> Pool:
    """The pool for an experiment's :class:`~sweep.config.Backend`.

    ``n_jobs`` is the number of local worker processes (loky and dask-local; an existing Dask
    cluster has the workers it has). ``scratch`` is a folder the pool may fill and the runner
    deletes at the end: loky's memory-mapped copy of the data set (by default joblib would use
    /dev/shm, where a ``kill -9`` leaves it behind) and dask-local's worker folders.
    """
    if backend.name in ("dask", "dask-local"):
        from .dask import DaskPool

        return DaskPool(backend, n_jobs, scratch)
    from .loky import LokyPool

    return LokyPool(n_jobs, temp_folder=scratch)

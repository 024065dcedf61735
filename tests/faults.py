"""Task functions that misbehave on purpose, run in real worker processes by the runner tests.

They live in an importable module so loky and dask workers unpickle them by reference.
"""

import dataclasses
import os

import numpy as np

from sweep.task import run_task

CRASH_HIDDEN_SIZE = 13
RAISE_HIDDEN_SIZE = 17
SLOW_CRASH_HIDDEN_SIZE = 3


def crash_worker(task, data):
    """Kill the worker process outright (as a segfault or the OOM killer would) for hidden_size 13."""
    if task.params["hidden_size"] == CRASH_HIDDEN_SIZE:
        os._exit(3)
    return run_task(task, data)


def crash_worker_slowly(task, data):
    """Kill the worker after a short while for hidden_size 3, while other tasks keep finishing."""
    if task.params["hidden_size"] == SLOW_CRASH_HIDDEN_SIZE:
        import time

        time.sleep(0.3)
        os._exit(3)
    return run_task(task, data)


def raise_in_task(task, data):
    """Raise from the task function itself (not from training) for hidden_size 17."""
    if task.params["hidden_size"] == RAISE_HIDDEN_SIZE:
        raise RuntimeError("injected failure")
    return run_task(task, data)


def require_memmap(task, data):
    """Fail the trial unless the training arrays arrived memory-mapped (not pickled by value) and
    were used in place (aligned, so not copied by Dataset.realign)."""
    if not isinstance(data.X_train, np.memmap):
        raise TypeError(f"X_train arrived as {type(data.X_train).__name__}, not np.memmap")
    results = run_task(task, data)
    if not isinstance(data.X_train, np.memmap):
        raise TypeError("the memory-mapped X_train was copied")
    return results


#: The data set objects each worker process has seen; kept alive so no two can share an id().
_DATA_SEEN = []


def log_data_identity(task, data):
    """Run the task, appending ``pid id(data) arrivals`` to the file named by $SWEEP_TEST_DATA_LOG.

    ``arrivals`` is how many times the data set's key has come into this Dask worker's memory so far
    (computed there or fetched from a peer). Dask's active memory manager may drop a worker's copy
    while no task there waits for it, and the worker fetches it again for its next task: a new
    object, on a new arrival. One id per (pid, arrivals) means every task of one stay received the
    same object; a copy pickled into each task would arrive as a new object each time, with no arrival.
    A task that does not depend on exactly one key (the data set's) fails its trials.
    """
    from distributed import get_worker
    from distributed.worker import thread_state

    if not any(seen is data for seen in _DATA_SEEN):
        _DATA_SEEN.append(data)
    worker = get_worker()
    arrivals = _data_arrivals(worker, thread_state.key)
    with open(os.environ["SWEEP_TEST_DATA_LOG"], "a") as log:
        log.write(f"{os.getpid()} {id(data)} {arrivals}\n")
    return run_task(task, data)


#: Seconds for the worker's event loop to answer :func:`_data_arrivals` (tasks run in other threads).
_LOOP_TIMEOUT = 60


def _data_arrivals(worker, task_key) -> int:
    """How many times the one key task ``task_key`` depends on has arrived in ``worker``'s memory.

    Read on the worker's event loop, the only thread that changes its state: read from the task's
    own thread, ``story()`` iterated the transition log (a deque) while the loop appended to it, and
    raised "deque mutated during iteration" (seen under load, once the log was full and long to read).
    The log keeps Dask's last ``distributed.admin.low-level-log-length`` (1000) records: a sweep's
    few tasks per worker leave its data set's arrivals in it.
    """
    import asyncio

    async def on_the_loop():
        dependencies = {dep.key for dep in worker.state.tasks[task_key].dependencies}
        if len(dependencies) != 1:
            raise AssertionError(f"the task depends on {sorted(map(str, dependencies))}, not on one data set key")
        (data_key,) = dependencies
        return sum(1 for record in worker.state.story(data_key) if len(record) > 2 and record[2] == "memory")

    return asyncio.run_coroutine_threadsafe(on_the_loop(), worker.loop.asyncio_loop).result(timeout=_LOOP_TIMEOUT)


def fail_in_training(task, data):
    """Run the real task, but give the trainer a data set it cannot take for hidden_size 17, so the
    error is raised inside training (and recorded by run_task itself)."""
    if task.params["hidden_size"] == RAISE_HIDDEN_SIZE:
        data = dataclasses.replace(data, X_train=np.ascontiguousarray(data.X_train[:, :-1]))
    return run_task(task, data)

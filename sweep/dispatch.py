"""The dispatcher: tasks in, results out, whatever happens to the workers in between.

:class:`Dispatcher` keeps at most ``pool.slots()`` tasks in flight and hands every result to
``report(task, results)``. Each event has its method, and the failure policy lives in them:

- :meth:`~Dispatcher.fill`: submit queued tasks while the pool has room; a task suspected of
  killing workers runs alone;
- :meth:`~Dispatcher.collect`: wait for finished tasks and sort each one out;
- :meth:`~Dispatcher.task_failed`: a future raised; :meth:`~sweep.pools.Pool.classify` says why:
  the task raised (its trials ``failed``), killed its worker (run it alone to be sure), or was lost;
- :meth:`~Dispatcher.task_lost`: a pool that finds culprits lost a task for another reason: it is
  submitted again, :data:`MAX_LOSSES` times at most, then ``crashed``;
- :meth:`~Dispatcher.worker_died`: a pool that cannot say which task killed it (loky) broke: every
  task in flight is re-run alone, the one that kills its worker again is ``crashed``.

A task run alone that fails in any way is ``crashed``: it is the culprit.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from concurrent.futures import CancelledError
from typing import Callable

from .errors import SweepError
from .plan import TaskSpec
from .pools import Outcome, Pool
from .status import CRASHED
from .task import TrialResult, failed_result

#: Seconds between checks for interrupts and dead pools while waiting on workers.
POLL_SECONDS = 0.5
#: Times a task may be lost (without being the one that kills workers) before it is recorded crashed.
MAX_LOSSES = 3
#: Pool restarts in a row with no task finishing before the dispatcher gives up.
MAX_RESTARTS_WITHOUT_PROGRESS = 3


class WorkerDied(Exception):
    """What a ``crashed`` trial records when the pool could not say more than that it lost the task."""


def crash_error(exc: BaseException) -> BaseException:
    """The error a crashed trial records for ``exc`` (a cancelled future says only that its worker died)."""
    if isinstance(exc, CancelledError):
        return WorkerDied(f"the worker running it died ({type(exc).__name__}: {exc})")
    return exc


class Dispatcher:
    """Runs tasks on ``pool``: ``task_fn(task, shared data)`` in the workers, results to ``report``.

    ``data`` is the data set, shared with the pool once per dtype; ``message(text)`` tells the user
    what the dispatcher does about dying workers; ``prepare(task)`` is what is sent for a queued task
    at the moment it is sent (the runner adds what is known then). ``pool`` may be None until tasks
    are queued (the runner opens it when the first task is ready) and must be set before :meth:`step`.
    """

    def __init__(self, pool: Pool | None, task_fn, data, report: Callable[[TaskSpec, list[TrialResult]], None],
                 message: Callable[[str], None] = lambda text: None, poll_seconds: float = POLL_SECONDS,
                 prepare: Callable[[TaskSpec], TaskSpec] = lambda task: task):
        self.pool, self.task_fn, self.data, self.prepare = pool, task_fn, data, prepare
        self.report, self.message, self.poll_seconds = report, message, poll_seconds
        self.queue: deque[TaskSpec] = deque()
        self.suspects: deque[TaskSpec] = deque()  # in flight when tasks were lost: re-run alone to find the culprit
        self.running: dict = {}  # future -> (task, run alone?)
        self.losses: Counter = Counter()  # task_id -> times a pool that finds culprits lost it
        self.restarts_without_progress = 0  # pool restarts in a row with no future settling in between
        self.settled = 0  # futures that settled in the last collect
        self._shared: dict = {}  # dtype -> the data set as the pool shares it

    @property
    def idle(self) -> bool:
        """Nothing queued, suspected or in flight."""
        return not (self.queue or self.suspects or self.running)

    def add(self, tasks) -> None:
        """Queue ``tasks`` behind those already queued."""
        self.queue.extend(tasks)

    def step(self) -> None:
        """One pass: fill the pool, collect what finished (waiting at most one poll), mend a broken pool."""
        broken = self.fill()
        lost = self.collect()
        if broken or lost is not None:
            self.worker_died(lost or [])

    # ------------------------------------------------------------------------------ events
    def fill(self) -> bool:
        """Submit tasks while the pool has slots (a suspect only alone); True when the pool turned out broken."""
        slots = self.pool.slots()  # also checks that the pool is alive
        if self.suspects:
            if not self.running:
                return not self._submit(self.suspects.popleft(), alone=True)
            return False
        while self.queue and len(self.running) < slots:
            if not self._submit(self.queue.popleft(), alone=False):
                return True
        return False

    def collect(self) -> list[TaskSpec] | None:
        """Wait for finished tasks and handle each; the tasks a broken pool lost, or None if it is whole.

        A fatal error of the pool (its scheduler gone) is raised once every other finished task is
        reported.
        """
        if self.running:
            done, _ = self.pool.wait(list(self.running), timeout=self.poll_seconds)
        else:  # a cluster with no worker right now: wait for one
            done = set()
            time.sleep(self.poll_seconds)
        self.settled = len(done)
        lost, fatal = None, None
        for future in done:
            task, alone = self.running.pop(future)
            try:
                results = self.pool.result(future)
            except Exception as exc:  # noqa: BLE001 - the task raised, or its worker (or data) died
                try:
                    if self.task_failed(task, alone, exc):
                        lost = (lost or []) + [task]
                except SweepError as error:  # e.g. the scheduler is gone
                    fatal = fatal or error
            else:
                self.report(task, results)
        if fatal:
            raise fatal
        return lost

    def task_failed(self, task: TaskSpec, alone: bool, exc: BaseException) -> bool:
        """A future raised ``exc``: report, retry or suspect its task. True when the pool broke with it."""
        outcome = self.pool.classify(exc)
        if outcome == Outcome.RAISED:
            self.report(task, [failed_result(t, exc) for t in task.trials])
        elif alone:
            self.report(task, [failed_result(t, crash_error(exc), CRASHED) for t in task.trials])
        elif outcome == Outcome.KILLED_ITS_WORKER:
            # Dask blames every task that sat on the workers that died; the one that killed them does it again alone.
            self.message("Dask gave up on a task whose workers kept dying; running it alone to see whether it is "
                         "the one that kills them")
            self.suspects.append(task)
        elif self.pool.finds_culprits:
            self.task_lost(task, exc)
        else:
            return True
        return False

    def task_lost(self, task: TaskSpec, exc: BaseException) -> None:
        """A pool that finds culprits lost ``task`` for another reason: run it again, a few times at most."""
        self.losses[task.task_id] += 1
        if self.losses[task.task_id] > MAX_LOSSES:
            error = WorkerDied(f"lost {MAX_LOSSES + 1} times ({exc})")
            self.report(task, [failed_result(t, error, CRASHED) for t in task.trials])
        else:
            self.queue.appendleft(task)

    def worker_died(self, lost: list[TaskSpec]) -> None:
        """The pool broke (a dead loky worker takes every task in flight with it): restart it and re-run
        ``lost`` and whatever else was in flight one at a time, to find the task that kills workers."""
        self.restarts_without_progress = 0 if self.settled else self.restarts_without_progress + 1
        if self.restarts_without_progress > MAX_RESTARTS_WITHOUT_PROGRESS:
            raise SweepError("worker processes keep dying before they run any trial; see the messages above "
                             "(memory, or a broken installation?)")
        lost = list(lost) + [task for task, _ in self.running.values()]
        self.running.clear()
        if lost:
            self.message(f"a worker died; re-running the {len(lost)} task(s) it may have taken down, one at a time")
        self.pool.restart()
        self._shared.clear()
        self.suspects.extend(lost)

    # ------------------------------------------------------------------------------ helpers
    def _submit(self, task: TaskSpec, alone: bool) -> bool:
        """Send ``task``; False when the pool turned out to be broken (the task goes back where it came from)."""
        dtype = task.params.get("dtype")
        try:
            if dtype not in self._shared:  # no data set (a program's trials load their own): nothing to share
                self._shared[dtype] = None if self.data is None else self.pool.share(self.data.astype(dtype))
            self.running[self.pool.submit(self.task_fn, self.prepare(task), self._shared[dtype])] = (task, alone)
        except Exception as exc:  # noqa: BLE001 - a worker died since the last wait
            if self.pool.classify(exc) != Outcome.LOST:
                raise
            (self.suspects if alone else self.queue).appendleft(task)
            return False
        return True

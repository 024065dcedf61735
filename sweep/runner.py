"""Running a sweep: plan the trials, run the tasks in parallel, record each result as it lands.

    experiment -> plan_trials -> group_tasks -> pool (loky | dask) -> RunStore.append -> best model

The data set is loaded once, here in the parent, and shared with the pool once. At most
``pool.slots()`` tasks are in flight, so the runner always knows which tasks a dying worker may have
taken with it: when the pool cannot tell which one killed it (loky; Dask can, and retries on its own), those
are re-run one at a time, and the one that kills its worker again is recorded as ``crashed`` while
the others get their real results. Ctrl-C or SIGTERM stops dispatching, kills the
workers and leaves every finished trial on disk for ``--resume``.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import Counter, deque
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from pathlib import Path

from . import interrupts
from .analysis import read_trials, status_counts
from .best import finalize
from .config import Experiment, cpu_count
from .errors import ConfigError, SweepError
from .executors import KILLED_ITS_WORKER, LOST, RAISED, open_pool
from .plan import TaskSpec, TrialSpec, group_tasks, plan_trials
from .progress import Progress
from .store import BEST_DIR, SUMMARY_FILE, RunStore, check_out_folder, latest_run_dir
from .task import CRASHED, FAILED, TrialResult, failed_result, run_task

#: Seconds between checks for interrupts while waiting on workers.
_POLL_SECONDS = 0.5
#: Folder of the run for the pool's files while the sweep runs (loky's memory-mapped data set,
#: dask-local's worker folders); deleted at the end.
SCRATCH_DIR = ".scratch"
#: Times a task may be lost (without being the one that kills workers) before it is recorded crashed.
_MAX_LOSSES = 3
#: Pool restarts in a row with no task finishing before the runner gives up.
_MAX_RESTARTS_WITHOUT_PROGRESS = 3


@dataclass
class SweepOutcome:
    """What a call to :func:`run_sweep` did."""

    run_dir: Path
    total: int
    counts: dict = field(default_factory=dict)
    ran: int = 0
    interrupted: bool = False
    best: dict | None = None
    finalized: bool = False  # the best model was (re)made by this call

    @property
    def all_ran(self) -> bool:
        """Every planned trial has a result and none failed or crashed."""
        finished = sum(self.counts.values())
        return finished == self.total and not (self.counts.get(FAILED) or self.counts.get(CRASHED))


def load_data(experiment: Experiment):
    """The experiment's data set, loaded once; checks that the metric suits its targets."""
    from .data import load_dataset

    data = load_dataset(experiment.dataset, **experiment.dataset_options)
    if data.task == "regression":
        if experiment.metric.name.endswith("acc"):
            raise ConfigError(f"{experiment.source}: metric.name: {experiment.metric.name} needs class labels, but "
                              f"{experiment.dataset} has real-valued targets; use metric: val_loss")
        losses = experiment.parameters["loss"].values if "loss" in experiment.parameters else \
            (experiment.fixed["loss"],)
        if any(loss != "mse" for loss in losses):
            raise ConfigError(f"{experiment.source}: loss: {experiment.dataset} has real-valued targets, which "
                              "only loss: mse fits; set `fixed: {loss: mse}`")
    return data


def run_sweep(experiment: Experiment, *, run_dir: Path | None = None, results_root: Path = Path("results"),
              resume: bool = False, retry_failed: bool = False, n_jobs: int | None = None, quiet: bool = False,
              task_fn=run_task, command: str | None = None, stream=None) -> SweepOutcome:
    """Run (or resume) ``experiment`` and return what happened.

    ``run_dir`` is the run folder to create (or, with ``resume``, to continue; by default the latest
    run of the experiment; ``retry_failed`` runs its failed and crashed trials again).
    ``task_fn(task, data) -> list[TrialResult]`` is what workers call; it is
    a parameter so tests can make a trial raise or kill its worker. SIGTERM is handled like Ctrl-C
    for the whole call.
    """
    with interrupts.handled():
        trials = plan_trials(experiment)
        notices: list[str] = []
        if resume:
            run_dir = Path(run_dir) if run_dir else latest_run_dir(results_root, experiment, notices)
            store = RunStore.open(run_dir, experiment, trials, retry_failed=retry_failed)
            data = None
        else:
            if run_dir is not None:
                run_dir = check_out_folder(run_dir)
            # Before the folder exists, so that bad data, a trial too large for memory or an unfit
            # cluster leaves no empty run behind.
            data = load_data(experiment)
            notices += check_memory(trials, data, n_jobs or experiment.resolved_n_jobs())
            if experiment.backend.name == "dask":
                from .dask_pool import check_cluster

                check_cluster(experiment.backend)
            store = (RunStore.create(run_dir, experiment, trials, command) if run_dir is not None
                     else RunStore.create_new(results_root, experiment, trials, command))
        with store:
            return _run(experiment, trials, store, data, n_jobs, quiet, task_fn, stream, notices + store.notices)


def check_memory(trials: list[TrialSpec], data, n_jobs: int) -> list[str]:
    """SweepError when the largest training run cannot fit in memory; a warning when ``n_jobs`` of
    them at once may not."""
    from .memory import available_bytes, describe_trial, human, require, trial_bytes

    outputs = data.num_classes if data.task != "regression" else data.y_train.shape[1]
    distinct = {tuple(t.params[k] for k in ("hidden_size", "batch_size", "optimizer", "dtype")): t for t in trials}
    needs = {key: trial_bytes(t.params, data.input_dim, outputs, len(data.X_val)) for key, t in distinct.items()}
    key = max(needs, key=needs.get)
    largest = distinct[key]
    require(needs[key], f"trial {largest.trial_id} ({describe_trial(largest.params)}) on {data.input_dim:,} inputs "
                        f"and {outputs:,} outputs")
    at_once = min(n_jobs, len(trials)) * needs[key]
    if at_once > available_bytes():
        return [f"warning: {min(n_jobs, len(trials))} trials at once may need up to {human(at_once)} of memory, "
                f"more than the {human(available_bytes())} available; lower n_jobs if workers are killed"]
    return []


def _run(experiment: Experiment, trials: list[TrialSpec], store: RunStore, data, n_jobs: int | None,
         quiet: bool, task_fn, stream, notices: list[str]) -> SweepOutcome:
    run_dir = store.run_dir
    finished = store.finished()
    pending = pending_tasks(group_tasks(trials), finished)
    outcome = SweepOutcome(run_dir, len(trials))
    if not pending and (run_dir / BEST_DIR / SUMMARY_FILE).is_file():
        for notice in notices:
            print(notice, file=stream or sys.stderr)
        outcome.counts = status_counts(read_trials(run_dir))
        return outcome
    try:  # an interrupt from here on leaves what is recorded recorded: --resume goes on from there
        if data is None:
            data = load_data(experiment)
        progress = Progress(len(trials), experiment.metric.name, experiment.metric.maximize,
                            already_done=len(finished), quiet=quiet, stream=stream)
        for warning in experiment.warnings:
            progress.message(f"warning: {warning}")
        for notice in notices:
            progress.message(notice)
        if pending:
            jobs = min(n_jobs or experiment.resolved_n_jobs(), len(pending))
            if jobs > cpu_count() and experiment.backend.name != "dask":
                progress.message(f"warning: n_jobs {jobs} is more than the {cpu_count()} cores here; "
                                 "trials will compete for them")
            outcome.ran, outcome.interrupted = _execute(pending, data, experiment, store, progress, jobs, task_fn)
        progress.close()
        if not outcome.interrupted:
            interrupts.check()
            outcome.best = finalize(run_dir, experiment, trials, data)
            interrupts.check()
            outcome.finalized = True
    except KeyboardInterrupt:
        interrupts.acknowledge()
        outcome.interrupted = True
    with interrupts.deferred():  # a second Ctrl-C now is part of the first
        outcome.counts = status_counts(read_trials(run_dir))
    return outcome


def pending_tasks(tasks: list[TaskSpec], finished: dict[str, str]) -> list[TaskSpec]:
    """Tasks restricted to their trials that have no recorded result yet."""
    out = []
    for task in tasks:
        todo = tuple(t for t in task.trials if t.trial_id not in finished)
        if todo:
            out.append(TaskSpec(task.task_id, task.seed, task.params, todo))
    return out


class WorkerDied(Exception):
    """What a ``crashed`` trial records when the pool could not say more than that it lost the task."""


def _crash_error(exc: BaseException) -> BaseException:
    if isinstance(exc, CancelledError):
        return WorkerDied(f"the worker running it died ({type(exc).__name__}: {exc})")
    return exc


def _execute(tasks: list[TaskSpec], data, experiment: Experiment, store: RunStore, progress: Progress,
             n_jobs: int, task_fn) -> tuple[int, bool]:
    """Run ``tasks`` on a pool, appending each result to ``store``. Returns (trials run, interrupted)."""
    queue: deque[TaskSpec] = deque(tasks)
    suspects: deque[TaskSpec] = deque()  # in flight when tasks were lost: re-run alone to find the culprit
    running: dict = {}  # future -> (task, run alone?)
    losses: Counter = Counter()  # task_id -> times a pool that finds culprits lost it
    trial_count = 0
    metric = experiment.metric.name

    def record(task: TaskSpec, results: list[TrialResult]) -> None:
        nonlocal trial_count
        by_id = {t.trial_id: t for t in task.trials}
        for result in results:
            if store.append(by_id[result.trial_id], result):
                trial_count += 1
                progress.update(result.metrics.get(metric), result.status, result.trial_id)

    pool = None
    scratch = store.run_dir / SCRATCH_DIR
    try:
        with interrupts.deferred():  # see sweep.interrupts: no KeyboardInterrupt inside the pool's code
            shutil.rmtree(scratch, ignore_errors=True)  # left by a run that was killed
            with interrupts.shielded_children():
                pool = open_pool(experiment.backend, n_jobs, scratch)
            progress.message(pool.describe())
            for warning in pool.warnings:
                progress.message(f"warning: {warning}")
            shared = {}  # dtype -> the data set as the pool shares it
            broken_in_a_row = 0

            def submit(task: TaskSpec, alone: bool) -> bool:
                """Send ``task``; False when the pool turned out to be broken (the task is not sent)."""
                dtype = task.params["dtype"]
                try:
                    with interrupts.shielded_children():  # a submit may start workers
                        if dtype not in shared:
                            shared[dtype] = pool.share(data.astype(dtype))
                        running[pool.submit(task_fn, task, shared[dtype])] = (task, alone)
                except Exception as exc:  # noqa: BLE001 - a worker died since the last wait
                    if pool.classify(exc) != LOST:
                        raise
                    (suspects if alone else queue).appendleft(task)
                    return False
                return True

            while queue or suspects or running:
                interrupts.check()
                pool_broken = False
                slots = pool.slots()  # also checks that the pool is alive
                if suspects:
                    if not running:
                        pool_broken = not submit(suspects.popleft(), alone=True)
                else:
                    while queue and len(running) < slots and not pool_broken:
                        pool_broken = not submit(queue.popleft(), alone=False)
                if running:
                    done, _ = pool.wait(list(running), timeout=_POLL_SECONDS)
                else:  # a cluster with no worker right now: wait for one
                    done = set()
                    time.sleep(_POLL_SECONDS)
                lost = []
                fatal = None  # raised once every other finished task is recorded
                for future in done:
                    task, alone = running.pop(future)
                    try:
                        results = pool.result(future)
                    except Exception as exc:  # noqa: BLE001 - the task raised, or its worker (or data) died
                        try:
                            kind = pool.classify(exc)
                        except SweepError as error:  # e.g. the scheduler is gone
                            fatal = fatal or error
                            continue
                        if kind == RAISED:
                            record(task, [failed_result(t, exc) for t in task.trials])
                        elif alone:
                            record(task, [failed_result(t, _crash_error(exc), CRASHED) for t in task.trials])
                        elif kind == KILLED_ITS_WORKER:
                            # Dask blames every task that sat on the workers that died; the one that
                            # killed them does it again alone.
                            progress.message("Dask gave up on a task whose workers kept dying; running it alone "
                                             "to see whether it is the one that kills them")
                            suspects.append(task)
                        elif pool.finds_culprits:  # lost for another reason: run it again, a few times at most
                            losses[task.task_id] += 1
                            if losses[task.task_id] > _MAX_LOSSES:
                                record(task, [failed_result(t, WorkerDied(f"lost {_MAX_LOSSES + 1} times ({exc})"),
                                                            CRASHED) for t in task.trials])
                            else:
                                queue.appendleft(task)
                        else:
                            lost.append(task)
                            pool_broken = True
                    else:
                        record(task, results)
                if fatal:
                    raise fatal
                if pool_broken:
                    broken_in_a_row = 0 if done else broken_in_a_row + 1
                    if broken_in_a_row > _MAX_RESTARTS_WITHOUT_PROGRESS:
                        raise SweepError("worker processes keep dying before they run any trial; see the messages "
                                         "above (memory, or a broken installation?)")
                    # Whatever else is in flight went down too (a dead loky worker breaks the whole pool).
                    lost.extend(task for task, _ in running.values())
                    running.clear()
                    if lost:
                        progress.message(f"a worker died; re-running the {len(lost)} task(s) it may have taken "
                                         "down, one at a time")
                    with interrupts.shielded_children():
                        pool.restart()
                    shared.clear()
                    suspects.extend(lost)
    except KeyboardInterrupt:
        interrupts.acknowledge()
        if pool is not None:
            with interrupts.deferred():
                pool.shutdown(kill=True)
            pool = None
        return trial_count, True
    finally:
        if pool is not None:
            with interrupts.deferred():  # an interrupt now is acted on after the clean-up (see run_sweep)
                pool.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    return trial_count, False

"""Running a sweep: ask the strategy for trials, dispatch them, record each result as it lands.

    experiment -> strategy.ask -> group_tasks -> Dispatcher -> pool (loky | dask) -> RunStore.append
               <- strategy.tell                                                    -> best model

The data set is loaded once, here in the parent, and shared with the pool once. What happens when
workers die is the dispatcher's business (:mod:`sweep.dispatch`); which trials run is the
strategy's (:mod:`sweep.strategies`). Ctrl-C or SIGTERM stops dispatching, kills the workers and
leaves every finished trial on disk for ``--resume``.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import interrupts
from .best import finalize
from .config import Experiment, cpu_count
from .dispatch import Dispatcher
from .errors import ConfigError
from .plan import TaskSpec, TrialSpec, group_tasks
from .pools import open_pool
from .progress import Progress
from .results.analysis import read_trials, status_counts
from .results.files import BEST_DIR, METRIC_COLUMNS, SUMMARY_FILE
from .results.store import RunStore, check_out_folder, latest_run_dir
from .strategies import Strategy, make_strategy
from .task import CRASHED, FAILED, TrialResult, run_task

#: Folder of the run for the pool's files while the sweep runs (loky's memory-mapped data set,
#: dask-local's worker folders); deleted at the end.
SCRATCH_DIR = ".scratch"


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
              task_fn=run_task, command: str | None = None, stream=None,
              strategy: Strategy | None = None) -> SweepOutcome:
    """Run (or resume) ``experiment`` and return what happened.

    ``run_dir`` is the run folder to create (or, with ``resume``, to continue; by default the latest
    run of the experiment; ``retry_failed`` runs its failed and crashed trials again).
    ``task_fn(task, data) -> list[TrialResult]`` is what workers call; it is
    a parameter so tests can make a trial raise or kill its worker. ``strategy`` chooses the
    trials (by default the one of the experiment's ``method``). SIGTERM is handled like Ctrl-C
    for the whole call.
    """
    with interrupts.handled():
        strategy = strategy if strategy is not None else make_strategy(experiment)
        trials = strategy.plan()
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
                from .pools.dask import check_cluster

                check_cluster(experiment.backend)
            store = (RunStore.create(run_dir, experiment, trials, command) if run_dir is not None
                     else RunStore.create_new(results_root, experiment, trials, command))
        with store:
            return _run(experiment, strategy, trials, store, data, n_jobs, quiet, task_fn, stream,
                        notices + store.notices)


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


def _run(experiment: Experiment, strategy: Strategy, trials: list[TrialSpec], store: RunStore, data,
         n_jobs: int | None, quiet: bool, task_fn, stream, notices: list[str]) -> SweepOutcome:
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
            outcome.ran, outcome.interrupted = _execute(strategy, data, experiment, store, progress, jobs, task_fn)
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


def recorded_results(run_dir: Path) -> dict[str, TrialResult]:
    """The trials recorded in ``run_dir`` as results, to tell a strategy on resume."""
    trials = read_trials(run_dir)
    results = {}
    for row in trials.to_dict("records"):
        metrics = {c: row.get(c) for c in METRIC_COLUMNS}
        results[row["trial_id"]] = TrialResult(row["trial_id"], row["status"], metrics, [], row.get("error") or "",
                                               worker=str(row.get("worker") or ""))
    return results


def _execute(strategy: Strategy, data, experiment: Experiment, store: RunStore, progress: Progress,
             n_jobs: int, task_fn) -> tuple[int, bool]:
    """Ask ``strategy`` for trials until it is finished, dispatch the unrecorded ones on a pool and
    append each result to ``store`` (telling the strategy). Returns (trials run, interrupted)."""
    trial_count = 0
    metric = experiment.metric.name
    recorded = recorded_results(store.run_dir)

    def report(task: TaskSpec, results: list[TrialResult]) -> None:
        nonlocal trial_count
        by_id = {t.trial_id: t for t in task.trials}
        for result in results:
            trial = by_id[result.trial_id]
            if store.append(trial, result):
                trial_count += 1
                progress.update(result.metrics.get(metric), result.status, result.trial_id)
                strategy.tell(trial, result)

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
            dispatcher = Dispatcher(pool, task_fn, data, report, progress.message)
            while True:
                interrupts.check()
                asked = strategy.ask()
                for trial in asked:  # recorded before a resume: told at once, not run again
                    if trial.trial_id in recorded:
                        strategy.tell(trial, recorded[trial.trial_id])
                dispatcher.add(pending_tasks(group_tasks(asked), recorded))
                if dispatcher.idle:
                    if strategy.finished:
                        break
                    if not asked:
                        raise RuntimeError(f"{type(strategy).__name__} asked for nothing while nothing runs, "
                                           "and is not finished")
                    continue
                with interrupts.shielded_children():  # a submit or a restart may start workers
                    dispatcher.step()
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

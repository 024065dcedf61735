"""Running a sweep: ask the strategy for trials, dispatch them, record each result as it lands.

    experiment -> strategy.ask -> tasks_of -> Dispatcher -> pool (loky | dask) -> RunStore.append
               <- strategy.tell                                                    -> best model

The data set is loaded once, here in the parent, and shared with the pool once. What happens when
workers die is the dispatcher's business (:mod:`sweep.dispatch`); which trials run is the
strategy's (:mod:`sweep.strategies`). Ctrl-C or SIGTERM stops dispatching, kills the workers and
leaves every finished trial on disk for ``--resume``.
"""

from __future__ import annotations

import math
import shutil
from collections import Counter
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import interrupts
from .best import finalize, saved_best_problem
from .config import Experiment, cpu_count
from .durations import format_duration
from .dispatch import Dispatcher
from .errors import ConfigError, SweepError
from .plan import TaskSpec, TrialSpec, tasks_of
from .pools import open_pool
from .live import LiveReport
from .observers import BestModelKeeper, MilestoneEvents, Observers, ProgressObserver, SweepStatus
from .progress import Progress
from .early import EarlyTermination
from .programs.runner import ProgramMilestones, ProgramRunner
from .results.records import history_records, read_history_table, read_trial_records, run_results
from .results.files import BEST_DIR, SCRATCH_DIR, SUMMARY_FILE, own_folder
from .results.store import RunStore, check_out_folder, latest_run_dir
from .strategies import Strategy, make_strategy
from .task import CRASHED, FAILED, PAUSED, TrialResult, run_task

#: Trials of a search that chooses as it goes whose sizes the memory check looks at before it starts.
MEMORY_PREVIEW = 32


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
    open_ended: bool = False  # the search has no set number of trials (``total`` is what was recorded)
    timed_out: bool = False  # the time limit stopped it

    @property
    def all_ran(self) -> bool:
        """Every planned trial has a result and none failed or crashed."""
        finished = sum(self.counts.values())
        return finished >= self.total and not (self.counts.get(FAILED) or self.counts.get(CRASHED))


@dataclass(frozen=True)
class Limits:
    """Where a sweep stops on its own besides its plan: ``max_trials`` trials in the run (an
    open-ended search's cap), ``time_limit`` seconds of this call."""

    max_trials: int | None = None
    time_limit: float | None = None


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
              strategy: Strategy | None = None, max_trials: int | None = None,
              time_limit: float | None = None, check_best: bool = False,
              keep_workers: bool = True, live_report: bool = False) -> SweepOutcome:
    """Run (or resume) ``experiment`` and return what happened.

    ``run_dir`` is the run folder to create (or, with ``resume``, to continue; by default the latest
    run of the experiment; ``retry_failed`` runs its failed and crashed trials again).
    ``task_fn(task, data) -> list[TrialResult]`` is what workers call; it is
    a parameter so tests can make a trial raise or kill its worker. ``strategy`` chooses the
    trials (by default the one of the experiment's ``method``). ``max_trials`` caps the trials of
    the run (an open-ended search's end); ``time_limit`` (seconds, by default the experiment's)
    stops starting trials after it, stops those in flight at their next epoch boundary, and goes
    on to the best model. ``check_best`` retrains the best trial and says whether its weights are
    bitwise the kept ones. ``keep_workers`` leaves loky's workers running, idle, for the next
    sweep of this process when this one ends well (see :mod:`sweep.pools.loky`); the command line,
    which exits afterwards, stops them. ``live_report`` writes the run's report.html again as results
    land (see :mod:`sweep.live`). SIGTERM is handled like Ctrl-C for the whole call.
    """
    limits = Limits(max_trials, time_limit if time_limit is not None else experiment.time_limit)
    if retry_failed and (experiment.method == "bayes" or experiment.early_terminate is not None):
        raise SweepError("--retry-failed cannot be used with method: bayes or early_terminate: what they decided "
                         "after a failed trial would no longer follow; start a new run instead")
    with interrupts.handled():
        strategy = strategy if strategy is not None else make_strategy(experiment)
        trials = strategy.plan()
        notices: list[str] = []
        if resume:
            run_dir = Path(run_dir) if run_dir else latest_run_dir(results_root, experiment, notices)
            store = RunStore.open(run_dir, experiment, trials, retry_failed=retry_failed,
                                  planned_in_advance=strategy.planned_in_advance)
            data = None
        else:
            if run_dir is not None:
                run_dir = check_out_folder(run_dir)
            # Before the folder exists, so that bad data, a trial too large for memory or an unfit
            # cluster leaves no empty run behind. A program loads its own data.
            data = load_data(experiment) if experiment.program is None else None
            if experiment.program is not None and experiment.program.missing_program():
                raise SweepError(experiment.program.missing_program())
            preview = trials or strategy.preview(MEMORY_PREVIEW)
            if data is not None:
                notices += check_memory(preview, data, n_jobs or experiment.resolved_n_jobs(),
                                        experiment.model is None)
            if experiment.model is not None:
                dry_run(experiment.model, preview[0], data)
            if experiment.backend.name == "dask":
                from .pools.dask import check_cluster

                check_cluster(experiment.backend)
            store = (RunStore.create(run_dir, experiment, trials, command) if run_dir is not None
                     else RunStore.create_new(results_root, experiment, trials, command))
        with store:
            return _run(experiment, strategy, trials, store, data, n_jobs, quiet, task_fn, stream,
                        notices + store.notices, limits, check_best, keep_workers, live_report)


#: Rows of the training split a user's model is tried on before the sweep starts.
DRY_RUN_ROWS = 8


def dry_run(model, trial: TrialSpec, data) -> None:
    """Try the user's ``model`` with ``trial``'s hyperparameters on a few rows before anything runs:
    construction, scores and gradients as CS231n's contract says (:func:`sweep.models.check_model`);
    a break is a one-line ModelError naming the user's file and line."""
    from .models import check_model
    from .params import TRAINER_NAMES

    hyperparameters = {name: value for name, value in trial.params.items() if name not in TRAINER_NAMES}
    import numpy as np

    X = np.asarray(data.X_train[:DRY_RUN_ROWS], dtype=trial.params["dtype"])
    check_model(model, hyperparameters, X, data.y_train[:DRY_RUN_ROWS], trial.params["dtype"],
                num_classes=data.num_classes)


def check_memory(trials: list[TrialSpec], data, n_jobs: int, builtin: bool = True) -> list[str]:
    """SweepError when the largest training run cannot fit in memory; a warning when ``n_jobs`` of
    them at once may not. A user's model is not estimated (its arrays are its own business)."""
    from .memory import available_bytes, describe_trial, human, require, trial_bytes

    if not trials or not builtin:
        return []
    outputs = data.num_classes if data.task != "regression" else data.y_train.shape[1]
    distinct = {str([t.params.get(k) for k in ("hidden_size", "num_layers", "batch_size", "optimizer", "dtype")]): t
                for t in trials}
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
         n_jobs: int | None, quiet: bool, task_fn, stream, notices: list[str], limits: Limits,
         check_best: bool = False, keep_workers: bool = True, live_report: bool = False) -> SweepOutcome:
    run_dir = store.run_dir
    finished = store.finished()
    pending = pending_tasks(tasks_of(trials, experiment), finished) if strategy.planned_in_advance else None
    total = strategy.total
    if limits.max_trials is not None:
        total = min(total, limits.max_trials) if total is not None else limits.max_trials
    outcome = SweepOutcome(run_dir, total if total is not None else len(finished), open_ended=total is None)
    best_saved = (run_dir / BEST_DIR / SUMMARY_FILE).is_file() or experiment.program is not None  # a program: no model
    problem = saved_best_problem(run_dir) if best_saved and experiment.program is None else None
    if problem:  # saved again below: the run's best model is made from its own trials
        notices.append(f"warning: {run_dir / BEST_DIR}: {problem}; the best model is saved again")
        best_saved = False
    elif best_saved and experiment.program is None and _ensemble_missing(run_dir, experiment):
        notices.append(f"{run_dir / BEST_DIR}: {_ensemble_missing(run_dir, experiment)}; the best model and the "
                       "ensemble are made again")
        best_saved = False
    if pending == [] and best_saved and not check_best:
        for notice in notices:
            print(notice, file=stream or sys.stderr)
        outcome.counts = status_counts(run_dir)
        return outcome
    try:  # an interrupt from here on leaves what is recorded recorded: --resume goes on from there
        if data is None and experiment.program is None:
            data = load_data(experiment)
        progress = Progress(total, experiment.metric.name, experiment.metric.maximize,
                            already_done=len(finished), quiet=quiet, stream=stream)
        for warning in experiment.warnings:
            progress.message(f"warning: {warning}")
        for notice in notices:
            progress.message(notice)
        if limits.time_limit is not None:
            progress.message(f"time limit {format_duration(limits.time_limit)}: no trial starts after it, and "
                             "trials in flight stop at their next epoch boundary")
        jobs = n_jobs or experiment.resolved_n_jobs()
        if pending is not None:
            jobs = min(jobs, max(len(pending), 1))
        if jobs > cpu_count() and experiment.backend.name != "dask":
            progress.message(f"warning: n_jobs {jobs} is more than the {cpu_count()} cores here; "
                             "trials will compete for them")
        live = [LiveReport(run_dir, progress.message)] if live_report else []
        session = _Session(strategy, data, experiment, store, progress, jobs, task_fn, limits, keep_workers,
                           observers=live)
        if pending != []:
            session.run()
        outcome.ran, outcome.interrupted, outcome.timed_out = session.ran, session.interrupted, session.timed_out
        asked = session.asked if not strategy.planned_in_advance else trials
        if outcome.open_ended or outcome.timed_out:
            outcome.total = len(store.finished())
        progress.close()
        if outcome.timed_out:
            progress.message(f"time limit reached: {outcome.ran} trial(s) ran in this call"
                             + ("; choosing the best model" if experiment.program is None else ""))
        if not outcome.interrupted and experiment.program is None and (outcome.ran or not best_saved or check_best):
            interrupts.check()
            outcome.best = finalize(run_dir, experiment, asked, data, check=check_best,
                                    last=_nothing_left(strategy, run_dir, outcome), warn=progress.message)
            interrupts.check()
            outcome.finalized = True
    except KeyboardInterrupt:
        interrupts.acknowledge()
        outcome.interrupted = True
    with interrupts.deferred():  # a second Ctrl-C now is part of the first
        outcome.counts = status_counts(run_dir)
    return outcome


def _ensemble_missing(run_dir: Path, experiment: Experiment) -> str | None:
    """Why a run whose experiment makes an ensemble has none saved whole (a kill between the best model
    and the ensemble, a removed or edited file), or None. A best model without test accuracy (real-valued
    targets) has no ensemble to make."""
    from .ensemble import ensemble_problem
    from .results.records import read_summary

    if experiment.ensemble is None:
        return None
    try:
        summary = read_summary(run_dir)
    except SweepError:
        return None
    if summary is None or summary.get("test_acc") is None:
        return None
    return ensemble_problem(run_dir)


def _kept_for_ensemble(experiment: Experiment) -> tuple[int, int]:
    """``(top_k, max_disk)`` of the weights kept for the ensemble ((0, 0): none)."""
    spec = experiment.ensemble
    if spec is None or experiment.program is not None:
        return 0, 0
    return spec.top_k, spec.max_disk


def _nothing_left(strategy: Strategy, run_dir: Path, outcome: SweepOutcome) -> bool:
    """Whether no later call (a resume, a retry of failed trials) can change the best trial: every
    planned trial is recorded and none failed or crashed."""
    if not strategy.planned_in_advance or outcome.timed_out:
        return False
    counts = status_counts(run_dir)
    return sum(counts.values()) >= strategy.total and not (counts.get(FAILED) or counts.get(CRASHED))


def pending_tasks(tasks: list[TaskSpec], finished) -> list[TaskSpec]:
    """Tasks restricted to their trials that have no recorded result yet (a fused group still
    trains all its members, so that its numbers are those of the planned group)."""
    out = []
    for task in tasks:
        todo = tuple(t for t in task.trials if t.trial_id not in finished)
        if todo:
            out.append(replace(task, trials=todo))
    return out


def status_counts(run_dir: Path) -> dict[str, int]:
    """How many trials recorded in ``run_dir`` ended with each status."""
    return dict(Counter(row["status"] for row in read_trial_records(run_dir)))


def recorded_results(run_dir: Path) -> dict[str, TrialResult]:
    """The trials recorded in ``run_dir`` as results, to tell a strategy on resume."""
    results = {}
    columns = run_results(run_dir).metrics
    for row in read_trial_records(run_dir):
        metrics = {c: row[c] for c in columns}
        results[row["trial_id"]] = TrialResult(row["trial_id"], row["status"], metrics, [], row.get("error") or "",
                                               worker=row.get("worker") or "")
    return results


def recorded_histories(run_dir: Path) -> dict[str, list[dict]]:
    """trial_id -> its history.csv rows (per-epoch records), in epoch order."""
    return history_records(read_history_table(run_dir))


class _Session:
    """One call's dispatch loop: ask ``strategy`` for trials until it is finished (or a limit is
    reached), run the unrecorded ones on a pool opened when the first is ready, append each result
    to ``store`` and tell the strategy. Whatever follows the sweep (the progress line, the best
    model's bookkeeping, the milestones, the live report) hears of it through ``observers`` (see
    :mod:`sweep.observers`); the milestones' decisions (stop, pause, go on) are this loop's to act
    on. Afterwards ``ran``, ``interrupted``, ``timed_out`` and ``asked`` (every trial handed out, in
    plan order) say what happened."""

    def __init__(self, strategy: Strategy, data, experiment: Experiment, store: RunStore, progress: Progress,
                 n_jobs: int, task_fn, limits: Limits, keep_workers: bool = True, observers=()):
        self.strategy, self.data, self.experiment, self.store = strategy, data, experiment, store
        self.keep_workers = keep_workers
        self.progress, self.n_jobs, self.task_fn, self.limits = progress, n_jobs, task_fn, limits
        self.recorded = recorded_results(store.run_dir)
        self.programs = ProgramRunner(experiment.program, store.run_dir) if experiment.program else None
        if experiment.early_terminate and self.programs:
            self.early = ProgramMilestones(experiment, progress.message)
        elif experiment.early_terminate:
            self.early = EarlyTermination(experiment, store.run_dir, data, progress.message)
        else:
            self.early = None
        self.recorded_history = recorded_histories(store.run_dir) if self.early else {}
        if self.early:
            progress.detail = self.early.describe
        self.asked: list[TrialSpec] = []
        self.trial_by_id: dict[str, TrialSpec] = {}
        self.ran, self.interrupted, self.timed_out = 0, False, False
        self.started = time.monotonic()
        self.deadline = None if limits.time_limit is None else time.time() + limits.time_limit
        self.pool = None
        self.dispatcher: Dispatcher | None = None
        metric = experiment.metric
        self.observers = Observers([
            MilestoneEvents(self.early) if self.early else None,
            None if self.programs else BestModelKeeper(store.run_dir, metric.name, metric.maximize, self.recorded,
                                                       *_kept_for_ensemble(experiment)),
            ProgressObserver(progress, metric.name),
            *observers])

    @property
    def asking(self) -> bool:
        """Whether the strategy may still be asked for trials."""
        capped = self.limits.max_trials is not None and len(self.asked) >= self.limits.max_trials
        return not (self.strategy.finished or capped or self.timed_out)

    def run(self) -> None:
        # The pool's files while the sweep runs (loky's memory-mapped data set, dask-local's worker
        # folders), deleted at the end: a link there is refused, not emptied.
        own_folder(self.store.run_dir, SCRATCH_DIR, create=False)
        scratch = self.store.run_dir / SCRATCH_DIR
        try:
            with interrupts.deferred():  # see sweep.interrupts: no KeyboardInterrupt inside the pool's code
                shutil.rmtree(scratch, ignore_errors=True)  # left by a run that was killed
                if self.programs:
                    self.programs.stop_leftovers(self.progress.message)
                self.dispatcher = Dispatcher(None, self.task_fn, self.data, self.report, self.progress.message,
                                             prepare=self.sending)
                while True:
                    interrupts.check()
                    self.check_time()
                    asked = self.ask() if self.asking and not self.dispatcher.queue else []
                    if self.dispatcher.idle:
                        if not self.asking:
                            self.stop_waiting()
                            break
                        if not asked:
                            raise RuntimeError(f"{type(self.strategy).__name__} asked for nothing while nothing "
                                               "runs, and is not finished")
                        continue
                    if self.pool is None:
                        self.open_pool(scratch)
                    with interrupts.shielded_children():  # a submit or a restart may start workers
                        self.dispatcher.step()
                    if isinstance(self.early, ProgramMilestones):
                        self.early.watch()
                        self.settle()
                    self.observers.polled(self.status())
        except KeyboardInterrupt:
            interrupts.acknowledge()
            if self.pool is not None:
                with interrupts.deferred():
                    self.pool.shutdown(kill=True)
                self.pool = None
            if self.programs:
                with interrupts.deferred():  # their workers are gone; their own process groups are not
                    self.programs.stop_all()
            self.interrupted = True
        finally:
            if self.pool is not None:
                with interrupts.deferred():  # an interrupt now is acted on after the clean-up (see run_sweep)
                    self.pool.shutdown(keep=self.keep_workers)
            shutil.rmtree(scratch, ignore_errors=True)
            self.observers.finished(self.interrupted)

    def status(self) -> SweepStatus:
        """Where the sweep is now (see :class:`~sweep.observers.SweepStatus`)."""
        progress, dispatcher = self.progress, self.dispatcher
        elapsed = time.monotonic() - self.started
        total = progress.total
        ran = self.ran
        eta = elapsed / ran * max(total - progress.done, 0) if ran and total is not None else math.nan
        return SweepStatus(done=progress.done, running=len(dispatcher.running),
                           queued=len(dispatcher.queue) + len(dispatcher.suspects), total=total,
                           elapsed=elapsed, eta=eta)

    def ask(self) -> list[TrialSpec]:
        """One round from the strategy: recorded trials are told at once, the others queued."""
        asked = self.strategy.ask()
        if self.limits.max_trials is not None:
            asked = asked[:self.limits.max_trials - len(self.asked)]
        self.store.plan_more(asked)
        self.asked += asked
        self.trial_by_id.update((t.trial_id, t) for t in asked)
        self.observers.asked(asked)
        for trial in asked:  # recorded before a resume: told at once, not run again
            if trial.trial_id in self.recorded:
                self.strategy.tell(trial, self.recorded[trial.trial_id])
                self.observers.resumed(trial, self.recorded[trial.trial_id],
                                       self.recorded_history.get(trial.trial_id, []))
        tasks = pending_tasks(tasks_of(asked, self.experiment), self.recorded)
        if self.early:
            tasks = [first for first in map(self.early.first_task, tasks) if first is not None]
        self.dispatcher.add([self.timed(task) for task in tasks])
        self.settle()
        return asked

    def sending(self, task: TaskSpec) -> TaskSpec:
        """``task`` as sent now: a program's knows the run folder (it runs elsewhere), and the observers
        may amend it (see :meth:`~sweep.observers.SweepObserver.sending`)."""
        if self.programs:
            task = replace(task, run_dir=str(self.store.run_dir.resolve()))
        return self.observers.sending(task)

    def timed(self, task: TaskSpec) -> TaskSpec:
        return task if self.deadline is None else replace(task, deadline=self.deadline)

    def settle(self) -> None:
        """Act on the milestone decisions that can be made now: promoted trials go on first."""
        if not self.early:
            return
        promoted = []
        for task, result in self.early.decisions():
            if self.programs and task is not None:  # a stop asked of a program that still runs
                self.programs.request_stop(task)
            elif result is not None:
                self.record(result.trial_id, result)
            elif self.timed_out:
                self.record(task.trials[0].trial_id, self.early.timed_out_result(task))
            else:
                promoted.append(self.timed(task))
        self.dispatcher.queue.extendleft(reversed(promoted))

    def check_time(self) -> None:
        """After the time limit no queued task starts (those in flight stop at their next epoch); a
        trial paused at a milestone is recorded ``stopped`` where it is."""
        if self.deadline is None or self.timed_out or time.time() < self.deadline:
            return
        self.timed_out = True
        cancelled = list(self.dispatcher.queue) + list(self.dispatcher.suspects)
        self.dispatcher.queue.clear()
        self.dispatcher.suspects.clear()
        for task in cancelled:
            if isinstance(self.early, ProgramMilestones):
                self.early.cancelled(task)  # never run: it reaches no milestone
            elif task.checkpoint is not None:  # a promoted trial that had not gone on yet
                self.record(task.trials[0].trial_id, self.early.timed_out_result(task))

    def stop_waiting(self) -> None:
        """The sweep ends with trials paused at a milestone (a time limit): record them ``stopped``."""
        if self.early and self.timed_out:
            for result in self.early.give_up_waiting():
                self.record(result.trial_id, result)

    def open_pool(self, scratch: Path) -> None:
        with interrupts.shielded_children():
            self.pool = open_pool(self.experiment.backend, self.n_jobs, scratch)
        self.progress.message(self.pool.describe())
        for warning in self.pool.warnings:
            self.progress.message(f"warning: {warning}")
        self.dispatcher.pool = self.pool

    def report(self, task: TaskSpec, results: list[TrialResult]) -> None:
        for result in results:
            if isinstance(self.early, ProgramMilestones):
                self.early.hold(task, result)  # recorded once its milestones are decided (see settle)
            elif result.status == PAUSED:
                self.early.paused(task, result)
            else:
                self.record(result.trial_id, result, task)
        self.settle()

    def record(self, trial_id: str, result: TrialResult, task: TaskSpec | None = None) -> None:
        """Append a finished trial to the store, and tell the strategy and the milestones."""
        trial = self.trial_by_id[trial_id]
        self.observers.recording(trial, result)
        result.model = None  # on disk now (or not kept): not held in memory for the rest of the sweep
        if self.store.append(trial, result):
            self.ran += 1
            self.recorded[trial.trial_id] = result
            self.strategy.tell(trial, result)
            records = result.history
            if not records and task is not None and task.checkpoint is not None:
                records = task.checkpoint.records  # a continuation that failed: what it had trained
            self.observers.recorded(trial, result, records)

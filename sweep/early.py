"""Early termination during a sweep: trials trained milestone by milestone, paused in the run
folder between segments, stopped or promoted by :class:`~sweep.stopping.MilestoneRule`.

A trial's first task trains it to its first milestone and pauses; its state is saved in
``paused/`` (:mod:`sweep.results.paused`) and it waits there for the decision. Promoted, it
continues from that state to the next milestone (or to its end) in a new task, bitwise as if it
had never paused; stopped, it is recorded ``stopped`` with the epochs it trained. On ``--resume``
a paused trial waits again at the milestone of its saved state: the decision, made in plan
order, is the one it would have been.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .config import Experiment, largest_epochs
from .plan import TaskSpec, TrialSpec
from .results.paused import (
    load_state,
    remove_folder_if_empty,
    remove_partial_saves,
    remove_state,
    save_state,
    set_aside,
    state_path,
)
from .results.proof import InDoubt, first_line
from .status import STOPPED
from .stopping import MilestoneRule, milestone_value
from .task import TrialResult, build_model, model_epoch, score_trial
from .trainer import History, TrainState


class EarlyTermination:
    """The milestones of one sweep's trials: what to run next for each, and who stops."""

    def __init__(self, experiment: Experiment, run_dir: Path, data, warn):
        """``data``: the sweep's data set (a saved state's weights are scored on it before they are
        trusted); ``warn(line)`` tells the user about a saved state that is not."""
        self.data, self.warn = data, warn
        self.model = experiment.model
        self._converted: dict[str, object] = {}
        self.hyperband = experiment.early_terminate
        self.metric, self.maximize = experiment.metric.name, experiment.metric.maximize
        # the most a trial trains: milestones run up to it; a searched epochs is each trial's own budget (as in
        # W&B), and a trial whose epochs end before a milestone finishes there, reaching no further milestone
        self.epochs = largest_epochs(experiment.parameters, experiment.fixed)
        self.milestones = self.hyperband.milestones(self.epochs)
        self.rule = MilestoneRule(self.hyperband, self.milestones)
        self.run_dir = Path(run_dir)
        self.waiting: dict[int, tuple[TrialSpec, TrainState, TaskSpec]] = {}  # plan index -> paused trial
        self.stopped = 0
        remove_partial_saves(self.run_dir)

    # ------------------------------------------------------------------------------ what to run
    def first_task(self, task: TaskSpec) -> TaskSpec | None:
        """The first segment of a new trial's task, or None when a saved state makes it wait at a milestone."""
        [trial] = task.trials
        state = self._saved_state(trial)
        if state is not None:
            self._wait(trial, state, task)
            return None
        return replace(task, pause_at=self._next_milestone(0, trial))

    def _saved_state(self, trial: TrialSpec) -> TrainState | None:
        """The state ``trial`` was paused in by an earlier call, when one is saved and proven to be its
        own (see :mod:`sweep.results.paused`); a state in doubt is set aside with a warning."""
        path = state_path(self.run_dir, trial.trial_id)
        if not path.is_file():
            return None
        typed = self._typed(trial.params["dtype"])
        try:
            state = load_state(self.run_dir, trial, build_model(trial.params, trial.seed, typed, self.model),
                               typed)
            if state.epoch not in self.milestones or state.epoch >= trial.params["epochs"]:
                raise InDoubt(f"its epoch {state.epoch} is not a milestone of this sweep below the trial's epochs")
            return state
        except Exception as exc:  # noqa: BLE001 - any doubt about a saved state means training from the start
            why = str(exc) if isinstance(exc, InDoubt) else f"it cannot be read ({first_line(exc)})"
        try:
            kept = f"the file is kept as {set_aside(self.run_dir, trial.trial_id).name}"
        except OSError as exc:
            kept = f"the file could not be moved aside: {exc.strerror or exc}"
        self.warn(f"warning: {path}: not continued from, {why}; trial {trial.trial_id} trains from the start "
                  f"({kept})")
        return None

    def _typed(self, dtype: str):
        """The data set in ``dtype``, converted once per dtype."""
        if dtype not in self._converted:
            self._converted[dtype] = self.data.astype(dtype)
        return self._converted[dtype]

    def _next_milestone(self, epoch: int, trial: TrialSpec) -> int | None:
        """The next milestone after ``epoch`` below the trial's own epochs (None: it trains to its end)."""
        return next((m for m in self.milestones if epoch < m < trial.params["epochs"]), None)

    # ------------------------------------------------------------------------------ events
    def asked(self, trials: list[TrialSpec]) -> None:
        """A round of trials handed out by the search: one cohort (see :mod:`sweep.stopping`)."""
        self.rule.cohort([trial.index for trial in trials])

    def paused(self, task: TaskSpec, result: TrialResult) -> None:
        """A segment ended at a milestone: save its state and wait for the decision."""
        [trial] = task.trials
        save_state(self.run_dir, trial, result.checkpoint)
        self._wait(trial, result.checkpoint, task)

    def _wait(self, trial: TrialSpec, state: TrainState, task: TaskSpec) -> None:
        self._reached(trial, state.records, state.epoch)
        self.waiting[trial.index] = (trial, state, task)

    def _reached(self, trial: TrialSpec, records: list, epochs: int) -> None:
        """Tell the rule the trial's values at every milestone of its first ``epochs`` epochs."""
        for milestone in self.milestones:
            if milestone <= epochs:
                self.rule.reached(trial.index, milestone,
                                  milestone_value(records, milestone, self.metric, self.maximize),
                                  milestone_value(records, milestone, self.metric, self.maximize, best_so_far=True))

    def ended(self, trial: TrialSpec, result: TrialResult, records: list | None = None) -> None:
        """``trial`` is recorded (finished, stopped, failed...): it trains no more."""
        records = result.history if records is None else records
        finite = next((i for i, r in enumerate(records) if r.get("val_loss") != r.get("val_loss")), len(records))
        self._reached(trial, records, finite)  # a diverged epoch (NaN) reaches no milestone
        self.rule.ended(trial.index, len(records))
        remove_state(self.run_dir, trial.trial_id)

    def decisions(self):
        """``(task, None)`` for each waiting trial that goes on (its next segment), ``(None, result)`` for
        each one stopped (its ``stopped`` result), in plan order, as far as they can be decided now."""
        for index in sorted(self.waiting):
            trial, state, task = self.waiting[index]
            go = self.rule.decide(index, state.epoch)
            if go is None:
                continue
            del self.waiting[index]
            if go:
                yield replace(task, checkpoint=state, pause_at=self._next_milestone(state.epoch, trial)), None
            else:
                self.stopped += 1
                yield None, self.stopped_result(trial, state)

    def stopped_result(self, trial: TrialSpec, state: TrainState, why: str | None = None) -> TrialResult:
        """The result of a trial stopped after ``state.epoch`` epochs (scored from its records)."""
        result = score_trial(trial, History([dict(r) for r in state.records], STOPPED))
        threshold = self.rule.threshold(trial.index, state.epoch) if why is None else None
        value = self.rule.judged(trial.index, state.epoch) if state.epoch in self.rule.values.get(trial.index, {}) \
            else None
        if why is None and threshold is not None and value is not None:
            sign = -1 if self.maximize else 1
            why = (f"stopped by hyperband at epoch {state.epoch} of {trial.params['epochs']}: {self.metric} "
                   f"{sign * value:.4g} is worse than {sign * threshold:.4g}, the cut for the top 1/{self.hyperband.eta:g}")
        result.error = why or f"stopped at epoch {state.epoch} of {trial.params['epochs']}"
        if model_epoch(self.metric, result.metrics["best_epoch"], state.epoch) == state.epoch:
            result.model, result.model_epoch = dict(state.params), state.epoch  # kept if it may be the best
        return result

    def timed_out_result(self, task: TaskSpec) -> TrialResult:
        """The ``stopped`` result of a paused task's trial that the time limit keeps from going on."""
        [trial] = task.trials
        return self.stopped_result(trial, task.checkpoint,
                                   f"stopped by the time limit at epoch {task.checkpoint.epoch}")

    def give_up_waiting(self) -> list[TrialResult]:
        """Every waiting trial stopped where it is (a time limit ended the sweep)."""
        tasks = [replace(task, checkpoint=state) for _, state, task in
                 (self.waiting.pop(index) for index in sorted(self.waiting))]
        return [self.timed_out_result(task) for task in tasks]

    def close(self) -> None:
        remove_folder_if_empty(self.run_dir)

    def describe(self) -> str:
        """For the progress line: the furthest rung reached (rung k: past k - 1 milestones), how many
        trials wait at a milestone and how many were stopped early."""
        reached = max((len(values) for values in self.rule.values.values()), default=0)
        return (f"rung {reached + 1}/{len(self.milestones) + 1}, {len(self.waiting)} paused at a milestone, "
                f"{self.stopped} stopped early")

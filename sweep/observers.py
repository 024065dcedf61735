"""What follows a sweep as it runs, through one interface: the loop that runs it (``runner._Session``)
sends events, and knows none of the observers by name.

Events, in the order a trial meets them:

- ``asked(trials)``: the search handed out ``trials`` (in plan order);
- ``resumed(trial, result, records)``: ``trial`` was recorded before this call (a ``--resume``);
  ``records`` is its history;
- ``sending(task) -> task``: ``task`` is about to go to a worker; an observer may return it amended
  (the best-model bookkeeping asks it to send back weights that may be the best);
- ``recording(trial, result)``: ``result`` is about to be appended to trials.csv (files that must be
  on disk before its row are written now);
- ``recorded(trial, result, records)``: it is in trials.csv;
- ``polled(status)``: one pass of the loop, with a :class:`SweepStatus`;
- ``finished(interrupted)``: the loop ended (``interrupted``: by Ctrl-C or a signal).

The observers today: :class:`ProgressObserver` (the progress line), :class:`BestModelKeeper`
(which trials' weights to keep), :class:`MilestoneEvents` (what the hyperband milestones learn of
trials; their decisions are the loop's to act on), and :class:`~sweep.live.LiveReport`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SweepStatus:
    """Where a running sweep is: trials recorded (``done``, this call's and before), running and
    queued now, ``total`` planned (None for an open-ended search), seconds since this call began,
    and seconds left by the rate of this call (NaN when unknown)."""

    done: int
    running: int
    queued: int
    total: int | None
    elapsed: float
    eta: float


class SweepObserver:
    """Base class: every event does nothing (an observer overrides those it cares about)."""

    def asked(self, trials: list) -> None:
        pass

    def resumed(self, trial, result, records: list) -> None:
        pass

    def sending(self, task):
        return task

    def recording(self, trial, result) -> None:
        pass

    def recorded(self, trial, result, records: list) -> None:
        pass

    def polled(self, status: SweepStatus) -> None:
        pass

    def finished(self, interrupted: bool) -> None:
        pass


class Observers(SweepObserver):
    """Several observers as one: each event goes to each, in order."""

    def __init__(self, observers):
        self.observers = [o for o in observers if o is not None]

    def asked(self, trials):
        for o in self.observers:
            o.asked(trials)

    def resumed(self, trial, result, records):
        for o in self.observers:
            o.resumed(trial, result, records)

    def sending(self, task):
        for o in self.observers:
            task = o.sending(task)
        return task

    def recording(self, trial, result):
        for o in self.observers:
            o.recording(trial, result)

    def recorded(self, trial, result, records):
        for o in self.observers:
            o.recorded(trial, result, records)

    def polled(self, status):
        for o in self.observers:
            o.polled(status)

    def finished(self, interrupted):
        for o in self.observers:
            o.finished(interrupted)


class ProgressObserver(SweepObserver):
    """The progress line (:class:`~sweep.progress.Progress`): one more trial per recorded result."""

    def __init__(self, progress, metric: str):
        self.progress, self.metric = progress, metric

    def recorded(self, trial, result, records):
        self.progress.update(result.metrics.get(self.metric), result.status, result.trial_id)


class BestModelKeeper(SweepObserver):
    """Which trials' weights are kept (``candidates/``) for the best model and the ensemble: a task is
    asked to send back the weights of a trial that reaches the bar of the moment (:class:`~sweep.best.BestBar`,
    or with an ensemble (``top_k`` > 0) the metric of the ``top_k``-th best trial recorded so far, whichever
    is lower); they are saved before the trial's row, and those that can no longer be the best nor among
    the ``top_k`` best are removed. Weights kept only for the ensemble stay within ``max_disk`` bytes of
    ``candidates/`` (beyond it they are not kept: the ensemble retrains such a member from its seed).
    A trial in the final top ``top_k`` is in the top ``top_k`` of the trials recorded when it is, so its
    weights are kept unless the budget is spent."""

    def __init__(self, run_dir: Path, metric: str, maximize: bool, recorded: dict, top_k: int = 0,
                 max_disk: int = 0):
        from .best import BestBar

        self.run_dir, self.metric, self.maximize = Path(run_dir), metric, maximize
        self.top_k, self.max_disk = top_k, max_disk
        self.bar = BestBar(metric, maximize)
        self.values = {trial_id: r.metrics.get(metric, math.nan) for trial_id, r in recorded.items()}

    def asked(self, trials):
        self.bar.asked(trials)

    def resumed(self, trial, result, records):
        self.bar.recorded(trial, result)

    def top_bar(self) -> float | None:
        """The metric of the ``top_k``-th best trial recorded (None: fewer are, or no ensemble)."""
        if not self.top_k:
            return None
        values = sorted((v for v in self.values.values() if v is not None and math.isfinite(v)),
                        reverse=self.maximize)
        return values[self.top_k - 1] if len(values) >= self.top_k else None

    def in_top(self, value) -> bool:
        """Whether a trial of metric ``value`` is (or, not recorded yet, would be) among the ``top_k`` best."""
        if not self.top_k or value is None or not math.isfinite(value):
            return False
        bar = self.top_bar()
        return bar is None or (value >= bar if self.maximize else value <= bar)

    def sending(self, task):
        from dataclasses import replace

        from .plan import KeepModel

        keep = self.bar.keep_model()
        if self.top_k:
            top = self.top_bar()
            bar = None if keep.bar is None or top is None else (min if self.maximize else max)(keep.bar, top)
            keep = KeepModel(keep.metric, keep.maximize, bar)
        return replace(task, keep_model=keep)

    def recording(self, trial, result):
        from .results.candidates import remove_candidate, save_candidate

        value = result.metrics.get(self.metric, math.nan)
        best = self.bar.may_be_best(value)
        if result.model is not None and (best or (self.in_top(value) and self._fits(result.model))):
            try:  # written before its row, so a recorded best keeps its weights
                save_candidate(self.run_dir, trial.trial_id, result.model_epoch, result.model)
            except OSError:  # a full disk: the row says so; without its weights a best trial is retrained
                remove_candidate(self.run_dir, trial.trial_id)
        result.model = None  # on disk now: not kept in memory for the rest of the sweep

    def _fits(self, weights: dict) -> bool:
        """Whether ``weights`` fit in what ``max_disk`` leaves beside the candidates kept now."""
        from .results.candidates import candidate_path, kept_trials

        used = 0
        for trial_id in kept_trials(self.run_dir):
            try:
                used += candidate_path(self.run_dir, trial_id).stat().st_size
            except OSError:
                pass
        return used + sum(int(getattr(v, "nbytes", 0)) for v in weights.values()) <= self.max_disk

    def recorded(self, trial, result, records):
        from .results.candidates import kept_trials, remove_candidate

        self.values[trial.trial_id] = result.metrics.get(self.metric, math.nan)
        self.bar.recorded(trial, result)
        for trial_id in kept_trials(self.run_dir):
            if trial_id in self.values and not self.bar.may_be_best(self.values[trial_id]) and \
                    not self.in_top(self.values[trial_id]):
                remove_candidate(self.run_dir, trial_id)


class MilestoneEvents(SweepObserver):
    """What hyperband's milestones (:class:`~sweep.early.EarlyTermination` or
    :class:`~sweep.programs.runner.ProgramMilestones`) learn of the trials: the cohorts asked, the
    records of those that ended, the programs started. What they decide is read by the loop."""

    def __init__(self, milestones):
        self.milestones = milestones

    def asked(self, trials):
        self.milestones.asked(trials)

    def resumed(self, trial, result, records):
        self.milestones.ended(trial, result, records)

    def sending(self, task):
        started = getattr(self.milestones, "started", None)
        if started is not None:
            started(task)
        return task

    def recorded(self, trial, result, records):
        self.milestones.ended(trial, result, records)

    def finished(self, interrupted):
        self.milestones.close()

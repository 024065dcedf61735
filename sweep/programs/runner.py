"""The runner's side of a program sweep: stopping the programs it started, and hyperband's
milestones decided from the lines they write.

A program cannot pause, so W&B's hyperband here works as W&B's agent does it: a trial is stopped
(SIGTERM, then SIGKILL) at a milestone. The decision is made in plan order, as for nets
(:class:`~sweep.stopping.MilestoneRule`): a trial is judged at milestone ``b`` (its ``b``-th line
carrying the metric, W&B's count of iterations) against every trial planned before it, once each
of those has reached ``b`` or ended. Until then it runs on; the lines it writes after the milestone
where it is stopped are not recorded. So the trials stopped, and what is recorded of each, are the
same for any ``n_jobs``; only how soon a program is stopped (how much time is saved) varies.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..status import OK, STOPPED
from ..stopping import MilestoneRule
from .metrics import MetricLines, iteration_of, summary
from .processes import stop_recorded
from .run import LOGS_DIR, trial_paths

#: Milestones looked for when the program's length is not known (W&B's code makes up to 100).
UNBOUNDED = 10 ** 9


def _known_length(experiment) -> int:
    """The iterations every trial runs to when the file says (an ``epochs`` it fixes, or gives one
    ``value``); milestones at or past it are not looked at. Otherwise :data:`UNBOUNDED`."""
    epochs = experiment.fixed.get("epochs")
    searched = experiment.parameters.get("epochs")
    if searched is not None and searched.kind == "constant":
        epochs = searched.values[0]
    return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 1 else UNBOUNDED


class ProgramRunner:
    """The programs of one run folder, seen from the runner: stop requests and the pid files."""

    def __init__(self, spec, run_dir: Path):
        self.spec, self.run_dir = spec, Path(run_dir)

    def request_stop(self, task) -> None:
        """Ask the worker running ``task``'s program to stop it (it looks for this file)."""
        [trial] = task.trials
        _touch_new(trial_paths(self.run_dir, trial.trial_id)["stop"])

    def stop_leftovers(self, message) -> None:
        """Stop the programs an earlier run of this folder left running (it was killed): they would
        write into the files of the trials run again now."""
        stopped = stop_recorded(self.run_dir / LOGS_DIR, self.spec.grace, self._proof)
        if stopped:
            message(f"note: stopped {len(stopped)} program(s) a killed run of this folder had left running "
                    f"(trial {', '.join(stopped[:3])}{', ...' if len(stopped) > 3 else ''}); they run again")

    def stop_all(self) -> None:
        """Stop every program of this run still running (Ctrl-C: their workers are gone, or, on a Dask
        cluster, go on running them): those of this machine are signalled, and each running trial gets
        its stop file, which the worker running it on another machine looks for."""
        logs = self.run_dir / LOGS_DIR
        if logs.is_dir() and not logs.is_symlink():
            for pid_file in logs.glob("*.pid"):
                _touch_new(logs / f"{pid_file.stem}.stop")
        stop_recorded(logs, self.spec.grace, self._proof)

    def _proof(self, trial_id: str) -> tuple[str, str]:
        """What the environment of trial ``trial_id``'s program holds (see :mod:`.run`)."""
        return "SWEEP_METRICS", str(trial_paths(self.run_dir.resolve(), trial_id)["metrics"])


def _touch_new(path: Path) -> None:
    """Make the empty file ``path``, never through a link at that name."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o666))
    except OSError:  # its folder went away with the task, or a link is there: nothing to stop
        pass


@dataclass
class _Trial:
    """One trial's progress through the milestones."""

    trial: object
    task: object = None
    lines: MetricLines | None = None  # read while it runs
    result: object = None  # its result, once the program has ended
    next_milestone: int = 0  # index of the next milestone to decide
    stopped_at: int | None = None  # the milestone it was stopped at
    asked_stop: bool = False
    values: list = field(default_factory=list)


class ProgramMilestones:
    """Hyperband for a program sweep (see the module docstring). The session tells it what happens
    (:meth:`started`, :meth:`watch`, :meth:`hold`, :meth:`ended`, :meth:`cancelled`); :meth:`decisions`
    gives stop requests ``(task, None)`` and results ready to record ``(None, result)``."""

    def __init__(self, experiment, warn=None):
        self.hyperband = experiment.early_terminate
        self.metric, self.maximize = experiment.metric.name, experiment.metric.maximize
        bound = _known_length(experiment)
        self.milestones = self.hyperband.milestones(bound)
        self.rule = MilestoneRule(self.hyperband, self.milestones)
        self.trials: dict[int, _Trial] = {}  # plan index -> its progress (trials not yet ended)
        self.stopped = 0

    # ------------------------------------------------------------------ what the session tells
    def first_task(self, task):
        return task

    def asked(self, trials) -> None:
        """Each trial is judged against the trials planned before it (a cohort of its own)."""
        for trial in trials:
            self.rule.cohort([trial.index])

    def started(self, task) -> None:
        """``task``'s program is about to start (its ``run_dir`` set): its lines are watched from now on."""
        [trial] = task.trials
        path = trial_paths(Path(task.run_dir), trial.trial_id)["metrics"]
        state = self.trials.setdefault(trial.index, _Trial(trial))
        state.task, state.lines = task, MetricLines(path, self.metric)  # a task sent again starts again

    def watch(self) -> None:
        """Read the lines the running programs wrote since the last look."""
        for state in self.trials.values():
            if state.lines is not None and state.result is None:
                state.lines.read_more()
                if not state.lines.problem:
                    state.values = list(state.lines.values)

    def hold(self, task, result) -> None:
        """A program ended: its result waits for its milestones' decisions."""
        [trial] = task.trials
        state = self.trials.setdefault(trial.index, _Trial(trial, task))
        state.result = result
        state.values = [float(r[self.metric]) for r in result.history if iteration_of(r, self.metric)]

    def cancelled(self, task) -> None:
        """A queued trial that will not run in this call (the time limit): it reaches no milestone."""
        [trial] = task.trials
        self.trials.pop(trial.index, None)
        self.rule.ended(trial.index, 0)

    def ended(self, trial, result, records=None) -> None:
        """A trial recorded (now, or before a resume): its values at the milestones its records reach."""
        if trial.index in self.trials and self.trials[trial.index].result is not None:
            return  # recorded through decisions(): told already
        records = result.history if records is None else records
        values = [float(r[self.metric]) for r in records if iteration_of(r, self.metric)]
        for milestone in self.milestones:
            if milestone <= len(values):
                self._reached(trial.index, milestone, values)
        self.rule.ended(trial.index, len(values))
        self.trials.pop(trial.index, None)

    # ------------------------------------------------------------------ what it decides
    def decisions(self):
        changed = True
        while changed:
            changed = False
            for index in sorted(self.trials):
                for item in self._advance(self.trials[index]):
                    changed = True
                    yield item

    def _advance(self, state: _Trial):
        index = state.trial.index
        while state.stopped_at is None and state.next_milestone < len(self.milestones):
            milestone = self.milestones[state.next_milestone]
            if len(state.values) < milestone:
                break
            if milestone not in self.rule.values.get(index, {}):
                self._reached(index, milestone, state.values)
            go = self.rule.decide(index, milestone)
            if go is None:
                return
            if go:
                state.next_milestone += 1
                continue
            state.stopped_at = milestone
            self.stopped += 1
            self.rule.ended(index, milestone)
        if state.stopped_at is not None and state.result is None and not state.asked_stop:
            state.asked_stop = True
            yield state.task, None
        if state.result is None:
            return
        if state.stopped_at is None:
            self.rule.ended(index, len(state.values))
        del self.trials[index]
        yield None, self._recorded_result(state)

    def _reached(self, index: int, milestone: int, values: list) -> None:
        oriented = [-v if self.maximize else v for v in values[:milestone]]
        self.rule.reached(index, milestone, oriented[-1], min(oriented))

    def _recorded_result(self, state: _Trial):
        """The trial's result as recorded: cut at the milestone it was stopped at."""
        result = state.result
        if state.stopped_at is None:
            return result
        lines = MetricLines(Path(), self.metric, records=list(result.history))
        records = lines.cut(state.stopped_at)
        sign = -1 if self.maximize else 1
        threshold = self.rule.threshold(state.trial.index, state.stopped_at)
        value = self.rule.judged(state.trial.index, state.stopped_at)
        why = (f"stopped by hyperband at step {state.stopped_at}: {self.metric} {sign * value:.4g} is worse than "
               f"{sign * threshold:.4g}, the cut for the top 1/{self.hyperband.eta:g}"
               if threshold is not None else f"stopped by hyperband at step {state.stopped_at}")
        return replace(result, status=STOPPED, history=records, error=why,
                       metrics=summary(records, self.metric, result.metrics.get("seconds", math.nan)))

    # ------------------------------------------------------------------ the end of a call
    def timed_out_result(self, task):  # pragma: no cover - a program's trial never waits in the queue paused
        raise AssertionError("a program's trial is never paused")

    def give_up_waiting(self) -> list:
        """Results still held when the sweep ends (a time limit): recorded as far as decided."""
        out = []
        for index in sorted(self.trials):
            state = self.trials.pop(index)
            if state.result is not None:
                out.append(self._recorded_result(state))
        return out

    def close(self) -> None:
        pass

    def describe(self) -> str:
        reached = max((len(values) for values in self.rule.values.values()), default=0)
        return f"rung {reached + 1}/{len(self.milestones) + 1}, {self.stopped} stopped early"


"""From an experiment to trials and tasks.

A *trial* is one point of the search space with one seed: one row of trials.csv. A *task* is one
unit of work sent to a worker: today, one training run that scores every trial differing only in
``epochs`` (the trainer's epoch-prefix property makes the model after epoch k of a long run exactly
the k-epoch model). Keeping the two apart lets a later task train several trials at once.

Identity and seeds never depend on worker, order or backend:

- ``seed``     = SeedSequence([sweep seed, repeat, hash of the parameters except epochs]);
- ``trial_id`` = hash of all parameters and the seed (stable across runs, resumes and edits);
- ``config_id``= hash of all parameters (the trial's configuration, shared by its repeats).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import Experiment
from .params import ADDED_LATER, PARAMETER_NAMES


@dataclass(frozen=True)
class TrialSpec:
    """One trial: complete hyperparameters (every name of :data:`~sweep.params.PARAMETERS`) and a seed."""

    trial_id: str
    config_id: str
    index: int
    repeat: int
    seed: int
    params: dict


@dataclass(frozen=True)
class KeepModel:
    """Which trained weights a task sends back: those of each trial whose ``metric`` reaches ``bar``
    (at least ``bar`` when ``maximize``, at most otherwise; every scored trial's when ``bar`` is None)."""

    metric: str
    maximize: bool
    bar: float | None = None

    def reaches(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        return self.bar is None or (value >= self.bar if self.maximize else value <= self.bar)


@dataclass(frozen=True)
class TaskSpec:
    """One training run: the parameters without ``epochs``, trained to the largest requested value.

    ``trials`` are the trials it scores, each at its own ``epochs``. ``deadline`` (``time.time()``
    seconds), when set, stops training at the first epoch boundary after it (a time limit).
    Under early termination a task is one segment of one trial: from ``checkpoint`` (a
    :class:`~sweep.trainer.TrainState`, or the start) to ``pause_at`` (a milestone, or the end).
    ``keep_model`` says whose weights come back with the results (none when None).
    """

    task_id: str
    seed: int
    params: dict
    trials: tuple[TrialSpec, ...]
    deadline: float | None = None
    checkpoint: Any = None
    pause_at: int | None = None
    keep_model: KeepModel | None = None

    @property
    def max_epochs(self) -> int:
        return max(t.params["epochs"] for t in self.trials)


def canonical(values: dict) -> str:
    """Stable text of a parameter dict: sorted keys, floats by repr, so equal values hash equally.

    A hyperparameter added later (:data:`~sweep.params.ADDED_LATER`) at its neutral value is left
    out, so trials that do not use it keep the ids and seeds they had before it existed.
    """
    kept = {k: v for k, v in values.items() if not (k in ADDED_LATER and v == ADDED_LATER[k])}
    return json.dumps({k: kept[k] for k in sorted(kept)}, sort_keys=True, separators=(",", ":"))


def short_hash(text: str, length: int = 12) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()[:length]


def without_epochs(params: dict) -> dict:
    """The hyperparameters of a training run: a trial's, without ``epochs`` (see the module docstring)."""
    return {k: v for k, v in params.items() if k != "epochs"}


def trial_seed(sweep_seed: int, repeat: int, params: dict) -> int:
    """The training seed of a configuration's ``repeat``-th run: the same for every ``epochs`` value."""
    digest = hashlib.blake2b(canonical(without_epochs(params)).encode(), digest_size=16).digest()
    words = np.frombuffer(digest, dtype=np.uint32).tolist()
    state = np.random.SeedSequence([int(sweep_seed), int(repeat), *words]).generate_state(1, dtype=np.uint32)
    return int(state[0])


def make_trials(experiment: Experiment, configurations: list[dict]) -> list[TrialSpec]:
    """The trials of ``configurations`` (searched values, in plan order): each times ``repeats`` seeds.

    A configuration a random search draws again (possible with discrete distributions) runs again,
    as W&B's ``run_cap`` runs do, with new seeds: its draws count as further repeats of it
    (``repeat`` R, R+1, ... for ``repeats: R``), so its first draw keeps the seeds and ids it has
    whatever is drawn after it. A grid visits a value listed twice once, as W&B's grid does.
    """
    return TrialMaker(experiment).add(configurations)


class TrialMaker:
    """Turns configurations into trials a few at a time, for searches that choose them as they go:
    ``add(a) + add(b)`` gives the trials of ``make_trials(a + b)``."""

    def __init__(self, experiment: Experiment):
        self.experiment = experiment
        self.made = 0  # trials made so far: the plan index of the next one
        self._draws: dict[str, int] = {}  # config_id -> times drawn so far

    def add(self, configurations) -> list[TrialSpec]:
        """The trials of ``configurations``, numbered after those made before."""
        experiment, trials = self.experiment, []
        for searched in configurations:
            params = _complete(experiment.fixed, searched)
            config_id = short_hash(canonical(params))
            drawn = self._draws.get(config_id, 0)
            if drawn and experiment.method == "grid":
                continue
            self._draws[config_id] = drawn + 1
            for repeat in range(drawn * experiment.repeats, (drawn + 1) * experiment.repeats):
                seed = trial_seed(experiment.seed, repeat, params)
                trial_id = short_hash(canonical({**params, "__seed__": seed}))
                trials.append(TrialSpec(trial_id, config_id, self.made, repeat, seed, params))
                self.made += 1
        return trials


def _complete(fixed: dict, searched: dict) -> dict[str, Any]:
    merged = {**fixed, **searched}
    return {name: merged[name] for name in PARAMETER_NAMES}


def group_tasks(trials: list[TrialSpec]) -> list[TaskSpec]:
    """Trials that differ only in ``epochs`` (same seed) share one task, in order of first appearance."""
    groups: dict[str, list[TrialSpec]] = {}
    for trial in trials:
        key = short_hash(canonical({**without_epochs(trial.params),
                                    "__seed__": trial.seed}))
        groups.setdefault(key, []).append(trial)
    tasks = []
    for key, members in groups.items():
        params = without_epochs(members[0].params)
        tasks.append(TaskSpec(key, members[0].seed, params, tuple(members)))
    return tasks

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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .config import Experiment
from .params import ADDED_LATER


@dataclass(frozen=True)
class TrialSpec:
    """One trial: complete hyperparameters (every name of its experiment's table) and a seed."""

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

    ``batch_seed`` seeds the minibatch order; None takes it from the trial's seed
    (:func:`~sweep.task.model_seeds`). A fused group (``fuse`` in the experiment, see
    :func:`fuse_tasks`) is a task whose ``members`` are the training runs it trains in one pass:
    its ``trials`` are theirs (those still to record), its ``params`` those of its first member
    (the members share batch size, update rule and dtype) and its ``seed`` the shared batch seed.
    ``model`` travels with the task to the worker, which imports the user's class from it.
    """

    task_id: str
    seed: int
    params: dict
    trials: tuple[TrialSpec, ...]
    deadline: float | None = None
    checkpoint: Any = None
    pause_at: int | None = None
    keep_model: KeepModel | None = None
    batch_seed: int | None = None
    members: tuple["TaskSpec", ...] = ()
    model: Any = None  # the user's model it trains (a sweep.models.ModelSource); None: the built-in net
    program: Any = None  # the user's script it runs instead (a sweep.programs.ProgramSpec), one trial per task
    run_dir: str | None = None  # the run folder (a program's logs and folders are written there)

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
            params = _complete(experiment.table, experiment.fixed, searched)
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


def _complete(table, fixed: dict, searched: dict) -> dict[str, Any]:
    """A trial's hyperparameters: every name of the experiment's ``table``, in its order."""
    merged = {**fixed, **searched}
    return {name: merged[name] for name in table}


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


#: Hidden units a fused group holds at most (the sum over its members). Measured on Fashion-MNIST,
#: one BLAS thread, one epoch, a group against its nets trained one after the other: 8 x 50 units
#: 1.17x faster, 4 x 100 1.07x, 8 x 100 1.22x, 2 x 200 0.99x, 5 x 200 0.98x, 8 x 200 1.05x.
#: Single-thread sgemm already runs near its peak for one net of 100 units, so a wider group gains
#: little, while fewer, longer tasks balance worse over the workers (on the 16-point grid of
#: bench/vs_gridsearch.py a cap of 1600 would make two tasks, one twice the other).
FUSED_UNITS_CAP = 512


def batch_seed(sweep_seed: int, repeat: int) -> int:
    """The minibatch-order seed of every training run of ``repeat`` in a fused sweep: common random
    numbers, so the runs of a group see the same minibatches whatever group they are in."""
    state = np.random.SeedSequence([int(sweep_seed), int(repeat), 0x6261746368]).generate_state(1, dtype=np.uint32)
    return int(state[0])


def fuse_tasks(tasks: list[TaskSpec], fuse: int, sweep_seed: int) -> list[TaskSpec]:
    """The tasks of a sweep with ``fuse: K`` (K > 1): training runs grouped K at a time.

    Every run takes its minibatch order from :func:`batch_seed` (its initial weights still come from
    its own seed), whether it is grouped or not. Runs that can train fused (see
    :func:`sweep.fused.fusable_params`) and share repeat, batch size, update rule and dtype are
    grouped in plan order, up to K runs and :data:`FUSED_UNITS_CAP` hidden units a group; a group is
    placed where its first run was. Which runs form a group depends on the plan only, never on the
    workers. With ``fuse`` 1 the tasks are returned as they are.
    """
    if fuse <= 1:
        return tasks
    from .fused import fusable_params

    out: list = []
    open_groups: dict[tuple, int] = {}  # key -> index in ``out`` of the group being filled
    for task in tasks:
        repeat = task.trials[0].repeat
        task = replace(task, batch_seed=batch_seed(sweep_seed, repeat))
        p = task.params
        if not fusable_params(p):
            out.append([task])
            continue
        key = (repeat, p["batch_size"], p["optimizer"], p["dtype"])
        at = open_groups.get(key)
        if at is not None:
            members = out[at]
            units = sum(m.params["hidden_size"] for m in members) + p["hidden_size"]
            if len(members) < fuse and units <= FUSED_UNITS_CAP:
                members.append(task)
                continue
        open_groups[key] = len(out)
        out.append([task])
    return [members[0] if len(members) == 1 else _group(members) for members in out]


def _group(members: list[TaskSpec]) -> TaskSpec:
    task_id = short_hash("+".join(m.task_id for m in members))
    trials = tuple(t for m in members for t in m.trials)
    return TaskSpec(task_id, members[0].batch_seed, members[0].params, trials,
                    batch_seed=members[0].batch_seed, members=tuple(members))


def tasks_of(trials: list[TrialSpec], experiment: Experiment) -> list[TaskSpec]:
    """The tasks that train ``trials``: one per training run, or fused groups of them (``fuse``)."""
    if experiment.program is not None:  # a program trains as it likes: no epoch prefix to share
        return [TaskSpec(t.trial_id, t.seed, t.params, (t,), program=experiment.program) for t in trials]
    tasks = group_tasks(trials)
    if experiment.early_terminate is not None:  # a trial trains milestone by milestone alone (searched epochs too)
        tasks = [task if len(task.trials) == 1 else
                 replace(task, task_id=short_hash(f"{task.task_id}:{trial.params['epochs']}"), trials=(trial,))
                 for task in tasks for trial in task.trials]
    tasks = fuse_tasks(tasks, experiment.fuse, experiment.seed)
    return tasks if experiment.model is None else [replace(task, model=experiment.model) for task in tasks]

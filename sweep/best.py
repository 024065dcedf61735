"""The best model of a run: the weights of the best trial, kept when it trained, scored once on test.

No trial is retrained at the end. While the sweep runs, each task carries a bar
(:class:`BestBar`): a trial whose metric reaches it may still be the best model, and its worker
sends its weights back with the result (:class:`~sweep.task.ModelKeeper`); the runner keeps them in
the run folder's ``candidates/`` until the trial can no longer be the best. Only when the best
trial's weights were not kept (a run folder of an older version, a best epoch before a hyperband
milestone, a trial stopped at a milestone) is it retrained, bitwise the same run, from its seed.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Experiment
from .ensemble import make_ensemble
from .ensemble_spec import json_number as clean
from .errors import SweepError
from .modelfile import load_model_file, savable
from .plan import KeepModel, TrialSpec, tasks_of
from .results.ranking import best_row
from .results.records import history_records, read_history_table, read_trial_records
from .results.candidates import candidate_path, load_candidate, remove_candidates
from .results.files import BEST_DIR, MODEL_FILE
from .results.folders import best_record_problem, model_file_problem
from .results.proof import InDoubt, first_line, nonfinite_problem, rescore_problem
from .results.records import read_summary
from .results.store import write_best
from .status import OK, STOPPED
from .task import TrialResult, build_and_train, build_model, model_epoch, train_fused
from .trainer import evaluate


class BestBar:
    """The metric a trial must reach to possibly be the run's best model.

    The best model is the best repeat of the configuration the leaderboard ranks first. Once some
    configuration has every repeat recorded ``ok``, the configuration ranked first will be one whose
    repeats are all ``ok`` with a mean at least as good as that configuration's, so its best repeat
    is at least as good as that configuration's worst repeat: the best such worst repeat is the bar.
    (The worst repeat, not the mean, so that no rounding of a mean can put the best trial below it.)
    Before that there is no bar, and every scored trial sends its weights. The bar only rises and
    depends on what finished first, but the best trial reaches every bar it is given, so which
    model is kept does not. Should it not be kept anyway, :func:`finalize` retrains it.
    """

    def __init__(self, metric: str, maximize: bool):
        self.metric, self.maximize = metric, maximize
        self.members: dict[str, set[str]] = defaultdict(set)  # config_id -> trial ids asked
        self.values: dict[str, dict[str, float | None]] = defaultdict(dict)  # config_id -> trial id -> value (None: not ok)
        self.bar: float | None = None

    def asked(self, trials: list[TrialSpec]) -> None:
        for trial in trials:
            self.members[trial.config_id].add(trial.trial_id)

    def recorded(self, trial: TrialSpec, result: TrialResult) -> None:
        value = result.metrics.get(self.metric) if result.status == OK else None
        value = float(value) if value is not None and math.isfinite(value) else None
        self.values[trial.config_id][trial.trial_id] = value
        values = self.values[trial.config_id]
        if set(values) >= self.members[trial.config_id] and all(v is not None for v in values.values()):
            worst = min(values.values()) if self.maximize else max(values.values())
            if self.bar is None or (worst > self.bar if self.maximize else worst < self.bar):
                self.bar = worst

    def keep_model(self) -> KeepModel:
        """What a task dispatched now sends back."""
        return KeepModel(self.metric, self.maximize, self.bar)

    def may_be_best(self, value: float) -> bool:
        return self.keep_model().reaches(value)


def saved_best_problem(run_dir: Path) -> str | None:
    """Why ``best/`` does not hold the best model a call of this run saved, or None: its summary must be
    readable, name a trial recorded ``ok`` or ``stopped`` in trials.csv, and its model file must be the
    one the summary names by its SHA-256 (a kill between the two files' writes, a copied or edited
    ``best/``)."""
    try:
        summary = read_summary(run_dir)
    except SweepError as exc:
        return str(exc)
    path = Path(run_dir) / BEST_DIR / MODEL_FILE
    recorded = {row["trial_id"]: row["status"] for row in read_trial_records(run_dir)}
    if summary is None or recorded.get(summary["trial_id"]) not in (OK, STOPPED):
        return f"its summary names trial {str(summary and summary['trial_id'])[:40]}, not a scored trial of this run"
    if not path.is_file():
        return f"it has no {MODEL_FILE}"
    return model_file_problem(path, summary)


def spec_of(row: dict, table) -> TrialSpec:
    """The trial of a typed trials.csv row (a resumed search that did not ask for it again in this call);
    ``table``: the experiment's hyperparameters."""
    params = {name: table[name].check(row[name]) for name in table}
    return TrialSpec(row["trial_id"], row["config_id"], -1, int(row["repeat"]), int(row["seed"]), params)


def finalize(run_dir: Path, experiment: Experiment, trials: list[TrialSpec], data,
             check: bool = False, last: bool = True, warn=print) -> dict | None:
    """Save the best trial's model and measure its test accuracy once.

    The best trial is the best repeat of the configuration ranked first by the leaderboard. Its
    model is taken after its last epoch, where it was stopped if it was, or with metric
    ``best_val_acc`` at its best epoch. The weights are the ones the trial trained (``model_from:
    trial``); when they were not kept, the trial is retrained from its seed to that epoch
    (``model_from: retrain``; bitwise the same run by the epoch-prefix property). With ``check`` it
    is retrained anyway and ``reproduced`` says whether the retrain gave bitwise the same weights
    (and, for any retrain, the validation losses recorded by the sweep); without a retrain it is
    None. The validation and training figures of the summary are those recorded for that epoch.
    With ``last`` (no later call can change the best trial) the kept candidates are removed;
    otherwise they stay for the call that may pick another best (a resume, a retry of failed trials).
    Kept weights that do not prove to be the trial's are a line to ``warn``, and the trial is retrained.
    Returns the summary written to ``best/summary.json``, or None when no trial has a metric.
    """
    metric = experiment.metric
    rows = read_trial_records(run_dir)
    row = best_row(rows, metric.name, metric.maximize)
    if row is None:
        return None
    histories = history_records(read_history_table(run_dir))
    trained = trial_model(run_dir, experiment, trials, data, row, histories, warn, check)
    spec, epochs, net, recorded, typed = trained.spec, trained.epochs, trained.net, trained.records, trained.data
    kept, reproduced, seconds = trained.kept, trained.reproduced, trained.seconds
    test_loss, test_acc = evaluate(net, typed.X_test, typed.y_test)
    final = recorded[-1]
    summary = {
        "trial_id": spec.trial_id, "config_id": spec.config_id, "repeat": spec.repeat, "seed": spec.seed,
        "params": spec.params, "epochs_trained": epochs,
        "metric": {"name": metric.name, "goal": metric.goal, "value": clean(row[metric.name])},
        "val_acc": clean(final["val_acc"]), "val_loss": clean(final["val_loss"]),
        "train_acc": clean(final["train_acc"]), "train_loss": clean(final["train_loss"]),
        "test_acc": clean(test_acc), "test_loss": clean(test_loss), "test_rows": int(len(typed.X_test)),
        "val_rows": int(len(typed.X_val)),  # n of the validation accuracy's standard error
        "model_from": "trial" if kept else "retrain", "reproduced": reproduced,
        "retrain_seconds": seconds,
        "dataset": experiment.dataset, "image_shape": list(data.image_shape) if data.image_shape else None,
        "class_names": list(data.class_names) if data.class_names else None,
    }
    write_best(run_dir, savable(net, experiment.model, spec.params, data), summary, data.preprocessing)
    make_ensemble(run_dir, experiment, data, rows, trained, summary,
                  lambda row: trial_model(run_dir, experiment, trials, data, row, histories, warn), warn)
    if last:
        recorded_ids = {r["trial_id"] for r in read_trial_records(run_dir)}
        remove_candidates(run_dir, {t.trial_id for t in trials} | recorded_ids)
    return summary


@dataclass
class TrainedTrial:
    """A scored trial's model as :func:`trial_model` gives it: ``net`` after ``epochs`` epochs, its
    per-epoch ``records`` to there, ``data`` in its dtype; ``kept`` whether the weights are the ones
    the run kept (else retrained), ``reproduced`` and ``seconds`` of a retrain (None without one)."""

    spec: TrialSpec
    epochs: int
    net: object
    records: list
    data: object
    kept: bool
    reproduced: bool | None = None
    seconds: float | None = None


def trial_model(run_dir: Path, experiment: Experiment, trials: list[TrialSpec], data, row: dict, histories: dict,
                warn=print, check: bool = False) -> TrainedTrial:
    """The model of the scored trial of trials.csv ``row``: taken after its last epoch (where it was
    stopped if it was), or at its best epoch with metric ``best_val_acc``; its kept weights when they
    prove to be its own (:func:`saved_weights`), else retrained from its seed (bitwise the same run).
    With ``check`` it is retrained anyway, and ``reproduced`` says whether that gave bitwise the kept
    weights and the recorded validation numbers. ``histories``: trial id -> its history.csv records."""
    spec = next((t for t in trials if t.trial_id == row["trial_id"]), None) or spec_of(row, experiment.table)
    recorded = histories.get(spec.trial_id, [])
    epochs = model_epoch(experiment.metric.name, row["best_epoch"],
                         len(recorded) if row["status"] == STOPPED else spec.params["epochs"])
    recorded = recorded[:epochs]
    typed = data.astype(spec.params["dtype"])
    net = build_model(spec.params, spec.seed, typed, experiment.model)
    kept = saved_weights(run_dir, spec.trial_id, epochs, net, typed, recorded[-1], warn) \
        if recorded and len(recorded) == epochs else None
    reproduced, seconds = None, None
    if kept is None or check:
        start = time.perf_counter()
        retrained, history = retrain(spec, epochs, experiment, trials, typed)
        seconds = round(time.perf_counter() - start, 3)
        reproduced = _without_seconds(history.records) == _without_seconds(recorded)
        if kept is None:
            net, recorded = retrained, history.records
        else:
            reproduced = reproduced and all(np.array_equal(net.params[k], retrained.params[k]) for k in net.params)
    return TrainedTrial(spec, epochs, net, recorded, typed, kept is not None, reproduced, seconds)


def _without_seconds(records: list[dict]) -> list[dict]:
    """Per-epoch records without their wall times: what a bitwise retrain must give again."""
    return [{k: v for k, v in record.items() if k != "seconds"} for record in records]


def retrain(spec: TrialSpec, epochs: int, experiment: Experiment, trials: list[TrialSpec], data):
    """``(net, history)`` of trial ``spec`` trained again to ``epochs``, as the sweep trained it.

    In a fused sweep (``fuse``) the trial's minibatch order is its repeat's, and when it trained in
    a group the whole group is trained again (until the trial reaches ``epochs``): a member's numbers
    depend on the shapes of the group's products (see :mod:`sweep.fused`), so only that gives
    bitwise its weights.
    """
    task = next((task for task in tasks_of(trials, experiment) for t in task.trials if t.trial_id == spec.trial_id),
                None) if experiment.fuse > 1 else None
    if task is None or not task.members:
        return build_and_train(spec.params, spec.seed, data, epochs,
                               batch_seed=None if task is None else task.batch_seed, model=experiment.model)
    [k] = [k for k, m in enumerate(task.members) if any(t.trial_id == spec.trial_id for t in m.trials)]
    reached = []  # not empty once member k has trained ``epochs`` epochs: the group stops there

    def note(member: int, epoch: int, net, record: dict) -> None:
        if member == k and epoch == epochs:
            reached.append(epoch)

    with np.errstate(all="ignore"):
        nets, histories = train_fused(task, data, callback=note, stop=lambda: bool(reached))
    return nets[k], histories[k].prefix(epochs)


def saved_weights(run_dir: Path, trial_id: str, epochs: int, net, data, record: dict, warn) -> dict | None:
    """The weights ``trial_id`` trained for ``epochs`` epochs, when the run kept them and they prove to
    be its own; they are then ``net``'s weights.

    Kept are a candidate, or the best model already saved (a resumed search whose best did not
    change). They prove to be the trial's when their file holds exactly the arrays of the trial's
    network (``net``), finite, the saved best model's file is the one ``summary.json`` names by its
    SHA-256, and they score on the validation split (``data``, in the net's dtype) what the run
    recorded for that epoch (``record``). Weights in doubt are a line to ``warn``, and None is
    returned: the caller retrains the trial.
    """
    model = Path(run_dir) / BEST_DIR / MODEL_FILE
    sources = ((candidate_path(run_dir, trial_id), lambda: load_candidate(run_dir, trial_id, epochs, net.params)),
               (model, lambda: _saved_best(run_dir, trial_id, epochs, net.params)))
    for path, load in sources:
        try:
            weights = load()
            if weights is None:
                continue
            net.params = {name: np.ascontiguousarray(weights[name]) for name in net.params}
            problem = rescore_problem(net, data, record)
            if problem:
                raise InDoubt(problem)
            return weights
        except Exception as exc:  # noqa: BLE001 - any doubt about kept weights means a retrain, never a crash
            why = str(exc) if isinstance(exc, InDoubt) else f"it cannot be read ({first_line(exc)})"
            warn(f"warning: {path}: not used as the model of trial {trial_id}, {why}; the trial is retrained "
                 "from its seed")
    return None


def _saved_best(run_dir: Path, trial_id: str, epochs: int, params: dict[str, np.ndarray]) -> dict | None:
    """The weights of the best model saved by an earlier call, when it is ``trial_id``'s after ``epochs``
    epochs; InDoubt when its record (the summary) does not carry the seal of this user's sweeps, its
    file is not the one the summary names, or is not shaped like ``params``."""
    try:
        summary = read_summary(run_dir)
    except SweepError:
        return None  # damaged: nothing says whose model it is
    path = Path(run_dir) / BEST_DIR / MODEL_FILE
    if not summary or summary["trial_id"] != trial_id or summary.get("epochs_trained") != epochs or \
            not path.is_file():
        return None
    problem = best_record_problem(summary) or model_file_problem(path, summary)
    if problem:
        raise InDoubt(problem)
    weights = dict(load_model_file(path).params)
    if any(weights[name].shape != value.shape or weights[name].dtype != value.dtype for name, value in params.items()):
        raise InDoubt("its arrays are not shaped as the trial's network")
    problem = nonfinite_problem(weights)
    if problem:
        raise InDoubt(problem)
    return weights

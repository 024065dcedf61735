"""What a worker runs: one task = one seeded training run that scores each of its trials.

This module is imported in worker processes; it depends only on the network, the trainer and the
plan's small dataclasses.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import replace

import numpy as np
from threadpoolctl import threadpool_limits

from .nn import TwoLayerNet
from .nn.builtin import builtin_net
from .plan import TaskSpec, TrialSpec
from .status import COMPLETED, CRASHED, DIVERGED, FAILED, OK, PAUSED, STOPPED  # noqa: F401 - re-exported for the callers
from .params import TRAINER_NAMES
from .programs.run import run_program
from .trainer import History, TrainState, train
from .trial_result import TrialResult, failed_result, worker_name  # noqa: F401 - re-exported for the callers

#: BLAS threads per trial. OpenBLAS rounds differently with 1 and 2 threads, so a fixed count is what
#: makes results identical whatever n_jobs is; parallelism comes from running trials side by side.
BLAS_THREADS_PER_TRIAL = 1


def process_identity() -> dict:
    """What a Dask probe asks each process: the sweep and NumPy it imports, where it runs, the
    glibc trim threshold set in its environment (Dask's nanny sets one; see sweep.pools.malloc),
    and whether Dask's statistical profiler samples its threads (None outside Dask)."""
    import sweep

    dask = sys.modules.get("dask")
    profiling = dask.config.get("distributed.worker.profile.enabled", None) if dask is not None else None
    return {"sweep": sweep.__version__, "numpy": np.__version__, "worker": worker_name(),
            "malloc_trim_threshold": os.environ.get("MALLOC_TRIM_THRESHOLD_"), "dask_profiler": profiling}


def model_seeds(seed: int) -> tuple[int, int]:
    """Two independent seeds from a trial seed: one for the initial weights, one for the minibatches."""
    init_seed, batch_seed = np.random.SeedSequence(seed).generate_state(2, dtype=np.uint32)
    return int(init_seed), int(batch_seed)


def build_net(params: dict, seed: int, data):
    """The trial's built-in net from its hyperparameters, initialised from its seed (untrained): built
    as a user's model is, by its constructor (:func:`~sweep.nn.builtin.builtin_net`) with every
    hyperparameter the trainer does not take."""
    init_seed, _ = model_seeds(seed)
    hyperparameters = {name: value for name, value in params.items() if name not in TRAINER_NAMES}
    return builtin_net(data.input_dim, data.num_classes, dtype=params["dtype"], seed=init_seed, **hyperparameters)


def build_model(params: dict, seed: int, data, model=None):
    """The trial's model from its hyperparameters, initialised from its seed (untrained): the built-in
    net, or the user's ``model`` (a :class:`~sweep.models.ModelSource`) built as its contract says,
    with every hyperparameter the trainer does not take; its arrays in the trial's dtype."""
    if model is None:
        return build_net(params, seed, data)
    from .models import build_model as construct

    init_seed, _ = model_seeds(seed)
    hyperparameters = {name: value for name, value in params.items() if name not in TRAINER_NAMES}
    net = construct(model.load(), hyperparameters, data.input_dim, data.num_classes, params["dtype"], init_seed)
    dtype = np.dtype(params["dtype"])
    for name, value in net.params.items():  # a constructor that does not take dtype (CS231n's float64)
        if isinstance(value, np.ndarray) and value.dtype != dtype and value.dtype.kind == "f":
            net.params[name] = value.astype(dtype)
    return net


def build_and_train(params: dict, seed: int, data, epochs: int, deadline: float | None = None,
                    resume: TrainState | None = None, pause_at: int | None = None,
                    callback=None, batch_seed: int | None = None, model=None) -> tuple[TwoLayerNet, History]:
    """Create the trial's network from its hyperparameters and train it for ``epochs`` epochs, or
    until the first epoch boundary after ``deadline`` (``time.time()`` seconds) has passed;
    ``resume`` and ``pause_at`` continue from and pause at a milestone, ``callback(epoch, net,
    record)`` is called after each epoch (see :func:`~sweep.trainer.train`). The minibatch order
    comes from ``batch_seed``, by default from ``seed`` (see :class:`~sweep.plan.TaskSpec`). ``model``:
    the user's model (see :func:`build_model`)."""
    if batch_seed is None:
        _, batch_seed = model_seeds(seed)
    with threadpool_limits(limits=BLAS_THREADS_PER_TRIAL):
        net = build_model(params, seed, data, model)
        history = train(net, data, optimizer=params["optimizer"], learning_rate=params["learning_rate"],
                        lr_decay=params["lr_decay"], batch_size=params["batch_size"], epochs=epochs,
                        seed=batch_seed, momentum=params["momentum"],
                        stop=None if deadline is None else lambda: time.time() >= deadline,
                        resume=resume, pause_at=pause_at, callback=callback)
    return net, history


def run_task(task: TaskSpec, data) -> list[TrialResult]:
    """Train ``task`` once to its largest ``epochs`` and score each of its trials from the history.

    An exception gives every trial of the task a ``failed`` result carrying the error; it never
    propagates (a worker that dies outright is the runner's business). A fused group goes to
    :func:`run_group`.
    """
    if task.program is not None:
        return run_program(task, data)
    if task.members:
        return run_group(task, data)
    keeper = ModelKeeper(task) if task.keep_model is not None else None
    try:
        data.realign()
        with np.errstate(all="ignore"):  # overflow on the way to divergence is reported as a status
            _, history = build_and_train({**task.params, "epochs": task.max_epochs}, task.seed, data,
                                         task.max_epochs, task.deadline, task.checkpoint, task.pause_at,
                                         callback=keeper, batch_seed=task.batch_seed, model=task.model)
    except Exception as exc:  # noqa: BLE001 - any error inside a trial is recorded, not raised
        results = [failed_result(t, exc, model=task.model) for t in task.trials]
    else:
        if history.checkpoint is not None:  # paused at a milestone: no trial is finished
            return [TrialResult(t.trial_id, PAUSED, {}, history.records, worker=worker_name(),
                                checkpoint=history.checkpoint) for t in task.trials]
        results = [score_trial(t, history) for t in task.trials]
        if keeper is not None:
            keeper.attach(results)
    for result in results:
        result.worker = worker_name()
    return results


def train_fused(task: TaskSpec, data, callback=None, stop=None) -> tuple[list, list[History]]:
    """Build the nets of fused group ``task`` from their seeds and train them in one pass
    (:func:`~sweep.fused.train_group`, with ``callback`` and ``stop`` as it takes them);
    return ``(nets, histories)`` in the order of ``task.members``."""
    from .fused import Member, train_group

    with threadpool_limits(limits=BLAS_THREADS_PER_TRIAL):
        members = [Member(build_net(m.params, m.seed, data), m.params["learning_rate"], m.max_epochs,
                          m.params["lr_decay"], m.params["momentum"]) for m in task.members]
        histories = train_group(members, data, optimizer=task.params["optimizer"],
                                batch_size=task.params["batch_size"], seed=task.batch_seed,
                                callback=callback, stop=stop)
    return [m.net for m in members], histories


def run_group(task: TaskSpec, data) -> list[TrialResult]:
    """Train a fused group's runs in one pass and score the trials of ``task.trials`` (those still to
    record; the group trains whole, so its numbers stay those of the planned group). A member that
    diverges leaves the group; an exception fails every trial, as in :func:`run_task`.
    """
    wanted = {t.trial_id for t in task.trials}
    keepers = [ModelKeeper(replace(m, keep_model=task.keep_model)) if task.keep_model is not None else None
               for m in task.members]
    try:
        data.realign()
        with np.errstate(all="ignore"):
            _, histories = train_fused(task, data,
                                       callback=None if task.keep_model is None else
                                       lambda k, epoch, net, record: keepers[k](epoch, net, record),
                                       stop=None if task.deadline is None else lambda: time.time() >= task.deadline)
    except Exception as exc:  # noqa: BLE001 - as run_task
        results = [failed_result(t, exc) for t in task.trials]
    else:
        results = []
        for member, history, keeper in zip(task.members, histories, keepers):
            scored = [score_trial(t, history) for t in member.trials if t.trial_id in wanted]
            if keeper is not None:
                keeper.attach(scored)
            results += scored
    for result in results:
        result.worker = worker_name()
    return results


def model_epoch(metric: str, best_epoch: int, epochs_trained: int) -> int:
    """The epoch whose weights are a trial's model: its best epoch with metric ``best_val_acc``,
    else the last it trained (its ``epochs``, or where it was stopped)."""
    return int(best_epoch) if metric == "best_val_acc" else int(epochs_trained)


class ModelKeeper:
    """The weights each trial of a task may be judged best by, copied while the task trains.

    A trial's model is taken after its last epoch (up to its own ``epochs``), or at its best epoch
    with metric ``best_val_acc`` (the first with the highest ``val_acc``, as :func:`score_trial`
    picks it). Used as the trainer's callback; :meth:`attach` then hands the model of each trial
    whose metric reaches the task's bar to its result. A best epoch from before a resumed
    checkpoint was not seen here, so such a trial sends nothing (the runner retrains it if it is
    the best).
    """

    def __init__(self, task: TaskSpec):
        self.keep, self.trials = task.keep_model, task.trials
        self.last: dict[str, tuple[int, dict]] = {}
        self.best: dict[str, tuple[int, dict | None]] = {}
        self.best_acc: dict[str, float] = {}
        earlier = task.checkpoint.records if task.checkpoint is not None else []
        for trial in self.trials:
            accs = [r["val_acc"] for r in earlier[:trial.params["epochs"]] if math.isfinite(r["val_acc"])]
            self.best_acc[trial.trial_id] = max(accs, default=-math.inf)

    def __call__(self, epoch: int, net, record: dict) -> None:
        weights = None
        for trial in self.trials:
            if epoch > trial.params["epochs"]:
                continue
            weights = weights or {name: value.copy() for name, value in net.params.items()}
            self.last[trial.trial_id] = (epoch, weights)
            if self.keep.metric == "best_val_acc" and record["val_acc"] > self.best_acc[trial.trial_id]:
                self.best_acc[trial.trial_id] = record["val_acc"]
                self.best[trial.trial_id] = (epoch, weights)

    def attach(self, results: list[TrialResult]) -> None:
        for result in results:
            if result.status not in (OK, STOPPED) or not self.keep.reaches(result.metrics[self.keep.metric]):
                continue
            epoch = model_epoch(self.keep.metric, result.metrics["best_epoch"], len(result.history))
            kept = (self.last.get(result.trial_id), self.best.get(result.trial_id))
            for kept_epoch, weights in (k for k in kept if k is not None):
                if kept_epoch == epoch:
                    result.model, result.model_epoch = weights, epoch
                    break


def score_trial(trial: TrialSpec, history: History) -> TrialResult:
    """The result of ``trial`` from a (possibly longer) history of its training run."""
    own = history.prefix(trial.params["epochs"])
    records = own.records
    last = records[-1]
    completed = [r for r in records if math.isfinite(r["val_loss"])]
    if completed and math.isfinite(completed[0]["val_acc"]):
        best = max(completed, key=lambda r: r["val_acc"])
    elif completed:
        best = min(completed, key=lambda r: r["val_loss"])
    else:
        best = None
    metrics = {
        "train_loss": last["train_loss"], "train_acc": last["train_acc"],
        "val_loss": last["val_loss"], "val_acc": last["val_acc"],
        "best_val_acc": best["val_acc"] if best else math.nan,
        "best_epoch": best["epoch"] if best else 0,
        "seconds": sum(r["seconds"] for r in records),
    }
    if own.diverged:
        status, error = DIVERGED, f"training diverged in epoch {own.diverged_epoch} (non-finite loss)"
    elif own.stopped:
        status, error = STOPPED, f"stopped by the time limit after epoch {len(records)} of {trial.params['epochs']}"
    else:
        status, error = OK, ""
    return TrialResult(trial.trial_id, status, metrics, records, error)

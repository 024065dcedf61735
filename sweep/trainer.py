"""The trainer: seeded minibatch training of a model (CS231n's Solver).

A model is anything with CS231n's contract: ``model.params`` (a dict of arrays), ``model.loss(X)``
-> scores (N, C), ``model.loss(X, y)`` -> ``(loss, grads)`` with ``grads`` keyed like ``params``.
The built-in nets (:mod:`sweep.nn`) are such models; they also score large arrays in chunks
(``scores``), name their loss (``loss_name``) and draw their dropout masks from a generator the
trainer passes (``takes_rng``). A user's model may draw from NumPy's global generator instead
(``np.random.rand`` masks, as CS231n's code does): the trainer seeds it from the run's seed and
saves it with a paused run, so such a model is as reproducible as the built-in ones.

Determinism: every random draw comes from ``np.random.default_rng(seed)`` (and, for a model
that uses it, NumPy's global generator seeded from ``seed``); the same model, data and seed give
bitwise the same history. The learning rate of epoch ``e`` (0-based) is
``learning_rate * lr_decay**e`` and each epoch draws its own permutation, so the model after epoch
``k`` of an ``N``-epoch run is exactly the model of a ``k``-epoch run: the sweep scores several
``epochs`` values from one run (see :meth:`History.prefix`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .nn.layers import LOSSES
from .nn.net import EVAL_CHUNK_ROWS
from .nn.optim import UPDATE_RULES
from .status import DIVERGED, OK, STOPPED

#: At most this many training rows are scored for ``train_acc`` each epoch (a fixed subsample).
TRAIN_ACC_ROWS = 10_000
#: Seed of the fixed ``train_acc`` subsample: the same rows for every trial on the same data.
_TRAIN_ACC_SUBSAMPLE_SEED = 0

STATUS_OK, STATUS_DIVERGED, STATUS_STOPPED = OK, DIVERGED, STOPPED


@dataclass
class TrainState:
    """Everything a run paused after ``epoch`` epochs needs to go on bitwise as if it had not paused:
    the weights, each update rule's state (velocities, moments; learning rates are set per epoch),
    the minibatch generator's state (and NumPy's global one, ``np.random.get_state()``, for a model
    that draws from it) and the records so far."""

    epoch: int
    params: dict
    configs: dict
    rng_state: dict
    records: list
    global_rng_state: tuple | None = None  # NumPy's global generator, for a model that draws from it


@dataclass
class History:
    """Per-epoch records of one training run.

    ``records[k]`` describes epoch ``k + 1``: ``epoch`` (1-based), ``train_loss`` (mean objective,
    data loss plus L2 penalty, over the epoch's minibatches), ``train_acc`` (on a fixed subsample of
    at most 10,000 training rows), ``val_loss`` (mean data loss on the validation split, without the
    penalty, so it compares across ``reg``), ``val_acc``, ``lr`` (the epoch's learning rate) and
    ``seconds`` (wall time of the epoch, evaluation included). Accuracies are NaN for real-valued
    targets.

    ``status`` is ``"ok"``, ``"diverged"`` or ``"stopped"``. A run diverges when a minibatch loss, or
    the validation loss at the end of an epoch, is not finite; training stops at once and
    ``diverged_epoch`` is the 1-based epoch where it happened, whose record has NaN metrics. A run is
    stopped when ``train``'s ``stop()`` said so at the end of an epoch before the last: its records
    end there.
    """

    records: list[dict] = field(default_factory=list)
    status: str = STATUS_OK
    diverged_epoch: int | None = None
    checkpoint: TrainState | None = None  # set when the run paused at ``pause_at``

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]

    def __iter__(self):
        return iter(self.records)

    @property
    def diverged(self) -> bool:
        return self.status == STATUS_DIVERGED

    @property
    def stopped(self) -> bool:
        return self.status == STATUS_STOPPED

    def prefix(self, epochs: int) -> "History":
        """The history a run of ``epochs`` epochs with the same seed would have produced."""
        records = [dict(r) for r in self.records[:epochs]]
        if self.diverged and self.diverged_epoch <= epochs:
            return History(records, STATUS_DIVERGED, self.diverged_epoch)
        if len(records) < epochs and self.stopped:
            return History(records, STATUS_STOPPED, None)
        if len(records) < epochs:
            raise ValueError(f"history has {len(self.records)} epochs, cannot give a prefix of {epochs}")
        return History(records, STATUS_OK, None)

    def to_frame(self):
        """The records as a pandas DataFrame, one row per epoch."""
        import pandas as pd

        return pd.DataFrame.from_records(self.records)


def train(net, data, *, optimizer: str = "sgd", learning_rate: float = 1e-3, lr_decay: float = 1.0,
          batch_size: int = 200, epochs: int = 10, seed: int = 0, momentum: float | None = None,
          optim_config: dict | None = None, train_acc_rows: int = TRAIN_ACC_ROWS, callback=None,
          stop: Callable[[], bool] | None = None, resume: TrainState | None = None,
          pause_at: int | None = None, verbose: bool = False) -> History:
    """Train ``net`` in place on ``data`` and return its :class:`History`.

    ``data`` is a :class:`~sweep.data.Dataset` (or anything with ``X_train, y_train, X_val, y_val``).
    Each epoch visits every training row once, in minibatches of ``batch_size`` (the last may be
    smaller) drawn from a fresh permutation. ``optimizer`` names an update rule of
    :mod:`sweep.nn.optim`; ``momentum`` (for sgd_momentum / nesterov) and ``optim_config`` (any other
    keys of the rule) are passed to it. ``callback(epoch, net, record)`` is called after each epoch;
    ``stop()``, at the end of each epoch but the last, ends training early when it returns True
    (a time limit): the history is then ``stopped``.

    ``pause_at`` (an epoch before the last) ends the call there with the run's state in
    ``history.checkpoint``; ``resume`` continues from such a state (``net`` is overwritten with its
    weights), and the epochs it then trains, and their records, are bitwise those of a run that
    never paused.
    """
    if optimizer not in UPDATE_RULES:
        raise ValueError(f"optimizer must be one of {tuple(UPDATE_RULES)}, got {optimizer!r}")
    for name, value in (("learning_rate", learning_rate), ("lr_decay", lr_decay)):
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if int(batch_size) != batch_size or batch_size < 1 or int(epochs) != epochs or epochs < 1:
        raise ValueError(f"batch_size and epochs must be positive integers, got {batch_size!r}, {epochs!r}")
    update = UPDATE_RULES[optimizer]

    X, y, batch_size, X_acc, y_acc = training_rows(data, batch_size, train_acc_rows)
    n_train = len(X)

    rng = np.random.default_rng(seed)
    configs = {}
    for name in net.params:
        config = dict(optim_config or {})
        if momentum is not None:
            config["momentum"] = momentum
        configs[name] = config
    batch_X = np.empty((batch_size,) + X.shape[1:], dtype=X.dtype)
    batch_y = np.empty((batch_size,) + y.shape[1:], dtype=y.dtype)

    takes_rng = getattr(net, "takes_rng", False)
    drops_units = takes_rng and bool(getattr(net, "dropout", 0.0) or getattr(net, "input_dropout", 0.0))
    if not takes_rng:  # a model that may draw from NumPy's global generator: seeded from the run's seed
        np.random.seed(global_seed(seed))
    history, first_epoch = History(), 0
    if resume is not None:
        for name, value in resume.params.items():
            net.params[name] = np.array(value, dtype=net.params[name].dtype, copy=True)
        configs = {name: {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v) for k, v in c.items()}
                   for name, c in resume.configs.items()}
        rng.bit_generator.state = resume.rng_state
        if resume.global_rng_state is not None:
            np.random.set_state(resume.global_rng_state)
        history.records, first_epoch = [dict(r) for r in resume.records], resume.epoch
    for epoch in range(first_epoch, int(epochs)):
        start = time.perf_counter()
        lr = learning_rate * lr_decay**epoch
        for config in configs.values():
            config["learning_rate"] = lr
        order = rng.permutation(n_train)
        loss_sum, n_batches = 0.0, 0
        for begin in range(0, n_train, batch_size):
            idx = order[begin:begin + batch_size]
            n = len(idx)
            # Gather into reused, contiguous buffers. mode="clip" lets NumPy write straight into `out`
            # (with the default "raise" it gathers into a temporary first); a permutation is in range.
            xb = np.take(X, idx, axis=0, out=batch_X[:n], mode="clip")
            yb = np.take(y, idx, axis=0, out=batch_y[:n], mode="clip")
            loss, grads = net.loss(xb, yb, rng=rng) if drops_units else net.loss(xb, yb)
            loss = float(loss)
            if not math.isfinite(loss):
                return _diverged(history, epoch, lr, start, f"minibatch loss is {loss}", verbose)
            for name, w in net.params.items():
                dw = grads[name]
                if dw.dtype != w.dtype:  # a user's model may compute its gradients in another precision
                    dw = dw.astype(w.dtype)
                net.params[name], configs[name] = update(w, dw, configs[name])
            loss_sum += loss
            n_batches += 1

        train_acc = _accuracy(net, X_acc, y_acc)
        val_loss, val_acc = evaluate(net, data.X_val, data.y_val)
        if not math.isfinite(val_loss):  # the epoch's last updates overflowed the weights
            return _diverged(history, epoch, lr, start, f"validation loss is {val_loss}", verbose)
        record = _record(epoch + 1, loss_sum / n_batches, train_acc, val_loss, val_acc, lr,
                         time.perf_counter() - start)
        history.records.append(record)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: loss {record['train_loss']:.4f} train_acc {train_acc:.4f} "
                  f"val_loss {val_loss:.4f} val_acc {val_acc:.4f} lr {lr:.3g}")
        if callback is not None:
            callback(epoch + 1, net, record)
        if stop is not None and epoch + 1 < epochs and stop():
            history.status = STATUS_STOPPED
            break
        if pause_at is not None and epoch + 1 == pause_at and epoch + 1 < epochs:
            history.checkpoint = TrainState(epoch + 1, {k: v.copy() for k, v in net.params.items()}, configs,
                                            rng.bit_generator.state, [dict(r) for r in history.records],
                                            None if takes_rng else np.random.get_state())
            break
    return history


def _diverged(history: History, epoch: int, lr: float, start: float, why: str, verbose: bool) -> History:
    """Close ``history`` as diverged in 0-based ``epoch``: a last record with NaN metrics."""
    history.records.append(_record(epoch + 1, math.nan, math.nan, math.nan, math.nan, lr,
                                   time.perf_counter() - start))
    history.status, history.diverged_epoch = STATUS_DIVERGED, epoch + 1
    if verbose:
        print(f"epoch {epoch + 1}: {why}, training diverged")
    return history


def global_seed(seed: int) -> int:
    """The seed of NumPy's global generator in a run seeded ``seed`` (for a model that draws from it);
    derived, so that the run's own generator draws what it draws for any model."""
    return int(np.random.SeedSequence([int(seed), 0x676C6F62]).generate_state(1, dtype=np.uint32)[0])


def scores_of(net, X: np.ndarray) -> np.ndarray:
    """The scores (N, C) of ``net`` on ``X``, computed in chunks of :data:`~sweep.nn.net.EVAL_CHUNK_ROWS`
    rows (a built-in net does it itself; a user's model through ``loss(X)``)."""
    if hasattr(net, "scores"):
        return net.scores(X)
    if len(X) <= EVAL_CHUNK_ROWS:
        return np.asarray(net.loss(X))
    return np.concatenate([np.asarray(net.loss(X[i:i + EVAL_CHUNK_ROWS])) for i in range(0, len(X), EVAL_CHUNK_ROWS)])


def loss_name_of(net, y: np.ndarray) -> str:
    """The data loss ``val_loss`` measures: the built-in net's own; for a user's model softmax
    cross-entropy of its scores (squared error against real-valued (N, C) targets)."""
    return getattr(net, "loss_name", None) or ("softmax" if y.ndim == 1 else "mse")


def evaluate(net, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean data loss (no regularization: :func:`loss_name_of`) and accuracy of ``net`` on ``(X, y)``.

    Accuracy is NaN for real-valued (N, C) targets; both are NaN for an empty set.
    """
    if len(X) == 0:
        return math.nan, math.nan
    scores = scores_of(net, X)  # (N, C), computed in chunks of rows
    loss = float(LOSSES[loss_name_of(net, y)](scores, y)[0])
    accuracy = float(np.mean(scores.argmax(axis=1) == y)) if y.ndim == 1 else math.nan
    return loss, accuracy


def _accuracy(net, X, y) -> float:
    if y.ndim != 1:
        return math.nan
    return float(np.mean(scores_of(net, X).argmax(axis=1) == y))


def training_rows(data, batch_size: int, train_acc_rows: int = TRAIN_ACC_ROWS):
    """``(X, y, batch_size, X_acc, y_acc)``: the training split (checked non-empty, labels matching),
    the batch size capped at its rows, and the fixed subsample ``train_acc`` is scored on."""
    X, y = data.X_train, data.y_train
    n_train = len(X)
    if n_train == 0:
        raise ValueError("the training split is empty")
    if len(y) != n_train:
        raise ValueError(f"X_train has {n_train} rows but y_train has {len(y)}")
    acc_rows = _train_acc_rows(n_train, train_acc_rows)
    X_acc, y_acc = (X, y) if acc_rows is None else (X[acc_rows], y[acc_rows])
    return X, y, min(int(batch_size), n_train), X_acc, y_acc


def _train_acc_rows(n_train: int, limit: int) -> np.ndarray | None:
    """Sorted indices of the fixed train-accuracy subsample, or None when every row is used."""
    if n_train <= limit:
        return None
    rng = np.random.default_rng(_TRAIN_ACC_SUBSAMPLE_SEED)
    return np.sort(rng.choice(n_train, size=limit, replace=False))


def _record(epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds) -> dict:
    return {"epoch": epoch, "train_loss": float(train_loss), "train_acc": float(train_acc),
            "val_loss": float(val_loss), "val_acc": float(val_acc), "lr": float(lr),
            "seconds": float(seconds)}

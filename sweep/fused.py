"""Fused training: a group of two-layer nets trained on one minibatch stream in one pass.

The members of a group share the data, the batch size, the dtype, the update rule and the order of
the minibatches (drawn from the group's seed: common random numbers); each has its own hidden size,
initial weights, learning rate and its decay, L2 strength, momentum and number of epochs. Their
first layers are held as one ``(D, sum of H)`` matrix, so a minibatch costs one ``X @ W1`` and one
``X.T @ dA`` for the whole group instead of one narrow product per member; the second layers,
``(H_k, C)`` each, stay per member.

**What a member's numbers depend on.** OpenBLAS computes a column block of a wide product with
other kernels than the same block alone (measured on this machine: relative differences up to
6e-7 in float32), and the fused update rules take learning rate and momentum as vectors where the
single-net rules use BLAS axpy. So a member trained in a group agrees with the same net trained
alone on the same minibatch order (:func:`~sweep.trainer.train` with ``seed`` = the group's seed)
to float32 rounding, not bitwise. Within a group, a member's numbers never depend on the values of
the others: each output column of the products reads only its own member's columns, and the shapes
stay fixed while the group trains (a member that diverges or reaches its last epoch keeps its
columns, zeroed). So which trials form a group must be fixed in advance (by the plan, never by
which worker is free) for results to be the same whatever the pool.

Supported: ReLU, softmax, no dropout, update rules :data:`FUSABLE_OPTIMIZERS`. Evaluation after
each epoch is per member, exactly as :func:`~sweep.trainer.train` does it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .nn.layers import softmax_loss
from .nn.optim import UPDATE_RULES
from .status import DIVERGED, STOPPED
from .trainer import TRAIN_ACC_ROWS, History, _accuracy, _diverged, _record, evaluate, training_rows

#: Update rules whose fused form is implemented (the others keep per-net state of another shape).
FUSABLE_OPTIMIZERS = ("sgd", "sgd_momentum", "nesterov")


@dataclass
class Member:
    """One net of a group and the hyperparameters it does not share with the others."""

    net: object  # a TwoLayerNet: trained in place
    learning_rate: float
    epochs: int
    lr_decay: float = 1.0
    momentum: float = 0.9


def fusable(net, optimizer: str) -> bool:
    """Whether ``net`` can train in a fused group with ``optimizer``."""
    return (optimizer in FUSABLE_OPTIMIZERS and net.activation == "relu" and net.loss_name == "softmax"
            and not getattr(net, "dropout", 0.0) and not getattr(net, "input_dropout", 0.0))


def fusable_params(params: dict) -> bool:
    """Whether a training run with these hyperparameters can train in a fused group (as :func:`fusable`)."""
    return (params["optimizer"] in FUSABLE_OPTIMIZERS and params["activation"] == "relu"
            and params["loss"] == "softmax" and not params["dropout"] and not params["input_dropout"])


class _Group:
    """The group's fused first layer and its update state; the members' second layers stay in their nets."""

    def __init__(self, members: list[Member], optimizer: str):
        nets = [m.net for m in members]
        self.dtype = nets[0].dtype
        self.sizes = [net.hidden_dim for net in nets]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).tolist()
        self.W1 = np.concatenate([net.params["W1"] for net in nets], axis=1)  # (D, sum H)
        self.b1 = np.concatenate([net.params["b1"] for net in nets])  # (sum H,)
        self.reg = self.columns([net.reg for net in nets])
        self.momentum = self.columns([m.momentum for m in members])
        self.one_plus_momentum = 1 + self.momentum
        self.optimizer = optimizer
        self.velocity = (np.zeros_like(self.W1), np.zeros_like(self.b1))
        # (lr * dw, a temporary) for W1 and for b1; the gradient of W1
        self.scratch = tuple((np.empty_like(p), np.empty_like(p)) for p in (self.W1, self.b1))
        self.dW1 = np.empty_like(self.W1)

    def columns(self, values) -> np.ndarray:
        """A per-member value repeated over that member's hidden columns: (sum H,) in the group's dtype."""
        return np.repeat(np.asarray(values, dtype=self.dtype), self.sizes)

    def block(self, k: int) -> slice:
        return slice(self.offsets[k], self.offsets[k + 1])

    def update_first_layer(self, dW1: np.ndarray, db1: np.ndarray, lr: np.ndarray) -> None:
        """One step of the update rule on W1 and b1, with per-column learning rates ``lr`` (sum H,).

        Products go through scratch arrays of the parameter's shape: nothing is allocated per minibatch."""
        mu = self.momentum
        for w, dw, v, (step, tmp) in ((self.W1, dW1, self.velocity[0], self.scratch[0]),
                                      (self.b1, db1, self.velocity[1], self.scratch[1])):
            np.multiply(dw, lr, out=step)  # lr * dw
            if self.optimizer == "sgd":
                w -= step
            elif self.optimizer == "sgd_momentum":
                v *= mu
                v -= step
                w += v
            else:  # nesterov, in CS231n's look-ahead form (see sweep.nn.optim.nesterov)
                np.multiply(v, mu, out=tmp)
                w -= tmp  # w -= mu * v_prev
                v *= mu
                v -= step  # v = mu * v - lr * dw
                np.multiply(v, self.one_plus_momentum, out=tmp)
                w += tmp  # w += (1 + mu) * v

    def add_l2_gradient(self, dW1: np.ndarray) -> None:
        """``dW1 += reg * W1`` with each member's ``reg`` on its columns."""
        tmp = self.scratch[0][1]
        np.multiply(self.W1, self.reg, out=tmp)
        dW1 += tmp

    def squared_norms(self) -> np.ndarray:
        """``sum(W1_k ** 2)`` of each member's block (K,), in one pass over W1."""
        per_column = np.einsum("ij,ij->j", self.W1, self.W1)
        return np.add.reduceat(per_column, self.offsets[:-1])

    def retire(self, k: int) -> None:
        """Member ``k`` stops training: its columns become zeros (the shapes, and so the others' numbers, stay)."""
        cols = self.block(k)
        for array in (self.W1, self.b1, *self.velocity):
            array[..., cols] = 0

    def write_back(self, k: int, net) -> None:
        """Copy member ``k``'s first layer into its net (contiguous arrays, as a net trained alone has)."""
        cols = self.block(k)
        net.params["W1"] = np.ascontiguousarray(self.W1[:, cols])
        net.params["b1"] = self.b1[cols].copy()


def train_group(members: list[Member], data, *, optimizer: str = "sgd_momentum", batch_size: int = 200,
                seed: int = 0, train_acc_rows: int = TRAIN_ACC_ROWS, callback=None,
                stop: Callable[[], bool] | None = None) -> list[History]:
    """Train every member's net in place on ``data``; return their histories, in the members' order.

    Every epoch draws one permutation of the training rows from ``np.random.default_rng(seed)`` for
    the whole group; member ``k``'s learning rate in epoch ``e`` is ``learning_rate * lr_decay**e``.
    A member whose loss stops being finite leaves the group (its history ends ``diverged`` as
    :func:`~sweep.trainer.train`'s would) and the others go on; a member whose ``epochs`` are done
    leaves with its final weights. The histories have the records of :class:`~sweep.trainer.History`;
    ``seconds`` is the group's epoch time divided among the members that trained in it.

    ``callback(k, epoch, net, record)`` is called after each epoch member ``k`` trained (its net
    holds that epoch's weights). ``stop()`` is asked at the end of each epoch some member has more
    epochs after; when it returns True, every member still training ends ``stopped`` there, as
    :func:`~sweep.trainer.train`'s ``stop`` does (a time limit).
    """
    if not members:
        return []
    nets = [m.net for m in members]
    first = nets[0]
    for m in members:
        if not fusable(m.net, optimizer):
            raise ValueError(f"{m.net!r} cannot train fused with {optimizer!r} (see sweep.fused.fusable)")
        if (m.net.input_dim, m.net.num_classes, m.net.dtype) != (first.input_dim, first.num_classes, first.dtype):
            raise ValueError("the members of a group must share input size, classes and dtype")
        if int(m.epochs) != m.epochs or m.epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {m.epochs!r}")
    update = UPDATE_RULES[optimizer]

    X, y, batch_size, X_acc, y_acc = training_rows(data, batch_size, train_acc_rows)
    n_train = len(X)

    group = _Group(members, optimizer)
    second = [{name: {"momentum": m.momentum} for name in ("W2", "b2")} for m in members]
    histories = [History() for _ in members]
    training = [True] * len(members)
    rng = np.random.default_rng(seed)
    batch_X = np.empty((batch_size,) + X.shape[1:], dtype=X.dtype)
    batch_y = np.empty((batch_size,) + y.shape[1:], dtype=y.dtype)
    hidden_buffer = np.empty((batch_size, group.W1.shape[1]), dtype=group.dtype)
    dhidden_buffer = np.zeros_like(hidden_buffer)
    any_reg = any(net.reg for net in nets)

    for epoch in range(max(int(m.epochs) for m in members)):
        start = time.perf_counter()
        lrs = [m.learning_rate * m.lr_decay**epoch for m in members]
        lr_columns = group.columns([lr if on else 0.0 for lr, on in zip(lrs, training)])
        for k, config in enumerate(second):
            for c in config.values():
                c["learning_rate"] = lrs[k]
        order = rng.permutation(n_train)
        loss_sums, n_batches = [0.0] * len(members), 0
        for begin in range(0, n_train, batch_size):
            idx = order[begin:begin + batch_size]
            n = len(idx)
            xb = np.take(X, idx, axis=0, out=batch_X[:n], mode="clip").reshape(n, -1)
            yb = np.take(y, idx, axis=0, out=batch_y[:n], mode="clip")
            hidden = np.matmul(xb, group.W1, out=hidden_buffer[:n])
            hidden += group.b1
            np.maximum(hidden, 0, out=hidden)
            dhidden = dhidden_buffer[:n]  # the columns of members that left stay zero
            norms = group.squared_norms() if any_reg else None
            for k, net in enumerate(nets):
                if not training[k]:
                    continue
                cols = group.block(k)
                h = hidden[:, cols]  # a strided view: BLAS reads it in place
                W2 = net.params["W2"]
                scores = h @ W2
                scores += net.params["b2"]
                loss, dscores = softmax_loss(scores, yb)
                if net.reg:
                    loss += 0.5 * net.reg * (float(norms[k]) + float(np.vdot(W2, W2)))
                if not math.isfinite(loss):
                    group.write_back(k, net)
                    _diverged(histories[k], epoch, lrs[k], start, f"minibatch loss is {loss}", False)
                    training[k] = False
                    group.retire(k)
                    dhidden_buffer[:, cols] = 0
                    lr_columns[cols] = 0
                    continue
                dhidden[:, cols] = dscores @ W2.T
                dW2 = h.T @ dscores
                if net.reg:
                    dW2 += net.dtype.type(net.reg) * W2
                db2 = dscores.sum(axis=0)
                net.params["W2"], second[k]["W2"] = update(W2, dW2, second[k]["W2"])
                net.params["b2"], second[k]["b2"] = update(net.params["b2"], db2, second[k]["b2"])
                loss_sums[k] += loss
            dhidden *= hidden > 0
            dW1 = np.matmul(xb.T, dhidden, out=group.dW1)
            if any_reg:
                group.add_l2_gradient(dW1)
            group.update_first_layer(dW1, dhidden.sum(axis=0), lr_columns)
            n_batches += 1

        trained = [k for k in range(len(members)) if training[k]]
        seconds = (time.perf_counter() - start) / max(len(trained), 1)
        for k in trained:
            net = nets[k]
            group.write_back(k, net)
            val_loss, val_acc = evaluate(net, data.X_val, data.y_val)
            if not math.isfinite(val_loss):
                _diverged(histories[k], epoch, lrs[k], start, f"validation loss is {val_loss}", False)
            else:
                record = _record(epoch + 1, loss_sums[k] / n_batches, _accuracy(net, X_acc, y_acc),
                                 val_loss, val_acc, lrs[k], seconds)
                histories[k].records.append(record)
                if callback is not None:
                    callback(k, epoch + 1, net, record)
            if histories[k].status == DIVERGED or epoch + 1 == members[k].epochs:
                training[k] = False
                group.retire(k)
                dhidden_buffer[:, group.block(k)] = 0
        if stop is not None and any(training) and stop():
            for k in (k for k in range(len(members)) if training[k]):
                histories[k].status = STOPPED
                training[k] = False
            break
    return histories

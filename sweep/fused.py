"""Fused training: a group of two-layer nets trained on one minibatch stream in one pass.

The members of a group share the data, the batch size, the dtype, the update rule and the order of
the minibatches (drawn from the group's seed: common random numbers); each has its own hidden size,
initial weights, learning rate and its decay, L2 strength, momentum and number of epochs. Their
first layers are held as one transposed ``(sum of H, D)`` matrix, so a minibatch costs one
``W1T @ X.T`` for the whole group instead of one narrow product per member; each member's rows are
contiguous, so its gradient product and update are BLAS calls with its own scalars (the product
writes straight into the velocity: :meth:`_Group.step`). The second layers, ``(H_k, C)`` each, stay
per member.

**What a member's numbers depend on.** OpenBLAS computes a block of rows of a tall product with
other kernels than the same block alone (measured on this machine: relative differences up to
6e-7 in float32), and the fused update folds learning rate, momentum and L2 into the gradient's
GEMM where the single-net rules take separate steps. So a member trained in a group agrees with the
same net trained alone on the same minibatch order (:func:`~sweep.trainer.train` with ``seed`` = the
group's seed) to float32 rounding, not bitwise. Within a group, a member's numbers never depend on
the values of the others: each output row of the forward product reads only its own member's rows,
the backward product and the update are the member's own, and the shapes stay fixed while the group
trains (a member that diverges or reaches its last epoch keeps its rows, zeroed). So which trials
form a group must be fixed in advance (by the plan, never by which worker is free) for results to be
the same whatever the pool.

Supported: ReLU, softmax, no dropout, update rules :data:`FUSABLE_OPTIMIZERS`. Evaluation after
each epoch is per member, exactly as :func:`~sweep.trainer.train` does it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .nn._blas import axpy, gemm_routine
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
            and params["loss"] == "softmax" and not params["dropout"] and not params["input_dropout"]
            and isinstance(params["hidden_size"], int) and params.get("num_layers", 1) == 1
            and params.get("normalization", "none") == "none")


class _Group:
    """The group's fused first layer and its update state; the members' second layers stay in their nets.

    The first layer is held transposed, ``W1T`` (sum of H, D): member ``k``'s weights are the
    contiguous rows :meth:`block` ``(k)``, so its update is a handful of BLAS calls with its own
    scalars (learning rate, momentum, L2), not elementwise passes with per-column vectors, and the
    gradient's product writes straight into the velocity (:meth:`step`).
    """

    def __init__(self, members: list[Member], optimizer: str):
        nets = [m.net for m in members]
        self.dtype = nets[0].dtype
        self.sizes = [net.hidden_dim for net in nets]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).tolist()
        self.W1T = np.ascontiguousarray(np.concatenate([net.params["W1"] for net in nets], axis=1).T)  # (sum H, D)
        self.b1 = np.concatenate([net.params["b1"] for net in nets])  # (sum H,)
        self.regs = [net.reg for net in nets]
        self.momenta = [m.momentum for m in members]
        self.optimizer = optimizer
        self.rule = UPDATE_RULES[optimizer]  # in place, on views: see sweep.nn.optim
        self.velocity = (np.zeros_like(self.W1T), np.zeros_like(self.b1))
        self.gradient = np.empty((max(self.sizes), self.W1T.shape[1]), dtype=self.dtype)  # nesterov's, per member
        self.gemm = gemm_routine(self.dtype)

    def block(self, k: int) -> slice:
        return slice(self.offsets[k], self.offsets[k + 1])

    def squared_norm(self, k: int) -> float:
        """``sum(W1_k ** 2)`` of member ``k``."""
        w = self.W1T[self.block(k)]
        return float(np.vdot(w, w))

    def step(self, k: int, xb: np.ndarray, dhiddenT: np.ndarray, lr: float) -> None:
        """One step of the update rule on member ``k``'s first layer.

        xb: the minibatch (n, D); dhiddenT: the gradient of the loss with respect to the member's
        hidden pre-activations, transposed (H_k, n); lr: the member's learning rate this epoch. The
        gradient of W1 is ``xb.T @ dhiddenT.T + reg * W1``. For sgd and sgd_momentum one GEMM
        computes it into what needs it, its ``alpha`` and ``beta`` carrying the learning rate and
        the momentum (or weight decay); nesterov, and every bias, take the rule of
        :mod:`sweep.nn.optim` on views of the group's arrays.
        """
        cols = self.block(k)
        w, v = self.W1T[cols], self.velocity[0][cols]  # (H_k, D), contiguous
        mu, reg = self.momenta[k], self.regs[k]
        # In Fortran order (which BLAS reads) w.T is (D, H_k): C = alpha * xb.T @ dhiddenT.T + beta * C.
        if self.optimizer == "sgd":  # w = (1 - lr * reg) * w - lr * dW
            self.gemm(-lr, xb.T, dhiddenT.T, beta=1.0 - lr * reg, c=w.T, overwrite_c=1)
        elif self.optimizer == "sgd_momentum":  # v = mu * v - lr * (dW + reg * w); w += v
            self.gemm(-lr, xb.T, dhiddenT.T, beta=mu, c=v.T, overwrite_c=1)
            if reg:
                axpy(-lr * reg, w, v)
            axpy(1.0, v, w)
        else:
            g = self.gradient[:len(w)]
            np.multiply(w, self.dtype.type(reg), out=g)
            self.gemm(1.0, xb.T, dhiddenT.T, beta=1.0, c=g.T, overwrite_c=1)  # g = dW + reg * w
            self.rule(w, g, {"learning_rate": lr, "momentum": mu, "velocity": v})
        self.rule(self.b1[cols], dhiddenT.sum(axis=1),
                  {"learning_rate": lr, "momentum": mu, "velocity": self.velocity[1][cols]})

    def retire(self, k: int) -> None:
        """Member ``k`` stops training: its rows become zeros (the shapes, and so the others' numbers, stay)."""
        cols = self.block(k)
        for array in (self.W1T, self.b1, *self.velocity):
            array[cols] = 0

    def write_back(self, k: int, net) -> None:
        """Copy member ``k``'s first layer into its net (contiguous (D, H_k) arrays, as a net trained alone has)."""
        cols = self.block(k)
        net.params["W1"] = np.ascontiguousarray(self.W1T[cols].T)
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
    units = group.W1T.shape[0]
    # Flat, so that a last, shorter minibatch still gets contiguous (sum H, n) views.
    hidden_buffer = np.empty(units * batch_size, dtype=group.dtype)
    dhidden_buffer = np.empty_like(hidden_buffer)

    for epoch in range(max(int(m.epochs) for m in members)):
        start = time.perf_counter()
        lrs = [m.learning_rate * m.lr_decay**epoch for m in members]
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
            # Transposed activations (sum H, n): each member's rows are contiguous. Members that
            # left have zero rows, so their activations are zero and cost nothing further.
            hiddenT = np.matmul(group.W1T, xb.T, out=hidden_buffer[:units * n].reshape(units, n))
            hiddenT += group.b1[:, None]
            np.maximum(hiddenT, 0, out=hiddenT)
            dhiddenT = dhidden_buffer[:units * n].reshape(units, n)
            for k, net in enumerate(nets):
                if not training[k]:
                    continue
                cols = group.block(k)
                h = hiddenT[cols]  # (H_k, n)
                W2 = net.params["W2"]
                scores = h.T @ W2
                scores += net.params["b2"]
                loss, dscores = softmax_loss(scores, yb)
                if net.reg:
                    loss += 0.5 * net.reg * (group.squared_norm(k) + float(np.vdot(W2, W2)))
                if not math.isfinite(loss):
                    group.write_back(k, net)
                    _diverged(histories[k], epoch, lrs[k], start, f"minibatch loss is {loss}", False)
                    training[k] = False
                    group.retire(k)
                    continue
                dh = np.matmul(W2, dscores.T, out=dhiddenT[cols])  # (H_k, n)
                dh *= h > 0
                dW2 = h @ dscores
                if net.reg:
                    dW2 += net.dtype.type(net.reg) * W2
                db2 = dscores.sum(axis=0)
                # The second layer first: the step below changes W1, whose activations gave dW2.
                net.params["W2"], second[k]["W2"] = update(W2, dW2, second[k]["W2"])
                net.params["b2"], second[k]["b2"] = update(net.params["b2"], db2, second[k]["b2"])
                group.step(k, xb, dh, lrs[k])
                loss_sums[k] += loss
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
        if stop is not None and any(training) and stop():
            for k in (k for k in range(len(members)) if training[k]):
                histories[k].status = STOPPED
                training[k] = False
            break
    return histories

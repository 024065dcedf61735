"""The runner's cost per epoch on a user's model, against the same model in a plain CS231n loop.

The model is experiments/models/two_layer.py (CS231n's assignment-1 two-layer net, as a student
writes it). The plain loop is what the seed posts do in one process: each epoch a permutation,
minibatches of 200, ``loss(X, y)``, vanilla SGD on every parameter, then the accuracy of a fixed
subsample of training rows and of the validation split. sweep does the same work per epoch
(sweep.trainer.train: the same minibatches, the same update, the same scoring), through the
model seam: the model built from its file's text, NumPy's global generator seeded, the gradients
checked for dtype. Both run in this process with one BLAS thread, in turns, best of ``--turns``.

    python bench/user_model_overhead.py [--rows 20000] [--epochs 2] [--turns 3]

Prints the seconds per epoch of each and their ratio (goal: sweep within 5% of the plain loop).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from sweep.data.dataset import Dataset
from sweep.models import build_model, resolve_model
from sweep.trainer import TRAIN_ACC_ROWS, train

ROOT = Path(__file__).resolve().parents[1]
HYPERPARAMETERS = {"hidden_size": 100, "std": 1e-2, "reg": 1e-4}


def fashion_sized(rows: int, seed: int = 0) -> Dataset:
    """Random data of Fashion-MNIST's width (784 features, 10 classes), float32: ``rows`` training
    rows and 5,000 validation rows, labels a function of the features (so a net learns)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows + 5000, 784), dtype=np.float32)
    y = (X[:, :10].argmax(axis=1)).astype(np.int64)
    return Dataset("fashion-sized", X[:rows], y[:rows], X[rows:], y[rows:], X[:0], y[:0])


def new_model(data: Dataset):
    cls = resolve_model("experiments/models/two_layer.py:TwoLayerNet", ROOT).load()
    model = build_model(cls, HYPERPARAMETERS, data.input_dim, data.num_classes, "float32", 0)
    model.params = {k: v.astype(np.float32) for k, v in model.params.items()}
    return model


def plain_loop(model, data: Dataset, epochs: int, batch_size: int, learning_rate: float) -> list[float]:
    """CS231n's loop, per epoch: the seconds it took."""
    rng = np.random.default_rng(0)
    subsample = np.sort(rng.choice(len(data.X_train), min(TRAIN_ACC_ROWS, len(data.X_train)), replace=False))
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(data.X_train))
        for begin in range(0, len(order), batch_size):
            rows = order[begin:begin + batch_size]
            _, grads = model.loss(data.X_train[rows], data.y_train[rows])
            for name, w in model.params.items():
                w -= learning_rate * grads[name].astype(w.dtype, copy=False)
        for X, y in ((data.X_train[subsample], data.y_train[subsample]), (data.X_val, data.y_val)):
            np.mean(model.loss(X).argmax(axis=1) == y)
        seconds.append(time.perf_counter() - start)
    return seconds


def through_sweep(model, data: Dataset, epochs: int, batch_size: int, learning_rate: float) -> list[float]:
    """sweep's trainer on the same model, per epoch: the seconds it took."""
    history = train(model, data, optimizer="sgd", learning_rate=learning_rate, batch_size=batch_size, epochs=epochs,
                    seed=0, momentum=0.9)
    return [record["seconds"] for record in history.records]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    data = fashion_sized(args.rows)
    best = {"plain CS231n loop": np.inf, "sweep's trainer": np.inf}
    with threadpool_limits(1):
        for turn in range(args.turns):
            runs = [("plain CS231n loop", plain_loop), ("sweep's trainer", through_sweep)]
            for name, run in (runs if turn % 2 == 0 else runs[::-1]):
                best[name] = min(best[name], min(run(new_model(data), data, args.epochs, 200, 0.05)))
    plain, ours = best["plain CS231n loop"], best["sweep's trainer"]
    print(f"user model {HYPERPARAMETERS} on {args.rows:,} x 784 rows, one BLAS thread, best epoch of {args.turns} "
          "turns:")
    print(f"  plain CS231n loop: {plain:.3f} s per epoch")
    print(f"  sweep's trainer:   {ours:.3f} s per epoch")
    print(f"  sweep / plain: {ours / plain:.3f}x (goal <= 1.05)")


if __name__ == "__main__":
    main()

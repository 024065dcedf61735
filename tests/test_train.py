"""The trainer: determinism, the epoch-prefix property, divergence, learning on digits."""

import math

import numpy as np
import pytest

from sweep.data.dataset import Dataset
from sweep.nn import TwoLayerNet
from sweep.trainer import History, evaluate, train


def blobs(n=600, d=10, c=3, seed=0, dtype=np.float32):
    """Gaussian blobs, separable enough to learn in a few epochs."""
    rng = np.random.default_rng(seed)
    centers = 3 * rng.standard_normal((c, d))
    y = rng.integers(0, c, size=n)
    X = (centers[y] + rng.standard_normal((n, d))).astype(dtype)
    a, b = int(0.6 * n), int(0.8 * n)
    return Dataset("blobs", X[:a], y[:a], X[a:b], y[a:b], X[b:], y[b:], class_names=tuple("abc"))


def fit(data, seed=0, epochs=4, **kwargs):
    net = TwoLayerNet(data.input_dim, 16, data.num_classes, init="he", seed=seed, dtype=data.dtype)
    options = dict(optimizer="sgd_momentum", learning_rate=0.05, lr_decay=0.9, batch_size=32)
    options.update(kwargs)
    return net, train(net, data, epochs=epochs, seed=seed, **options)


def metrics(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def test_history_records():
    data = blobs()
    _, history = fit(data, epochs=3)
    assert isinstance(history, History) and len(history) == 3 and history.status == "ok"
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert [r["lr"] for r in history] == pytest.approx([0.05, 0.045, 0.0405])
    for r in history:
        assert set(r) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"}
        assert 0 <= r["val_acc"] <= 1 and r["seconds"] >= 0
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert list(history.to_frame().columns[:3]) == ["epoch", "train_loss", "train_acc"]


@pytest.mark.parametrize("optimizer", ["sgd", "sgd_momentum", "nesterov", "rmsprop", "adam"])
def test_same_seed_gives_bitwise_the_same_history_and_weights(optimizer):
    data = blobs()
    lr = 1e-3 if optimizer in ("rmsprop", "adam") else 0.05
    net_a, a = fit(data, seed=11, optimizer=optimizer, learning_rate=lr)
    net_b, b = fit(data, seed=11, optimizer=optimizer, learning_rate=lr)
    assert metrics(a) == metrics(b)
    for name in net_a.params:
        np.testing.assert_array_equal(net_a.params[name], net_b.params[name])
    _, c = fit(data, seed=12, optimizer=optimizer, learning_rate=lr)
    assert metrics(c) != metrics(a)


def test_the_global_numpy_generator_is_never_used():
    data = blobs()
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    fit(data, epochs=2)
    TwoLayerNet(5, 5, 2, seed=None)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_epoch_prefix_property():
    """The model after epoch k of an N-epoch run is exactly the k-epoch model (the sweep relies on it)."""
    data = blobs()
    snapshots = {}

    def keep(epoch, net, record):
        snapshots[epoch] = {k: v.copy() for k, v in net.params.items()}

    _, long_run = fit(data, seed=5, epochs=6, callback=keep)
    for k in (1, 3, 5):
        net_k, short_run = fit(data, seed=5, epochs=k)
        assert metrics(short_run) == metrics(long_run.prefix(k))
        for name in net_k.params:
            np.testing.assert_array_equal(net_k.params[name], snapshots[k][name])


def test_huge_learning_rate_diverges_without_raising():
    data = blobs()
    with np.errstate(all="ignore"):
        _, history = fit(data, epochs=5, learning_rate=1e12, optimizer="sgd", lr_decay=1.0)
    assert history.status == "diverged" and history.diverged
    assert 1 <= history.diverged_epoch <= 5 and len(history) == history.diverged_epoch
    assert math.isnan(history[-1]["train_loss"])
    assert history.prefix(history.diverged_epoch).diverged


def test_prefix_before_divergence_is_ok():
    history = History([{"epoch": 1}, {"epoch": 2}, {"epoch": 3}], "diverged", 3)
    assert history.prefix(2).status == "ok" and len(history.prefix(2)) == 2
    assert history.prefix(5).status == "diverged"
    with pytest.raises(ValueError):
        History([{"epoch": 1}], "ok").prefix(2)


def test_float64_training_and_partial_last_batch():
    data = blobs(n=203, dtype=np.float64)
    net, history = fit(data, epochs=2, batch_size=50)
    assert net.params["W1"].dtype == np.float64 and len(history) == 2


def test_train_accuracy_uses_a_fixed_subsample():
    from sweep import trainer as train_module

    data = blobs(n=2000)
    net, history = fit(data, epochs=1, train_acc_rows=50)
    rows = train_module._train_acc_rows(len(data.X_train), 50)
    assert len(rows) == 50 and np.all(np.diff(rows) > 0)
    assert history[0]["train_acc"] == pytest.approx(net.accuracy(data.X_train[rows], data.y_train[rows]))


def test_regression_targets_train_with_mse():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4)).astype(np.float32)
    Y = np.tanh(X @ rng.standard_normal((4, 2))).astype(np.float32)
    data = Dataset("reg", X[:200], Y[:200], X[200:250], Y[200:250], X[250:], Y[250:])
    net = TwoLayerNet(4, 16, 2, loss="mse", init="he", seed=0)
    history = train(net, data, optimizer="sgd_momentum", learning_rate=0.05, batch_size=20, epochs=10, seed=0)
    assert math.isnan(history[0]["val_acc"]) and math.isnan(history[0]["train_acc"])
    assert history[-1]["val_loss"] < 0.5 * history[0]["val_loss"]
    loss, acc = evaluate(net, data.X_val, data.y_val)
    assert loss == pytest.approx(history[-1]["val_loss"]) and math.isnan(acc)


@pytest.mark.parametrize("kwargs", [{"optimizer": "lbfgs"}, {"learning_rate": 0.0}, {"learning_rate": -1.0},
                                    {"epochs": 0}, {"batch_size": 0}, {"lr_decay": 0.0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        fit(blobs(), **kwargs)


def test_learns_digits():
    """A 100-unit net reaches at least 0.95 validation accuracy on digits within 20 epochs."""
    from sweep import load_dataset

    data = load_dataset("digits")
    net = TwoLayerNet(data.input_dim, 100, data.num_classes, init="he", seed=0)
    history = train(net, data, optimizer="sgd_momentum", learning_rate=0.05, lr_decay=0.95,
                    batch_size=64, epochs=20, seed=0)
    assert max(r["val_acc"] for r in history) >= 0.95


def test_overflow_in_the_last_update_of_an_epoch_is_divergence():
    """One minibatch per epoch: its loss is finite, then its update overflows float32 weights to inf.

    Only the end-of-epoch check can see that; the run must be diverged, never ok with an inf loss.
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3)).astype(np.float32)
    data = Dataset("tiny", X, rng.integers(0, 2, 40), X[:10], rng.integers(0, 2, 10), X[:10], rng.integers(0, 2, 10))
    net = TwoLayerNet(3, 4, 2, init="he", seed=0, activation="tanh", loss="mse")
    with np.errstate(all="ignore"):
        history = train(net, data, optimizer="sgd", learning_rate=1e39, batch_size=40, epochs=3, seed=0)
    assert history.status == "diverged" and history.diverged_epoch == 1
    assert all(math.isfinite(r["val_loss"]) for r in history.records[:-1])

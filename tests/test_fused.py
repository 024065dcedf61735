"""Fused training of a group of nets on one minibatch stream (sweep.fused)."""

from __future__ import annotations

import numpy as np
import pytest

from sweep.data import load_dataset
from sweep.fused import Member, train_group
from sweep.nn.net import TwoLayerNet
from sweep.trainer import train

#: (hidden, learning rate, L2, momentum, lr_decay, epochs): members that share nothing but the data and batches.
SPECS = [(16, 0.1, 1e-3, 0.9, 0.95, 4), (32, 0.05, 0.0, 0.8, 1.0, 4), (24, 0.2, 1e-2, 0.9, 0.9, 3)]
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def members(specs=SPECS):
    return [Member(TwoLayerNet(64, h, 10, init="he", reg=reg, seed=i), lr, epochs, decay, mu)
            for i, (h, lr, reg, mu, decay, epochs) in enumerate(specs)]


def metrics(history):
    return np.array([[r[m] for m in METRICS] for r in history.records])


@pytest.mark.parametrize("optimizer", ["sgd", "sgd_momentum", "nesterov"])
def test_each_member_trains_as_it_would_alone_on_the_same_minibatches_to_float32_rounding(digits, optimizer):
    group = members()
    histories = train_group(group, digits, optimizer=optimizer, batch_size=50, seed=7)
    for member, history, (h, lr, reg, mu, decay, epochs) in zip(group, histories, SPECS):
        net = TwoLayerNet(64, h, 10, init="he", reg=reg, seed=member.net.seed)
        alone = train(net, digits, optimizer=optimizer, learning_rate=lr, lr_decay=decay, momentum=mu, batch_size=50,
                      epochs=epochs, seed=7)
        assert len(history.records) == epochs and history.status == "ok"
        # Not bitwise: OpenBLAS blocks a wide product differently (see the module's docstring).
        np.testing.assert_allclose(metrics(history), metrics(alone), rtol=1e-5, atol=1e-6)
        for name, value in net.params.items():
            assert member.net.params[name].flags.c_contiguous
            np.testing.assert_allclose(member.net.params[name], value, rtol=1e-4, atol=1e-5 * np.abs(value).max())


def test_a_member_that_diverges_leaves_the_group_and_the_others_are_bitwise_unchanged(digits):
    healthy = members(SPECS[:2] + [(24, 0.2, 1e-2, 0.9, 0.9, 3)])
    diverging = members(SPECS[:2] + [(24, 1e9, 1e-2, 0.9, 0.9, 3)])
    with np.errstate(all="ignore"):
        calm, wild = (train_group(g, digits, optimizer="sgd_momentum", batch_size=50, seed=3)
                      for g in (healthy, diverging))
    assert wild[2].status == "diverged" and wild[2].diverged_epoch == 1 and np.isnan(wild[2].records[-1]["val_loss"])
    assert calm[2].status == "ok"
    for k in (0, 1):
        np.testing.assert_array_equal(metrics(calm[k]), metrics(wild[k]))
        for name in healthy[k].net.params:
            np.testing.assert_array_equal(healthy[k].net.params[name], diverging[k].net.params[name])


def test_the_same_group_and_seed_give_bitwise_the_same_numbers(digits):
    first, second = members(), members()
    a = train_group(first, digits, optimizer="nesterov", batch_size=64, seed=1)
    b = train_group(second, digits, optimizer="nesterov", batch_size=64, seed=1)
    for x, y, m, n in zip(a, b, first, second):
        np.testing.assert_array_equal(metrics(x), metrics(y))
        for name in m.net.params:
            np.testing.assert_array_equal(m.net.params[name], n.net.params[name])


@pytest.mark.parametrize("net, optimizer", [
    (TwoLayerNet(64, 8, 10, dropout=0.5), "sgd"),
    (TwoLayerNet(64, 8, 10, activation="tanh"), "sgd"),
    (TwoLayerNet(64, 8, 10), "adam"),
])
def test_what_cannot_be_fused_is_refused(digits, net, optimizer):
    with pytest.raises(ValueError, match="cannot train fused"):
        train_group([Member(net, 0.1, 1)], digits, optimizer=optimizer)


def test_a_stop_ends_every_member_still_training_at_that_epoch_as_stopped(digits):
    """The time limit: asked at the end of each epoch some member has more epochs after."""
    group = members([(16, 0.1, 0.0, 0.9, 1.0, 1), (32, 0.05, 0.0, 0.9, 1.0, 4), (24, 0.1, 0.0, 0.9, 1.0, 3)])
    asked, seen = [], []
    histories = train_group(group, digits, batch_size=50, seed=2, stop=lambda: asked.append(1) or len(asked) == 2,
                            callback=lambda k, epoch, net, record: seen.append((k, epoch, record["val_loss"])))
    assert [h.status for h in histories] == ["ok", "stopped", "stopped"]
    assert [len(h.records) for h in histories] == [1, 2, 2] and len(asked) == 2
    assert seen == [(k, r["epoch"], r["val_loss"]) for e in (1, 2) for k, h in enumerate(histories)
                    for r in h.records if r["epoch"] == e]

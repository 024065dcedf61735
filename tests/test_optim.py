"""Each update rule against a step computed by hand."""

import numpy as np
import pytest

from sweep.nn import optim

W = np.array([[1.0, -2.0], [0.5, 0.0]])
DW = np.array([[0.1, 0.2], [-0.3, 0.4]])


def step(rule, config, times=1):
    w = W.copy()
    for _ in range(times):
        w, config = rule(w, DW, config)
    return w, config


def test_sgd():
    w, _ = step(optim.sgd, {"learning_rate": 0.5})
    np.testing.assert_allclose(w, W - 0.5 * DW)


def test_sgd_momentum_two_steps():
    w, config = step(optim.sgd_momentum, {"learning_rate": 0.1, "momentum": 0.9}, times=2)
    v1 = -0.1 * DW
    v2 = 0.9 * v1 - 0.1 * DW
    np.testing.assert_allclose(config["velocity"], v2)
    np.testing.assert_allclose(w, W + v1 + v2)


def test_nesterov_two_steps():
    w, config = step(optim.nesterov, {"learning_rate": 0.1, "momentum": 0.9}, times=2)
    v1 = -0.1 * DW
    w1 = W + (1 + 0.9) * v1  # v_prev = 0
    v2 = 0.9 * v1 - 0.1 * DW
    w2 = w1 - 0.9 * v1 + 1.9 * v2
    np.testing.assert_allclose(w, w2)
    np.testing.assert_allclose(config["velocity"], v2)


def test_rmsprop_one_step():
    w, config = step(optim.rmsprop, {"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 1e-8})
    cache = 0.1 * DW**2
    np.testing.assert_allclose(config["cache"], cache)
    np.testing.assert_allclose(w, W - 0.01 * DW / (np.sqrt(cache) + 1e-8))


def test_adam_two_steps():
    w, config = step(optim.adam, {"learning_rate": 1e-2}, times=2)
    m = v = 0
    expected = W.copy()
    for t in (1, 2):
        m = 0.9 * m + 0.1 * DW
        v = 0.999 * v + 0.001 * DW**2
        expected = expected - 1e-2 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    assert config["t"] == 2
    np.testing.assert_allclose(w, expected)
    # The first Adam step moves every weight by about the learning rate, whatever the gradient's size.
    w1, _ = step(optim.adam, {"learning_rate": 1e-2})
    np.testing.assert_allclose(np.abs(w1 - W), 1e-2, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(optim.UPDATE_RULES))
def test_rules_keep_float32_and_fill_defaults(name):
    w = W.astype(np.float32)
    next_w, config = optim.UPDATE_RULES[name](w, DW.astype(np.float32), {"learning_rate": 1e-3})
    assert next_w.dtype == np.float32
    assert config["learning_rate"] == 1e-3
    assert not np.array_equal(next_w, W.astype(np.float32))

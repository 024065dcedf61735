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


def nadam_reference(w, gradients, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Dozat (2016) Algorithm 2 with a constant momentum beta1, without its extra beta2 factor (as
    optax.nadam), written out in float64 one step at a time."""
    w = np.array(w, dtype=np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(gradients, start=1):
        g = np.asarray(g, dtype=np.float64)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = beta1 * m / (1 - beta1 ** (t + 1)) + (1 - beta1) * g / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        w = w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)
    return w, m, v


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_nadam_follows_the_reference_over_several_steps(dtype, rtol):
    rng = np.random.default_rng(0)
    gradients = [rng.standard_normal(W.shape).astype(dtype) for _ in range(6)]
    w, config = W.astype(dtype), {"learning_rate": 1e-2, "beta2": 0.99}
    for g in gradients:
        w, config = optim.nadam(w, g, config)
    expected, m, v = nadam_reference(W, gradients, 1e-2, beta2=0.99)
    assert config["t"] == 6 and w.dtype == config["m"].dtype == config["v"].dtype == dtype
    np.testing.assert_allclose(w, expected, rtol=rtol)
    np.testing.assert_allclose(config["m"], m, rtol=rtol)
    np.testing.assert_allclose(config["v"], v, rtol=rtol)
    # Not Adam: the first step already weighs the gradient by beta1 / (1 - beta1**2) + 1.
    adam_w, _ = optim.adam(W.copy(), DW, {"learning_rate": 1e-2})
    nadam_w, _ = optim.nadam(W.copy(), DW, {"learning_rate": 1e-2})
    assert not np.allclose(adam_w, nadam_w)


def test_nadam_updates_in_place_and_resumes_from_its_state():
    w = W.copy()
    config = {"learning_rate": 1e-2}
    first, config = optim.nadam(w, DW, config)
    assert first is w
    saved = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in config.items()}
    straight, _ = optim.nadam(w.copy(), 2 * DW, config)
    resumed, _ = optim.nadam(w.copy(), 2 * DW, saved)
    np.testing.assert_array_equal(resumed, straight)


def test_nadam_minimizes_a_quadratic():
    """f(w) = 0.5 * sum(a * w**2) with curvatures a from 0.1 to 10: from w = 1 to the minimum at 0."""
    curvature = np.logspace(-1, 1, 8).astype(np.float32)
    w, config = np.ones(8, dtype=np.float32), {"learning_rate": 0.1}
    for _ in range(500):
        w, config = optim.nadam(w, curvature * w, config)
    assert np.max(np.abs(w)) < 1e-9

"""Gradient checks (centered differences, float64) for every layer, activation and loss."""

import numpy as np
import pytest

from sweep.nn import layers
from sweep.nn.gradcheck import numerical_gradient, numerical_gradient_array, relative_error

TOL = 1e-7


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_affine_forward_flattens_any_input_shape(rng):
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((120, 3))
    b = rng.standard_normal(3)
    out, _ = layers.affine_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(2, -1) @ w + b)


def test_affine_backward_matches_numerical_gradient(rng):
    x = rng.standard_normal((10, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((10, 5))
    _, cache = layers.affine_forward(x, w, b)
    dx, dw, db = layers.affine_backward(dout, cache)
    assert dx.shape == x.shape
    assert relative_error(dx, numerical_gradient_array(lambda v: layers.affine_forward(v, w, b)[0], x, dout)) < TOL
    assert relative_error(dw, numerical_gradient_array(lambda v: layers.affine_forward(x, v, b)[0], w, dout)) < TOL
    assert relative_error(db, numerical_gradient_array(lambda v: layers.affine_forward(x, w, v)[0], b, dout)) < TOL
    dx_skipped, dw2, db2 = layers.affine_backward(dout, cache, need_dx=False)
    assert dx_skipped is None
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_array_equal(db2, db)


@pytest.mark.parametrize("name", sorted(layers.ACTIVATIONS))
def test_activation_backward_matches_numerical_gradient(name, rng):
    forward, backward = layers.ACTIVATIONS[name]
    x = rng.standard_normal((8, 7))
    x[np.abs(x) < 1e-2] = 0.5  # keep away from the ReLU kink, where the derivative is undefined
    dout = rng.standard_normal(x.shape)
    _, cache = forward(x)
    dx = backward(dout, cache)
    assert relative_error(dx, numerical_gradient_array(lambda v: forward(v)[0], x, dout)) < TOL


def test_activation_values():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(layers.relu_forward(x)[0], [0, 0, 3])
    np.testing.assert_allclose(layers.sigmoid_forward(x)[0], 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(layers.tanh_forward(x)[0], np.tanh(x))
    big = np.array([-1e4, 1e4], dtype=np.float32)
    with np.errstate(over="raise"):
        np.testing.assert_array_equal(layers.sigmoid_forward(big)[0], [0, 1])


def _classification_case(rng, n=12, c=5):
    return rng.standard_normal((n, c)), rng.integers(0, c, size=n)


@pytest.mark.parametrize("name", sorted(layers.LOSSES))
def test_loss_gradient_matches_numerical_gradient(name, rng):
    loss_fn = layers.LOSSES[name]
    scores, y = _classification_case(rng)
    loss, dscores = loss_fn(scores, y)
    assert isinstance(loss, float) and dscores.shape == scores.shape
    num = numerical_gradient(lambda s: loss_fn(s, y)[0], scores)
    assert relative_error(dscores, num) < TOL


def test_mse_takes_real_valued_targets(rng):
    scores = rng.standard_normal((9, 3))
    targets = rng.standard_normal((9, 3))
    loss, dscores = layers.mse_loss(scores, targets)
    assert loss == pytest.approx(0.5 * np.sum((scores - targets) ** 2) / 9)
    assert relative_error(dscores, numerical_gradient(lambda s: layers.mse_loss(s, targets)[0], scores)) < TOL


def test_mse_with_labels_equals_mse_with_one_hot_targets(rng):
    scores, y = _classification_case(rng)
    one_hot = np.eye(scores.shape[1])[y]
    assert layers.mse_loss(scores, y)[0] == pytest.approx(layers.mse_loss(scores, one_hot)[0])


def test_softmax_is_stable_for_huge_scores():
    scores = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4]], dtype=np.float32)
    y = np.array([1, 2])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        loss, dscores = layers.softmax_loss(scores, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dscores))
    # Row 0: log-softmax of the true class is -1e4; row 1: uniform, -log(1/3).
    assert loss == pytest.approx((1e4 + np.log(3)) / 2, rel=1e-6)


def test_softmax_loss_of_uniform_scores_is_log_c(rng):
    y = rng.integers(0, 10, size=50)
    loss, _ = layers.softmax_loss(np.zeros((50, 10)), y)
    assert loss == pytest.approx(np.log(10))


def test_svm_loss_matches_definition():
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    y = np.array([0, 1, 2])
    # The CS231n lecture example: per-row hinge losses 2.9, 0 and 12.9.
    loss, _ = layers.svm_loss(scores, y)
    assert loss == pytest.approx((2.9 + 0 + 12.9) / 3)


def test_layers_keep_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2)).astype(np.float32)
    b = np.zeros(2, np.float32)
    out, cache = layers.affine_forward(x, w, b)
    assert out.dtype == np.float32
    for forward, backward in layers.ACTIVATIONS.values():
        h, c = forward(out)
        assert h.dtype == np.float32 and backward(h, c).dtype == np.float32
    for loss_fn in layers.LOSSES.values():
        assert loss_fn(out, np.array([0, 1, 1, 0]))[1].dtype == np.float32

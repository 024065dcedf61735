"""The two-layer network: the CS231n toy model, whole-net gradient checks, save and load."""

import json

import numpy as np
import pytest

from sweep.nn import TwoLayerNet
from sweep.nn.gradcheck import numerical_gradient, relative_error

# Seed 002 (CS231n assignment 1, two_layer_net): input 4, hidden 10, classes 3, 5 inputs.
CORRECT_SCORES = np.array([
    [-0.81233741, -1.27654624, -0.70335995],
    [-0.17129677, -1.18803311, -0.47310444],
    [-0.51590475, -1.01354314, -0.8504215],
    [-0.15419291, -0.48629638, -0.52901952],
    [-0.00618733, -0.12435261, -0.15226949],
])


def toy_model_and_data():
    """The post's ``init_toy_model`` / ``init_toy_data``, with ``np.random.seed(0)`` then ``1``.

    ``np.random.RandomState(s)`` draws the same stream as ``np.random.seed(s); np.random.randn``,
    without touching NumPy's global generator.
    """
    net = TwoLayerNet(4, 10, 3, dtype=np.float64)
    init = np.random.RandomState(0)
    net.params["W1"] = 1e-1 * init.randn(4, 10)
    net.params["b1"] = np.zeros(10)
    net.params["W2"] = 1e-1 * init.randn(10, 3)
    net.params["b2"] = np.zeros(3)
    X = 10 * np.random.RandomState(1).randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return net, X, y


def test_toy_model_scores_match_the_post():
    net, X, _ = toy_model_and_data()
    scores = net.loss(X)
    assert scores.shape == (5, 3)
    assert np.max(np.abs(scores - CORRECT_SCORES)) < 1e-7


def test_toy_model_loss_matches_cs231n():
    # The assignment's `correct_loss` 1.30378789133 (the post reports a difference of 1.8e-13). Its
    # newer version writes the penalty as `reg * sum(W**2)` with reg=0.05; ours is 0.5 * reg * ..., so 0.1.
    net, X, y = toy_model_and_data()
    net.reg = 0.1
    loss, _ = net.loss(X, y)
    assert abs(loss - 1.30378789133) < 1e-10


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("loss", ["softmax", "svm", "mse"])
def test_whole_net_gradients_with_regularization(activation, loss):
    net = TwoLayerNet(6, 8, 4, init="he", reg=0.3, activation=activation, loss=loss,
                      dtype=np.float64, seed=3)
    rng = np.random.default_rng(7)
    for name in ("b1", "b2"):
        net.params[name] = 0.1 * rng.standard_normal(net.params[name].shape)
    X = rng.standard_normal((7, 6))
    y = rng.integers(0, 4, size=7)
    _, grads = net.loss(X, y)
    for name, param in net.params.items():
        num = numerical_gradient(lambda _: net.loss(X, y)[0], param)
        assert grads[name].shape == param.shape
        assert relative_error(grads[name], num) < 1e-7, name


@pytest.mark.parametrize("activation, dropout, input_dropout", [("relu", 0.4, 0.0), ("tanh", 0.4, 0.0),
                                                                 ("relu", 0.0, 0.3), ("relu", 0.4, 0.3)])
def test_dropout_gradients_with_the_mask_of_a_seeded_generator(activation, dropout, input_dropout):
    net = TwoLayerNet(6, 10, 4, init="he", reg=0.1, activation=activation, dtype=np.float64, seed=3, dropout=dropout,
                      input_dropout=input_dropout)
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((9, 6)), rng.integers(0, 4, size=9)

    def loss(_):  # the same mask at every evaluation: a fresh generator with the same seed
        return net.loss(X, y, rng=np.random.default_rng(11))[0]

    _, grads = net.loss(X, y, rng=np.random.default_rng(11))
    for name, param in net.params.items():
        assert relative_error(grads[name], numerical_gradient(loss, param)) < 1e-7, name
    np.testing.assert_array_equal(net.loss(X), TwoLayerNet(6, 10, 4, init="he", activation=activation,
                                                           dtype=np.float64, seed=3).loss(X))  # scoring: no dropout
    with pytest.raises(ValueError, match="needs rng"):
        net.loss(X, y)


def test_dropout_drops_a_fraction_p_of_the_hidden_units():
    # One row through tanh units (whose derivative is never 0): a unit's W1 gradient is zero exactly when it was dropped.
    net = TwoLayerNet(3, 4000, 2, init="he", activation="tanh", seed=0, dropout=0.25, dtype=np.float64)
    _, grads = net.loss(np.ones((1, 3)), np.zeros(1, dtype=int), rng=np.random.default_rng(5))
    dropped = (np.abs(grads["W1"]).sum(axis=0) == 0).mean()
    assert abs(dropped - 0.25) < 0.03


def test_input_dropout_drops_a_fraction_p_of_the_input_features():
    # A W1 row's gradient is zero exactly when its input feature was dropped (one row, every feature nonzero).
    net = TwoLayerNet(4000, 3, 2, init="he", activation="tanh", seed=0, input_dropout=0.2, dtype=np.float64)
    _, grads = net.loss(np.ones((1, 4000)), np.zeros(1, dtype=int), rng=np.random.default_rng(5))
    dropped = (np.abs(grads["W1"]).sum(axis=1) == 0).mean()
    assert abs(dropped - 0.2) < 0.03
    X = np.ones((2, 4000))
    np.testing.assert_array_equal(net.loss(X), TwoLayerNet(4000, 3, 2, init="he", activation="tanh", seed=0,
                                                           dtype=np.float64).loss(X))  # scoring: no dropout


def test_regression_targets_with_mse_gradients():
    net = TwoLayerNet(5, 6, 3, init="xavier", reg=0.1, loss="mse", dtype=np.float64, seed=1)
    rng = np.random.default_rng(2)
    X, targets = rng.standard_normal((8, 5)), rng.standard_normal((8, 3))
    _, grads = net.loss(X, targets)
    for name, param in net.params.items():
        assert relative_error(grads[name], numerical_gradient(lambda _: net.loss(X, targets)[0], param)) < 1e-7


def test_l2_penalty_is_half_reg_times_squared_weights():
    net = TwoLayerNet(3, 4, 2, reg=0.0, dtype=np.float64, seed=0, weight_scale=1.0)
    X, y = np.ones((2, 3)), np.array([0, 1])
    base, _ = net.loss(X, y)
    net.reg = 2.5
    penalised, grads = net.loss(X, y)
    p = net.params
    assert penalised - base == pytest.approx(0.5 * 2.5 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2)))


def test_init_schemes_and_seed():
    a = TwoLayerNet(784, 1000, 10, init="he", seed=5)
    b = TwoLayerNet(784, 1000, 10, init="he", seed=5)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
        assert a.params[name].dtype == np.float32 and a.params[name].flags.c_contiguous
    assert a.params["W1"].shape == (784, 1000) and a.params["b2"].shape == (10,)
    assert a.params["W1"].std() == pytest.approx(np.sqrt(2 / 784), rel=0.01)
    assert TwoLayerNet(784, 1000, 10, init="xavier", seed=0).params["W1"].std() == pytest.approx(
        np.sqrt(2 / 1784), rel=0.01)
    assert TwoLayerNet(784, 1000, 10, weight_scale=1e-2, seed=0).params["W1"].std() == pytest.approx(1e-2, rel=0.01)
    assert not np.array_equal(TwoLayerNet(5, 5, 2, seed=1).params["W1"], TwoLayerNet(5, 5, 2, seed=2).params["W1"])


@pytest.mark.parametrize("kwargs", [{"init": "orthogonal"}, {"activation": "gelu"}, {"loss": "hinge2"},
                                    {"reg": -1.0}])
def test_bad_constructor_arguments(kwargs):
    with pytest.raises(ValueError):
        TwoLayerNet(4, 3, 2, **kwargs)


def test_predict_and_scores_in_chunks(monkeypatch):
    from sweep.nn import net as net_module

    net = TwoLayerNet(4, 6, 3, seed=0, init="he")
    X = np.random.default_rng(0).standard_normal((25, 4)).astype(np.float32)
    whole = net.loss(X)
    monkeypatch.setattr(net_module, "EVAL_CHUNK_ROWS", 7)
    np.testing.assert_allclose(net.scores(X), whole, rtol=1e-6)
    np.testing.assert_array_equal(net.predict(X), whole.argmax(axis=1))


def test_save_and_load_round_trip(tmp_path):
    net = TwoLayerNet(6, 5, 3, init="xavier", reg=0.01, activation="tanh", loss="svm", seed=9)
    path = net.save(tmp_path / "model.npz", trial_id="abc")
    loaded = TwoLayerNet.load(path)
    assert loaded.hyperparameters() == net.hyperparameters()
    assert loaded.metadata == {"trial_id": "abc"}
    for name in net.params:
        np.testing.assert_array_equal(loaded.params[name], net.params[name])
        assert loaded.params[name].dtype == np.float32
    with np.load(path, allow_pickle=False) as f:  # plain arrays and a JSON header, no pickle
        assert set(f.files) == {"W1", "b1", "W2", "b2", "__header__"}
        assert json.loads(str(f["__header__"]))["hyperparameters"]["activation"] == "tanh"

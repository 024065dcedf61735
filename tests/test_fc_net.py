"""The network of any depth: gradient checks, bitwise TwoLayerNet at depth 1, float32, normalization,
save and load, and learning on digits."""

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sweep.nn import FullyConnectedNet, TwoLayerNet, layers
from sweep.nn.gradcheck import numerical_gradient, numerical_gradient_array
from sweep.trainer import train

#: CS231n's bound on the relative error of a correct float64 gradient: 1e-7 or less is right, 1e-6 at most.
TOL = 1e-6
#: Below this size an entry is compared absolutely (to TOL * FLOOR = 1e-9), not relatively. A centered
#: difference in float64 carries a round-off of about eps * |loss| / h = 2.2e-16 * 2 / 1e-5, about 4e-11:
#: an entry that is exactly 0 (an SVM bias, say) comes out as 4e-11, a relative error of 1, and one of
#: 1e-5 as 1e-5 +- 4e-11, a relative error of 4e-6, whatever the analytic gradient's quality.
FLOOR = 1e-3
WIDTHS = {1: [7], 2: [7, 6], 3: [7, 6, 5]}


def random_problem(n=8, d=5, c=3, seed=7, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(dtype), rng.integers(0, c, size=n)


def float64_net(depth, **kwargs):
    """A float64 net with random biases (and gammas, betas): zero ones would hide their gradients' errors."""
    net = FullyConnectedNet(5, WIDTHS[depth], 3, init="he", dtype=np.float64, seed=3, **kwargs)
    rng = np.random.default_rng(5)
    for name, param in net.params.items():
        if not name.startswith("W"):
            param += 0.1 * rng.standard_normal(param.shape)
    return net


def gradient_error(analytic, numeric) -> float:
    """Largest elementwise ``|a - n| / max(|a| + |n|, FLOOR)``: :func:`relative_error` above the round-off."""
    return float(np.max(np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), FLOOR)))


def check_gradients(net, X, y, mask_seed=None):
    """Every parameter's analytic gradient against centered differences; dropout masks repeat
    because each evaluation gets a fresh generator with the same seed (CS231n's trick)."""
    def generator():
        return None if mask_seed is None else np.random.default_rng(mask_seed)

    _, grads = net.loss(X, y, rng=generator())
    assert list(grads) == list(net.params)
    for name, param in net.params.items():
        numeric = numerical_gradient(lambda _: net.loss(X, y, rng=generator())[0], param)
        assert grads[name].shape == param.shape and grads[name].dtype == np.float64
        assert gradient_error(grads[name], numeric) < TOL, name


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("loss", ["softmax", "svm", "mse"])
def test_gradients_of_every_depth_activation_and_loss_with_reg(depth, activation, loss):
    net = float64_net(depth, reg=0.3, activation=activation, loss=loss)
    check_gradients(net, *random_problem())


@pytest.mark.parametrize("where", ["normalization_backward", "tanh_backward"])
def test_the_check_sees_a_gradient_off_by_a_ten_thousandth(monkeypatch, where):
    right = getattr(layers, where)
    monkeypatch.setattr(layers, where, lambda *args: _scaled(right(*args), 1.0001))
    from sweep.nn import fc_net

    monkeypatch.setattr(fc_net, "normalization_backward", layers.normalization_backward)
    monkeypatch.setitem(layers.ACTIVATIONS, "tanh", (layers.tanh_forward, layers.tanh_backward))
    net = float64_net(3, reg=0.3, activation="tanh", normalization="layernorm")
    with pytest.raises(AssertionError):
        check_gradients(net, *random_problem())


def _scaled(gradients, factor):
    """The first of a backward pass's gradients (dx) times ``factor``."""
    if isinstance(gradients, tuple):
        return (gradients[0] * factor, *gradients[1:])
    return gradients * factor


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("activation, dropout, input_dropout", [("relu", 0.4, 0.0), ("tanh", 0.4, 0.0),
                                                                ("relu", 0.0, 0.3), ("sigmoid", 0.4, 0.3)])
def test_dropout_gradients_with_the_masks_of_a_reseeded_generator(depth, activation, dropout, input_dropout):
    net = float64_net(depth, reg=0.1, activation=activation, dropout=dropout, input_dropout=input_dropout)
    X, y = random_problem(n=9)
    check_gradients(net, X, y, mask_seed=11)
    with pytest.raises(ValueError, match="needs rng"):
        net.loss(X, y)


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("normalization", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("activation, loss, dropout", [("relu", "softmax", 0.0), ("tanh", "svm", 0.3),
                                                       ("sigmoid", "mse", 0.3)])
def test_normalization_gradients(depth, normalization, activation, loss, dropout):
    net = float64_net(depth, reg=0.2, activation=activation, loss=loss, dropout=dropout, normalization=normalization)
    assert {f"gamma{i}" for i in range(1, depth + 1)} | {f"beta{i}" for i in range(1, depth + 1)} < set(net.params)
    check_gradients(net, *random_problem(n=10), mask_seed=4 if dropout else None)


def batchnorm_in_training(x, gamma, beta):
    """Batch normalization in training mode, with throwaway running statistics."""
    return layers.batchnorm_forward(x, gamma, beta, np.zeros(x.shape[1]), np.ones(x.shape[1]), training=True)


@pytest.mark.parametrize("forward, axis", [(batchnorm_in_training, 0), (layers.layernorm_forward, 1)])
def test_normalization_layers_match_numerical_gradients(forward, axis):
    rng = np.random.default_rng(2)
    x = 3 * rng.standard_normal((6, 4)) + 2
    gamma, beta, dout = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal((6, 4))
    out, cache = forward(x, gamma, beta)
    normalized = (out - beta) / gamma  # zero mean and unit variance along `axis` (up to eps)
    np.testing.assert_allclose(normalized.mean(axis=axis), 0, atol=1e-12)
    np.testing.assert_allclose(normalized.var(axis=axis), 1, rtol=1e-4)
    dx, dgamma, dbeta = layers.normalization_backward(dout, cache)
    assert gradient_error(dx, numerical_gradient_array(lambda v: forward(v, gamma, beta)[0], x, dout)) < TOL
    assert gradient_error(dgamma, numerical_gradient_array(lambda v: forward(x, v, beta)[0], gamma, dout)) < TOL
    assert gradient_error(dbeta, numerical_gradient_array(lambda v: forward(x, gamma, v)[0], beta, dout)) < TOL


def test_batchnorm_running_averages_train_and_score_modes():
    net = FullyConnectedNet(5, [4], 3, init="he", seed=0, normalization="batchnorm", dtype=np.float64)
    X, y = random_problem(n=12)
    np.testing.assert_array_equal(net.buffers["running_mean1"], np.zeros(4))
    np.testing.assert_array_equal(net.buffers["running_var1"], np.ones(4))
    before = {name: value.copy() for name, value in net.buffers.items()}
    net.loss(X)  # scoring leaves them alone
    assert all(np.array_equal(before[name], net.buffers[name]) for name in before)
    net.loss(X, y)
    a1 = X @ net.params["W1"] + net.params["b1"]
    np.testing.assert_allclose(net.buffers["running_mean1"], 0.1 * a1.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(net.buffers["running_var1"], 0.9 + 0.1 * a1.var(axis=0), rtol=1e-12)
    # Once the running statistics are this batch's own, scoring the batch normalizes it as training did;
    # scoring goes row by row, training normalizes by the batch it gets.
    trained_scores = _scores_in_training_mode(net, X)
    net.buffers["running_mean1"][:], net.buffers["running_var1"][:] = a1.mean(axis=0), a1.var(axis=0)
    np.testing.assert_allclose(net.loss(X), trained_scores, rtol=1e-10)
    np.testing.assert_allclose(net.loss(X[:3]), trained_scores[:3], rtol=1e-10)
    assert not np.allclose(_scores_in_training_mode(net, X[:3]), trained_scores[:3])


def _scores_in_training_mode(net, X):
    hidden, _ = net._hidden_forward(net._layers[0], X, True, None)
    return hidden @ net.params["W2"] + net.params["b2"]


def test_layernorm_is_the_same_in_training_and_scoring():
    net = FullyConnectedNet(5, [6, 4], 3, seed=1, init="he", normalization="layernorm", dtype=np.float64)
    X, _ = random_problem()
    assert net.buffers == {}
    hidden = X
    for layer in (1, 2):
        hidden, _ = net._hidden_forward(net._layers[layer - 1], hidden, True, None)
    np.testing.assert_allclose(net.loss(X), hidden @ net.params["W3"] + net.params["b3"], rtol=1e-12)
    np.testing.assert_allclose(net.loss(X[:2]), net.loss(X)[:2], rtol=1e-12)


# --------------------------------------------------------------------- bitwise TwoLayerNet at depth 1
EQUIVALENT = [
    {},
    {"init": "he", "reg": 0.05},
    {"init": "xavier", "activation": "tanh", "loss": "svm", "reg": 0.1},
    {"activation": "sigmoid", "loss": "mse", "weight_scale": 0.05},
    {"init": "he", "dropout": 0.3, "reg": 0.01},
    {"init": "he", "input_dropout": 0.2},
    {"init": "he", "activation": "tanh", "dropout": 0.5, "input_dropout": 0.2, "reg": 0.02},
    {"init": "he", "dtype": np.float64, "dropout": 0.3, "reg": 0.01},
]


@pytest.mark.parametrize("kwargs", EQUIVALENT)
def test_one_hidden_layer_is_bitwise_twolayernet(kwargs):
    dtype = kwargs.get("dtype", np.float32)
    two, deep = (cls(30, 16, 4, seed=5, **kwargs) for cls in (TwoLayerNet, FullyConnectedNet))
    assert list(two.params) == list(deep.params) and deep.buffers == {}
    for name in two.params:
        assert deep.params[name].dtype == two.params[name].dtype == dtype
        np.testing.assert_array_equal(deep.params[name], two.params[name])
    X, y = random_problem(n=25, d=30, c=4, seed=1, dtype=dtype)
    np.testing.assert_array_equal(deep.loss(X), two.loss(X))
    loss_two, grads_two = two.loss(X, y, rng=np.random.default_rng(9))
    loss_deep, grads_deep = deep.loss(X, y, rng=np.random.default_rng(9))
    assert loss_deep == loss_two and type(loss_deep) is type(loss_two)
    assert list(grads_deep) == list(grads_two)
    for name in grads_two:
        assert grads_deep[name].dtype == grads_two[name].dtype
        np.testing.assert_array_equal(grads_deep[name], grads_two[name])


@pytest.mark.parametrize("kwargs", [EQUIVALENT[0], EQUIVALENT[6]])
def test_one_hidden_layer_trains_bitwise_as_twolayernet(kwargs):
    data = blobs()
    runs = []
    for cls in (TwoLayerNet, FullyConnectedNet):
        net = cls(data.input_dim, 16, data.num_classes, seed=5, **kwargs)
        history = train(net, data, optimizer="sgd_momentum", learning_rate=0.05, batch_size=32, epochs=3, seed=2)
        runs.append((net, [{k: v for k, v in r.items() if k != "seconds"} for r in history]))
    (two, records_two), (deep, records_deep) = runs
    assert records_deep == records_two
    for name in two.params:
        np.testing.assert_array_equal(deep.params[name], two.params[name])


def blobs(n=300, d=10, c=3, seed=0):
    from sweep.data.dataset import Dataset

    rng = np.random.default_rng(seed)
    centers = 3 * rng.standard_normal((c, d))
    y = rng.integers(0, c, size=n)
    X = (centers[y] + rng.standard_normal((n, d))).astype(np.float32)
    return Dataset("blobs", X[:200], y[:200], X[200:250], y[200:250], X[250:], y[250:], class_names=tuple("abc"))


# ------------------------------------------------------------------------------------------ float32
def float64_arrays_in_sweep_nn(run, given: np.ndarray | None = None) -> list[str]:
    """Every float64 array a function of sweep/nn held in a local variable or returned while ``run()``
    ran, besides the array ``given`` to it: a float32 net must make none (a float64 temporary costs
    twice the memory and time)."""
    folder = str(Path(layers.__file__).parent)
    found = []

    def profile(frame, event, arg):
        if event == "return" and frame.f_code.co_filename.startswith(folder):
            for name, value in [*frame.f_locals.items(), ("<return>", arg)]:
                for array in value if isinstance(value, tuple) else (value,):
                    if isinstance(array, np.ndarray) and array.dtype == np.float64 and array is not given:
                        found.append(f"{frame.f_code.co_name}: {name}")

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return found


@pytest.mark.parametrize("kwargs", [
    {"dropout": 0.3, "input_dropout": 0.2, "reg": 0.1},
    {"normalization": "batchnorm", "activation": "tanh", "loss": "svm", "dropout": 0.2, "reg": 0.1},
    {"normalization": "layernorm", "activation": "sigmoid", "loss": "mse", "reg": 0.1},
])
def test_float32_in_and_out_with_no_float64_array_on_the_way(kwargs):
    net = FullyConnectedNet(12, [9, 8, 7], 4, init="he", seed=0, **kwargs)
    X, y = random_problem(n=10, d=12, c=4, dtype=np.float32)

    def step():
        loss, grads = net.loss(X, y, rng=np.random.default_rng(0))
        assert isinstance(loss, float) and np.isfinite(loss)
        assert all(grads[name].dtype == np.float32 and grads[name].shape == net.params[name].shape
                   for name in net.params)
        assert net.loss(X).dtype == np.float32

    assert float64_arrays_in_sweep_nn(step) == []
    assert all(array.dtype == np.float32 for array in [*net.params.values(), *net.buffers.values()])
    X64 = X.astype(np.float64)
    assert float64_arrays_in_sweep_nn(lambda: net.loss(X64, y, rng=np.random.default_rng(0)), given=X64) == []


def test_the_float64_detector_sees_a_float64_array():
    net = FullyConnectedNet(4, [3], 2, seed=0, dtype=np.float64)
    assert "affine_forward: out" in float64_arrays_in_sweep_nn(lambda: net.loss(np.ones((2, 4))))


# ------------------------------------------------------------------------------------- construction
@pytest.mark.parametrize("hidden_dims, expected", [(16, [16]), ((8, 4), [8, 4]), (np.array([5, 3]), [5, 3]),
                                                   ([np.int64(2), 3.0], [2, 3])])
def test_hidden_dims_one_width_or_many(hidden_dims, expected):
    net = FullyConnectedNet(6, hidden_dims, 2, seed=0)
    assert net.hidden_dims == expected and net.hyperparameters()["hidden_dims"] == expected
    dims = [6, *expected, 2]
    assert [net.params[f"W{i}"].shape for i in range(1, len(dims))] == list(zip(dims[:-1], dims[1:]))
    assert json.dumps(net.hyperparameters())


@pytest.mark.parametrize("kwargs", [{"hidden_dims": []}, {"hidden_dims": [4, 0]}, {"hidden_dims": "64"},
                                    {"hidden_dims": [4.5]}, {"hidden_dims": [True]}, {"hidden_dims": None},
                                    {"normalization": "groupnorm"}, {"init": "orthogonal"}, {"activation": "gelu"},
                                    {"loss": "hinge2"}, {"reg": -1.0}, {"dropout": 1.0}, {"input_dropout": -0.1},
                                    {"dtype": np.int32}, {"input_dim": 0}])
def test_bad_constructor_arguments(kwargs):
    arguments = {"input_dim": 4, "hidden_dims": [3], "num_classes": 2, **kwargs}
    with pytest.raises(ValueError):
        FullyConnectedNet(**arguments)


def test_deeper_layers_are_drawn_after_the_first_from_one_seed():
    one, three = FullyConnectedNet(6, [5], 3, seed=4), FullyConnectedNet(6, [5, 5, 5], 3, seed=4, init="normal")
    np.testing.assert_array_equal(one.params["W1"], three.params["W1"])
    assert not np.array_equal(three.params["W2"], three.params["W3"])
    again = FullyConnectedNet(6, [5, 5, 5], 3, seed=4)
    assert all(np.array_equal(again.params[name], three.params[name]) for name in three.params)


def test_every_weight_matrix_is_regularized_and_nothing_else():
    net = FullyConnectedNet(4, [3, 3], 2, seed=0, weight_scale=1.0, normalization="layernorm", dtype=np.float64)
    X, y = random_problem(n=3, d=4, c=2)
    base, grads = net.loss(X, y)
    net.reg = 2.5
    penalised, reg_grads = net.loss(X, y)
    weights = [net.params[f"W{i}"] for i in (1, 2, 3)]
    assert penalised - base == pytest.approx(0.5 * 2.5 * sum(np.sum(w**2) for w in weights))
    for name in net.params:
        extra = 2.5 * net.params[name] if name.startswith("W") else 0
        np.testing.assert_allclose(reg_grads[name], grads[name] + extra, rtol=1e-12)


def test_scores_in_chunks(monkeypatch):
    from sweep.nn import net as net_module

    net = FullyConnectedNet(4, [6, 5], 3, seed=0, init="he", normalization="batchnorm")
    X = np.random.default_rng(0).standard_normal((25, 4)).astype(np.float32)
    whole = net.loss(X)
    monkeypatch.setattr(net_module, "EVAL_CHUNK_ROWS", 7)
    np.testing.assert_allclose(net.scores(X), whole, rtol=1e-6)
    np.testing.assert_array_equal(net.predict(X), whole.argmax(axis=1))
    assert net.accuracy(X, whole.argmax(axis=1)) == 1.0


# ------------------------------------------------------------------------------------ save and load
def test_save_and_load_round_trip_with_buffers(tmp_path):
    net = FullyConnectedNet(6, [5, 4], 3, init="xavier", reg=0.01, activation="tanh", loss="svm", seed=9,
                            dropout=0.2, normalization="batchnorm")
    X, y = random_problem(n=12, d=6, dtype=np.float32)
    net.loss(X, y, rng=np.random.default_rng(0))  # running statistics away from their start
    path = net.save(tmp_path / "model.npz", trial_id="abc")
    loaded = FullyConnectedNet.load(path)
    assert loaded.hyperparameters() == net.hyperparameters() and loaded.metadata == {"trial_id": "abc"}
    for store, loaded_store in ((net.params, loaded.params), (net.buffers, loaded.buffers)):
        assert list(loaded_store) == list(store)
        for name in store:
            np.testing.assert_array_equal(loaded_store[name], store[name])
            assert loaded_store[name].dtype == np.float32 and loaded_store[name].flags.c_contiguous
    np.testing.assert_array_equal(loaded.loss(X), net.loss(X))
    with np.load(path, allow_pickle=False) as f:  # plain arrays and a JSON header, no pickle
        assert set(f.files) == {*net.params, *net.buffers, "__header__"}
        assert json.loads(str(f["__header__"]))["hyperparameters"]["hidden_dims"] == [5, 4]


def forge(path: Path, **changes) -> Path:
    """Rewrite the header of a saved net with ``changes`` to its hyperparameters."""
    with np.load(path) as f:
        arrays = dict(f)
    header = json.loads(str(arrays["__header__"]))
    header["hyperparameters"].update(changes)
    arrays["__header__"] = np.array(json.dumps(header))
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


@pytest.mark.parametrize("changes, said", [
    ({"hidden_dims": [10**11, 4]}, "W1 does not have the shape"),
    ({"input_dim": 10**11}, "does not have the shape"),
    ({"hidden_dims": [5] * 10**6}, "more layers than the file has arrays"),
    ({"hidden_dims": [5, 4, 3]}, "its arrays are not the"),
    ({"hidden_dims": [5, 3]}, "W2 does not have the shape"),
    ({"normalization": "layernorm"}, "its arrays are not the"),
    ({"hidden_dims": "lots"}, "hidden_dims must be"),
    ({"dtype": "int8"}, "dtype must be"),
    ({"hidden_dim": 5}, "not a FullyConnectedNet's"),
])
def test_a_forged_header_is_refused_before_the_net_is_built(tmp_path, changes, said):
    """A header claiming 10^11 units would have the constructor allocate terabytes (a MemoryError at
    best): the shapes are checked against the file's arrays first, and that is a ValueError."""
    path = FullyConnectedNet(6, [5, 4], 3, seed=0, normalization="batchnorm").save(tmp_path / "model.npz")
    with pytest.raises(ValueError, match=said):
        FullyConnectedNet.load(forge(path, **changes))


@pytest.mark.parametrize("header", [None, "[1, 2]", '{"metadata": {}}'])
def test_a_missing_or_foreign_header_is_refused(tmp_path, header):
    net = FullyConnectedNet(6, [5], 3, seed=0)
    arrays = dict(net.params) if header is None else {**net.params, "__header__": np.array(header)}
    with open(tmp_path / "model.npz", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ValueError, match="not a FullyConnectedNet's"):
        FullyConnectedNet.load(tmp_path / "model.npz")


def test_an_array_header_claiming_terabytes_is_refused_unread(tmp_path):
    from sweep.errors import SweepError

    path = FullyConnectedNet(6, [5], 3, seed=0).save(tmp_path / "model.npz")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("W9.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, "
                                   b"'shape': (1000000, 1000000), }" + b" " * 60 + b"\n")
    with pytest.raises(SweepError, match="would need 8.0 TB"):
        FullyConnectedNet.load(path)


# ------------------------------------------------------------------------------------------ learning
def test_three_hidden_layers_learn_digits_deterministically():
    from sweep import load_dataset

    data = load_dataset("digits")

    def fit():
        net = FullyConnectedNet(data.input_dim, [64, 64, 64], data.num_classes, init="he", seed=0, dropout=0.1)
        history = train(net, data, optimizer="sgd_momentum", learning_rate=0.05, lr_decay=0.95, batch_size=64,
                        epochs=6, seed=0)
        return net, [{k: v for k, v in r.items() if k != "seconds"} for r in history]

    (net, records), (again, records_again) = fit(), fit()
    assert max(r["val_acc"] for r in records) > 0.9
    assert records_again == records
    assert all(np.array_equal(again.params[name], net.params[name]) for name in net.params)

"""Users' own models (sweep.models): loading a model file, the contract's dry run, `sweep gradcheck`.

The broken models are files in tests/models/, one rule of the contract broken in each; the line
the error must name carries the comment `# expected`. The correct models are the examples users see
in experiments/models/.
"""

from __future__ import annotations

import inspect
import linecache
import pickle
import re
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, sweep_cli
from test_hostile import in_process, one_error_line

from sweep.errors import ModelError
from sweep.models import (ModelSource, accepts, build_model, check_model, model_hyperparameters, resolve_model,
                          user_location)
from sweep.models.gradcheck import THRESHOLD, check_gradients

BROKEN = ROOT / "tests" / "models"
EXAMPLES = ROOT / "experiments" / "models"
TWO_LAYER = "experiments/models/two_layer.py:TwoLayerNet"
THREE_LAYER = "experiments/models/three_layer.py:ThreeLayerNet"


def rows(n: int = 8, input_dim: int = 12, num_classes: int = 4, seed: int = 0):
    """A few rows of a random problem: X (n, input_dim) float32, y (n,) labels."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, input_dim)).astype(np.float32), rng.integers(num_classes, size=n)


def expected_line(path: Path) -> int:
    """The line of ``path`` marked ``# expected``: the one its error must name."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.endswith("# expected"))


def check_ref(ref: str, hyperparameters: dict | None = None, **data) -> ModelError:
    """The ModelError check_model raises for ``ref`` (relative to the repository) on a few random rows."""
    X, y = rows(**data)
    with pytest.raises(ModelError) as caught:
        check_model(resolve_model(ref, ROOT), hyperparameters or {}, X, y, "float32", num_classes=4)
    message = str(caught.value)
    assert "\n" not in message
    return message


def write_model(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(inspect.cleandoc(text) + "\n")
    return path


# ------------------------------------------------------------------------------ the contract's rules
#: Each broken model file, its class, and what its one line must say besides the file:line.
BROKEN_MODELS = [
    ("syntax_error.py", "Net", "has a syntax error (expected ':')"),
    ("raises_at_import.py", "Net", "raises_at_import.py:Net raised ImportError: cannot import name 'Softmx'"),
    ("constructor_raises.py", "TwoHeads", "raised NameError: name 'num_clases' is not defined"),
    ("no_params.py", "WeightsAsAttributes", "has no `params` once built"),
    ("params_not_arrays.py", "ScalarBias", "params['b'] is a float, not a NumPy array"),
    ("loss_named_otherwise.py", "ComputeLoss", "ComputeLoss has no method `loss` (it has compute_loss): loss(X) "
                                               "returns the scores"),
    ("scores_wrong_shape.py", "ReturnsLabels", "loss(X) returned scores of shape (8,): loss(X) returns the scores, "
                                               "an array of shape (8, 4)"),
    ("loss_not_pair.py", "ForgetsGrads", "loss(X, y) returned a float64, not a pair"),
    ("loss_not_scalar.py", "LossPerRow", "returned a loss that is an array of shape (8,), not a scalar"),
    ("grads_missing_key.py", "ForgetsBiasGradient", "returned grads without 'b' (params has W, b): return a gradient "
                                                    "for every parameter"),
    ("grads_renamed.py", "GradientsNamedD", "returned grads without 'W', 'b' and with 'dW', 'db' (params has W, b)"),
    ("grad_wrong_shape.py", "TransposedGradient", "grads['W'] that is an array of shape (4, 12); params['W'] has the "
                                                  "shape (12, 4)"),
    ("nan_loss.py", "NoMaxShift", "returned the loss nan with freshly built weights"),
    ("running_averages.py", "BatchNormNet", "loss(X) gave other scores after one call of loss(X, y), though params "
                                            "did not change: the model keeps state outside params"),
]


@pytest.mark.parametrize("file, class_name, says", BROKEN_MODELS, ids=[b[0] for b in BROKEN_MODELS])
def test_a_broken_model_is_one_line_naming_its_file_line_and_the_rule(file, class_name, says):
    message = check_ref(f"tests/models/{file}:{class_name}")
    assert re.match(rf"(\S*/)?{re.escape(file)}:{expected_line(BROKEN / file)}: ", message), message
    assert says in message


@pytest.mark.parametrize("file, class_name, says", BROKEN_MODELS, ids=[b[0] for b in BROKEN_MODELS])
def test_gradcheck_of_a_broken_model_is_exit_2_and_its_line(monkeypatch, capsys, file, class_name, says):
    result = in_process(monkeypatch, capsys, BROKEN, "gradcheck", f"{file}:{class_name}", "--rows", 8)
    one_error_line(result, f"sweep: error: {file}:{expected_line(BROKEN / file)}: ", says)


def test_a_missing_class_names_the_file_and_the_classes_it_defines():
    message = check_ref("tests/models/linear.py:Softmaks")
    assert message == ("tests/models/linear.py:Softmaks: tests/models/linear.py has no class `Softmaks` "
                       "(did you mean `Softmax`?); it defines Softmax")


def test_a_name_that_is_not_a_class_is_refused_at_its_definition():
    # three_layer.py imports the function affine_forward from layers.py
    message = check_ref("experiments/models/three_layer.py:affine_forward")
    line = next(i for i, text in enumerate((EXAMPLES / "layers.py").read_text().splitlines(), 1)
                if text.startswith("def affine_forward"))
    assert message.startswith(f"experiments/models/layers.py:{line}: `affine_forward` in "
                              "experiments/models/three_layer.py is a function, not a class")


@pytest.mark.parametrize("ref, says", [
    ("nets.py", "nets.py: expected FILE.py:Class or package.module:Class"),
    ("nets.py:3D", "nets.py:3D: expected FILE.py:Class"),
    ("tests/models/none.py:Net", "tests/models/none.py:Net: "),
    ("tests/models:Net", "is a folder, not a Python file"),
    ("sweep.nn.nett:TwoLayerNet", "no module named `sweep.nn.nett` can be imported"),
    ("my-package.nets:Net", "`my-package.nets` is neither a file (FILE.py) nor a module name"),
])
def test_a_malformed_or_missing_ref_is_one_line(ref, says):
    with pytest.raises(ModelError) as caught:
        resolve_model(ref, ROOT)
    assert str(caught.value).startswith(ref) and says in str(caught.value) and "\n" not in str(caught.value)


def test_a_module_that_raises_at_import_names_its_line(tmp_path, monkeypatch):
    write_model(tmp_path / "badpkg", "__init__.py", "")
    write_model(tmp_path / "badpkg", "nets.py", """
        import numpy as np
        WIDTH = int("sixty-four")
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    source = resolve_model("badpkg.nets:Net", tmp_path)
    assert (source.module, source.path, source.source) == ("badpkg.nets", None, None)
    with pytest.raises(ModelError, match=r"^badpkg/nets.py:2: importing badpkg.nets:Net raised ValueError: "
                                         r"invalid literal for int\(\) with base 10: 'sixty-four'"):
        source.load()


def test_the_example_models_keep_the_contract():
    X, y = rows(8, 64, 10)
    for ref in (TWO_LAYER, THREE_LAYER, "builtin"):
        settings = {"hidden_dim": 16} if ref == "builtin" else {"dropout": 0.5} if ref == THREE_LAYER else {}
        check_model(resolve_model(ref, ROOT), settings, X, y, "float32", num_classes=10)


def test_state_outside_params_that_the_scores_do_not_read_or_random_scores_are_not_blamed(tmp_path):
    """Caches for the backward pass (CS231n's layers keep them) change with every loss(X, y) but not the
    scores; scores drawn anew on each call (noise at test time) cannot be compared, and are let be; rows
    changed in place by loss(X, y) are the caller's copy."""
    write_model(tmp_path, "cached.py", """
        import numpy as np
        from linear import Softmax

        class Cached(Softmax):
            def loss(self, X, y=None):
                if y is not None:
                    self.cache = (X.copy(), X @ self.params["W"])
                return super().loss(X, y)

        class Noisy(Softmax):
            def loss(self, X, y=None):
                scores = super().loss(X, y)
                return scores + np.random.rand(*scores.shape) if y is None else scores

        class NoisyInPlace(Softmax):
            def loss(self, X, y=None):
                if y is not None:
                    X += 0.1 * np.random.randn(*X.shape)  # the trainer gives each minibatch its own rows
                return super().loss(X, y)
    """)
    (tmp_path / "linear.py").write_text((BROKEN / "linear.py").read_text())
    X, y = rows()
    for name in ("Cached", "Noisy", "NoisyInPlace"):
        check_model(resolve_model(f"cached.py:{name}", tmp_path), {}, X, y, "float32", num_classes=4)


def test_a_module_ref_loads_the_installed_class():
    from sweep.nn.net import TwoLayerNet

    assert resolve_model("sweep.nn.net:TwoLayerNet", ROOT).load() is TwoLayerNet
    assert resolve_model("builtin", ROOT).load() is TwoLayerNet


def test_the_dry_run_leaves_numpys_global_rng_as_it_was():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    X, y = rows()
    check_model(resolve_model(THREE_LAYER, ROOT), {"dropout": 0.5}, X, y, "float32", num_classes=4)
    assert np.array_equal(np.random.get_state()[1], before)


def test_nan_scores_from_a_model_that_standardises_constant_pixels_are_a_contract_break(tmp_path):
    # digits' border pixels are 0 in every row: a model dividing by their spread scores NaN from the start
    write_model(tmp_path, "standardise.py", """
        from linear import Softmax


        class Standardise(Softmax):
            def loss(self, X, y=None):
                return super().loss((X - X.mean(axis=0)) / X.std(axis=0), y)  # expected
    """)
    (tmp_path / "linear.py").write_text((BROKEN / "linear.py").read_text())
    X, y = rows()
    X[:, 0] = 0
    with pytest.raises(ModelError) as caught:
        check_model(resolve_model("standardise.py:Standardise", tmp_path), {}, X, y, "float32", num_classes=4)
    assert str(caught.value).endswith("standardise.py:6: loss(X) returned non-finite scores (NaN or inf) with freshly "
                                      "built weights, a bug more often than a bad start (a log of 0? a division by "
                                      "0?): scores are finite")


# ------------------------------------------------------------------------------ loading a model file
def test_a_model_file_imports_its_sibling_modules_and_leaves_sys_path_as_it_was():
    before = list(sys.path)
    cls = resolve_model(THREE_LAYER, ROOT).load()
    assert cls.__name__ == "ThreeLayerNet" and sys.modules["layers"].__file__ == str(EXAMPLES / "layers.py")
    assert sys.path == before


def test_a_class_is_imported_once_per_text_and_pickles(tmp_path):
    path = write_model(tmp_path, "nets.py", """
        from dataclasses import dataclass

        import numpy as np


        @dataclass
        class Net:
            input_dim: int
            num_classes: int
            scale: float = 0.1

            def __post_init__(self):
                self.params = {"W": self.scale * np.random.randn(self.input_dim, self.num_classes)}
    """)
    source = resolve_model("nets.py:Net", tmp_path)
    cls = source.load()
    assert resolve_model("nets.py:Net", tmp_path).load() is cls  # the same text: the same class
    model = build_model(cls, {"scale": 0.5}, 3, 2, "float32", seed=1)
    copy = pickle.loads(pickle.dumps(model))
    assert type(copy) is cls and np.array_equal(copy.params["W"], model.params["W"])
    assert pickle.loads(pickle.dumps(source)) == source
    path.write_text(path.read_text().replace("0.1", "0.2"))
    assert resolve_model("nets.py:Net", tmp_path).load() is not cls  # an edited file is another class


def test_a_dataclass_model_is_blamed_by_its_ref_not_by_its_generated_init(tmp_path):
    write_model(tmp_path, "frozen.py", """
        from dataclasses import dataclass


        @dataclass
        class Frozen:
            input_dim: int
            num_classes: int
    """)
    X, y = rows()
    with pytest.raises(ModelError, match=r"^frozen.py:Frozen: Frozen has no `params` once built"):
        check_model(resolve_model("frozen.py:Frozen", tmp_path), {}, X, y, "float32", num_classes=4)


def test_a_model_from_its_text_names_the_users_file_and_line_where_the_file_does_not_exist(tmp_path):
    # a Dask worker on another machine: the text travels with the task, the file is not there
    text = inspect.cleandoc("""
        import numpy as np


        class Net:
            def __init__(self, input_dim, num_classes):
                self.params = {"W": np.zeros((input_dim, num_classes))}

            def loss(self, X, y=None):
                return X.dot(self.params["W"].T)  # the bug
    """)
    elsewhere = "/home/student/elsewhere/nets.py"
    source = pickle.loads(pickle.dumps(ModelSource("nets.py:Net", "Net", path=elsewhere, source=text)))
    model = build_model(source.load(), {}, 3, 2, "float64", seed=0)
    with pytest.raises(ValueError) as caught:
        model.loss(np.ones((4, 3)))
    assert user_location(caught.value, elsewhere) == f"{elsewhere}:9"
    for forget in (linecache.checkcache, linecache.clearcache):  # the module's loader gives the text again
        forget()
        printed = "".join(traceback.format_exception(caught.value))
        assert f'File "{elsewhere}", line 9, in loss\n    return X.dot(self.params["W"].T)  # the bug' in printed
    with pytest.raises(ModelError, match=rf"^{elsewhere}:9: loss\(X\) raised ValueError: shapes \(8,3\) and \(2,3\)"):
        check_model(source, {}, np.ones((8, 3)), np.zeros(8, dtype=int), "float64", num_classes=2)


def test_user_location_is_the_deepest_frame_in_the_users_folder_not_in_numpy(tmp_path):
    write_model(tmp_path, "helpers.py", """
        import numpy as np


        def inverse(a):
            return np.linalg.inv(a)
    """)
    write_model(tmp_path, "singular.py", """
        import numpy as np

        from helpers import inverse


        class Whitened:
            def __init__(self, input_dim, num_classes):
                self.whiten = inverse(np.zeros((input_dim, input_dim)))
    """)
    with pytest.raises(ModelError) as caught:
        build_model(resolve_model("singular.py:Whitened", tmp_path).load(), {}, 3, 2, "float32", seed=0)
    assert re.match(r"(\S*/)?helpers.py:5: Whitened\(input_dim=3, num_classes=2\) raised LinAlgError: Singular "
                    r"matrix; the constructor must build the model from these keyword arguments$", str(caught.value))


# ------------------------------------------------------------------------------ signature and construction
class _Full:
    def __init__(self, input_dim, num_classes, hidden_size, reg=0.0, *layers, dtype=np.float32, seed=None, **more):
        self.seen = dict(input_dim=input_dim, num_classes=num_classes, hidden_size=hidden_size, reg=reg,
                         dtype=dtype, seed=seed, **more)
        self.params = {"W": np.random.randn(input_dim, num_classes)}


class _Plain:
    def __init__(self, input_dim, num_classes, std=1e-2):
        self.params = {"W": std * np.random.randn(input_dim, num_classes)}


class _Kwargs(_Plain):
    def __init__(self, input_dim, num_classes, **options):
        super().__init__(input_dim, num_classes)
        self.options = options


def test_hyperparameters_are_the_named_constructor_parameters_the_sweep_does_not_fill_in():
    found = model_hyperparameters(_Full)
    assert list(found) == ["hidden_size", "reg"]
    assert found["hidden_size"].default is inspect.Parameter.empty and found["reg"].default == 0.0
    assert (accepts(_Full, "dtype"), accepts(_Full, "seed"), accepts(_Full, "anything")) == (True, True, True)
    assert (accepts(_Plain, "dtype"), accepts(_Plain, "seed"), accepts(_Plain, "std")) == (False, False, True)
    assert accepts(_Kwargs, "seed") and model_hyperparameters(_Kwargs) == {}


def test_build_passes_dtype_and_seed_only_when_accepted_and_seeds_the_global_rng():
    full = build_model(_Full, {"hidden_size": 5}, 3, 2, "float32", seed=7)
    assert full.seen == dict(input_dim=3, num_classes=2, hidden_size=5, reg=0.0, dtype=np.float32, seed=7)
    assert isinstance(full.seen["dtype"], np.dtype)
    first, again, other = (build_model(_Plain, {}, 3, 2, "float32", seed=s).params["W"] for s in (7, 7, 8))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert build_model(_Kwargs, {}, 3, 2, "float64", seed=1).options == {"dtype": np.float64, "seed": 1}


# ------------------------------------------------------------------------------ gradcheck
def test_gradcheck_of_a_correct_model_prints_each_parameter_and_exits_0(tmp_path):
    result = sweep_cli("gradcheck", TWO_LAYER, cwd=ROOT)
    assert result.returncode == 0 and not result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ("gradcheck of TwoLayerNet (experiments/models/two_layer.py) in float64 on 5 random rows, "
                        "input_dim 12, num_classes 4, seed 0")
    assert lines[1] == "hyperparameters: hidden_size=50, std=0.0001, reg=0.0"
    table = [re.fullmatch(r"(\w+) +(\(.*\)) +max relative error (\S+)  ok", line) for line in lines[2:6]]
    assert [(row[1], row[2]) for row in table] == [("W1", "(12, 50)"), ("b1", "(50,)"), ("W2", "(50, 4)"),
                                                   ("b2", "(4,)")], lines
    assert all(float(row[3]) < THRESHOLD for row in table)
    assert len({line.index("max") for line in lines[2:6]}) == 1  # a table: the columns line up
    assert lines[6].startswith("ok: every gradient agrees with centered differences") and len(lines) == 7


def test_gradcheck_of_a_gradient_missing_its_regularization_term_exits_1_naming_it(tmp_path):
    text = (EXAMPLES / "two_layer.py").read_text()
    correct = 'grads["W1"] = X.T.dot(dhidden) + self.reg * W1'
    assert correct in text
    (tmp_path / "wrong.py").write_text(text.replace(correct, 'grads["W1"] = X.T.dot(dhidden)'))
    result = sweep_cli("gradcheck", "wrong.py:TwoLayerNet", "--set", "reg=0.1", "--set", "std=0.1", "--set",
                       "hidden_size=10", cwd=tmp_path)
    assert result.returncode == 1 and not result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "hyperparameters: hidden_size=10, std=0.1, reg=0.1"
    wrong = re.fullmatch(r"W1  \(12, 10\)  max relative error (\S+)  WRONG", lines[2])
    assert wrong and float(wrong[1]) > 1e-3, lines[2]
    assert all(line.endswith("  ok") for line in lines[3:6]), lines
    assert lines[6].startswith("WRONG: the gradient of W1 disagrees with centered differences")


def test_gradcheck_of_a_model_with_dropout_from_the_global_rng_exits_0(tmp_path):
    # the masks come from np.random.rand: every evaluation of the loss must draw the same ones
    result = sweep_cli("gradcheck", THREE_LAYER, "--set", "dropout=0.5", "--set", "h1=10", "--set", "h2=8",
                       "--set", "reg=0.1", "--seed", "3", "--rows", "4", "--set", "input_dim=6", cwd=ROOT)
    assert result.returncode == 0 and not result.stderr, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("on 4 random rows, input_dim 6, num_classes 4, seed 3")
    assert lines[1] == "hyperparameters: h1=10, h2=8, dropout=0.5, reg=0.1, weight_scale=0.01"
    assert [line.split()[0] for line in lines[2:8]] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert lines[2].startswith("W1  (6, 10)") and lines[-1].startswith("ok:")


@pytest.mark.parametrize("channels", [1, 3])
def test_gradcheck_of_the_shipped_conv_net_exits_0(channels):
    # the conv layer's im2col, the 2x2 pooling's routing and the global-rng dropout, on gray and color images
    result = sweep_cli("gradcheck", "experiments/models/conv_net.py:ThreeLayerConvNet", "--set",
                       f"input_dim={36 * channels}", "--set", f"channels={channels}", "--set", "num_filters=3",
                       "--set", "filter_size=3", "--set", "hidden_dim=7", "--set", "dropout=0.5", "--set", "reg=0.1",
                       cwd=ROOT)
    assert result.returncode == 0 and not result.stderr, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[2:8]] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert lines[2].startswith(f"W1  (3, {channels}, 3, 3)") and lines[-1].startswith("ok:")


def test_the_conv_nets_pooling_gives_a_window_of_equal_values_one_gradient_not_four():
    # Blank images make every pooling window's four values equal (the bias): the max moves with the bias
    # by exactly its change, so b1's gradient is the one its centered differences give, not four times it.
    cls = resolve_model("experiments/models/conv_net.py:ThreeLayerConvNet", ROOT).load()
    np.random.seed(0)
    net = cls(input_dim=64, num_classes=3, num_filters=2, filter_size=3, hidden_dim=5, dtype=np.float64)
    net.params["b1"][:] = 0.5
    X, y = np.zeros((4, 64)), np.array([0, 1, 2, 1])
    _, grads = net.loss(X, y)
    numeric = np.empty(2)
    for k in range(2):
        net.params["b1"][k] += 1e-6
        up = net.loss(X, y)[0]
        net.params["b1"][k] -= 2e-6
        numeric[k] = (up - net.loss(X, y)[0]) / 2e-6
        net.params["b1"][k] += 1e-6
    assert np.abs(numeric).min() > 1e-4  # the bias does move the loss
    np.testing.assert_allclose(grads["b1"], numeric, rtol=1e-6)


def test_gradcheck_of_a_broken_ref_is_exit_2_one_line(tmp_path):
    one_error_line(sweep_cli("gradcheck", "nets.py:Net", cwd=tmp_path),
                   f"sweep: error: nets.py:Net: {tmp_path.resolve()}/nets.py does not exist; a model file's path is "
                   f"relative to {tmp_path.resolve()}")


@pytest.mark.parametrize("args, says", [
    (["--set", "hiden_size=3"], "--set hiden_size: experiments/models/two_layer.py:TwoLayerNet takes no hyperparameter "
                                "`hiden_size` (did you mean `hidden_size`?); it takes hidden_size, std, reg"),
    (["--set", "dtype=float32"], "--set dtype: gradcheck builds the model in float64"),
    (["--set", "num_classes=1"], "--set num_classes 1: must be a whole number >= 2"),
    (["--rows", "0"], "--rows 0: must be a whole number >= 1"),
    (["--seed", "-1"], "--seed -1: must be in [0, 2**32)"),
    (["--set", "reg"], "--set 'reg': expected name=value"),
])
def test_gradcheck_settings_that_cannot_be_used_are_exit_2(monkeypatch, capsys, args, says):
    one_error_line(in_process(monkeypatch, capsys, ROOT, "gradcheck", TWO_LAYER, *args), says)


def test_gradcheck_asks_for_a_hyperparameter_without_a_default(monkeypatch, capsys):
    one_error_line(in_process(monkeypatch, capsys, ROOT, "gradcheck", "builtin"),
                   "sweep: error: builtin: hidden_dim has no default; give a value with --set hidden_dim=VALUE")


def test_gradcheck_of_the_builtin_net_with_dropout_passes_it_the_same_generator_each_time():
    check = check_gradients(resolve_model("builtin", ROOT), {"hidden_dim": 8, "dropout": 0.5, "input_dropout": 0.2,
                                                             "reg": 0.1}, rows=4)
    assert check.ok and [p.name for p in check.parameters] == ["W1", "b1", "W2", "b2"]
    assert max(p.error for p in check.parameters) < THRESHOLD

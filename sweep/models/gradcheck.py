"""``sweep gradcheck``: a model's analytic gradients against centered differences, CS231n style.

On a few random rows of a small random problem, in float64, each parameter's gradient from
``loss(X, y)`` is compared with ``(f(w + h) - f(w - h)) / 2h`` entry by entry
(:func:`sweep.nn.gradcheck.numerical_gradient`); the largest relative error of each parameter is
printed, and the check fails when any is above :data:`THRESHOLD`.

Dropout: a model that draws masks from NumPy's global RNG (``np.random.rand``) would draw new masks
at every evaluation, and the differences would measure the masks, not the gradient. As CS231n's
notebooks do, the global RNG is seeded with the same seed before every evaluation, so every one
draws the same masks; a model whose ``loss`` takes ``rng`` (the built-in nets) gets a generator in
the same state each time.

Two things keep a correct gradient from failing the check by accident:

- Parameters that are all zeros when built (CS231n's biases) are given small random values
  (0.1 N(0, 1)) first. With zero biases, a row whose previous layer is all zeros (all dropped, or
  all dead) puts every unit of the next layer exactly on its ReLU kink, where the centered
  difference averages the two slopes; the tests of the built-in net do the same. The gradient's
  correctness does not depend on the point it is checked at.
- An entry's relative error is ``|a - n| / max(|a| + |n|, floor)``, with ``floor`` the smallest
  gradient centered differences resolve to :data:`THRESHOLD` (:func:`resolvable`), instead of
  CS231n's fixed 1e-8: a gradient entry of 1e-5 next to a loss of 1.4 is known only to about
  1e-11 (rounding in ``f(w + h) - f(w - h)``), a relative error of 1e-6 that says nothing about the
  code. A wrong term larger than ``floor * THRESHOLD`` (about 1e-9) still fails the check.

What can still fail a correct model: weights so small (CS231n's std=1e-4) that the step of 1e-5
moves a unit across its ReLU kink. Check as CS231n's notebooks do, with larger weights
(``--set std=0.1``); a wrong gradient fails for every ``--seed``, a kink for one.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .. import yamlio
from ..errors import SweepError, did_you_mean, shown
from ..nn.gradcheck import numerical_gradient, relative_error
from .build import build_model, global_rng_kept, raised_in_user_code
from .contract import check_model, takes_generator
from .signature import FILLED_IN, accepts, model_hyperparameters
from .source import ModelSource, resolve_model
from .where import display_path

#: The largest relative error of a correct float64 gradient (CS231n's notebooks: "errors around
#: 1e-7 or less"; a wrong one, a forgotten regularization term, is 1e-3 and up).
THRESHOLD = 1e-6
#: The step of the centered differences.
STEP = 1e-5
#: Rounding in one evaluation of a loss, in units of float64's epsilon times the loss (measured:
#: differences of correct gradients stay below 2 such units on the example models; 10 for margin).
ROUNDING_UNITS = 10
#: Parameters that start at zero are drawn from this times N(0, 1) before the check.
ZERO_JITTER = 0.1
#: The random problem's sizes and rows when the command line does not give them: small, so the
#: 2 x (number of weights) evaluations take a moment.
INPUT_DIM, NUM_CLASSES, ROWS = 12, 4, 5


@dataclass(frozen=True)
class ParameterCheck:
    """One parameter's check: its name, shape and largest relative error."""

    name: str
    shape: tuple
    error: float

    @property
    def ok(self) -> bool:
        return self.error < THRESHOLD


@dataclass(frozen=True)
class GradientCheck:
    """The check of a model: what was checked, and each parameter's result in ``params`` order."""

    source: ModelSource
    hyperparameters: dict
    input_dim: int
    num_classes: int
    rows: int
    seed: int
    parameters: list[ParameterCheck]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.parameters)

    def lines(self) -> list[str]:
        """The report: what was checked, one line per parameter (name, shape, error, ok/WRONG), the verdict."""
        settings = ", ".join(f"{name}={value!r}" for name, value in self.hyperparameters.items()) or "none"
        where = display_path(self.source.path) if self.source.path else self.source.module
        lines = [f"gradcheck of {self.source.class_name} ({where}) in float64 on {self.rows} random rows, "
                 f"input_dim {self.input_dim}, num_classes {self.num_classes}, seed {self.seed}",
                 f"hyperparameters: {settings}"]
        width = max(len(p.name) for p in self.parameters)
        shape_width = max(len(str(p.shape)) for p in self.parameters)
        lines += [f"{p.name:<{width}}  {str(p.shape):<{shape_width}}  max relative error {p.error:.1e}  "
                  f"{'ok' if p.ok else 'WRONG'}" for p in self.parameters]
        return lines + [self.verdict()]

    def verdict(self) -> str:
        worst = max(self.parameters, key=lambda p: p.error)
        if self.ok:
            return (f"ok: every gradient agrees with centered differences (largest relative error "
                    f"{worst.error:.1e}, threshold {THRESHOLD:.0e})")
        wrong = [p.name for p in self.parameters if not p.ok]
        return (f"WRONG: the gradient of {', '.join(wrong)} disagrees with centered differences (relative error "
                f"up to {worst.error:.1e}, threshold {THRESHOLD:.0e}): check its backward pass and its "
                "regularization term (a wrong gradient fails for every --seed; a ReLU kink crossed by the step "
                "fails for one)")


def parse_settings(items: list[str]) -> dict:
    """``['hidden_size=10', 'reg=0.1']`` -> ``{'hidden_size': 10, 'reg': 0.1}`` (values read as YAML)."""
    settings = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise SweepError(f"--set {shown(item)}: expected name=value, e.g. --set reg=0.1")
        try:
            settings[name] = yamlio.loads(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise SweepError(f"--set {shown(item)}: the value is refused: {yamlio.problem_of(exc)[1]}") from None
    return settings


def run_gradcheck(ref: str, items: list[str], *, rows: int = ROWS, seed: int = 0,
                  base_dir: Path | None = None) -> GradientCheck:
    """``sweep gradcheck REF --set ... --rows N --seed S``: the model of ``ref`` (relative to
    ``base_dir``, the current folder by default) checked; ``input_dim`` and ``num_classes`` among
    the settings size the random problem. SweepError (ModelError) for a user error."""
    settings = parse_settings(items)
    input_dim = _size(settings.pop("input_dim", INPUT_DIM), "input_dim", 1)
    num_classes = _size(settings.pop("num_classes", NUM_CLASSES), "num_classes", 2)
    rows = _size(rows, "--rows", 1)
    if not 0 <= seed < 2 ** 32:
        raise SweepError(f"--seed {seed}: must be in [0, 2**32), NumPy's seeds")
    source = resolve_model(ref, Path.cwd() if base_dir is None else base_dir)
    return check_gradients(source, settings, rows=rows, seed=seed, input_dim=input_dim, num_classes=num_classes)


def _size(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        label = name if name.startswith("--") else f"--set {name}"
        raise SweepError(f"{label} {shown(value)}: must be a whole number >= {low}")
    return value


def check_gradients(source: ModelSource, given: dict, *, rows: int = ROWS, seed: int = 0,
                    input_dim: int = INPUT_DIM, num_classes: int = NUM_CLASSES) -> GradientCheck:
    """Check the gradients of ``source``'s model built with the hyperparameters ``given``.

    The model first passes the contract's dry run (:func:`check_model`) on the same random rows
    (X: (rows, input_dim) standard normal, y: (rows,) labels below num_classes), then is built in
    float64 (``dtype`` passed when accepted; ``params`` cast to float64 in any case), and every
    entry of every parameter is perturbed by +-1e-5. NumPy's global RNG is left as it was.
    """
    cls = source.load()
    hyperparameters = _hyperparameters(cls, source, given)
    data = np.random.default_rng(seed)
    X = data.standard_normal((rows, input_dim))
    y = data.integers(num_classes, size=rows)
    check_model(source, given, X, y, "float64", num_classes=num_classes, seed=seed)
    with global_rng_kept(), np.errstate(all="ignore"):  # an overflow shows as a large (or nan) error
        model = build_model(cls, given, input_dim, num_classes, "float64", seed)
        _in_float64_off_kinks(model.params, data)
        loss = _repeatable_loss(model, X, y, seed)
        try:
            checks = _compare(model.params, loss)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's loss, at a perturbed weight
            raise raised_in_user_code(exc, cls, model.loss, "loss(X, y)", "the loss must be defined near the "
                                      "initial weights") from exc
    return GradientCheck(source, hyperparameters, input_dim, num_classes, rows, seed, checks)


def _hyperparameters(cls, source: ModelSource, given: dict) -> dict:
    """Every hyperparameter of the constructor with the value it is checked at (the given one, else
    its default); SweepError for a name the constructor does not take or one left without a value."""
    declared = model_hyperparameters(cls)
    for name in given:
        if name in FILLED_IN:
            raise SweepError(f"--set {name}: " + ("gradcheck builds the model in float64" if name == "dtype"
                                                  else "give the seed with --seed"))
        if name not in declared and not accepts(cls, name):
            raise SweepError(f"--set {name}: {source.ref} takes no hyperparameter `{name}`"
                             f"{did_you_mean(name, declared)}; it takes {', '.join(declared) or 'none'}")
    missing = [name for name, p in declared.items() if p.default is inspect.Parameter.empty and name not in given]
    if missing:
        raise SweepError(f"{source.ref}: {', '.join(missing)} has no default; give a value with "
                         + " ".join(f"--set {name}=VALUE" for name in missing))
    in_order = {name: given.get(name, p.default) for name, p in declared.items()}
    return {**in_order, **given}


def _in_float64_off_kinks(params: dict, rng: np.random.Generator) -> None:
    """Each parameter cast to float64 in place in ``params``; those all zeros drawn from ZERO_JITTER N(0, 1)."""
    for name, value in params.items():
        value = params[name] = np.array(value, dtype=np.float64)
        if not value.any():
            value[...] = ZERO_JITTER * rng.standard_normal(value.shape)


def _repeatable_loss(model, X: np.ndarray, y: np.ndarray, seed: int):
    """``loss()`` -> ``model.loss(X, y)`` with the same random draws at every call (see the module's doc)."""

    with_generator = takes_generator(model.loss)

    def loss():
        np.random.seed(seed)
        return model.loss(X, y, rng=np.random.default_rng(seed)) if with_generator else model.loss(X, y)

    return loss


def resolvable(loss_value: float, step: float = STEP) -> float:
    """The smallest gradient entry centered differences of step ``step`` measure to a relative error
    of THRESHOLD, at a loss of ``loss_value``: their rounding error over the threshold."""
    rounding = ROUNDING_UNITS * np.finfo(np.float64).eps * max(1.0, abs(loss_value)) / (2 * step)
    return rounding / THRESHOLD


def _compare(params: dict, loss) -> list[ParameterCheck]:
    """Each parameter's largest relative error between the analytic and the numerical gradient."""
    value, grads = loss()
    floor = resolvable(float(value))
    analytic = {name: np.array(grad, dtype=np.float64) for name, grad in grads.items()}  # a copy: loss may reuse it
    checks = []
    for name, param in params.items():
        numeric = numerical_gradient(lambda _: float(loss()[0]), param, STEP)
        checks.append(ParameterCheck(name, tuple(param.shape), relative_error(analytic[name], numeric, floor)))
    return checks

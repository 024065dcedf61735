"""The hyperparameters a trial takes: their types, allowed values and defaults.

A :class:`ParamTable` is the hyperparameters of one experiment, in the order of the trials.csv
columns: the built-in net's (:data:`BUILTIN`), or the trainer's (:data:`TRAINER_NAMES`) and those of
a user's model constructor. One table serves validation (config), the columns (store), reading the
records back (their text to values) and the calls of the trainer and the model (task).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .errors import shown
from .settings import Invalid, Setting
from .space import Distribution


@dataclass(frozen=True)
class ParamSpec(Setting):
    """What one hyperparameter accepts (a :class:`~sweep.settings.Setting`).

    ``kind`` is ``"int"``, ``"float"``, ``"choice"`` (one of ``choices``), ``"widths"`` (a whole
    number, or a list of them: the hidden layers of the built-in net), or, for the
    hyperparameters of a user's model, ``"bool"``, ``"text"`` (any string) or ``"json"`` (any value a
    YAML file can give: lists, mappings, null...). Numbers must lie above ``low`` (inclusive when
    ``low_inclusive``) and below ``high`` (inclusive when ``high_inclusive``).
    """

    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True
    choices: tuple = ()

    def allowed(self) -> str:
        """The allowed values in words, for error messages."""
        if self.kind in _FREE_WORDS:
            return _FREE_WORDS[self.kind]
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        parts = []
        if self.low is not None:
            parts.append(f"{'>=' if self.low_inclusive else '>'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<=' if self.high_inclusive else '<'} {self.high:g}")
        what = "a whole number" if self.kind == "int" else "a number"
        if self.kind == "widths":
            what = "a whole number, or a list of them (one per hidden layer),"
        return what + (" " + " and ".join(parts) if parts else "")

    def check(self, value: Any) -> Any:
        """``value`` converted to the parameter's type; ValueError saying what is allowed otherwise."""
        if self.kind == "widths":
            return self._check_widths(value)
        if self.kind in _FREE_KINDS:
            return _FREE_KINDS[self.kind](self, value)
        if self.kind == "choice":
            if value not in self.choices:
                raise Invalid(f"{shown(value)} is not allowed; {self.name} must be {self.allowed()}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid(f"{shown(value)} is not a number; {self.name} must be {self.allowed()}")
        if self.kind == "int":
            if not float(value).is_integer():
                raise Invalid(f"{shown(value)} is not a whole number; {self.name} must be {self.allowed()}")
            value = int(value)
        else:
            value = float(value)
        if not math.isfinite(value) or not self._in_range(value):
            raise Invalid(f"{shown(value)} is out of range; {self.name} must be {self.allowed()}")
        return value

    def _check_widths(self, value: Any) -> int | list[int]:
        """A layer width (a whole number >= ``low``), or a non-empty list of them (one per hidden layer)."""
        if isinstance(value, (list, tuple)):
            if not value:
                raise Invalid(f"[] has no layer; {self.name} must be {self.allowed()}")
            return [ParamSpec(self.name, "int", 1, self.help, low=self.low).check(v) for v in value]
        return ParamSpec(self.name, "int", self.default, self.help, low=self.low).check(value)

    def to_text(self, value: Any) -> str:
        """``value`` as a CSV field (plan.csv, trials.csv): :meth:`from_text` gives it back."""
        if self.kind == "json" or isinstance(value, list):
            return json.dumps(value, sort_keys=True, separators=(", ", ": "))
        return str(value)

    def from_text(self, text: str) -> Any:
        """The value of a CSV field written by :meth:`to_text` (ValueError when it cannot be one)."""
        if self.kind in ("choice", "text"):
            return text
        if self.kind == "bool":
            if text not in ("True", "False"):
                raise ValueError(f"{text!r} is not True or False")
            return text == "True"
        if self.kind == "json" or (self.kind == "widths" and text.lstrip().startswith("[")):
            return json.loads(text)
        return int(float(text)) if self.kind in ("int", "widths") else float(text)

    def same(self, text: str, value: Any) -> bool:
        """Whether the CSV field ``text`` holds ``value`` (numbers to 1e-9: a spreadsheet may round)."""
        if self.kind in ("int", "float") or (self.kind == "widths" and not isinstance(value, list)):
            try:
                return math.isclose(float(text), float(value), rel_tol=1e-9, abs_tol=0.0)
            except (TypeError, ValueError):
                return False
        try:
            return self.from_text(text) == (json.loads(json.dumps(value)) if self.kind == "json" else value)
        except (TypeError, ValueError):
            return False

    def _in_range(self, x: float, closed: bool = False) -> bool:
        """Whether ``x`` lies in the allowed range (``closed``: counting excluded ends as inside)."""
        if self.low is not None and (x < self.low or (x == self.low and not (self.low_inclusive or closed))):
            return False
        if self.high is not None and (x > self.high or (x == self.high and not (self.high_inclusive or closed))):
            return False
        return True

    def check_distribution(self, dist: Distribution, grid: bool = False) -> None:
        """ValueError when ``dist`` can produce a value this parameter does not accept.

        The ends of a continuous distribution's support are not values it draws (``uniform`` from 0
        never gives exactly 0 but through float rounding, which the random draws guard against), so
        they may touch an end the parameter excludes: ``uniform`` from 0 or ``log_normal`` for a
        learning rate, ``beta`` for a momentum. A quantized draw can land on its rounded end, so
        that end must be allowed. With ``grid``, the values a grid visits are checked.
        """
        if dist.kind in ("constant", "categorical"):
            for value in dist.values:
                self.check(value)
            return
        if self.kind in ("bool", "text", "json"):
            raise Invalid(f"{self.name} takes {self.allowed()}: list them with `values`, "
                          f"not a {dist.kind} distribution")
        if self.kind == "choice":
            raise Invalid(f"{self.name} takes {self.allowed()}: list them with `values`, "
                             f"not a {dist.kind} distribution")
        if self.kind in ("int", "widths") and dist.kind != "int_uniform" and \
                not (dist.is_quantized and float(dist.q).is_integer()):
            raise Invalid(f"{self.name} takes whole numbers: use int_uniform, `values`, or a q_ distribution "
                             f"with a whole-number q (e.g. q_log_uniform_values with q: 1), not {dist.kind}")
        if grid and dist.kind == "q_uniform":
            for value in dist.grid_ends() or ():
                self.check(value)
            return
        lo, hi = dist.support()
        for bound, name in ((lo, "smallest"), (hi, "largest")):
            if math.isinf(bound):
                if (bound < 0 and self.low is not None) or (bound > 0 and self.high is not None):
                    raise Invalid(f"{dist.kind} can draw any value, but {self.name} must be {self.allowed()}"
                                     + ("; use log_normal for a positive quantity" if bound < 0 else ""))
                continue
            if dist.is_quantized:  # a draw rounds to a multiple of q; the bound itself may round away
                bound = round(bound / dist.q) * dist.q
            if not self._in_range(bound, closed=dist.is_continuous):
                raise Invalid(f"its {name} value is {bound:g}, but {self.name} must be {self.allowed()}")


def _check_bool(spec: ParamSpec, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{shown(value)} is not allowed; {spec.name} must be {spec.allowed()}")
    return value


def _check_text(spec: ParamSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{shown(value)} is not allowed; {spec.name} must be {spec.allowed()}")
    return value


def _check_json(spec: ParamSpec, value: Any) -> Any:
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise Invalid(f"{shown(value)} is not allowed; {spec.name} must be {spec.allowed()}") from None
    return json.loads(text)  # tuples become lists, as they come back from the records


#: The kinds of a user model's hyperparameters, which hold any value of their type.
_FREE_KINDS = {"bool": _check_bool, "text": _check_text, "json": _check_json}
_FREE_WORDS = {"bool": "true or false", "text": "text",
               "json": "a value a YAML file can give (numbers, text, lists...)"}


PARAMETERS: dict[str, ParamSpec] = {p.name: p for p in (
    ParamSpec("hidden_size", "widths", 100, "units in each hidden layer: a number, or a list of layer widths "
              "([128, 64]: two hidden layers)", low=1),
    ParamSpec("learning_rate", "float", 1e-3, "initial learning rate", low=0, low_inclusive=False),
    ParamSpec("reg", "float", 0.0, "L2 regularization strength", low=0),
    ParamSpec("epochs", "int", 10, "passes over the training split", low=1),
    ParamSpec("batch_size", "int", 200, "rows per minibatch", low=1),
    ParamSpec("lr_decay", "float", 1.0, "learning rate multiplier per epoch", low=0, low_inclusive=False, high=1),
    ParamSpec("optimizer", "choice", "sgd", "update rule",
          choices=("sgd", "sgd_momentum", "nesterov", "rmsprop", "adam", "nadam")),
    ParamSpec("momentum", "float", 0.9, "momentum of sgd_momentum and nesterov", low=0, high=1,
              high_inclusive=False),
    ParamSpec("weight_scale", "float", 1e-3, "std of the initial weights with init: normal", low=0,
              low_inclusive=False),
    ParamSpec("init", "choice", "normal", "weight initialisation", choices=("normal", "he", "xavier")),
    ParamSpec("activation", "choice", "relu", "hidden nonlinearity", choices=("relu", "sigmoid", "tanh")),
    ParamSpec("loss", "choice", "softmax", "loss of the scores", choices=("softmax", "svm", "mse")),
    ParamSpec("dtype", "choice", "float32", "floating point type of data and weights", choices=("float32", "float64")),
    ParamSpec("dropout", "float", 0.0, "fraction of hidden units dropped in training (inverted dropout)", low=0,
              high=1, high_inclusive=False),
    ParamSpec("input_dropout", "float", 0.0, "fraction of input features dropped in training (inverted dropout)",
              low=0, high=1, high_inclusive=False),
    ParamSpec("num_layers", "int", 1, "hidden layers of width hidden_size (when hidden_size is a number)", low=1),
    ParamSpec("normalization", "choice", "none", "layer normalization between each hidden affine layer and its "
              "activation (CS231n assignment 2)", choices=("none", "layernorm")),
)}

#: Hyperparameters added after run folders existed, with the value that means "as before": a trial
#: at that value keeps the id and seed it had, and a run folder without their column reads it so.
ADDED_LATER = {"dropout": 0.0, "input_dropout": 0.0, "num_layers": 1, "normalization": "none"}

#: Other names people give the hyperparameters (PyTorch, Keras, W&B examples, the seed posts), for
#: "did you mean": lower case, ``_`` for ``-``.
SYNONYMS = {
    **dict.fromkeys(("weight_decay", "wd", "l2", "l2_coeff", "l2_reg", "l2_lambda", "lambda", "lambda_l2",
                     "regularization", "regularisation", "reg_strength", "alpha"), "reg"),
    **dict.fromkeys(("lr", "learningrate", "eta", "step_size", "lr_init", "initial_lr"), "learning_rate"),
    **dict.fromkeys(("num_epochs", "n_epochs", "max_epochs", "epoch", "nb_epoch", "num_epoch"), "epochs"),
    **dict.fromkeys(("hidden", "hidden_dim", "hidden_units", "n_hidden", "num_hidden", "hidden_layer_size",
                     "hidden_layer_sizes", "units", "num_units", "width"), "hidden_size"),
    **dict.fromkeys(("batch", "bs", "batchsize", "minibatch_size", "mini_batch_size"), "batch_size"),
    **dict.fromkeys(("decay", "learning_rate_decay", "lr_decay_rate", "gamma"), "lr_decay"),
    **dict.fromkeys(("optim", "opt", "solver", "update_rule"), "optimizer"),
    **dict.fromkeys(("init_scale", "weight_std", "std"), "weight_scale"),
    **dict.fromkeys(("initialization", "initialisation", "initializer", "weight_init"), "init"),
    **dict.fromkeys(("act", "activation_fn", "nonlinearity"), "activation"),
    **dict.fromkeys(("mu", "momentum_coeff"), "momentum"),
    **dict.fromkeys(("drop_rate", "dropout_rate", "p_dropout", "drop_prob"), "dropout"),
}

#: Parameter names in the order of the trials.csv columns.
PARAMETER_NAMES = tuple(PARAMETERS)
DEFAULTS = {name: spec.default for name, spec in PARAMETERS.items()}


class ParamTable:
    """The hyperparameters of one experiment, in column order: name -> :class:`ParamSpec`."""

    def __init__(self, specs):
        self.specs: dict[str, ParamSpec] = {spec.name: spec for spec in specs}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.specs)

    @property
    def defaults(self) -> dict[str, Any]:
        """Every hyperparameter that has a default, with it (a user model's may have none)."""
        return {name: spec.default for name, spec in self.specs.items() if spec.default is not REQUIRED}

    def __getitem__(self, name: str) -> ParamSpec:
        return self.specs[name]

    def __contains__(self, name) -> bool:
        return name in self.specs

    def __iter__(self):
        return iter(self.specs)

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        """(name, kind) of each hyperparameter: what a run folder records of them, and all a resume must
        find again."""
        return tuple((name, spec.kind) for name, spec in self.specs.items())

    def __eq__(self, other) -> bool:
        return isinstance(other, ParamTable) and self.specs == other.specs

    def __hash__(self) -> int:
        return hash(tuple(self.specs.values()))


#: The default of a user model's hyperparameter that has none: the experiment must give it.
REQUIRED = "<required>"
#: The hyperparameters the trainer takes whatever the model (the update rule, its schedule, the
#: minibatches, the epochs and the floating point type); every other name goes to the model.
TRAINER_NAMES = ("learning_rate", "epochs", "batch_size", "lr_decay", "optimizer", "momentum", "dtype")
#: The built-in net's table: the trials.csv columns of every run without ``model:``.
BUILTIN = ParamTable(PARAMETERS.values())

#: The kinds a user model's hyperparameter may have (see :class:`ParamSpec`).
MODEL_KINDS = ("int", "float", "bool", "text", "json")


def user_table(model_specs) -> ParamTable:
    """The table of an experiment with a user's model: the model's hyperparameters (in its
    constructor's order), then the trainer's (:data:`TRAINER_NAMES`)."""
    return ParamTable([*model_specs, *(PARAMETERS[name] for name in TRAINER_NAMES)])


#: The kinds a program's parameter may have (see :mod:`sweep.programs`): its values' kind.
PROGRAM_KINDS = ("int", "float", "bool", "text", "json")


def program_parameter(name: str, kind: str) -> ParamSpec:
    """A program's parameter ``name`` of ``kind``: any value of its kind, no default."""
    return ParamSpec(name, kind, REQUIRED, "a parameter of the program")


def recorded_program_table(kinds: Any) -> ParamTable:
    """The table a run's experiment.yaml records under ``program_parameters`` (name -> kind);
    ValueError when it is damaged."""
    if not isinstance(kinds, dict) or not all(isinstance(k, str) and v in PROGRAM_KINDS for k, v in kinds.items()):
        raise ValueError(f"program_parameters is not a mapping of parameter names to {', '.join(PROGRAM_KINDS)}")
    return ParamTable(program_parameter(name, kind) for name, kind in kinds.items())


def recorded_table(document) -> ParamTable:
    """The table a run's experiment.yaml (``document``, plain data) records: the built-in net's without
    ``model``; else from its ``model_hyperparameters`` (name -> kind). ValueError when those are damaged."""
    if isinstance(document, dict) and "program_parameters" in document:
        return recorded_program_table(document["program_parameters"])
    if not isinstance(document, dict) or "model" not in document:
        return BUILTIN
    kinds = document.get("model_hyperparameters")
    if not isinstance(kinds, dict) or not all(isinstance(k, str) and v in MODEL_KINDS for k, v in kinds.items()):
        raise ValueError("model_hyperparameters is not a mapping of hyperparameter names to "
                         f"{', '.join(MODEL_KINDS)}")
    return user_table(ParamSpec(name, kind, REQUIRED, "a hyperparameter of the model") for name, kind in kinds.items())


def kind_of(parameter) -> str:
    """The kind of a user model's constructor parameter (an ``inspect.Parameter``): from its annotation
    when it is ``int``, ``float``, ``bool`` or ``str``, else from its default's type; ``json`` for
    anything else (lists, None, no default and no annotation)."""
    import inspect

    by_name = {"bool": "bool", "int": "int", "float": "float", "str": "text"}
    annotation = parameter.annotation
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None)
    if annotation is not inspect.Parameter.empty and name in by_name:
        return by_name[name]
    default = parameter.default
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("text", str)):
        if type(default) is types:
            return kind
    return "json"


def constructor_table(hyperparameters: dict) -> ParamTable:
    """The table of an experiment whose model's constructor takes ``hyperparameters`` (name ->
    ``inspect.Parameter``, in signature order), with the trainer's after them."""
    import inspect

    specs = []
    for name, parameter in hyperparameters.items():
        kind = kind_of(parameter)
        default = REQUIRED if parameter.default is inspect.Parameter.empty else parameter.default
        spec = ParamSpec(name, kind, default, "a hyperparameter of the model")
        if default is not REQUIRED:
            spec = ParamSpec(name, kind, spec.check(default) if spec.accepts(default) else default, spec.help)
        specs.append(spec)
    return user_table(specs)

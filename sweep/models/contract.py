"""The dry run of a model before a sweep starts: does it keep the CS231n model contract?

The contract (stated for users in the README):

- the constructor takes the hyperparameters as keyword arguments, and ``input_dim`` and
  ``num_classes`` (``dtype`` and ``seed`` when it accepts them);
- ``model.params`` is a dict of floating-point NumPy arrays;
- ``model.loss(X)`` returns the scores, an (N, C) array for X's N rows and C = num_classes;
- ``model.loss(X, y)`` returns ``(loss, grads)``: ``loss`` a finite scalar, ``grads`` a dict with
  exactly the keys of ``params``, each gradient an array of its parameter's shape;
- the scores depend on ``params`` alone: a call of ``loss(X, y)`` changes no state that ``loss(X)``
  reads (batch normalization's running averages kept beside ``params``, as CS231n's ``bn_params``,
  would be lost by every paused trial, kept candidate and saved model, which hold ``params`` alone).

A break found here stops the sweep before anything runs (exit 2), with one line: the user's
``file:line`` (the line that raised, or the ``return`` statement that returned the wrong value, or
the ``def`` line), what came back, and what the contract expects.

NaN or inf here is a break too: with freshly built weights on a few rows of the data set a
non-finite score, loss or gradient is almost always a bug (the log of a zero probability, a
division by a feature's zero spread, an ``np.empty`` left unfilled), seldom an unlucky start.
During training, NaN stays what it is for the built-in nets: a diverged trial, recorded as such.
"""

from __future__ import annotations

import inspect

import numpy as np

from ..errors import ModelError
from .build import build_model, global_rng_kept, raised_in_user_code
from .source import ModelSource
from .where import call_noting_return, definition_site

_FRESH = "with freshly built weights, a bug more often than a bad start (a log of 0? a division by 0?)"


def check_model(source: ModelSource, hyperparameters: dict, X, y, dtype: str, *,
                num_classes: int | None = None, seed: int = 0) -> None:
    """The dry run before a sweep starts, on a few rows: construct, ``params`` is a dict of ndarrays,
    ``loss(X)`` gives (N, C) finite scores with C = num_classes, ``loss(X, y)`` gives
    ``(scalar, grads)`` with grads' keys and shapes those of params.

    ``X``: (N, D) or (N, d1, ..., dk) rows of the data set (D = d1*...*dk is ``input_dim``); ``y``:
    (N,) integer labels, or (N, C) real targets. ``num_classes``: the data set's C; when None it
    is read from ``y`` (max label + 1, which a few rows may undercount: pass it). The model is built
    with ``seed``, and NumPy's global RNG is left as it was. ModelError (one line, the user's
    ``file:line`` where it can) for the first rule broken.
    """
    X, y = np.asarray(X), np.asarray(y)
    if num_classes is None:
        num_classes = y.shape[1] if y.ndim == 2 else int(y.max()) + 1
    input_dim = int(np.prod(X.shape[1:]))
    cls = source.load()
    with global_rng_kept(), np.errstate(all="ignore"):  # a NaN or overflow is reported below, as a rule broken
        model = build_model(cls, hyperparameters, input_dim, num_classes, dtype, seed)
        params = getattr(model, "params", None)
        built_at = definition_site(cls.__init__) or source.ref
        _require(_params_problem(model, params), built_at)
        _require(_loss_method_problem(model), built_at)
        # Each call gets its own copy of the rows, as the trainer gives each minibatch its own buffer: a
        # model may change its inputs in place (noise added to a training batch).
        def score():
            return _call(model.loss, cls, "loss(X)", "loss(X) returns the scores (N, C) when y is not given", X.copy())

        scores, site = score()
        _require(_scores_problem(scores, (len(X), num_classes)), site)
        again, _ = score()
        weights = {name: np.array(value, copy=True) for name, value in params.items()}
        generator = {"rng": np.random.default_rng(seed)} if takes_generator(model.loss) else {}
        pair, site = _call(model.loss, cls, "loss(X, y)", "loss(X, y) returns (loss, grads)", X.copy(), y, **generator)
        _require(_pair_problem(pair, params), site)
        if np.array_equal(scores, again) and all(np.array_equal(weights[k], v) for k, v in model.params.items()):
            after, _ = score()
            _require(_hidden_state_problem(scores, after), definition_site(cls.loss) or built_at)


def takes_generator(loss) -> bool:
    """Whether ``loss`` takes the trainer's generator as ``rng`` (the built-in nets draw their dropout
    masks from it); the contract's ``loss(X, y)`` does not."""
    try:
        return "rng" in inspect.signature(loss).parameters
    except (TypeError, ValueError):
        return False


def _require(problem: str | None, where: str | None) -> None:
    """Raise the ModelError of ``problem`` (a rule broken) at ``where``, if there is a problem."""
    if problem is not None:
        raise ModelError(f"{where}: {problem}" if where else problem)


def _call(method, cls, call: str, expected: str, *args, **kwargs):
    """``method(*args, **kwargs)`` and the ``return`` line it returned from; ModelError if it raises."""
    try:
        return call_noting_return(method, *args, **kwargs)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code
        raise raised_in_user_code(exc, cls, method, call, expected) from exc


def _names(mapping: dict) -> str:
    return ", ".join(map(str, mapping))


def _kind(value) -> str:
    """``'a list'``, ``'an array of shape (8,)'``: what a value is, for a message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


def _params_problem(model, params) -> str | None:
    """What is wrong with ``model.params``, or None."""
    expected = "self.params maps each parameter's name to its NumPy array, set in __init__"
    if params is None:
        return f"{type(model).__name__} has no `params` once built: {expected}"
    if not isinstance(params, dict):
        return f"params is {_kind(params)}, not a dict: {expected}"
    if not params:
        return f"params is empty, the trainer would have nothing to train: {expected}"
    for name, value in params.items():
        if not isinstance(name, str):
            return f"params has the key {name!r}, not a string: name each parameter (W1, b1, ...)"
        if not isinstance(value, np.ndarray):
            return f"params['{name}'] is {_kind(value)}, not a NumPy array: {expected}"
        if not np.issubdtype(value.dtype, np.floating):
            return (f"params['{name}'] has dtype {value.dtype}: parameters are floating-point arrays "
                    "(np.zeros(n), not np.zeros(n, dtype=int))")
    return None


def _loss_method_problem(model) -> str | None:
    """What is wrong with ``model.loss``, or None: it must be a method."""
    if callable(getattr(model, "loss", None)):
        return None
    cls = type(model)
    methods = sorted(name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name, None)))
    has = f" (it has {', '.join(methods)})" if methods else ""
    return (f"{cls.__name__} has no method `loss`{has}: loss(X) returns the scores, "
            "loss(X, y) returns (loss, grads)")


def _scores_problem(scores, shape: tuple) -> str | None:
    """What is wrong with what ``loss(X)`` returned, or None; ``shape`` is (N, C)."""
    expected = f"loss(X) returns the scores, an array of shape {shape} (rows of X, num_classes), when y is None"
    if not isinstance(scores, np.ndarray):
        return f"loss(X) returned {_kind(scores)}, not an array of scores: {expected}"
    if scores.shape != shape:
        return f"loss(X) returned scores of shape {scores.shape}: {expected}"
    if not np.issubdtype(scores.dtype, np.number) or np.iscomplexobj(scores):
        return f"loss(X) returned scores of dtype {scores.dtype}: {expected}, real numbers"
    if not np.isfinite(scores).all():
        return f"loss(X) returned non-finite scores (NaN or inf) {_FRESH}: scores are finite"
    return None


def _pair_problem(pair, params: dict) -> str | None:
    """What is wrong with what ``loss(X, y)`` returned, or None."""
    expected = "loss(X, y) returns the pair (loss, grads) when y is given"
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        return f"loss(X, y) returned {_kind(pair)}, not a pair: {expected}"
    loss, grads = pair
    return _loss_problem(loss) or _grads_problem(grads, params)


def _hidden_state_problem(before, after) -> str | None:
    """What is wrong when ``loss(X)`` gave ``before`` and, after one call of ``loss(X, y)`` that left
    ``params`` as they were, ``after`` (None when they are equal: the scores depend on params alone).
    Checked only when ``loss(X)`` gives the same scores twice in a row, so a model whose scores are
    random by design is not blamed for it."""
    if np.array_equal(before, after):
        return None
    return ("loss(X) gave other scores after one call of loss(X, y), though params did not change: the model "
            "keeps state outside params that its scores depend on (batch normalization's running averages?). A "
            "sweep saves, pauses and restores params alone, so its saved models would not give the scores they "
            "were chosen on: keep every array the scores depend on in params, or normalize without running "
            "averages (layer normalization)")


def _loss_problem(loss) -> str | None:
    expected = "the loss is one number, the mean over the rows plus the regularization"
    if np.ndim(loss) != 0 or isinstance(loss, (str, bytes)):
        return f"loss(X, y) returned a loss that is {_kind(loss)}, not a scalar: {expected}"
    try:
        value = float(loss)
    except (TypeError, ValueError):
        return f"loss(X, y) returned a loss that is {_kind(loss)}, not a number: {expected}"
    if not np.isfinite(value):
        return f"loss(X, y) returned the loss {value} {_FRESH}: the loss is finite"
    return None


def _grads_problem(grads, params: dict) -> str | None:
    expected = "grads has exactly the keys of params, each gradient an array of its parameter's shape"
    if not isinstance(grads, dict):
        return f"loss(X, y) returned grads that are {_kind(grads)}, not a dict: {expected}"
    missing = [name for name in params if name not in grads]
    extra = [name for name in grads if name not in params]
    if missing or extra:
        without = f" without {', '.join(map(repr, missing))}" if missing else ""
        also = f"{' and' if missing else ''} with {', '.join(map(repr, extra))}" if extra else ""
        return (f"loss(X, y) returned grads{without}{also} (params has {_names(params)}): "
                "return a gradient for every parameter, under its name in params")
    for name, param in params.items():
        grad = grads[name]
        if not isinstance(grad, np.ndarray) or grad.shape != param.shape:
            return (f"loss(X, y) returned grads['{name}'] that is {_kind(grad)}; params['{name}'] has the shape "
                    f"{param.shape}: each gradient is an array of its parameter's shape")
        if not np.issubdtype(grad.dtype, np.floating):
            return f"loss(X, y) returned grads['{name}'] of dtype {grad.dtype}: gradients are floating-point arrays"
        if not np.isfinite(grad).all():
            return f"loss(X, y) returned grads['{name}'] with NaN or inf {_FRESH}: gradients are finite"
    return None

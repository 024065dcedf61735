"""Construct a model as the contract says, with the user's line when the constructor raises."""

from __future__ import annotations

import contextlib
import sys

import numpy as np

from ..errors import ModelError, shorten
from .signature import accepts
from .where import definition_site, exception_summary, user_location


def build_model(cls, hyperparameters: dict, input_dim: int, num_classes: int, dtype: str, seed: int):
    """``cls(**hyperparameters, input_dim=D, num_classes=C[, dtype=..., seed=...])``.

    ``dtype`` (a NumPy dtype name, passed as ``np.dtype(dtype)``, which compares equal to
    ``np.float32`` and works in ``astype``) and ``seed`` (an int below 2**32) are passed only when
    the constructor accepts them. NumPy's global RNG is seeded with ``seed`` first, so the weights
    of CS231n-style code (``std * np.random.randn(D, H)``) are those of the trial's seed; the
    caller saves and restores the global state around it if it must.

    ModelError when the constructor raises, naming the line of the user's code it raised at (the
    deepest frame in the model's files), else the constructor's ``def`` line.
    """
    arguments = {**hyperparameters, "input_dim": int(input_dim), "num_classes": int(num_classes)}
    if accepts(cls, "dtype"):
        arguments["dtype"] = np.dtype(dtype)
    if accepts(cls, "seed"):
        arguments["seed"] = int(seed)
    np.random.seed(seed)
    try:
        return cls(**arguments)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's constructor
        called = ", ".join(f"{name}={value!r}" for name, value in arguments.items())
        raise raised_in_user_code(exc, cls, cls.__init__, shorten(f"{cls.__name__}({called})", 200),
                                  "the constructor must build the model from these keyword arguments") from exc


def user_file(cls) -> str | None:
    """The file ``cls`` was defined in (a model file imported from its text has its path as ``__file__``)."""
    return getattr(sys.modules.get(cls.__module__), "__file__", None)


def raised_in_user_code(exc: BaseException, cls, function, call: str, expected: str) -> ModelError:
    """The one-line ModelError for ``call`` (``"loss(X)"``) raising ``exc``: at the user's line, else
    at ``function``'s ``def`` line, else at the class's name; then what the contract expects."""
    where = user_location(exc, user_file(cls)) or definition_site(function) or cls.__qualname__
    return ModelError(f"{where}: {call} raised {exception_summary(exc)}; {expected}")


@contextlib.contextmanager
def global_rng_kept():
    """NumPy's global RNG state as it was before the block, whatever the block draws or seeds."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)

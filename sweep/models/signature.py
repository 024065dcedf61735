"""What a model's constructor takes: its hyperparameters, and the names the sweep fills in."""

from __future__ import annotations

import inspect

from ..errors import ModelError

#: Constructor arguments the sweep fills in itself: the data set's sizes, always; the training
#: dtype and the trial's seed, when the constructor accepts them. Not hyperparameters.
FILLED_IN = ("input_dim", "num_classes", "dtype", "seed")

_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def constructor_signature(cls) -> inspect.Signature:
    """The signature of ``cls(...)`` (``__init__`` without ``self``); ModelError when Python cannot tell it."""
    try:
        return inspect.signature(cls)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{cls.__qualname__}: its constructor's parameters cannot be read ({exc}); "
                         "the model is a Python class whose __init__ takes keyword arguments") from None


def model_hyperparameters(cls) -> dict[str, inspect.Parameter]:
    """The constructor's hyperparameters in signature order: every named parameter but ``self``,
    ``input_dim``, ``num_classes``, ``dtype``, ``seed`` (and ``*args``/``**kwargs``).

    A parameter whose ``default`` is ``inspect.Parameter.empty`` must be given by the experiment.
    """
    return {name: parameter for name, parameter in constructor_signature(cls).parameters.items()
            if parameter.kind in _BY_NAME and name not in FILLED_IN}


def accepts(cls, name: str) -> bool:
    """Whether the constructor takes the keyword argument ``name`` (by that name, or in ``**kwargs``)."""
    parameters = constructor_signature(cls).parameters
    if name in parameters and parameters[name].kind in _BY_NAME:
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())

"""The built-in net as a model of the sweep's contract: one constructor whose keyword arguments are
the built-in net's hyperparameters.

:func:`builtin_net` takes, besides ``input_dim``, ``num_classes``, ``dtype`` and ``seed`` (filled
in as for a user's model), exactly the hyperparameters of the built-in table
(:data:`sweep.params.BUILTIN`) that the trainer does not take (tested): a new hyperparameter of the
built-in net is a keyword here, a row of that table (its bounds or choices, which a signature
cannot say) and what the net does with it.
"""

from __future__ import annotations

import numpy as np

from .fc_net import FullyConnectedNet
from .net import TwoLayerNet


def layer_widths(hidden_size, num_layers: int = 1) -> list[int]:
    """The widths of the hidden layers: ``hidden_size`` as a list, or ``num_layers`` layers of the
    width ``hidden_size``. ValueError for a list with ``num_layers`` other than 1."""
    if isinstance(hidden_size, (list, tuple)):
        if num_layers != 1:
            raise ValueError(f"num_layers {num_layers} with hidden_size {list(hidden_size)}: give the widths of every "
                             "hidden layer as a list, or one width and num_layers")
        return list(hidden_size)
    return [hidden_size] * num_layers


def builtin_net(input_dim: int, num_classes: int, *, hidden_size=100, reg: float = 0.0, weight_scale: float = 1e-3,
                init: str = "normal", activation: str = "relu", loss: str = "softmax", dropout: float = 0.0,
                input_dropout: float = 0.0, num_layers: int = 1, normalization: str = "none", dtype=np.float32,
                seed: int | None = None):
    """The built-in net for these hyperparameters: a :class:`TwoLayerNet` for one plain hidden layer
    (its fused path needs it; the deep net gives it bitwise), else a :class:`FullyConnectedNet`."""
    widths = layer_widths(hidden_size, num_layers)
    options = dict(weight_scale=weight_scale, init=init, reg=reg, activation=activation, loss=loss, dtype=dtype,
                   seed=seed, dropout=dropout, input_dropout=input_dropout)
    if len(widths) == 1 and normalization == "none":
        return TwoLayerNet(input_dim, widths[0], num_classes, **options)
    return FullyConnectedNet(input_dim, widths, num_classes, **options,
                             normalization=None if normalization == "none" else normalization)

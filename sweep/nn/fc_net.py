"""A fully connected network of any depth: CS231n assignment 2's ``FullyConnectedNet``.

``{affine - [batch/layer norm] - activation - [dropout]} x L - affine - loss``, with the inits,
activations, losses, dropout and L2 penalty of :class:`~sweep.nn.TwoLayerNet`. With one hidden layer
it computes bitwise what ``TwoLayerNet`` computes from the same arguments (the same draws in the same
order, the same operations in the same order), so a sweep gives the same numbers through either.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._blas import axpy
from .layers import (ACTIVATIONS, LOSSES, affine_backward, affine_forward, batchnorm_forward, layernorm_forward,
                     normalization_backward)
from .net import INITS, TwoLayerNet

NORMALIZATIONS = ("batchnorm", "layernorm")


def hidden_widths(hidden_dims) -> list[int]:
    """``hidden_dims`` (one width, or a sequence of widths) as a list of positive ints; ValueError else."""
    if isinstance(hidden_dims, Sequence) and not isinstance(hidden_dims, str):
        widths = list(hidden_dims)
    elif isinstance(hidden_dims, np.ndarray) and hidden_dims.ndim == 1:
        widths = hidden_dims.tolist()
    else:
        widths = [hidden_dims]
    if not widths or not all(_is_positive_int(width) for width in widths):
        raise ValueError(f"hidden_dims must be a positive integer or a non-empty list of them, got {hidden_dims!r}")
    return [int(width) for width in widths]


def _is_positive_int(value) -> bool:
    try:
        return not isinstance(value, (bool, str)) and int(value) == value and value >= 1
    except (TypeError, ValueError, OverflowError):
        return False


class LayerNames(NamedTuple):
    """The names of one layer's arrays in ``params`` and ``buffers`` (made once, not per minibatch)."""

    W: str
    b: str
    gamma: str
    beta: str
    running_mean: str
    running_var: str

    @classmethod
    def of(cls, layer: int) -> "LayerNames":
        return cls(*(f"{name}{layer}" for name in cls._fields))


def array_shapes(input_dim: int, hidden_dims: list[int], num_classes: int, normalization: str | None):
    """``(params, buffers)``: the name and shape of every trained array, in order (W1, b1, [gamma1,
    beta1,] W2, ...), and of every batch-norm running statistic (running_mean1, running_var1, ...)."""
    params, buffers = {}, {}
    dims = [input_dim, *hidden_dims, num_classes]
    for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:]), start=1):
        names = LayerNames.of(layer)
        params[names.W], params[names.b] = (fan_in, fan_out), (fan_out,)
        if normalization and layer <= len(hidden_dims):
            params[names.gamma], params[names.beta] = (fan_out,), (fan_out,)
            if normalization == "batchnorm":
                buffers[names.running_mean], buffers[names.running_var] = (fan_out,), (fan_out,)
    return params, buffers


class FullyConnectedNet:
    """A fully connected network with ``len(hidden_dims)`` hidden layers, CS231n style.

    ``hidden_dims``: one width (one hidden layer) or a sequence of widths, input side first. Every
    other argument means what it means for :class:`~sweep.nn.TwoLayerNet`: init (weights drawn from
    ``np.random.default_rng(seed)`` layer by layer, input side first; biases zero), activation, loss,
    ``dropout`` on every hidden layer's output, ``input_dropout`` on the input features, and the L2
    penalty ``0.5 * reg * sum(W**2)`` over every weight matrix (not biases, gamma or beta).

    ``params``: ``W1`` (D, H1), ``b1`` (H1,), ..., ``W{L+1}`` (H_L, C), ``b{L+1}`` (C,), in ``dtype``.

    ``normalization`` (None, ``"batchnorm"`` or ``"layernorm"``) goes between each hidden affine layer
    and its activation, with a scale ``gamma{i}`` (ones) and shift ``beta{i}`` (zeros) per hidden layer,
    trained like the weights. Batch normalization (momentum 0.9, eps 1e-5, as CS231n) normalizes by
    the minibatch in training (``loss(X, y)``) and by running averages when scoring (``loss(X)``);
    those running averages are in ``buffers`` (``running_mean{i}`` zeros, ``running_var{i}`` ones at
    first, as PyTorch: CS231n's zero variances would score an untrained net by ``x / sqrt(eps)``), not
    in ``params``: the update rule does not train them, each training ``loss`` call updates them. **They are state: whoever pauses and resumes training, or keeps a model, must save
    and restore ``buffers`` with ``params``** (``save``/``load`` do). ``buffers`` is empty otherwise.
    """

    # The pieces TwoLayerNet already has, taken as they are: the same draws, masks and chunks.
    _init_weights = TwoLayerNet._init_weights
    _as_input = TwoLayerNet._as_input
    _network_input = TwoLayerNet._network_input
    _dropout_mask = TwoLayerNet._dropout_mask
    scores = TwoLayerNet.scores
    predict = TwoLayerNet.predict
    accuracy = TwoLayerNet.accuracy

    #: Draws its dropout masks from the generator the trainer passes to :meth:`loss` (``rng``).
    takes_rng = True

    def __init__(self, input_dim: int, hidden_dims: int | Sequence[int], num_classes: int, *,
                 weight_scale: float = 1e-3, init: str = "normal", reg: float = 0.0, activation: str = "relu",
                 loss: str = "softmax", dtype=np.float32, seed: int | None = None, dropout: float = 0.0,
                 input_dropout: float = 0.0, normalization: str | None = None):
        for name, value, allowed in (("init", init, INITS), ("activation", activation, tuple(ACTIVATIONS)),
                                     ("loss", loss, tuple(LOSSES)),
                                     ("normalization", normalization, (None, *NORMALIZATIONS))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        for name, value in (("input_dim", input_dim), ("num_classes", num_classes)):
            if not _is_positive_int(value):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not reg >= 0:
            raise ValueError(f"reg must be >= 0, got {reg!r}")
        for name, value in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        self.input_dim, self.hidden_dims, self.num_classes = int(input_dim), hidden_widths(hidden_dims), int(num_classes)
        self.weight_scale, self.init, self.reg = float(weight_scale), init, float(reg)
        self.activation, self.loss_name, self.normalization = activation, loss, normalization
        self.dropout, self.input_dropout = float(dropout), float(input_dropout)
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise ValueError(f"dtype must be a floating-point type, got {self.dtype.name}")
        self.seed = seed
        self.params, self.buffers = self._initial_arrays(np.random.default_rng(seed))
        self._layers = [LayerNames.of(layer) for layer in range(1, self.num_hidden + 2)]

    @property
    def num_hidden(self) -> int:
        """The number of hidden layers (CS231n's ``num_layers`` counts the affine layers: one more)."""
        return len(self.hidden_dims)

    def _initial_arrays(self, rng: np.random.Generator) -> tuple[dict, dict]:
        """Weights from ``rng`` layer by layer (TwoLayerNet's order of draws), biases and betas zero,
        gammas one; running means zero and running variances one."""
        param_shapes, buffer_shapes = array_shapes(self.input_dim, self.hidden_dims, self.num_classes,
                                                   self.normalization)
        params = {}
        for name, shape in param_shapes.items():
            if name.startswith("W"):
                params[name] = self._init_weights(rng, *shape)
            else:
                params[name] = (np.ones if name.startswith("gamma") else np.zeros)(shape, dtype=self.dtype)
        buffers = {name: (np.ones if name.startswith("running_var") else np.zeros)(shape, dtype=self.dtype)
                   for name, shape in buffer_shapes.items()}
        return params, buffers

    # ------------------------------------------------------------------------------ compute
    def loss(self, X: np.ndarray, y: np.ndarray | None = None, rng: np.random.Generator | None = None):
        """Scores, or loss and gradients, as :meth:`TwoLayerNet.loss`.

        X: (N, D) (or (N, d1, ..., dk)). Without ``y``: the scores (N, C) (scoring mode: no dropout,
        batch norm by its running averages). With ``y``: ``(loss, grads)``, the mean data loss plus
        the L2 penalty as a Python float, and ``grads`` keyed and shaped like ``params``. Dropout
        masks come from ``rng`` (the trainer's minibatch generator): the input's (N, D) mask first,
        then each hidden layer's (N, H_i), input side first.
        """
        training = y is not None
        p, layers = self.params, self._layers
        hidden, caches = self._network_input(X, training, rng), []
        for layer in layers[:-1]:
            hidden, cache = self._hidden_forward(layer, hidden, training, rng)
            caches.append(cache)
        scores, last_cache = affine_forward(hidden, p[layers[-1].W], p[layers[-1].b])
        if y is None:
            return scores

        data_loss, dscores = LOSSES[self.loss_name](scores, y)
        grads = dict.fromkeys(p)  # filled from the last layer back, listed in the order of params
        dhidden, grads[layers[-1].W], grads[layers[-1].b] = affine_backward(dscores, last_cache)
        for i in range(len(caches) - 1, -1, -1):
            dhidden = self._hidden_backward(layers[i], dhidden, caches[i], grads, need_dx=i > 0)
        loss = data_loss
        if self.reg:
            penalty = 0.0
            for layer in layers:
                penalty += float(np.vdot(p[layer.W], p[layer.W]))
                axpy(self.reg, p[layer.W], grads[layer.W])
            loss += 0.5 * self.reg * penalty
        return loss, grads

    def _hidden_forward(self, layer: "LayerNames", x: np.ndarray, training: bool, rng):
        """One hidden layer: affine, normalization, activation, dropout. Returns its output and the
        cache its backward pass needs."""
        p = self.params
        out, affine_cache = affine_forward(x, p[layer.W], p[layer.b])
        norm_cache = None
        if self.normalization == "batchnorm":
            out, norm_cache = batchnorm_forward(out, p[layer.gamma], p[layer.beta], self.buffers[layer.running_mean],
                                                self.buffers[layer.running_var], training)
        elif self.normalization == "layernorm":
            out, norm_cache = layernorm_forward(out, p[layer.gamma], p[layer.beta])
        out, act_cache = ACTIVATIONS[self.activation][0](out)
        mask = None
        if training and self.dropout:
            mask = self._dropout_mask(rng, out.shape, self.dropout)
            out = out * mask
        return out, (affine_cache, norm_cache, act_cache, mask)

    def _hidden_backward(self, layer: "LayerNames", dout: np.ndarray, cache, grads: dict, need_dx: bool):
        """Backward pass of one hidden layer: fills its entries of ``grads`` and returns the gradient
        with respect to its input (None when not ``need_dx``: the first layer's input is the data)."""
        affine_cache, norm_cache, act_cache, mask = cache
        if mask is not None:
            dout *= mask
        dout = ACTIVATIONS[self.activation][1](dout, act_cache)
        if norm_cache is not None:
            dout, grads[layer.gamma], grads[layer.beta] = normalization_backward(dout, norm_cache)
        dx, grads[layer.W], grads[layer.b] = affine_backward(dout, affine_cache, need_dx=need_dx)
        return dx

    # ------------------------------------------------------------------------------ persist
    def hyperparameters(self) -> dict:
        """The constructor arguments, JSON-serialisable (``hidden_dims`` as a list)."""
        return {
            "input_dim": self.input_dim, "hidden_dims": list(self.hidden_dims), "num_classes": self.num_classes,
            "weight_scale": self.weight_scale, "init": self.init, "reg": self.reg,
            "activation": self.activation, "loss": self.loss_name, "dtype": self.dtype.name,
            "seed": self.seed, "dropout": self.dropout, "input_dropout": self.input_dropout,
            "normalization": self.normalization,
        }

    def save(self, path, arrays: dict | None = None, **metadata) -> Path:
        """Write the params, buffers and hyperparameters (plus any JSON-able ``metadata``) to an
        ``.npz`` with a JSON header, as :meth:`TwoLayerNet.save` (no pickle); ``arrays`` as there."""
        path = Path(path)
        header = json.dumps({"hyperparameters": self.hyperparameters(), "metadata": metadata})
        with open(path, "wb") as f:  # a file object, so numpy does not append a second ".npz"
            np.savez(f, __header__=np.array(header), **self.params, **self.buffers, **(arrays or {}))
        return path

    @classmethod
    def load(cls, path) -> "FullyConnectedNet":
        """Read a network written by :meth:`save` (``allow_pickle=False``).

        As :meth:`TwoLayerNet.load`: the arrays' sizes are checked from their headers, and their
        names and shapes against the hyperparameters, before the network is built: a damaged or
        forged file is a ValueError (or a SweepError when it cannot fit in memory), never an
        allocation of what its header claims.
        """
        from ..memory import npz_bytes

        npz_bytes(path, str(path))
        with np.load(Path(path), allow_pickle=False) as f:
            header = json.loads(str(f["__header__"])) if "__header__" in f.files else None
            hp = header.get("hyperparameters") if isinstance(header, dict) else None
            shapes = _saved_shapes(hp, len(f.files), path)
            if {name for name in f.files if "/" not in name} != {*shapes, "__header__"}:  # "prep/...": not the net's
                raise ValueError(f"{path}: its arrays are not the {', '.join(shapes)} its hyperparameters give")
            arrays = {name: f[name] for name in shapes}
            for name, shape in shapes.items():
                if tuple(arrays[name].shape) != tuple(shape):
                    raise ValueError(f"{path}: {name} does not have the shape {shape} its hyperparameters give")
            try:
                net = cls(**hp)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}: the hyperparameters in its header: {exc}") from None
            for store in (net.params, net.buffers):
                for name in store:
                    store[name] = np.ascontiguousarray(arrays[name], dtype=net.dtype)
        net.metadata = header.get("metadata", {})
        return net

    def __repr__(self) -> str:
        """The constructor call: the sizes, then every argument that is not its default, and dtype."""
        signature = inspect.signature(type(self)).parameters
        hp = self.hyperparameters()
        sizes = (hp.pop("input_dim"), hp.pop("hidden_dims"), hp.pop("num_classes"))
        changed = [f"{name}={value!r}" for name, value in hp.items()
                   if name == "dtype" or value != signature[name].default]
        return f"{type(self).__name__}({', '.join(map(repr, sizes))}, {', '.join(changed)})"


def _saved_shapes(hp, n_arrays: int, path) -> dict:
    """Every array's shape as the saved hyperparameters ``hp`` give them; ValueError when ``hp`` is
    not the constructor's arguments, or names more layers than the file has arrays (checked first:
    a forged list of a million widths builds no million shapes)."""
    if not isinstance(hp, dict) or set(hp) != set(inspect.signature(FullyConnectedNet).parameters):
        raise ValueError(f"{path}: the hyperparameters in its header are not a FullyConnectedNet's")
    if isinstance(hp["hidden_dims"], list) and len(hp["hidden_dims"]) >= n_arrays:
        raise ValueError(f"{path}: its header names more layers than the file has arrays")
    try:
        hidden = hidden_widths(hp["hidden_dims"])
        if hp["normalization"] not in (None, *NORMALIZATIONS) or not all(
                _is_positive_int(hp[name]) for name in ("input_dim", "num_classes")):
            raise ValueError("not a FullyConnectedNet's")
    except ValueError as exc:
        raise ValueError(f"{path}: the hyperparameters in its header: {exc}") from None
    params, buffers = array_shapes(hp["input_dim"], hidden, hp["num_classes"], hp["normalization"])
    return {**params, **buffers}

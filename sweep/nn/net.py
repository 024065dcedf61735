"""The two-layer network: affine -> activation -> affine -> loss, with L2 regularization."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ._blas import axpy
from .layers import ACTIVATIONS, LOSSES, affine_backward, affine_forward

INITS = ("normal", "he", "xavier")

#: Rows per forward pass when scoring a large array. Small enough that the (rows, hidden)
#: temporaries are reused from the heap rather than mapped fresh (measured ~6% faster than 8192
#: rows at hidden 1000), large enough for efficient BLAS calls.
EVAL_CHUNK_ROWS = 2048


class TwoLayerNet:
    """A fully connected two-layer network, CS231n style.

    ``input -> affine (W1, b1) -> activation -> affine (W2, b2) -> scores``, trained on a loss of the
    scores plus the L2 penalty ``0.5 * reg * (sum(W1**2) + sum(W2**2))`` (biases are not regularized).

    Parameters live in ``self.params``: ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,), all
    in ``dtype``. Initialisation, from ``np.random.default_rng(seed)``:

    - ``"normal"``: weights ``weight_scale * N(0, 1)`` (the CS231n default, weight_scale 1e-3);
    - ``"he"``: ``N(0, 2 / fan_in)``, for ReLU;
    - ``"xavier"``: Glorot normal, ``N(0, 2 / (fan_in + fan_out))``.

    Biases start at zero. ``loss`` is ``"softmax"`` (cross-entropy), ``"svm"`` (multiclass hinge) or
    ``"mse"`` (squared error against one-hot rows of labels, or against real-valued (N, C) targets).

    ``dropout`` (CS231n's inverted dropout, off at 0): in training each hidden unit is kept with
    probability ``1 - dropout`` and scaled by ``1 / (1 - dropout)``, so scoring needs no change.
    ``input_dropout`` does the same to the input features (Srivastava et al. 2014 drop 0.2 of the
    inputs of their MNIST nets); the network itself is unchanged.
    """

    #: Draws its dropout masks from the generator the trainer passes to :meth:`loss` (``rng``).
    takes_rng = True

    def __init__(self, input_dim: int, hidden_dim: int, num_classes: int, *, weight_scale: float = 1e-3,
                 init: str = "normal", reg: float = 0.0, activation: str = "relu", loss: str = "softmax",
                 dtype=np.float32, seed: int | None = None, dropout: float = 0.0,
                 input_dropout: float = 0.0):
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {tuple(LOSSES)}, got {loss!r}")
        for name, value in (("input_dim", input_dim), ("hidden_dim", hidden_dim), ("num_classes", num_classes)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if reg < 0:
            raise ValueError(f"reg must be >= 0, got {reg!r}")
        for name, value in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        self.dropout, self.input_dropout = float(dropout), float(input_dropout)
        self.input_dim, self.hidden_dim, self.num_classes = int(input_dim), int(hidden_dim), int(num_classes)
        self.weight_scale, self.init, self.reg = float(weight_scale), init, float(reg)
        self.activation, self.loss_name = activation, loss
        self.dtype = np.dtype(dtype)
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": self._init_weights(rng, self.input_dim, self.hidden_dim),
            "b1": np.zeros(self.hidden_dim, dtype=self.dtype),
            "W2": self._init_weights(rng, self.hidden_dim, self.num_classes),
            "b2": np.zeros(self.num_classes, dtype=self.dtype),
        }

    def _init_weights(self, rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
        if self.init == "he":
            std = math.sqrt(2.0 / fan_in)
        elif self.init == "xavier":
            std = math.sqrt(2.0 / (fan_in + fan_out))
        else:
            std = self.weight_scale
        return (std * rng.standard_normal((fan_in, fan_out))).astype(self.dtype)

    # ------------------------------------------------------------------------------ compute
    def _as_input(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        return X

    def loss(self, X: np.ndarray, y: np.ndarray | None = None, rng: np.random.Generator | None = None):
        """Scores, or loss and gradients.

        X: (N, D) (or (N, d1, ..., dk) with D = d1*...*dk). Without ``y`` returns the scores (N, C).
        With ``y`` ((N,) labels, or (N, C) real targets for ``loss="mse"``) returns
        ``(loss, grads)``: the mean data loss plus the L2 penalty as a Python float, and ``grads``
        keyed like ``params`` with the same shapes and dtype. With ``input_dropout`` and ``dropout``,
        training draws the (N, D) and then the (N, H) mask from ``rng`` (the trainer passes its
        minibatch generator, so a run stays seeded and a paused run resumes bitwise).
        """
        p = self.params
        act_forward, act_backward = ACTIVATIONS[self.activation]
        training = y is not None
        X = self._network_input(X, training, rng)
        a1, affine1_cache = affine_forward(X, p["W1"], p["b1"])
        hidden, act_cache = act_forward(a1)
        mask = None
        if training and self.dropout:
            mask = self._dropout_mask(rng, hidden.shape, self.dropout)
            hidden = hidden * mask
        scores, affine2_cache = affine_forward(hidden, p["W2"], p["b2"])
        if y is None:
            return scores

        data_loss, dscores = LOSSES[self.loss_name](scores, y)
        dhidden, dW2, db2 = affine_backward(dscores, affine2_cache)
        if mask is not None:
            dhidden *= mask
        da1 = act_backward(dhidden, act_cache)
        _, dW1, db1 = affine_backward(da1, affine1_cache, need_dx=False)
        loss = data_loss
        if self.reg:
            loss += 0.5 * self.reg * (float(np.vdot(p["W1"], p["W1"])) + float(np.vdot(p["W2"], p["W2"])))
            axpy(self.reg, p["W1"], dW1)
            axpy(self.reg, p["W2"], dW2)
        return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

    def _network_input(self, X: np.ndarray, training: bool, rng: np.random.Generator | None) -> np.ndarray:
        """X in ``dtype``, with input dropout applied in training (its mask the first draw from ``rng``)."""
        X = self._as_input(X)
        if training and (self.dropout or self.input_dropout) and rng is None:
            raise ValueError("a net with dropout needs rng (the generator of the minibatches) to train")
        if training and self.input_dropout:
            X = X * self._dropout_mask(rng, X.shape, self.input_dropout)
        return X

    def _dropout_mask(self, rng: np.random.Generator, shape: tuple, rate: float) -> np.ndarray:
        """Inverted dropout: 0 with probability ``rate``, else ``1 / (1 - rate)``, in ``dtype``."""
        keep = 1.0 - rate
        mask = (rng.random(shape, dtype=self.dtype) < keep).astype(self.dtype)
        mask *= self.dtype.type(1.0 / keep)
        return mask

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Scores (N, C) computed in chunks of rows, for arrays too large for one pass."""
        X = np.asarray(X)
        if len(X) <= EVAL_CHUNK_ROWS:
            return self.loss(X)
        return np.concatenate([self.loss(X[i:i + EVAL_CHUNK_ROWS]) for i in range(0, len(X), EVAL_CHUNK_ROWS)])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class labels (N,) int64; for real-valued targets use :meth:`scores`."""
        return self.scores(X).argmax(axis=1)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        """Fraction of rows of X whose predicted label equals y (N,)."""
        return float(np.mean(self.predict(X) == y))

    # ------------------------------------------------------------------------------ persist
    def hyperparameters(self) -> dict:
        """The constructor arguments, JSON-serialisable."""
        return {
            "input_dim": self.input_dim, "hidden_dim": self.hidden_dim, "num_classes": self.num_classes,
            "weight_scale": self.weight_scale, "init": self.init, "reg": self.reg,
            "activation": self.activation, "loss": self.loss_name, "dtype": self.dtype.name,
            "seed": self.seed, "dropout": self.dropout,
            "input_dropout": self.input_dropout,
        }

    def save(self, path, arrays: dict | None = None, **metadata) -> Path:
        """Write the weights and hyperparameters (plus any JSON-able ``metadata``) to an ``.npz``.

        The hyperparameters are stored as a JSON string, so :meth:`load` needs no pickle. ``arrays``:
        more arrays to store, under names with a ``/`` (``prep/mean``: see :mod:`sweep.modelfile`).
        """
        path = Path(path)
        header = json.dumps({"hyperparameters": self.hyperparameters(), "metadata": metadata})
        with open(path, "wb") as f:  # a file object, so numpy does not append a second ".npz"
            np.savez(f, __header__=np.array(header), **self.params, **(arrays or {}))
        return path

    @classmethod
    def load(cls, path) -> "TwoLayerNet":
        """Read a network written by :meth:`save` (``allow_pickle=False``).

        The arrays' sizes are checked from their headers, and against the hyperparameters, before
        anything is allocated: a damaged or forged file is a ValueError (or a SweepError when it
        cannot fit in memory), not an allocation of what its header claims.
        """
        from ..memory import npz_bytes

        npz_bytes(path, str(path))
        with np.load(Path(path), allow_pickle=False) as f:
            header = json.loads(str(f["__header__"]))
            hp = header["hyperparameters"]
            shapes = {"W1": (hp["input_dim"], hp["hidden_dim"]), "b1": (hp["hidden_dim"],),
                      "W2": (hp["hidden_dim"], hp["num_classes"]), "b2": (hp["num_classes"],)}
            arrays = {name: f[name] for name in shapes if name in f.files}
            for name, shape in shapes.items():
                if name not in arrays or tuple(arrays[name].shape) != tuple(shape):
                    raise ValueError(f"{path}: {name} does not have the shape {shape} its hyperparameters give")
            net = cls(hp["input_dim"], hp["hidden_dim"], hp["num_classes"],
                      weight_scale=hp["weight_scale"], init=hp["init"], reg=hp["reg"],
                      activation=hp["activation"], loss=hp["loss"], dtype=hp["dtype"], seed=hp["seed"],
                      dropout=hp.get("dropout", 0.0),
                      input_dropout=hp.get("input_dropout", 0.0))
            for name in net.params:
                net.params[name] = np.ascontiguousarray(arrays[name], dtype=net.dtype)
        net.metadata = header.get("metadata", {})
        return net

    def __repr__(self) -> str:
        return (f"TwoLayerNet({self.input_dim}, {self.hidden_dim}, {self.num_classes}, "
                f"activation={self.activation!r}, loss={self.loss_name!r}, reg={self.reg}, "
                + (f"dropout={self.dropout}, " if self.dropout else "")
                + (f"input_dropout={self.input_dropout}, " if self.input_dropout else "") +
                f"dtype={self.dtype.name})")

"""Layers and losses as pure functions, in the style of CS231n.

Every layer has ``*_forward(...) -> (out, cache)`` and ``*_backward(dout, cache) -> grads``;
every loss returns ``(loss, dscores)`` where ``loss`` is a Python float (mean over the N rows) and
``dscores`` has the shape and dtype of ``scores``. Nothing here keeps state or draws random numbers
(batch normalization's running averages are the caller's arrays, updated in place when training).
Arrays keep the dtype they come in with (float32 in training, float64 in gradient checks).
"""

from __future__ import annotations

import numpy as np

from ._blas import axpy


# --------------------------------------------------------------------------------------- affine
def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    """Fully connected layer ``out = x @ w + b``.

    x: (N, d_1, ..., d_k), flattened to rows of D = d_1 * ... * d_k (a view when x is contiguous).
    w: (D, M); b: (M,). Returns out (N, M) and the cache ``(x, w)``.
    """
    rows = x.reshape(x.shape[0], -1)
    out = rows @ w
    out += b
    return out, (x, w)


def affine_backward(dout: np.ndarray, cache, need_dx: bool = True):
    """Gradients of :func:`affine_forward`.

    dout: (N, M). Returns ``(dx, dw, db)`` with dx shaped like the forward input x, dw (D, M),
    db (M,). ``need_dx=False`` skips the (N, D) product and returns ``dx=None``: the first layer of a
    network never needs the gradient with respect to its input data.
    """
    x, w = cache
    rows = x.reshape(x.shape[0], -1)
    dw = rows.T @ dout  # a transposed view: BLAS takes it as is, without a copy
    db = dout.sum(axis=0)
    dx = (dout @ w.T).reshape(x.shape) if need_dx else None
    return dx, dw, db


# ---------------------------------------------------------------------------------- activations
def relu_forward(x: np.ndarray):
    """``max(0, x)`` elementwise. Returns out (shape of x) and cache = out."""
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Gradient of ReLU: dout where the unit was active, 0 elsewhere."""
    out = cache
    # Multiplying by the boolean mask is ~15x faster than np.where(out > 0, dout, 0) here.
    return dout * (out > 0)


def sigmoid_forward(x: np.ndarray):
    """Logistic sigmoid ``1 / (1 + exp(-x))`` (scipy's expit: no overflow for large |x|)."""
    from scipy.special import expit  # here, not at the top: scipy.special takes 0.1 s to import

    out = expit(x)
    return out, out


def sigmoid_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Gradient of the sigmoid: ``dout * s * (1 - s)``."""
    s = cache
    return dout * s * (1 - s)


def tanh_forward(x: np.ndarray):
    """Hyperbolic tangent elementwise; cache = out."""
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Gradient of tanh: ``dout * (1 - tanh(x)**2)``."""
    t = cache
    return dout * (1 - t * t)


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
}


# -------------------------------------------------------------------------------- normalization
#: Batch normalization's defaults, as in CS231n assignment 2 (and PyTorch, whose momentum 0.1 weighs the batch).
BN_MOMENTUM, NORM_EPS = 0.9, 1e-5


def _normalize(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, axis: int, eps: float):
    """``gamma * (x - mean) / sqrt(var + eps) + beta`` with the mean and (biased) variance over ``axis``
    of x (N, D): axis 0 for batch normalization, 1 for layer normalization. gamma, beta: (D,).
    Returns out (N, D), the cache ``(xhat, gamma, std, axis)``, and the mean and variance."""
    mean = x.mean(axis=axis, keepdims=True)
    xhat = x - mean
    # sum of squares along the axis without an (N, D) temporary
    var = np.einsum("ij,ij->j" if axis == 0 else "ij,ij->i", xhat, xhat) / x.shape[axis]
    std = np.sqrt(var + eps).reshape(mean.shape)
    xhat /= std
    out = xhat * gamma
    out += beta
    return out, (xhat, gamma, std, axis), mean, var


def normalization_backward(dout: np.ndarray, cache):
    """Gradients of batch or layer normalization (training mode): ``(dx, dgamma, dbeta)``.

    With ``dxhat = dout * gamma`` and means over the normalized axis,
    ``dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / std`` (CS231n's one-line form). The
    two means need no (N, D) array: over the batch (axis 0) they are ``gamma * dbeta / N`` and
    ``gamma * dgamma / N``; over the features (axis 1), matrix-vector products with gamma.
    """
    xhat, gamma, std, axis = cache
    n = dout.shape[axis]
    dbeta = dout.sum(axis=0)
    dout_xhat = dout * xhat
    dgamma = dout_xhat.sum(axis=0)
    if axis == 0:
        mean_dxhat, projection = gamma * dbeta / n, gamma * dgamma / n
    else:
        mean_dxhat, projection = (dout @ gamma)[:, None] / n, (dout_xhat @ gamma)[:, None] / n
    dx = dout * gamma
    dx -= mean_dxhat
    dx -= np.multiply(xhat, projection, out=dout_xhat)  # dout_xhat is spent: its memory takes the product
    dx /= std
    return dx, dgamma, dbeta


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                      running_var: np.ndarray, training: bool, momentum: float = BN_MOMENTUM,
                      eps: float = NORM_EPS):
    """Batch normalization of x (N, D) feature by feature (Ioffe & Szegedy 2015; CS231n assignment 2).

    Training: normalize by the minibatch's mean and biased variance, and update the caller's
    ``running_mean``/``running_var`` (D,) in place: ``running = momentum * running + (1 - momentum) * batch``.
    Scoring (``training`` False): normalize by the running statistics; the cache is then None (no
    backward pass in scoring). Returns ``(out, cache)``.
    """
    if not training:
        scale = gamma / np.sqrt(running_var + eps)
        out = x * scale
        out += beta - running_mean * scale
        return out, None
    out, cache, mean, var = _normalize(x, gamma, beta, 0, eps)
    for running, batch in ((running_mean, mean), (running_var, var)):
        running *= momentum
        axpy(1.0 - momentum, batch.reshape(running.shape), running)
    return out, cache


def layernorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = NORM_EPS):
    """Layer normalization of x (N, D) row by row (Ba et al. 2016): the same in training and scoring,
    no running statistics. Returns ``(out, cache)``."""
    out, cache, _, _ = _normalize(x, gamma, beta, 1, eps)
    return out, cache


batchnorm_backward = layernorm_backward = normalization_backward


# --------------------------------------------------------------------------------------- losses
def softmax_loss(scores: np.ndarray, y: np.ndarray):
    """Softmax cross-entropy, mean over rows.

    scores: (N, C) class scores; y: (N,) integer labels in [0, C).
    Scores are shifted by their row maximum first, so scores of 1e4 (or any finite size) give a
    finite loss and gradient.
    """
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    log_probs_true = shifted[np.arange(n), y] - np.log(sum_exp[:, 0])
    loss = -float(log_probs_true.mean())
    dscores = exp
    dscores /= sum_exp
    dscores[np.arange(n), y] -= 1
    dscores /= n
    return loss, dscores


def svm_loss(scores: np.ndarray, y: np.ndarray, delta: float = 1.0):
    """Multiclass SVM (hinge) loss ``mean_i sum_{j != y_i} max(0, s_j - s_{y_i} + delta)``.

    scores: (N, C); y: (N,) integer labels.
    """
    n = scores.shape[0]
    rows = np.arange(n)
    correct = scores[rows, y][:, None]
    margins = np.maximum(0, scores - correct + delta)
    margins[rows, y] = 0
    loss = float(margins.sum() / n)
    positive = (margins > 0).astype(scores.dtype)
    positive[rows, y] = -positive.sum(axis=1)
    positive /= n
    return loss, positive


def mse_loss(scores: np.ndarray, y: np.ndarray):
    """Squared error ``0.5 * mean_i sum_j (s_ij - t_ij)**2``.

    scores: (N, C). y: either (N,) integer labels (targets are their one-hot rows) or (N, C)
    real-valued targets (regression, as in a Euclidean loss).
    """
    n = scores.shape[0]
    diff = scores.copy()
    if y.ndim == 1:
        diff[np.arange(n), y] -= 1
    else:
        diff -= y
    loss = 0.5 * float(np.square(diff, dtype=np.float64).sum()) / n  # float64: no overflow of the sum
    diff /= n
    return loss, diff


LOSSES = {"softmax": softmax_loss, "svm": svm_loss, "mse": mse_loss}

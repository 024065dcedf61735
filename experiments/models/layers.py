"""Layers as CS231n's assignment 2 writes them: forward(x, ...) -> (out, cache), backward(dout, cache) -> grads.

A model file imports them as a sibling module (`from layers import affine_forward, ...`): the
model file's folder is importable while the file is imported.
"""
import numpy as np


def affine_forward(x, w, b):
    """x: (N, D), w: (D, M), b: (M,) -> out (N, M)."""
    return x.dot(w) + b, (x, w)


def affine_backward(dout, cache):
    """dout: (N, M) -> dx (N, D), dw (D, M), db (M,)."""
    x, w = cache
    return dout.dot(w.T), x.T.dot(dout), dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def dropout_forward(x, p):
    """Inverted dropout: each unit dropped with probability p (a mask from np.random.rand), the others
    scaled by 1 / (1 - p) so that scoring needs no change."""
    mask = ((np.random.rand(*x.shape) >= p) / (1 - p)).astype(x.dtype)
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout * mask


def softmax_loss(x, y):
    """x: (N, C) scores, y: (N,) labels -> the mean cross-entropy and dx (N, C)."""
    shifted_logits = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(np.sum(np.exp(shifted_logits), axis=1, keepdims=True))
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    return loss, dx / N

"""Broken: a weight scale of 1e3 (meant 1e-3) and probabilities computed without subtracting each
row's largest score: exp overflows, inf / inf is NaN, and the loss is NaN from the first step."""
import numpy as np

from linear import Softmax


class NoMaxShift(Softmax):
    def __init__(self, input_dim, num_classes, std=1e3, reg=0.0):
        super().__init__(input_dim, num_classes, std, reg)

    def loss(self, X, y=None):
        if y is None:
            return super().loss(X)
        exp_scores = np.exp(super().loss(X))
        probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)
        _, grads = super().loss(X, y)
        return -np.mean(np.log(probs[np.arange(len(X)), y])), grads  # expected

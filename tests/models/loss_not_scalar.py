"""Broken: loss(X, y) returns one loss per row instead of their mean."""
import numpy as np

from linear import Softmax


class LossPerRow(Softmax):
    def loss(self, X, y=None):
        if y is None:
            return super().loss(X)
        loss, grads = super().loss(X, y)
        return np.full(len(X), loss), grads  # expected

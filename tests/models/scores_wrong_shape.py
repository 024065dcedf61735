"""Broken: loss(X) returns the predicted labels (N,), not the scores (N, C)."""
from linear import Softmax


class ReturnsLabels(Softmax):
    def loss(self, X, y=None):
        if y is None:
            return super().loss(X).argmax(axis=1)  # expected
        return super().loss(X, y)

"""Broken: loss(X, y) returns the loss alone and forgets the gradients."""
from linear import Softmax


class ForgetsGrads(Softmax):
    def loss(self, X, y=None):
        if y is None:
            return super().loss(X)
        loss, _ = super().loss(X, y)
        return loss  # expected

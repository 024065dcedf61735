"""Broken: the gradient of W is transposed."""
from linear import Softmax


class TransposedGradient(Softmax):
    def loss(self, X, y=None):
        if y is None:
            return super().loss(X)
        loss, grads = super().loss(X, y)
        return loss, {"W": grads["W"].T, "b": grads["b"]}  # expected

"""Broken: the gradients are named dW and db, not as the parameters W and b."""
from linear import Softmax


class GradientsNamedD(Softmax):
    def loss(self, X, y=None):
        if y is None:
            return super().loss(X)
        loss, grads = super().loss(X, y)
        return loss, {"dW": grads["W"], "db": grads["b"]}  # expected

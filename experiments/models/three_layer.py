"""A three-layer net in CS231n's assignment 2 style: (affine - ReLU - dropout) x 2 - affine - softmax loss.

Its layers come from the sibling file layers.py. Sweep it with `model: models/three_layer.py:ThreeLayerNet`;
check its gradients with
`sweep gradcheck experiments/models/three_layer.py:ThreeLayerNet --set dropout=0.5 --set reg=0.1`.
"""
import numpy as np

from layers import (affine_backward, affine_forward, dropout_backward, dropout_forward, relu_backward,
                    relu_forward, softmax_loss)


class ThreeLayerNet:
    def __init__(self, input_dim, num_classes, h1=100, h2=100, dropout=0.0, reg=0.0, weight_scale=1e-2,
                 dtype=np.float32):
        self.dropout, self.reg, self.dtype = dropout, reg, dtype
        dims = [input_dim, h1, h2, num_classes]
        self.params = {}
        for i in range(3):
            self.params[f"W{i + 1}"] = (weight_scale * np.random.randn(dims[i], dims[i + 1])).astype(dtype)
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1], dtype=dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        training = y is not None
        caches = []
        for i in (1, 2):
            X, affine_cache = affine_forward(X, self.params[f"W{i}"], self.params[f"b{i}"])
            X, relu_cache = relu_forward(X)
            mask = None
            if training and self.dropout > 0:
                X, mask = dropout_forward(X, self.dropout)
            caches.append((affine_cache, relu_cache, mask))
        scores, last_cache = affine_forward(X, self.params["W3"], self.params["b3"])
        if not training:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dx, grads["W3"], grads["b3"] = affine_backward(dscores, last_cache)
        for i in (2, 1):
            affine_cache, relu_cache, mask = caches[i - 1]
            if mask is not None:
                dx = dropout_backward(dx, mask)
            dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(relu_backward(dx, relu_cache), affine_cache)
        for i in (1, 2, 3):
            W = self.params[f"W{i}"]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads[f"W{i}"] += self.reg * W
        return loss, grads

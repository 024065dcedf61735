"""A two-layer net as CS231n's assignment 1 writes it: affine - ReLU - affine - softmax loss.

Sweep it with `model: models/two_layer.py:TwoLayerNet`. Check its gradients, the regularization's too, at
the weight scale of CS231n's toy model (with std=1e-4 the step of the check can cross a ReLU kink) with
`sweep gradcheck experiments/models/two_layer.py:TwoLayerNet --set reg=0.1 --set std=0.1`.
"""
import numpy as np


class TwoLayerNet:
    def __init__(self, input_dim, num_classes, hidden_size=50, std=1e-4, reg=0.0):
        self.reg = reg
        self.params = {
            "W1": std * np.random.randn(input_dim, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": std * np.random.randn(hidden_size, num_classes),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X, y=None):
        W1, b1, W2, b2 = self.params["W1"], self.params["b1"], self.params["W2"], self.params["b2"]
        N = X.shape[0]
        hidden = np.maximum(0, X.dot(W1) + b1)
        scores = hidden.dot(W2) + b2
        if y is None:
            return scores

        exp_scores = np.exp(scores - np.max(scores, axis=1, keepdims=True))
        probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
        correct_logprobs = -np.log(probs[range(N), y])
        loss = np.sum(correct_logprobs) / N + 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

        dscores = probs
        dscores[range(N), y] -= 1
        dscores /= N
        grads = {"W2": hidden.T.dot(dscores) + self.reg * W2, "b2": np.sum(dscores, axis=0)}
        dhidden = dscores.dot(W2.T)
        dhidden[hidden <= 0] = 0
        grads["W1"] = X.T.dot(dhidden) + self.reg * W1
        grads["b1"] = np.sum(dhidden, axis=0)
        return loss, grads

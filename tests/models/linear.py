"""A correct linear softmax classifier (CS231n's assignment 1), the base the broken models of these tests start from.

Each broken model file imports it as a sibling module and breaks one rule of the model contract.
The line a test expects the error to name carries the comment `# expected`.
"""
import numpy as np


class Softmax:
    def __init__(self, input_dim, num_classes, std=1e-2, reg=0.0):
        self.reg = reg
        self.params = {"W": std * np.random.randn(input_dim, num_classes), "b": np.zeros(num_classes)}

    def loss(self, X, y=None):
        W, b = self.params["W"], self.params["b"]
        scores = X @ W + b
        if y is None:
            return scores
        probs = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        onehot = np.eye(W.shape[1])[y]
        loss = -np.mean(np.sum(onehot * np.log(probs), axis=1)) + 0.5 * self.reg * np.sum(W * W)
        dscores = (probs - onehot) / len(X)
        return loss, {"W": X.T @ dscores + self.reg * W, "b": dscores.sum(axis=0)}

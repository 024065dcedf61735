"""Broken: batch normalization as CS231n's FullyConnectedNet writes it, its running averages kept in
``self.bn_params`` beside ``params``. Every call of loss(X, y) moves them, and loss(X) reads them: the
scores depend on state a sweep does not save, pause or restore."""
import numpy as np


class BatchNormNet:
    def __init__(self, input_dim, num_classes, hidden_dim=16, momentum=0.9, eps=1e-5):
        self.params = {"W1": 0.1 * np.random.randn(input_dim, hidden_dim), "b1": np.zeros(hidden_dim),
                       "gamma1": np.ones(hidden_dim), "beta1": np.zeros(hidden_dim),
                       "W2": 0.1 * np.random.randn(hidden_dim, num_classes), "b2": np.zeros(num_classes)}
        self.bn_params = [{"mode": "train", "momentum": momentum, "eps": eps}]

    def loss(self, X, y=None):  # expected
        p, bn = self.params, self.bn_params[0]
        a = X @ p["W1"] + p["b1"]
        running_mean = bn.get("running_mean", np.zeros(a.shape[1], dtype=a.dtype))
        running_var = bn.get("running_var", np.zeros(a.shape[1], dtype=a.dtype))
        if y is None:
            h = np.maximum(0, p["gamma1"] * (a - running_mean) / np.sqrt(running_var + bn["eps"]) + p["beta1"])
            return h @ p["W2"] + p["b2"]
        mean, var = a.mean(axis=0), a.var(axis=0)
        bn["running_mean"] = bn["momentum"] * running_mean + (1 - bn["momentum"]) * mean
        bn["running_var"] = bn["momentum"] * running_var + (1 - bn["momentum"]) * var
        std = np.sqrt(var + bn["eps"])
        xn = (a - mean) / std
        z = p["gamma1"] * xn + p["beta1"]
        h = np.maximum(0, z)
        scores = h @ p["W2"] + p["b2"]
        probs = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        n = len(y)
        loss = -np.log(probs[np.arange(n), y]).mean()
        dscores = probs
        dscores[np.arange(n), y] -= 1
        dscores /= n
        grads = {"W2": h.T @ dscores, "b2": dscores.sum(axis=0)}
        dz = (dscores @ p["W2"].T) * (z > 0)
        grads["gamma1"], grads["beta1"] = (dz * xn).sum(axis=0), dz.sum(axis=0)
        dxn = dz * p["gamma1"]
        da = (dxn - dxn.mean(axis=0) - xn * (dxn * xn).mean(axis=0)) / std
        grads["W1"], grads["b1"] = X.T @ da, da.sum(axis=0)
        return loss, grads

"""Broken: the loss method has another name, so the trainer cannot call it."""
import numpy as np


class ComputeLoss:
    def __init__(self, input_dim, num_classes, std=1e-2):  # expected
        self.params = {"W": std * np.random.randn(input_dim, num_classes)}

    def compute_loss(self, X, y=None):
        return X @ self.params["W"]

"""Broken: the constructor raises (a misspelt argument name)."""
import numpy as np

from linear import Softmax


class TwoHeads(Softmax):
    def __init__(self, input_dim, num_classes, std=1e-2, reg=0.0):
        super().__init__(input_dim, num_classes, std, reg)
        self.params["W_aux"] = std * np.random.randn(input_dim, num_clases)  # expected

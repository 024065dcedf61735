"""Broken: a syntax error (a missing colon)."""
import numpy as np


class Net:
    def __init__(self, input_dim, num_classes)  # expected
        self.params = {"W": np.zeros((input_dim, num_classes))}

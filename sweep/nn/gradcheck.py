"""Numerical gradients by centered differences, for checking analytic backward passes.

Use float64 inputs: in float32 the rounding error of ``f(x + h) - f(x - h)`` swamps the check.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of the scalar function ``f`` at ``x`` (any shape), ``(f(x+h) - f(x-h)) / 2h``.

    ``x`` is perturbed in place one entry at a time and restored.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray,
                             h: float = 1e-5) -> np.ndarray:
    """Gradient of ``sum(f(x) * dout)`` with respect to ``x``: the backward pass of an array function."""
    return numerical_gradient(lambda v: float(np.sum(f(v) * dout)), x, h)


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> float:
    """Largest elementwise ``|a - b| / max(floor, |a| + |b|)``.

    ``floor`` keeps entries near zero, whose difference is all rounding, from dominating; see
    :func:`sweep.models.gradcheck.resolvable` for one that follows the precision of the differences.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))))

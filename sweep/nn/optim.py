"""First-order update rules as functions ``update(w, dw, config) -> (next_w, config)``.

As in CS231n, all the state of a rule (velocity, moment estimates, step count) lives in ``config``,
never in globals, so a training run is reproducible from its seed alone. ``config`` needs at least
``learning_rate``; the rule fills in the defaults of its other keys on first use.

For speed, ``w`` and the state arrays are updated in place and ``next_w`` is ``w`` itself: pass
copies when the old values must survive. Arithmetic stays in the dtype of ``w`` (float32 stays
float32; the scalar hyperparameters are Python floats).
"""

from __future__ import annotations

import numpy as np

from ._blas import axpy


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: ``w -= learning_rate * dw``."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    axpy(-config["learning_rate"], dw, w)
    return w, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum: ``v = momentum * v - learning_rate * dw; w += v``.

    config: learning_rate, momentum (default 0.9), velocity (zeros like w at first).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity")
    if v is None:
        v = np.zeros_like(w)
    v *= config["momentum"]
    axpy(-config["learning_rate"], dw, v)
    axpy(1.0, v, w)
    config["velocity"] = v
    return w, config


def nesterov(w, dw, config=None):
    """Nesterov momentum in the look-ahead form of CS231n.

    ``v_prev = v; v = momentum * v - learning_rate * dw; w += -momentum * v_prev + (1 + momentum) * v``
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    mu = config["momentum"]
    v = config.get("velocity")
    if v is None:
        v = np.zeros_like(w)
    v_prev = v.copy()
    v *= mu
    v -= config["learning_rate"] * dw
    w -= mu * v_prev
    w += (1 + mu) * v
    config["velocity"] = v
    return w, config


def rmsprop(w, dw, config=None):
    """RMSProp: ``cache = decay * cache + (1 - decay) * dw**2; w -= lr * dw / (sqrt(cache) + eps)``.

    config: learning_rate, decay_rate (0.99), epsilon (1e-8), cache (zeros like w at first).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache")
    if cache is None:
        cache = np.zeros_like(w)
    decay = config["decay_rate"]
    cache *= decay
    cache += (1 - decay) * (dw * dw)
    w -= config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return w, config


def _moments(w, dw, config, learning_rate: float):
    """Adam's and Nadam's shared first step: fill config's defaults (learning_rate, beta1 0.9,
    beta2 0.999, epsilon 1e-8, t 0), then update the moment estimates m and v (zeros like w at
    first) in place with dw. Returns ``(config, m, v, t)``, t the number of this step (1 at first)."""
    config = {} if config is None else config
    config.setdefault("learning_rate", learning_rate)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    m = config.get("m")
    v = config.get("v")
    if m is None:
        m = np.zeros_like(w)
        v = np.zeros_like(w)
    b1, b2 = config["beta1"], config["beta2"]
    m *= b1
    m += (1 - b1) * dw
    v *= b2
    v += (1 - b2) * (dw * dw)
    return config, m, v, config["t"] + 1


def adam(w, dw, config=None):
    """Adam with bias correction (Kingma & Ba, 2015).

    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8), and the state
    m, v (zeros like w at first) and t (steps taken, 0 at first).
    """
    config, m, v, t = _moments(w, dw, config, 1e-3)
    b1, b2 = config["beta1"], config["beta2"]
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    w -= config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config.update(m=m, v=v, t=t)
    return w, config


def nadam(w, dw, config=None):
    """Nadam: Adam with Nesterov momentum (Dozat, "Incorporating Nesterov Momentum into Adam", ICLR
    2016 workshop, Algorithm 2, with a constant momentum ``mu_t = beta1``, i.e. without its momentum
    schedule; the formula of ``optax.nadam``, which like it leaves out Algorithm 2's extra ``beta2``
    factor on ``v_hat``):

        m = beta1 * m + (1 - beta1) * dw;  v = beta2 * v + (1 - beta2) * dw**2
        m_hat = beta1 * m / (1 - beta1**(t + 1)) + (1 - beta1) * dw / (1 - beta1**t)
        w -= learning_rate * m_hat / (sqrt(v / (1 - beta2**t)) + epsilon)

    Adam's step uses ``m / (1 - beta1**t)``; Nadam's looks one momentum step ahead. PyTorch's
    ``NAdam`` multiplies beta1 by a warming-up schedule (its ``momentum_decay``) instead.
    config: as :func:`adam`, but learning_rate defaults to 2e-3 (PyTorch's default for NAdam).
    """
    config, m, v, t = _moments(w, dw, config, 2e-3)
    b1, b2 = config["beta1"], config["beta2"]
    step = m * (b1 / (1 - b1 ** (t + 1)))
    axpy((1 - b1) / (1 - b1**t), dw, step)
    denominator = v / (1 - b2**t)
    np.sqrt(denominator, out=denominator)
    denominator += config["epsilon"]
    step /= denominator
    axpy(-config["learning_rate"], step, w)
    config.update(m=m, v=v, t=t)
    return w, config


UPDATE_RULES = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "nesterov": nesterov,
    "rmsprop": rmsprop,
    "adam": adam,
    "nadam": nadam,
}

"""The network: pure layer functions, the two-layer net, update rules and gradient checks."""

from .net import TwoLayerNet
from .optim import UPDATE_RULES

__all__ = ["TwoLayerNet", "UPDATE_RULES"]

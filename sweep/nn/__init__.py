"""The network: pure layer functions, the two-layer and deeper nets, update rules and gradient checks."""

from .fc_net import FullyConnectedNet
from .net import TwoLayerNet
from .optim import UPDATE_RULES

__all__ = ["FullyConnectedNet", "TwoLayerNet", "UPDATE_RULES"]

"""sweep: hyperparameter sweeps for small NumPy two-layer networks.

    from sweep import TwoLayerNet, train, load_dataset

    data = load_dataset("digits")
    net = TwoLayerNet(data.input_dim, 100, data.num_classes, init="he", seed=0)
    history = train(net, data, optimizer="sgd_momentum", learning_rate=0.05, epochs=20, seed=0)
"""

from .data import Dataset, load_dataset
from .nn import TwoLayerNet
from .trainer import History, train

__version__ = "0.1.0"
__all__ = ["Dataset", "History", "TwoLayerNet", "load_dataset", "train", "__version__"]

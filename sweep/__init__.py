"""sweep: hyperparameter sweeps for small NumPy two-layer networks.

    from sweep import TwoLayerNet, train, load_dataset

    data = load_dataset("digits")
    net = TwoLayerNet(data.input_dim, 100, data.num_classes, init="he", seed=0)
    history = train(net, data, optimizer="sgd_momentum", learning_rate=0.05, epochs=20, seed=0)

    run = sweep.run_experiment("experiments/default.yaml", n_jobs=2)  # a sweep, as `sweep run` does
    run = sweep.load_run("results/digits-grid/20261201-101500")   # a finished sweep, read back
    run.leaderboard(top=10); run.best_model().predict(data.X_test)

The names are imported on first use, so the command line starts without loading NumPy's linear
algebra or the data loaders for commands that do not need them.
"""

import importlib

__version__ = "0.1.0"
__all__ = ["Dataset", "History", "Run", "TwoLayerNet", "load_dataset", "load_run", "log", "run_experiment", "train", "__version__"]

_LAZY = {"Dataset": ".data", "load_dataset": ".data", "TwoLayerNet": ".nn", "History": ".trainer", "train": ".trainer",
         "Run": ".results", "load_run": ".results", "log": ".programs.log",
         "run_experiment": ".api"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sweep' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))

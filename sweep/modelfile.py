"""A trained model in a file (``best/model.npz``): a built-in net, or a user's model.

A built-in net writes itself (:meth:`sweep.nn.TwoLayerNet.save`). A user's model has no format of
its own, so its file holds its arrays (``param/NAME``) and a JSON header with what rebuilds it: the
model's class and the text of its source file, its hyperparameters, the data set's sizes and the
dtype. :func:`load_model_file` gives either back as an object that predicts.

Loading a user's model runs its source file's code, as importing it would: the figures and the
report never do it (they read the arrays), only :func:`load_model_file` (``load_run(...).best_model()``).
Load only the models of runs you trust.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import SweepError
from .memory import npz_bytes

#: ``format`` of the header of a user's model's file.
USER_FORMAT = "sweep user model 1"


class SavedUserModel:
    """A user's trained model with what rebuilds it, ready for :meth:`save` (as a built-in net saves)."""

    def __init__(self, net, source, hyperparameters: dict, input_dim: int, num_classes: int, dtype: str):
        self.net, self.source, self.hyperparameters = net, source, hyperparameters
        self.input_dim, self.num_classes, self.dtype = input_dim, num_classes, dtype

    @property
    def params(self) -> dict:
        return self.net.params

    def save(self, path, **metadata) -> Path:
        """Write the arrays and the header (plus JSON-able ``metadata``) to an ``.npz``, without pickle."""
        header = {"format": USER_FORMAT,
                  "model": {"ref": self.source.ref, "class": self.source.class_name, "path": self.source.path,
                            "module": self.source.module, "source": self.source.source},
                  "hyperparameters": self.hyperparameters, "input_dim": self.input_dim,
                  "num_classes": self.num_classes, "dtype": self.dtype, "metadata": metadata}
        with open(path, "wb") as f:  # a file object, so numpy does not append a second ".npz"
            np.savez(f, __header__=np.array(json.dumps(header)),
                     **{f"param/{name}": value for name, value in self.net.params.items()})
        return Path(path)


class LoadedModel:
    """A user's model read back: ``model`` is the user's object (its ``params`` the trained arrays);
    :meth:`scores` and :meth:`predict` use its ``loss(X)``, in chunks of rows."""

    def __init__(self, model, metadata: dict):
        self.model, self.metadata = model, metadata

    @property
    def params(self) -> dict:
        return self.model.params

    def scores(self, X: np.ndarray) -> np.ndarray:
        """The scores (N, C) of the rows of ``X`` (N, D)."""
        from .trainer import scores_of

        return scores_of(self.model, np.asarray(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class labels (N,)."""
        return self.scores(X).argmax(axis=1)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(X) == y))

    def __repr__(self) -> str:
        return f"LoadedModel({self.model!r})"


def model_file_arrays(path) -> dict[str, np.ndarray]:
    """The trained arrays in the model file ``path`` (name -> array), without rebuilding the model (no
    user code runs): what a figure of the weights needs. ValueError (or SweepError) as :func:`load_model_file`."""
    npz_bytes(path, str(path))
    with np.load(Path(path), allow_pickle=False) as f:
        header = json.loads(str(f["__header__"]))
        if isinstance(header, dict) and header.get("format") == USER_FORMAT:
            return {key.removeprefix("param/"): f[key] for key in f.files if key.startswith("param/")}
    return dict(_builtin_class(header).load(path).params)


def _builtin_class(header):
    """The built-in net class whose :meth:`save` wrote ``header``: the deep net names ``hidden_dims``."""
    from .nn import FullyConnectedNet, TwoLayerNet

    hyperparameters = header.get("hyperparameters") if isinstance(header, dict) else None
    return FullyConnectedNet if isinstance(hyperparameters, dict) and "hidden_dims" in hyperparameters else TwoLayerNet


def load_model_file(path):
    """The model in the file ``path``: a built-in net (:class:`~sweep.nn.TwoLayerNet` or
    :class:`~sweep.nn.FullyConnectedNet`) or a user's
    (:class:`LoadedModel`). ValueError (or SweepError) for a damaged or forged file, before anything
    its headers claim is allocated."""
    npz_bytes(path, str(path))
    with np.load(Path(path), allow_pickle=False) as f:
        header = json.loads(str(f["__header__"]))
        if not (isinstance(header, dict) and header.get("format") == USER_FORMAT):
            return _builtin_class(header).load(path)
        arrays = {key.removeprefix("param/"): f[key] for key in f.files if key.startswith("param/")}
    return _rebuilt(header, arrays, path)


def _rebuilt(header: dict, arrays: dict, path) -> LoadedModel:
    from .models import ModelSource, build_model

    spec = header["model"]
    source = ModelSource(spec["ref"], spec["class"], spec.get("path"), spec.get("module"), spec.get("source"))
    model = build_model(source.load(), header["hyperparameters"], header["input_dim"], header["num_classes"],
                        header["dtype"], 0)
    if set(model.params) != set(arrays):
        raise ValueError(f"{path}: holds arrays {sorted(arrays)}, the model has {sorted(model.params)}")
    for name, value in arrays.items():
        if np.shape(model.params[name]) != value.shape:
            raise SweepError(f"{path}: {name} has shape {value.shape}, the model's is {np.shape(model.params[name])}")
        model.params[name] = np.ascontiguousarray(value)
    return LoadedModel(model, header.get("metadata", {}))

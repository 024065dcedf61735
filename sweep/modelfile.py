"""A trained model in a file (``best/model.npz``): a built-in net, or a user's model.

A built-in net writes itself (:meth:`sweep.nn.TwoLayerNet.save`). A user's model has no format of
its own, so its file holds its arrays (``param/NAME``) and a JSON header with what rebuilds it: the
model's class and the text of its source file, its hyperparameters, the data set's sizes and the
dtype. :func:`load_model_file` gives either back as an object that predicts.

The best model's file also holds the preprocessing the run applied to the data set's raw inputs
(:class:`~sweep.data.transform.Preprocessing`: arrays ``prep/mean`` and ``prep/inv_std``, and a JSON
object under ``preprocessing`` in the header's metadata), written by :func:`save_model`.
:func:`load_saved_model` gives a :class:`Model` whose ``predict`` and ``predict_proba`` take raw
inputs. A file of an older run records none: its model takes preprocessed inputs, with a warning.

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

    def record(self) -> dict:
        """What rebuilds the model (:func:`rebuild_user_model`): its class, the text of its file, the
        SHA-256 of each module of the user's it imports (:mod:`sweep.models.fingerprint`: they are
        imported from disk again), its hyperparameters, the data set's sizes and the dtype; JSON-able."""
        from .models.fingerprint import code_files

        return {"format": USER_FORMAT,
                "model": {"ref": self.source.ref, "class": self.source.class_name, "path": self.source.path,
                          "module": self.source.module, "source": self.source.source,
                          "code_sha256": code_files(self.source)},
                "hyperparameters": self.hyperparameters, "input_dim": self.input_dim,
                "num_classes": self.num_classes, "dtype": self.dtype}

    def save(self, path, arrays: dict | None = None, **metadata) -> Path:
        """Write the arrays and the header (:meth:`record`, plus JSON-able ``metadata``, and more ``arrays``
        under names outside ``param/``) to an ``.npz``, without pickle."""
        header = {**self.record(), "metadata": metadata}
        with open(path, "wb") as f:  # a file object, so numpy does not append a second ".npz"
            np.savez(f, __header__=np.array(json.dumps(header)),
                     **{f"param/{name}": value for name, value in self.net.params.items()}, **(arrays or {}))
        return Path(path)


def savable(net, source, params: dict, data):
    """What a model file holds for the network ``net`` of a trial of hyperparameters ``params`` (the
    trainer's and the model's) on ``data`` (a :class:`~sweep.data.Dataset`): a built-in net as it is
    (``source`` None); a user's model (``source`` the experiment's ``model:``) as a :class:`SavedUserModel`."""
    if source is None:
        return net
    from .params import TRAINER_NAMES

    hyperparameters = {name: value for name, value in params.items() if name not in TRAINER_NAMES}
    return SavedUserModel(net, source, hyperparameters, data.input_dim, data.num_classes, params["dtype"])


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
    return rebuild_user_model(header, arrays, path)


def rebuild_user_model(header: dict, arrays: dict, path) -> LoadedModel:
    """A user's model from its :meth:`SavedUserModel.record` (``header``) and trained ``arrays``: built
    from the saved text of its file (its code runs), then given the arrays, whose names and shapes must
    be its ``params``' (ValueError or SweepError naming ``path`` else)."""
    from .models import ModelSource, build_model
    from .models.fingerprint import code_change

    spec = header["model"]
    source = ModelSource(spec["ref"], spec["class"], spec.get("path"), spec.get("module"), spec.get("source"))
    model = build_model(source.load(), header["hyperparameters"], header["input_dim"], header["num_classes"],
                        header["dtype"], 0)
    changed = code_change(source, spec.get("code_sha256"), loaded=True)
    if changed is not None:
        import warnings

        warnings.warn(f"{path}: {changed} the model was saved: its predictions may not be the ones the run "
                      "measured", UserWarning, stacklevel=2)
    if set(model.params) != set(arrays):
        raise ValueError(f"{path}: holds arrays {sorted(arrays)}, the model has {sorted(model.params)}")
    for name, value in arrays.items():
        if np.shape(model.params[name]) != value.shape:
            raise SweepError(f"{path}: {name} has shape {value.shape}, the model's is {np.shape(model.params[name])}")
        model.params[name] = np.ascontiguousarray(value)
    return LoadedModel(model, header.get("metadata", {}))


#: The key of a model file's header metadata that holds its preprocessing.
PREPROCESSING_KEY = "preprocessing"


def save_model(net, path, preprocessing=None, **metadata) -> Path:
    """Write ``net`` (a built-in net or a :class:`SavedUserModel`) to ``path`` with ``preprocessing``
    (a :class:`~sweep.data.transform.Preprocessing`, or None) and JSON-able ``metadata``."""
    if preprocessing is None:
        return net.save(path, **metadata)
    return net.save(path, arrays=preprocessing.arrays(), **{PREPROCESSING_KEY: preprocessing.header()}, **metadata)


def read_preprocessing(path):
    """The preprocessing the model file ``path`` records, or None (a file of an older run). ValueError
    for a record that does not fit its arrays."""
    from .data.transform import Preprocessing

    npz_bytes(path, str(path))
    with np.load(Path(path), allow_pickle=False) as f:
        header = json.loads(str(f["__header__"]))
        metadata = header.get("metadata") if isinstance(header, dict) else None
        record = metadata.get(PREPROCESSING_KEY) if isinstance(metadata, dict) else None
        if record is None:
            return None
        arrays = {name: f[name] for name in f.files if name.startswith("prep/")}
    return Preprocessing.from_saved(record, arrays, str(path))


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``scores`` (N, C), in float64: a model's class probabilities."""
    z = np.asarray(scores, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


class Model:
    """A saved model that predicts on raw inputs: ``net`` (a built-in net, or a user's model as a
    :class:`LoadedModel`) after ``preprocessing``.

    Raw inputs are the rows the data set's loader reads from its files, before any scaling or centring:
    an array (N, D), or (N, *shape) of the loader's rows (digits: gray levels 0..16 as (N, 64) or
    (N, 8, 8) images; MNIST: uint8 (N, 28, 28); CIFAR-10: (N, 32, 32, 3)), of any real dtype (it is
    converted to the run's dtype as the loader's rows were). :meth:`transform` gives the network's
    inputs, bitwise the rows the run scored. With ``preprocessing`` None (a model file of an older
    run) the inputs are taken as they are: preprocessed ones.
    """

    def __init__(self, net, preprocessing=None):
        self.net, self.preprocessing = net, preprocessing

    @property
    def params(self) -> dict:
        return self.net.params

    def transform(self, X) -> np.ndarray:
        """The network's inputs (N, D) for raw inputs ``X``."""
        return np.asarray(X) if self.preprocessing is None else self.preprocessing.apply(X)

    def scores(self, X) -> np.ndarray:
        """The network's class scores (N, C) for raw inputs ``X``."""
        from .trainer import scores_of

        return scores_of(self.net, self.transform(X))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (N, C), float64 (the softmax of the scores), for raw inputs ``X``."""
        return softmax(self.scores(X))

    def predict(self, X) -> np.ndarray:
        """Predicted class labels (N,) for raw inputs ``X``."""
        return self.scores(X).argmax(axis=1)

    def accuracy(self, X, y) -> float:
        """Fraction of the raw inputs ``X`` whose predicted label is ``y``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def __repr__(self) -> str:
        how = "raw inputs" if self.preprocessing is not None else "preprocessed inputs"
        return f"Model({self.net!r}, on {how})"


def load_saved_model(path, warn=None) -> Model:
    """The model in the file ``path`` with its preprocessing (see :class:`Model`). A file without one
    (an older run's) gives a model on preprocessed inputs, and a :class:`UserWarning` (or a line to
    ``warn``) that says so."""
    net = load_model_file(path)
    preprocessing = read_preprocessing(path)
    if preprocessing is None:
        message = (f"{path} records no preprocessing (a run of an older version): its model takes preprocessed "
                   "inputs (scaled and centred as the run's data set was), not raw ones")
        if warn is None:
            import warnings

            warnings.warn(message, UserWarning, stacklevel=2)
        else:
            warn(f"warning: {message}")
    return Model(net, preprocessing)

"""Users' own models: CS231n's model contract, loading a model from a file, checking it.

A *model* is a class, as CS231n's assignments write them::

    class TwoLayerNet:
        def __init__(self, input_dim, num_classes, hidden_size=50, std=1e-4, reg=0.0):
            self.params = {"W1": std * np.random.randn(input_dim, hidden_size), ...}   # a dict of arrays
        def loss(self, X, y=None):
            ...                            # X: (N, D)
            if y is None:
                return scores              # (N, C)
            return loss, grads             # a finite scalar; a dict with exactly the keys of params

Its constructor takes the hyperparameters as keyword arguments; ``input_dim`` and ``num_classes``
are filled in from the data set, ``dtype`` and ``seed`` when it accepts them. It may draw from
NumPy's global RNG (the trainer seeds it per trial). Regularization is the model's business.

- :func:`resolve_model` turns ``model: nets.py:TwoLayerNet`` into a :class:`ModelSource`, which
  carries the file's text to the workers and :meth:`~ModelSource.load` s the class there
  (:mod:`.source`, :mod:`.loader`);
- :func:`model_hyperparameters` and :func:`accepts` read the constructor (:mod:`.signature`);
- :func:`build_model` constructs it as the contract says (:mod:`.build`);
- :func:`check_model` is the dry run before a sweep (:mod:`.contract`);
- :func:`user_location` finds the user's ``file:line`` in a traceback (:mod:`.where`);
- ``sweep gradcheck`` checks its gradients (:mod:`.gradcheck`).

Every error is a one-line :class:`ModelError`: where (``nets.py:31``), what, and what is expected.
"""

from ..errors import ModelError
from .build import build_model
from .contract import check_model
from .signature import accepts, model_hyperparameters
from .source import ModelSource, resolve_model
from .where import user_location

__all__ = ["ModelError", "ModelSource", "accepts", "build_model", "check_model", "model_hyperparameters",
           "resolve_model", "user_location"]

"""The :class:`Dataset` every loader returns and the trainer consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """Train / validation / test splits of one data set, ready for training.

    Arrays are C-contiguous. ``X_*`` have shape (N, D) in the model's dtype (float32 unless asked
    otherwise), already preprocessed with statistics fitted on the training split only.
    For classification ``y_*`` are int64 class labels of shape (N,) in ``[0, num_classes)``; for
    regression they are real-valued targets of shape (N, C) in the model's dtype.

    ``image_shape`` is the shape of one input as an image, ``(H, W)`` for gray or ``(H, W, 3)`` for
    colour, or None when the inputs are not images. ``class_names`` has one name per class
    (None for regression). ``info`` records how the set was built (source, preprocessing, sizes);
    ``preprocessing`` holds the numbers that turn a raw row into a row of ``X_*`` (what a saved model
    applies to raw inputs).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...] | None = None
    class_names: tuple[str, ...] | None = None
    info: dict = field(default_factory=dict)
    #: How the loader's raw rows became ``X_*`` (:class:`~sweep.data.transform.Preprocessing`); None when unknown.
    preprocessing: object = None

    @property
    def task(self) -> str:
        """``"classification"`` (integer labels) or ``"regression"`` (real-valued targets)."""
        return "regression" if self.y_train.ndim == 2 else "classification"

    @property
    def input_dim(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def num_classes(self) -> int:
        """Number of classes, or of target columns for regression."""
        if self.task == "regression":
            return int(self.y_train.shape[1])
        return len(self.class_names) if self.class_names else int(self.y_train.max()) + 1

    @property
    def dtype(self) -> np.dtype:
        return self.X_train.dtype

    def astype(self, dtype) -> "Dataset":
        """This data set with features (and regression targets) in ``dtype``; no copy if already so."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self

        def conv(a, is_target):
            if is_target and self.task == "classification":
                return a
            return np.ascontiguousarray(a, dtype=dtype)

        return Dataset(
            self.name,
            conv(self.X_train, False), conv(self.y_train, True),
            conv(self.X_val, False), conv(self.y_val, True),
            conv(self.X_test, False), conv(self.y_test, True),
            self.image_shape, self.class_names, dict(self.info), self.preprocessing,
        )

    ARRAYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")

    def realign(self) -> "Dataset":
        """Replace, in place, any array that is not aligned for its dtype by an aligned copy; return self.

        Dask can deliver an array it sent over the network at an odd address (its frames pack
        several buffers). NumPy cannot hand such an array to BLAS, and a matrix product on it falls back to
        a loop about 40 times slower. A worker receives the data set once and keeps that object,
        so the copy is made once per worker; aligned arrays (loky's memory maps) are left alone.
        """
        for name in self.ARRAYS:
            array = getattr(self, name)
            if not array.flags.aligned:
                setattr(self, name, np.require(array, requirements=["A", "C"]))
        return self

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={self.X_train.shape}, val={self.X_val.shape}, "
            f"test={self.X_test.shape}, classes={self.num_classes}, task={self.task})"
        )

"""The preprocessing a data set's inputs went through, kept so that a saved model predicts on raw inputs.

:func:`sweep.data.prep.build_dataset` converts the rows a loader read (its *raw* inputs: digits'
gray levels 0..16, MNIST's uint8 pixels, a CSV's numbers) to the model's dtype, flattens them to
(N, D) in C order, divides them by ``scale`` and subtracts the training mean (``center:
mean_image``), then multiplies by the inverse training std (``center: standardize``).
:class:`Preprocessing` holds exactly those numbers, in the data set's dtype, and :meth:`apply` does
exactly those operations: a raw row given to a saved model becomes bitwise the row the run scored.

It is stored in a model file as two arrays (``prep/mean``, ``prep/inv_std``, when centred) and a JSON
object in the file's header (:meth:`header`); never pickled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Names of the arrays a model file stores the preprocessing in.
MEAN_ARRAY, INV_STD_ARRAY = "prep/mean", "prep/inv_std"
FORMAT = "sweep preprocessing 1"


@dataclass(frozen=True, eq=False)
class Preprocessing:
    """What turns raw inputs into the network's inputs.

    ``input_shape``: one raw row's shape as the loader read it ((64,) for digits, (28, 28) for MNIST,
    (32, 32, 3) for CIFAR-10); ``image_shape``: the image shape of a row, when the inputs are images;
    ``dtype``: the data set's dtype (float32 or float64); ``scale``: the divisor (None: none);
    ``center``: ``none``, ``mean_image`` or ``standardize``; ``mean`` and ``inv_std``: (D,) arrays
    of ``dtype`` (None when not centred / not standardized).
    """

    input_shape: tuple[int, ...]
    dtype: str
    scale: float | None = None
    center: str = "none"
    mean: np.ndarray | None = None
    inv_std: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None

    @property
    def input_dim(self) -> int:
        return math.prod(self.input_shape)

    def apply(self, X) -> np.ndarray:
        """``X`` raw, (N, D) or (N, *input_shape) or (N, *image_shape), any real dtype: the (N, D)
        array of ``dtype`` the network takes (a new array; ``X`` is left as it is). ValueError for
        another shape."""
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise ValueError(f"the inputs have dtype {X.dtype}; give numbers (the raw values the data set's files "
                             "hold)")
        shapes = {(self.input_dim,), tuple(self.input_shape)} | ({tuple(self.image_shape)} if self.image_shape else set())
        if X.ndim < 2 or tuple(X.shape[1:]) not in shapes:
            allowed = " or ".join(f"(N, {', '.join(map(str, s))})" for s in sorted(shapes, key=len))
            raise ValueError(f"the inputs have shape {X.shape}; this model takes raw rows of shape {allowed}")
        dtype = np.dtype(self.dtype)
        out = np.empty((len(X), self.input_dim), dtype=dtype)
        out[...] = X.reshape(len(X), self.input_dim)  # converted once, as the loader's rows were
        if self.scale is not None and self.scale != 1.0:
            np.divide(out, dtype.type(self.scale), out=out)
        if self.mean is not None:
            out -= self.mean
        if self.inv_std is not None:
            out *= self.inv_std
        return out

    def header(self) -> dict:
        """The JSON part (the arrays are :meth:`arrays`)."""
        return {"format": FORMAT, "input_shape": list(self.input_shape), "dtype": self.dtype, "scale": self.scale,
                "center": self.center, "image_shape": list(self.image_shape) if self.image_shape else None}

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        if self.mean is not None:
            out[MEAN_ARRAY] = self.mean
        if self.inv_std is not None:
            out[INV_STD_ARRAY] = self.inv_std
        return out

    @classmethod
    def from_saved(cls, header, arrays: dict, where: str = "the model file") -> "Preprocessing":
        """The preprocessing :meth:`header` and :meth:`arrays` described; ValueError when they do not fit
        together (a damaged or forged file)."""
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"{where}: its preprocessing record is not one sweep writes")
        try:
            shape = tuple(int(d) for d in header["input_shape"])
            image = tuple(int(d) for d in header["image_shape"]) if header.get("image_shape") else None
            dtype = np.dtype(header["dtype"])
            scale = None if header["scale"] is None else float(header["scale"])
            center = header["center"]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{where}: its preprocessing record is damaged") from None
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)) or center not in ("none", "mean_image",
                                                                                       "standardize") \
                or not shape or min(shape) < 1 or (image and math.prod(image) != math.prod(shape)) \
                or (scale is not None and not (math.isfinite(scale) and scale > 0)):
            raise ValueError(f"{where}: its preprocessing record is damaged")
        wanted = {"none": (), "mean_image": (MEAN_ARRAY,), "standardize": (MEAN_ARRAY, INV_STD_ARRAY)}[center]
        if set(arrays) != set(wanted):
            raise ValueError(f"{where}: its preprocessing arrays are not those of center: {center}")
        for name in wanted:
            if arrays[name].shape != (math.prod(shape),) or arrays[name].dtype != dtype:
                raise ValueError(f"{where}: {name} is not a ({math.prod(shape)},) array of {dtype.name}")
        return cls(shape, dtype.name, scale, center, arrays.get(MEAN_ARRAY), arrays.get(INV_STD_ARRAY), image)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Preprocessing):
            return NotImplemented
        return self.header() == other.header() and all(
            (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
            for a, b in ((self.mean, other.mean), (self.inv_std, other.inv_std)))

    def to_json(self) -> dict:
        """All of it as plain JSON (the cache's meta.json): the arrays as lists, exact for float32 and float64."""
        return {**self.header(), "arrays": {name: value.tolist() for name, value in self.arrays().items()}}

    @classmethod
    def from_json(cls, data: dict) -> "Preprocessing":
        dtype = np.dtype(data["dtype"])
        arrays = {name: np.asarray(value, dtype=dtype) for name, value in data["arrays"].items()}
        return cls.from_saved({k: v for k, v in data.items() if k != "arrays"}, arrays, "the data cache")

"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download).

Pixels are gray levels 0..16 (``pixel_max == 16``), ``image_shape == (8, 8)``, labels 0..9.
There is no official test split: it is carved out with ``test_size`` (default 0.2), stratified.

The file scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``: 64 pixels and the label per
row) is read directly, as ``load_digits`` reads it: importing ``sklearn.datasets`` would cost about
2 seconds in the command and in every worker, most of a small sweep's time.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from sweep.data.raw import RawData

CLASS_NAMES = tuple(str(i) for i in range(10))
SOURCE = "sklearn.datasets.load_digits"
N_PIXELS = 64


def bundled_file() -> Path | None:
    """scikit-learn's ``digits.csv.gz``, found without importing scikit-learn (None if it is not there)."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    return None


def load(opts: dict) -> RawData:
    """Read the digits bundled with scikit-learn."""
    path = bundled_file()
    if path is None:  # a layout this module does not know: let scikit-learn find its file
        from sklearn.datasets import load_digits

        bunch = load_digits()
        X, y = bunch.data, bunch.target
    else:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",")
        X, y = table[:, :N_PIXELS], table[:, N_PIXELS]
    X = np.ascontiguousarray(X, dtype=np.float64)  # (1797, 64) float64 holding integers 0..16
    y = np.asarray(y, dtype=np.int64)
    return RawData(
        X_train=X, y_train=y, image_shape=(8, 8), class_names=CLASS_NAMES, pixel_max=16.0,
        files={"train": SOURCE}, sources=[SOURCE], format="sklearn",
    )

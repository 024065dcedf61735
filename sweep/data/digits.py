"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download).

Pixels are gray levels 0..16 (``pixel_max == 16``), ``image_shape == (8, 8)``, labels 0..9.
There is no official test split: it is carved out with ``test_size`` (default 0.2), stratified.
"""

from __future__ import annotations

import numpy as np

from sweep.data.raw import RawData

CLASS_NAMES = tuple(str(i) for i in range(10))


def load(opts: dict) -> RawData:
    """Read the digits bundled with scikit-learn."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = np.ascontiguousarray(bunch.data)  # (1797, 64) float64 holding integers 0..16
    y = np.asarray(bunch.target, dtype=np.int64)
    source = "sklearn.datasets.load_digits"
    return RawData(
        X_train=X, y_train=y, image_shape=(8, 8), class_names=CLASS_NAMES, pixel_max=16.0,
        files={"train": source}, sources=[source], format="sklearn",
    )

"""The contract between the format readers and :mod:`sweep.data.prep`.

A loader reads files (or generates data) and returns a :class:`RawData`: the arrays exactly as
stored, not yet split, converted or preprocessed. :func:`sweep.data.prep.build_dataset` turns it
into a :class:`~sweep.data.dataset.Dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RawData:
    """Unprocessed arrays of one data set.

    ``X_*`` have shape (N, ...) — (N, D) for tabular data, (N, H, W) or (N, H, W, 3) for images
    (possibly a non-contiguous view of the file buffer, e.g. CIFAR's channel-major records seen as
    HWC) — in the file's own dtype (uint8 pixels, float features). Rows are flattened to (N, D)
    in C order when the splits are materialised.

    ``y_*`` are class labels of shape (N,) (any integer dtype, checked to lie in
    ``[0, len(class_names))``), or real-valued regression targets of shape (N, C).

    ``X_val``/``X_test`` are None when the source has no such split; it is then carved out of the
    training rows (``val_size`` / ``test_size``).

    ``pixel_max`` is the top of the raw value range (255 for 8-bit images, 16 for scikit-learn's
    digits) used by ``scale=True``; None when unknown. ``files`` maps "train"/"val"/"test" to the
    file (or files) each split came from, used to name the culprit in error messages; ``sources``
    lists every file read, for ``Dataset.info``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None
    class_names: tuple[str, ...] | None = None
    pixel_max: float | None = None
    files: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    format: str = ""
    extra_info: dict = field(default_factory=dict)

    @property
    def is_regression(self) -> bool:
        return self.y_train.ndim == 2

    def where(self, split: str) -> str:
        """The file a split came from, for messages."""
        return self.files.get(split) or (self.sources[0] if self.sources else "<generated>")

"""MNIST and Fashion-MNIST from their four standard IDX files (plain or ``.gz``).

Images are 28x28 uint8 gray levels 0..255 (``image_shape == (28, 28)``, ``pixel_max == 255``);
labels are 0..9. The official 10,000-image test set is the test split.
"""

from __future__ import annotations

from pathlib import Path

from sweep.data import locate
from sweep.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from sweep.data.prep import check_labels
from sweep.data.raw import RawData
from sweep.errors import DataError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

CLASS_NAMES = {
    "mnist": tuple(str(i) for i in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
}


def _probe(directory: Path):
    found = {key: locate.find_file(directory, base) for key, base in FILES.items()}
    missing = [f"{FILES[k]}[.gz]" for k, p in found.items() if p is None]
    if missing:
        return None, "missing " + ", ".join(missing)
    return found, ""


def find_files(name: str, data_dir: Path | None) -> dict[str, Path]:
    """Paths of the four IDX files of ``name`` (DataError listing the places looked in)."""
    return locate.search(name, data_dir, _probe)


def read_split(images_path: Path, labels_path: Path, num_classes: int):
    """(images (N, rows, cols) uint8, labels (N,) uint8) of one split, cross-checked."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(f"{images_path} has {len(images)} images but {labels_path} has "
                        f"{len(labels)} labels")
    check_labels(labels, str(labels_path), "labels", num_classes)
    return images, labels


def load(name: str, opts: dict) -> RawData:
    """Read ``mnist`` or ``fashion-mnist`` (see :data:`FILES` for the file names)."""
    paths = find_files(name, opts.get("data_dir"))
    classes = CLASS_NAMES[name]
    X_train, y_train = read_split(paths["train_images"], paths["train_labels"], len(classes))
    X_test, y_test = read_split(paths["test_images"], paths["test_labels"], len(classes))
    if X_train.shape[1:] != X_test.shape[1:]:
        raise DataError(f"{paths['test_images']} has {X_test.shape[1]}x{X_test.shape[2]} images "
                        f"but {paths['train_images']} has {X_train.shape[1]}x{X_train.shape[2]}")
    return RawData(
        X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
        image_shape=tuple(int(d) for d in X_train.shape[1:]), class_names=classes,
        pixel_max=255.0,
        files={"train": f"{paths['train_images']}", "test": f"{paths['test_images']}"},
        sources=[str(p) for p in paths.values()], format="idx",
        extra_info={"data_dir": str(paths["train_images"].parent)},
    )


__all__ = ["FILES", "CLASS_NAMES", "load", "find_files", "read_split"]

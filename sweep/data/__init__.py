"""Data sets for the sweeps: named loaders, user files, synthetic data, and downloads.

Public API:

* :func:`load_dataset` ``(name, **options) -> Dataset`` — ``name`` one of :data:`DATASETS`
  (``npz:PATH`` / ``csv:PATH`` for files); options documented there and in
  :mod:`sweep.data.options`;
* :class:`Dataset` — train / val / test arrays (X: (N, D) float, y: (N,) int64 labels or
  (N, C) regression targets) plus ``image_shape``, ``class_names`` and ``info``;
* :func:`fetch` ``(name, dest_dir=None, base_url=None, *, checksums=None, ...) -> list[Path]`` —
  download the official MNIST / Fashion-MNIST / CIFAR-10 files, SHA-256 checked (the only
  network access in the package);
* :data:`DATASETS`, :data:`FETCHABLE`, :func:`dataset_options`.

Modules: ``registry`` (names, option sets, load_dataset), ``options`` (option table and
validation), ``prep`` (checks, splits, conversion, preprocessing), ``raw`` (loader -> prep
contract), ``locate`` (directory search, "not found" message), ``idx`` (IDX reader), ``mnist``,
``cifar``, ``digits``, ``files`` (npz / csv), ``synthetic``, ``download`` (:func:`fetch`,
SHA-256 table, safe archive extraction).
"""

from sweep.data.dataset import Dataset
from sweep.data.download import FETCHABLE, fetch
from sweep.data.registry import DATASETS, dataset_options, load_dataset

__all__ = ["Dataset", "DATASETS", "FETCHABLE", "dataset_options", "fetch", "load_dataset"]

"""Data set names -> loaders, the options each accepts, and :func:`load_dataset`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sweep.data import cache, cifar, digits, files, mnist, synthetic
from sweep.data.dataset import Dataset
from sweep.data.options import OPTIONS, suggest, validate_options
from sweep.data.prep import build_dataset
from sweep.data.raw import RawData
from sweep.errors import DataError, shown

COMMON_OPTIONS = ("val_size", "train_size", "seed", "scale", "center", "dtype")


@dataclass(frozen=True)
class Loader:
    """How to load one named data set.

    ``read(target, opts, given)`` returns the RawData; ``target`` is the PATH of ``npz:PATH`` /
    ``csv:PATH`` (None otherwise), ``opts`` the resolved options, ``given`` the names of the
    options set explicitly. ``locate(opts)``, when given, lists the source files without reading
    them: a data set so located is kept prepared in the cache (:mod:`sweep.data.cache`).
    """

    name: str
    summary: str
    read: Callable[[str | None, dict, frozenset], RawData]
    extra_options: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    takes_path: bool = False
    locate: Callable[[dict], list[Path]] | None = None

    @property
    def options(self) -> tuple[str, ...]:
        return COMMON_OPTIONS + self.extra_options


LOADERS: dict[str, Loader] = {
    ld.name: ld
    for ld in [
        Loader("digits", "scikit-learn's bundled 8x8 digits (1,797 images, 10 classes)",
               lambda t, o, g: digits.load(o), ("test_size",), {"scale": True}),
        Loader("mnist", "MNIST handwritten digits, 28x28 gray, 60,000 + 10,000 (IDX files)",
               lambda t, o, g: mnist.load("mnist", o), ("data_dir",), {"scale": True},
               locate=lambda o: list(mnist.find_files("mnist", o.get("data_dir")).values())),
        Loader("fashion-mnist", "Fashion-MNIST clothing, 28x28 gray, 60,000 + 10,000 (IDX files)",
               lambda t, o, g: mnist.load("fashion-mnist", o), ("data_dir",), {"scale": True},
               locate=lambda o: list(mnist.find_files("fashion-mnist", o.get("data_dir")).values())),
        Loader("cifar10", "CIFAR-10 colour images, 32x32x3, 50,000 + 10,000 (binary or python)",
               lambda t, o, g: cifar.load("cifar10", o), ("data_dir", "format"), {"scale": True}),
        Loader("synthetic", "generated spirals / blobs / regression data",
               lambda t, o, g: synthetic.load(o),
               ("test_size", "kind", "n_samples", "n_classes", "n_features", "n_targets", "noise"),
               {"scale": False}),
        Loader("npz", "npz:PATH, a NumPy archive with X_train, y_train (...) or X, y",
               lambda t, o, g: files.load_npz(Path(t).expanduser(), o, g), ("test_size",), {"scale": False},
               takes_path=True),
        Loader("csv", "csv:PATH, label column + numeric feature columns, optional header",
               lambda t, o, g: files.load_csv(Path(t).expanduser(), o), ("test_size", "label_column"),
               {"scale": False}, takes_path=True),
    ]
}

#: Names accepted by :func:`load_dataset` (write ``npz``/``csv`` as ``npz:PATH``/``csv:PATH``).
DATASETS: tuple[str, ...] = tuple(LOADERS)

ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist",
           "cifar-10": "cifar10", "cifar_10": "cifar10"}


def parse_name(name: str) -> tuple[Loader, str | None]:
    """``"mnist"`` -> (mnist loader, None); ``"npz:data/x.npz"`` -> (npz loader, "data/x.npz")."""
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"dataset name must be a non-empty string, got {name!r}")
    key, sep, target = name.strip().partition(":")
    key = ALIASES.get(key.lower(), key.lower())
    known = ", ".join(f"{n}:PATH" if LOADERS[n].takes_path else n for n in DATASETS)
    loader = LOADERS.get(key)
    if loader is None:
        raise DataError(f"unknown dataset {shown(name)}{suggest(key, DATASETS)}; known: {known}")
    if loader.takes_path and not target.strip():
        raise DataError(f"dataset {key!r} needs a file: write it as '{key}:PATH'")
    if not loader.takes_path and sep:
        raise DataError(f"dataset {key!r} takes no ':PATH' suffix (got {name!r}); use the "
                        "data_dir option to say where its files are")
    return loader, (target.strip() if loader.takes_path else None)


def dataset_options(name: str) -> dict[str, Any]:
    """Options accepted by data set ``name`` with their defaults (for help and config checks)."""
    loader, _ = parse_name(name)
    return {k: loader.defaults.get(k, OPTIONS[k].default) for k in loader.options}


def load_dataset(name: str, **options: Any) -> Dataset:
    """Load data set ``name`` split into train / val / test and preprocessed.

    ``name`` is one of :data:`DATASETS` (``npz`` and ``csv`` as ``npz:PATH`` / ``csv:PATH``).
    Options (all validated; unknown ones or bad values raise DataError):

    * ``val_size`` (0.1): int count or fraction in (0, 1) of the training split held out for
      validation (stratified for classification);
    * ``test_size`` (0.2; digits, npz, csv, synthetic): held-out test rows when the set has no
      official test split;
    * ``train_size`` (None): cap (int or fraction in (0, 1]) on the training rows kept;
    * ``seed`` (0): seed of every split and subsample (and of synthetic data);
    * ``scale`` (True for digits/mnist/fashion-mnist/cifar10, else False): divide by the top of the
      pixel range (255, or 16 for digits), or by the number given;
    * ``center`` ('none'): 'mean_image' subtracts the training mean of each feature, 'standardize'
      also divides by the training std (zero stds -> 1);
    * ``dtype`` ('float32'): dtype of X (and of regression targets); labels are int64;
    * ``data_dir`` (mnist, fashion-mnist, cifar10): where the files are;
    * ``format`` (cifar10): 'auto', 'binary' or 'python';
    * ``label_column`` (csv, 0): label column index or header name;
    * ``kind``, ``n_samples``, ``n_classes``, ``n_features``, ``n_targets``, ``noise`` (synthetic).

    Preprocessing applies to X only (regression targets are left as they are). A class too small
    for a stratified split (a single row, or fewer held-out rows than classes) makes that split a
    plain seeded random one instead of an error; ``info["splits"]`` says so, with the reason.

    Returns a :class:`Dataset` whose ``info`` records sources, options, split sizes and
    preprocessing. MNIST and Fashion-MNIST come from the cache of prepared data sets when their
    files have not changed (:mod:`sweep.data.cache`; read-only memory maps, bitwise the same).
    """
    loader, target = parse_name(name)
    display = loader.name if target is None else f"{loader.name}:{target}"
    opts = validate_options(display, options, loader.options, loader.defaults)
    sources = loader.locate(opts) if loader.locate is not None else None
    if sources:
        cached = cache.load(display, opts, sources)
        if cached is not None:
            return cached
    data = build_dataset(display, loader.read(target, opts, frozenset(options)), opts)
    if sources:
        cache.save(display, opts, sources, data)
    return data

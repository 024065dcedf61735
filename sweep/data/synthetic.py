"""Synthetic data sets, deterministic for a seed.

* ``spirals`` — CS231n's spiral data: ``n_classes`` arms in 2-D, radius 0..1 along each arm, angle
  noise ``noise`` radians (default 0.2). Not linearly separable: the classic two-layer-net demo.
* ``blobs`` — isotropic Gaussian blobs: ``n_classes`` centres drawn uniformly in [-10, 10]^D
  (D = ``n_features``, default 2), standard deviation ``noise`` (default 1.0).
* ``regression`` — real-valued targets of shape (N, ``n_targets``) (default 1) from
  ``X @ A + tanh(X @ B + c) + noise * eps`` with X ~ N(0, 1) of ``n_features`` (default 10)
  columns, A, B ~ N(0, 1/D), c ~ N(0, 1), eps ~ N(0, 1), ``noise`` default 0.1.

Rows are shuffled; classes are as balanced as ``n_samples`` allows. The draws come from
``np.random.default_rng([seed, 7919])``, a stream independent of the one the splits use.
"""

from __future__ import annotations

import numpy as np

from sweep.data.raw import RawData
from sweep.errors import DataError
from sweep.memory import array_bytes, require

_STREAM = 7919  # distinguishes the generator stream from the split stream for the same seed

DEFAULT_NOISE = {"spirals": 0.2, "blobs": 1.0, "regression": 0.1}


def _per_class(n: int, k: int) -> np.ndarray:
    return np.array([n // k + (j < n % k) for j in range(k)])


def make_spirals(n_samples: int, n_classes: int, noise: float, rng: np.random.Generator):
    """X (n_samples, 2) float64 in [-1, 1], y (n_samples,) int64 in [0, n_classes)."""
    xs, ys = [], []
    for j, n in enumerate(_per_class(n_samples, n_classes)):
        r = np.linspace(0.0, 1.0, n)
        t = np.linspace(j * 4.0, (j + 1) * 4.0, n) + rng.standard_normal(n) * noise
        xs.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        ys.append(np.full(n, j, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def make_blobs(n_samples: int, n_classes: int, n_features: int, noise: float,
               rng: np.random.Generator):
    """X (n_samples, n_features) float64, y (n_samples,) int64 in [0, n_classes)."""
    centers = rng.uniform(-10.0, 10.0, size=(n_classes, n_features))
    y = np.repeat(np.arange(n_classes, dtype=np.int64), _per_class(n_samples, n_classes))
    X = centers[y] + noise * rng.standard_normal((n_samples, n_features))
    return X, y


def make_regression(n_samples: int, n_features: int, n_targets: int, noise: float,
                    rng: np.random.Generator):
    """X (n_samples, n_features) float64, y (n_samples, n_targets) float64."""
    X = rng.standard_normal((n_samples, n_features))
    scale = 1.0 / np.sqrt(n_features)
    A = rng.standard_normal((n_features, n_targets)) * scale
    B = rng.standard_normal((n_features, n_targets)) * scale
    c = rng.standard_normal(n_targets)
    y = X @ A + np.tanh(X @ B + c) + noise * rng.standard_normal((n_samples, n_targets))
    return X, y


def load(opts: dict) -> RawData:
    """Generate the ``kind`` of data the options ask for (see the module docstring)."""
    kind = opts["kind"]
    n = opts["n_samples"]
    noise = DEFAULT_NOISE[kind] if opts.get("noise") is None else opts["noise"]

    def not_for(option: str, why: str):
        if opts.get(option) is not None:
            raise DataError(f"dataset option {option!r} does not apply to synthetic kind "
                            f"{kind!r} ({why})")

    features = 2 if kind == "spirals" else (opts.get("n_features") or (10 if kind == "regression" else 2))
    # generated in float64, permuted (a copy), then converted: three arrays of n x features at most
    require(3 * array_bytes((n, features), 8), f"synthetic {kind} data of {n:,} rows x {features:,} features")
    rng = np.random.default_rng([opts["seed"], _STREAM])
    params = {"kind": kind, "n_samples": n, "noise": noise}
    if kind == "regression":
        not_for("n_classes", "it has real-valued targets; use n_targets")
        d, t = opts.get("n_features") or 10, opts.get("n_targets") or 1
        X, y = make_regression(n, d, t, noise, rng)
        params.update(n_features=d, n_targets=t)
        class_names = None
    else:
        not_for("n_targets", "it is a classification set")
        k = opts.get("n_classes") or 3
        if k > n:
            raise DataError(f"dataset option 'n_samples'={n} is smaller than n_classes={k}")
        if kind == "spirals":
            if opts.get("n_features") not in (None, 2):
                raise DataError("dataset option 'n_features' must be 2 (or unset) for synthetic "
                                f"kind 'spirals', got {opts['n_features']!r}")
            X, y = make_spirals(n, k, noise, rng)
        else:
            X, y = make_blobs(n, k, opts.get("n_features") or 2, noise, rng)
        params.update(n_classes=k, n_features=X.shape[1])
        class_names = tuple(str(i) for i in range(k))
    order = rng.permutation(n)
    return RawData(
        X_train=X[order], y_train=y[order], class_names=class_names, pixel_max=None,
        files={"train": f"<synthetic {kind}>"}, sources=[], format="synthetic",
        extra_info={"synthetic": params},
    )

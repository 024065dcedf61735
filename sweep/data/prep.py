"""Splits, checks and preprocessing: :class:`RawData` in, :class:`Dataset` out.

Order of operations (all random draws from one ``np.random.default_rng`` seeded by ``seed``):

1. check the raw arrays (no empty set, X/y lengths agree, labels in range, features finite);
2. test split: the official one, or ``test_size`` rows carved out of everything;
3. validation split: from the file if it has one, else ``val_size`` rows carved out of the rest;
4. ``train_size``: optional cap on the training rows (a subsample of what step 3 left);
5. each split is gathered and converted straight from the raw dtype (e.g. uint8) to ``dtype`` into
   a fresh C-contiguous (N, D) array, then preprocessed in place: ``scale`` divides by the pixel
   range, ``center`` subtracts the training mean (``mean_image``) and divides by the training std
   (``standardize``; zero stds replaced by 1). Statistics come from the training split only.

Classification splits are stratified: each class keeps its share of rows (largest-remainder
apportionment, every class keeps at least one row on the larger side). When that is impossible —
a class with a single row, or fewer held-out rows than classes — the split falls back to a plain
seeded random split, recorded as ``info["splits"][...]["stratified"] = False`` with the reason.
Regression splits are always plain random splits.
"""

from __future__ import annotations

import math

import numpy as np

from sweep.data.dataset import Dataset
from sweep.data.options import describe
from sweep.data.raw import RawData
from sweep.data.transform import Preprocessing
from sweep.errors import DataError
from sweep.memory import require

_CHUNK_ROWS = 2048  # rows gathered per step: bounds the uint8 temporaries of fancy indexing


# ----------------------------------------------------------------------------------- checks



#: Most classes a data set may have: labels are class indices, one network output each.
MAX_CLASSES = 100_000

def check_raw(raw: RawData) -> None:
    """Raise DataError (naming the file) for inconsistent raw arrays."""
    parts = [("train", raw.X_train, raw.y_train), ("val", raw.X_val, raw.y_val),
             ("test", raw.X_test, raw.y_test)]
    regression = raw.is_regression
    for split, X, y in parts:
        if X is None and y is None:
            continue
        where = raw.where(split)
        if X is None or y is None:
            have, lack = ("labels", "features") if X is None else ("features", "labels")
            raise DataError(f"{where}: the {split} split has {have} but no {lack}")
        if len(X) != len(y):
            raise DataError(f"{where}: {split} features have {len(X)} rows but labels have "
                            f"{len(y)}")
        if len(X) == 0:
            raise DataError(f"{where}: the {split} split is empty (zero rows)")
        if X.ndim < 2 or 0 in X.shape[1:]:
            raise DataError(f"{where}: {split} features have shape {X.shape}; expected "
                            "(rows, features)")
        if math.prod(X.shape[1:]) != math.prod(raw.X_train.shape[1:]):
            raise DataError(f"{where}: {split} features have shape {X.shape[1:]} per row but the "
                            f"training split has {raw.X_train.shape[1:]}")
        if X.dtype.kind == "c":
            raise DataError(f"{where}: {split} features are complex numbers ({X.dtype}); the network takes real "
                            "numbers")
        if X.dtype.kind == "f":
            check_finite(X, where, f"{split} features")
        elif X.dtype.kind not in "iub":
            raise DataError(f"{where}: {split} features have non-numeric dtype {X.dtype}")
        if regression:
            if y.ndim != 2 or y.shape[1] != raw.y_train.shape[1]:
                raise DataError(f"{where}: {split} targets have shape {y.shape}; expected "
                                f"(rows, {raw.y_train.shape[1]}) like the training split")
            if y.dtype.kind not in "fiu":
                what = "complex numbers" if y.dtype.kind == "c" else "non-numeric"
                raise DataError(f"{where}: {split} targets have {what} dtype {y.dtype}")
            if y.dtype.kind == "f":
                check_finite(y, where, f"{split} targets")
        else:
            check_labels(y, where, f"{split} labels",
                         len(raw.class_names) if raw.class_names else None)


def check_finite(a: np.ndarray, where: str, what: str) -> None:
    """DataError naming ``where`` and the first row and column when ``a`` (rows first) holds NaN or inf.

    A block of rows at a time: the mask stays in the CPU's cache instead of a temporary as large as
    ``a`` (a quarter less time on a memory-mapped Fashion-MNIST, which has to read every page anyway)."""
    rows = a.reshape(len(a), -1)
    for start in range(0, len(rows), _CHUNK_ROWS):
        finite = np.isfinite(rows[start:start + _CHUNK_ROWS])
        if not finite.all():
            row, column = np.argwhere(~finite)[0]
            raise DataError(f"{where}: {what} contain NaN or inf (first at row {start + row}, "
                            f"column {column})")


def _check_representable(a: np.ndarray, where: str, what: str, dtype: np.dtype) -> None:
    """DataError when converting to ``dtype`` (or scaling and centering) made values infinite."""
    if not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a.reshape(len(a), -1)))[0]
        raise DataError(f"{where}: {what} overflow {dtype.name} (first at row {bad[0]}, column {bad[1]}; "
                        f"{dtype.name} holds magnitudes up to {np.finfo(dtype).max:.3g}); rescale them"
                        + (" or use dtype: float64" if dtype != np.float64 else ""))


def check_labels(y: np.ndarray, where: str, what: str, num_classes: int | None) -> None:
    """Labels must be a 1-D integer array in [0, num_classes) (upper bound only when known)."""
    if y.ndim != 1:
        raise DataError(f"{where}: {what} have shape {y.shape}; expected one label per row")
    if y.dtype.kind not in "iu":
        raise DataError(f"{where}: {what} have dtype {y.dtype}; expected integer class labels")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0:
        raise DataError(f"{where}: {what} contain negative label {lo} (row {int(np.argmin(y))})")
    if num_classes is not None and hi >= num_classes:
        raise DataError(f"{where}: {what} contain label {hi} (row {int(np.argmax(y))}) but there "
                        f"are only {num_classes} classes (labels 0..{num_classes - 1})")


def check_classes_trained(y: np.ndarray, trained: np.ndarray, where: str, split: str, drawn: bool) -> None:
    """DataError when the ``split`` labels ``y`` hold a class the training split lacks (sorted
    ``trained``): no net can learn to predict it, and with labels numbered past the training ones
    the net would silently get an output that no training row ever teaches. ``drawn``: the rows of
    the splits were drawn by sweep (not given as files), so the advice names the options that draw them."""
    unseen = np.setdiff1d(np.unique(y), trained)
    if len(unseen):
        shown = ", ".join(str(int(c)) for c in unseen[:5]) + (", ..." if len(unseen) > 5 else "")
        rows = int(np.isin(y, unseen).sum())
        fix = ("the splits were drawn from the same rows: change dataset.seed, raise dataset.train_size or lower "
               "dataset.val_size / test_size, or give those classes more rows" if drawn else
               f"give every class training rows, or drop those rows from the {split} split")
        raise DataError(f"{where}: the {split} split holds {rows:,} row(s) of class(es) {shown}, which the training "
                        f"split lacks (it has {_class_list(trained)}); {fix}")


def _class_list(classes: np.ndarray) -> str:
    """``0..9`` for consecutive labels, else the first few."""
    if len(classes) > 2 and int(classes[-1]) - int(classes[0]) == len(classes) - 1:
        return f"labels {int(classes[0])}..{int(classes[-1])}"
    return "labels " + ", ".join(str(int(c)) for c in classes[:8]) + (", ..." if len(classes) > 8 else "")


# ----------------------------------------------------------------------------------- splits


def resolve_count(size: int | float, n: int) -> int:
    """Rows for a held-out ``size`` (int count, or fraction of ``n`` rounded up)."""
    if isinstance(size, int):
        return size
    return max(1, math.ceil(round(size * n, 6)))


def split_rows(y: np.ndarray, n_hold: int, rng: np.random.Generator, stratify: bool):
    """Split row positions ``0..len(y)-1`` into (keep, hold) with ``len(hold) == n_hold``.

    Both index arrays are sorted (rows keep their file order). Returns ``(keep, hold, how)`` where
    ``how`` is a dict for ``info``: ``{"stratified": bool, "reason": str?}``.
    Requires ``1 <= n_hold < len(y)``.
    """
    n = len(y)
    how: dict = {"stratified": False}
    if stratify:
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        k = len(classes)
        if counts.min() < 2:
            how["reason"] = (f"class {classes[np.argmin(counts)]} has a single row; "
                             "plain random split used")
        elif n_hold < k or n - n_hold < k:
            how["reason"] = (f"{min(n_hold, n - n_hold)} rows cannot hold all {k} classes; "
                             "plain random split used")
        else:
            hold_per_class = _apportion(counts, n_hold, rng)
            order = np.argsort(inverse, kind="stable")  # rows grouped by class, file order within
            starts = np.concatenate(([0], np.cumsum(counts)))
            hold_parts = []
            for c in range(k):
                members = order[starts[c]:starts[c + 1]]
                hold_parts.append(rng.choice(members, size=hold_per_class[c], replace=False))
            hold_mask = np.zeros(n, dtype=bool)
            hold_mask[np.concatenate(hold_parts)] = True
            return np.flatnonzero(~hold_mask), np.flatnonzero(hold_mask), {"stratified": True}
    perm = rng.permutation(n)
    return np.sort(perm[n_hold:]), np.sort(perm[:n_hold]), how


def _apportion(counts: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``total`` among classes proportionally to ``counts`` (largest remainder).

    Each class gets at most ``count - 1`` so it keeps at least one row on the other side
    (the caller guarantees ``total <= sum(counts) - len(counts)``). Ties are broken in a seeded
    random order.
    """
    ideal = counts * (total / counts.sum())
    alloc = np.minimum(np.floor(ideal).astype(np.int64), counts - 1)
    remainder = ideal - alloc
    # Largest remainder first; random tie-break (lexsort: last key is primary).
    order = np.lexsort((rng.random(len(counts)), -remainder))
    left = total - int(alloc.sum())
    while left > 0:
        for c in order:
            if left == 0:
                break
            if alloc[c] < counts[c] - 1:
                alloc[c] += 1
                left -= 1
    return alloc


# ------------------------------------------------------------------------ materialise + preprocess


def gather(X: np.ndarray, rows: np.ndarray | None, dtype: np.dtype) -> np.ndarray:
    """Rows ``rows`` of ``X`` (all when None) as a fresh C-contiguous (n, D) array of ``dtype``.

    The raw values are converted once, straight into the output; fancy indexing is done in chunks
    so the raw-dtype temporaries stay small. An ``X`` that is already a private C-contiguous
    (N, D) array of ``dtype`` is returned as is when all rows are wanted.
    """
    n = len(X) if rows is None else len(rows)
    if (rows is None and X.ndim == 2 and X.dtype == dtype and X.flags.c_contiguous
            and X.flags.writeable and X.flags.owndata):
        return X
    out = np.empty((n, math.prod(X.shape[1:])), dtype=dtype)
    view = out.reshape((n,) + X.shape[1:])
    if rows is None:
        view[...] = X
    else:
        for s in range(0, n, _CHUNK_ROWS):
            view[s:s + _CHUNK_ROWS] = X[rows[s:s + _CHUNK_ROWS]]
    return out


def _column_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and (population) std of X, accumulated in float64, in chunks."""
    mean = X.mean(axis=0, dtype=np.float64)
    sq = np.zeros(X.shape[1], dtype=np.float64)
    for s in range(0, len(X), _CHUNK_ROWS):
        d = X[s:s + _CHUNK_ROWS].astype(np.float64) - mean
        sq += np.einsum("ij,ij->j", d, d)
    return mean, np.sqrt(sq / len(X))


def preprocess(X_train: np.ndarray, others: list[np.ndarray], divisor: float | None,
               center: str, fitted: dict | None = None) -> dict:
    """Scale and center ``X_train`` and ``others`` in place with statistics of ``X_train``.

    Returns a JSON-friendly summary for ``info``; ``fitted``, when given, receives the arrays
    applied (``mean``, ``inv_std``, in ``X_train``'s dtype), which
    :class:`~sweep.data.transform.Preprocessing` applies again to raw inputs.
    """
    fitted = {} if fitted is None else fitted
    arrays = [X_train, *others]
    if divisor is not None and divisor != 1.0:
        for a in arrays:
            np.divide(a, a.dtype.type(divisor), out=a)
    summary = {"scale": divisor, "center": center, "fitted_on": "train"}
    if center == "none":
        return summary
    mean, std = _column_stats(X_train)
    mean = mean.astype(X_train.dtype)
    fitted["mean"] = mean
    for a in arrays:
        a -= mean
    if center == "standardize":
        std[std == 0] = 1.0
        inv = (1.0 / std).astype(X_train.dtype)
        fitted["inv_std"] = inv
        for a in arrays:
            a *= inv
        summary["zero_std_columns"] = int(np.count_nonzero(std == 1.0))
    return summary


# ----------------------------------------------------------------------------------- build


def split_rng(seed: int) -> np.random.Generator:
    """The generator of every split and subsample for ``seed``."""
    return np.random.default_rng(seed)


def _divisor(raw: RawData, scale, where: str) -> float | None:
    if scale is False:
        return None
    if scale is True:
        if raw.pixel_max is not None:
            return float(raw.pixel_max)
        if raw.X_train.dtype.kind in "iu":
            return float(np.iinfo(raw.X_train.dtype).max)
        raise DataError(f"{where}: scale=true needs a known pixel range but the features are "
                        f"{raw.X_train.dtype}; pass scale=<max raw value> or scale=false")
    return float(scale)


def build_dataset(name: str, raw: RawData, opts: dict) -> Dataset:
    """Split, convert and preprocess ``raw`` according to the resolved options ``opts``."""
    check_raw(raw)
    dtype = np.dtype(opts["dtype"])
    seed = opts["seed"]
    rng = split_rng(seed)
    regression = raw.is_regression
    stratify = not regression
    splits: dict = {}

    # 1. test split
    base_rows = None  # rows of raw.X_train that make up the train+val pool (None = all)
    n_all = len(raw.X_train)
    if raw.X_test is not None:
        splits["test"] = {"source": "file"}
    else:
        n_test = resolve_count(opts.get("test_size", 0.2), n_all)
        if n_test >= n_all:
            raise DataError(f"{raw.where('train')}: test_size={opts.get('test_size')!r} asks for "
                            f"{n_test} test rows but the set has only {n_all}; nothing would be "
                            "left to train on")
        base_rows, test_rows, how = split_rows(raw.y_train, n_test, rng, stratify)
        splits["test"] = {"source": "carved", "size_option": opts.get("test_size"), **how}

    # 2. validation split
    pool_y = raw.y_train if base_rows is None else raw.y_train[base_rows]
    n_pool = len(pool_y)
    if raw.X_val is not None:
        train_rows = base_rows
        splits["val"] = {"source": "file"}
    else:
        n_val = resolve_count(opts["val_size"], n_pool)
        if n_val >= n_pool:
            raise DataError(f"{raw.where('train')}: val_size={opts['val_size']!r} asks for {n_val} "
                            f"validation rows but the training split has only {n_pool}; the "
                            "training split would be empty")
        keep, hold, how = split_rows(pool_y, n_val, rng, stratify)
        if base_rows is None:
            train_rows, val_rows = keep, hold
        else:
            train_rows, val_rows = base_rows[keep], base_rows[hold]
        splits["val"] = {"source": "carved", "size_option": opts["val_size"], **how}

    # 3. train_size cap
    cap = opts.get("train_size")
    if cap is not None:
        avail_y = raw.y_train if train_rows is None else raw.y_train[train_rows]
        n_train_available = len(avail_y)
        if isinstance(cap, int):
            n_cap = cap
        else:
            n_cap = max(1, math.floor(round(cap * n_train_available, 6)))
        if n_cap < n_train_available:
            keep, _, how = split_rows(avail_y, n_train_available - n_cap, rng, stratify)
            train_rows = keep if train_rows is None else train_rows[keep]
            splits["train_size"] = {"kept": n_cap, "of": n_train_available, **how}
        else:
            splits["train_size"] = {"kept": n_train_available, "of": n_train_available}

    # 4. materialise
    def targets(y, rows):
        if regression:
            return gather(y, rows, dtype)
        return np.ascontiguousarray(y if rows is None else y[rows], dtype=np.int64)

    n_rows = (len(raw.X_train) if train_rows is None else len(train_rows)) \
        + (len(raw.X_val) if raw.X_val is not None else len(val_rows)) \
        + (len(raw.X_test) if raw.X_test is not None else len(test_rows))
    require(n_rows * math.prod(raw.X_train.shape[1:]) * dtype.itemsize,
            f"{name} as {dtype.name} ({n_rows:,} rows x {math.prod(raw.X_train.shape[1:]):,} features)")
    X_train = gather(raw.X_train, train_rows, dtype)
    y_train = targets(raw.y_train, train_rows)
    if raw.X_val is not None:
        X_val, y_val = gather(raw.X_val, None, dtype), targets(raw.y_val, None)
    else:
        X_val, y_val = gather(raw.X_train, val_rows, dtype), targets(raw.y_train, val_rows)
    if raw.X_test is not None:
        X_test, y_test = gather(raw.X_test, None, dtype), targets(raw.y_test, None)
    else:
        X_test, y_test = gather(raw.X_train, test_rows, dtype), targets(raw.y_train, test_rows)

    # 5. preprocess (in place, fitted on train)
    divisor = _divisor(raw, opts["scale"], raw.where("train"))
    fitted: dict = {}
    pre = preprocess(X_train, [X_val, X_test], divisor, opts["center"], fitted)
    transform = Preprocessing(tuple(int(d) for d in raw.X_train.shape[1:]), dtype.name,
                              divisor if divisor != 1.0 else None, opts["center"], fitted.get("mean"),
                              fitted.get("inv_std"), tuple(raw.image_shape) if raw.image_shape else None)
    for split, X in (("train", X_train), ("val", X_val), ("test", X_test)):
        _check_representable(X, raw.where(split), f"{split} features", dtype)
    if regression:
        for split, y in (("train", y_train), ("val", y_val), ("test", y_test)):
            _check_representable(y, raw.where(split), f"{split} targets", dtype)
    else:
        trained = np.unique(y_train)
        if len(trained) < 2:
            raise DataError(f"{raw.where('train')}: the training split holds a single class (label "
                            f"{int(y_train[0])}); a classifier needs rows of at least two classes")
        drawn = {"val": raw.X_val is None or cap is not None, "test": raw.X_test is None or cap is not None}
        for split, y in (("val", y_val), ("test", y_test)):
            check_classes_trained(y, trained, raw.where(split), split, drawn[split])

    class_names = raw.class_names
    if not regression and class_names is None:
        top = max(int(y_train.max()), int(y_val.max()), int(y_test.max()))
        if top >= MAX_CLASSES:
            raise DataError(f"{name}: labels go up to {top}, so the network would need {top + 1:,} outputs; "
                            f"number the classes 0..C-1 (at most {MAX_CLASSES:,})")
        class_names = tuple(str(i) for i in range(top + 1))

    info = {
        "name": name,
        "format": raw.format,
        "sources": list(raw.sources),
        "options": {k: describe(v) for k, v in opts.items()},
        "sizes": {"train": len(X_train), "val": len(X_val), "test": len(X_test)},
        "splits": splits,
        "preprocessing": pre,
        "seed": seed,
        **raw.extra_info,
    }
    return Dataset(name, X_train, y_train, X_val, y_val, X_test, y_test,
                   tuple(raw.image_shape) if raw.image_shape else None,
                   None if regression else tuple(class_names), info, transform)

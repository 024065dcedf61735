"""Dataset options: what each one means, what values it accepts, and validation.

Every option is checked before any file is read. A wrong name or value raises a one-line
:class:`~sweep.errors.DataError` naming the option, the value and what is allowed, e.g.::

    dataset option 'val_sise' is unknown for 'mnist' (did you mean 'val_size'?); allowed: ...
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from sweep.errors import DataError, did_you_mean, shown
from sweep.settings import Invalid, Setting


class _Invalid(Invalid):
    """Raised by a checker function; :meth:`Option.check` adds the allowed values."""


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _size(v: Any, *, allow_one: bool) -> int | float:
    if _is_int(v):
        if v >= 1:
            return int(v)
        raise _Invalid
    if _is_real(v):
        v = float(v)
        if 0.0 < v < 1.0 or (allow_one and v == 1.0):
            return v
    raise _Invalid


def _holdout_size(v):
    return _size(v, allow_one=False)


def _train_size(v):
    return None if v is None else _size(v, allow_one=True)


def _seed(v):
    if _is_int(v) and v >= 0:
        return int(v)
    raise _Invalid


def _scale(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if _is_real(v) and math.isfinite(v) and v > 0:
        return float(v)
    raise _Invalid


def _choice(*choices: str, none_as: str | None = None) -> Callable[[Any], str]:
    def check(v):
        if v is None and none_as is not None:
            return none_as
        if isinstance(v, str) and v.lower() in choices:
            return v.lower()
        raise _Invalid

    return check


def _dtype(v):
    if v is None:  # np.dtype(None) would silently mean float64
        raise _Invalid
    try:
        dt = np.dtype(v)
    except (TypeError, ValueError):
        raise _Invalid from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise _Invalid
    return dt.name


def _path(v):
    if isinstance(v, (str, os.PathLike)) and str(v):
        return Path(v).expanduser()
    raise _Invalid


def _optional_path(v):
    return None if v is None else _path(v)


def _label_column(v):
    if _is_int(v) and v >= 0:
        return int(v)
    if isinstance(v, str) and v:
        return v
    raise _Invalid


def _int_at_least(lo: int, optional: bool = True):
    def check(v):
        if v is None and optional:
            return None
        if _is_int(v) and v >= lo:
            return int(v)
        raise _Invalid

    return check


def _optional_nonneg_real(v):
    if v is None:
        return None
    if _is_real(v) and math.isfinite(v) and v >= 0:
        return float(v)
    raise _Invalid


@dataclass(frozen=True)
class Option(Setting):
    """One dataset option (a :class:`~sweep.settings.Setting`): its default, its checker/normaliser
    function and a description of valid values."""

    name: str
    default: Any
    checker: Callable[[Any], Any]
    allowed_text: str
    help: str

    def check(self, value: Any) -> Any:
        try:
            return self.checker(value)
        except _Invalid:
            raise Invalid(f"{shown(value)} is not allowed; {self.name} must be {self.allowed_text}") from None

    def allowed(self) -> str:
        return self.allowed_text


OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option("val_size", 0.1, _holdout_size,
               "an int count >= 1 or a float fraction in (0, 1)",
               "validation rows carved out of the training split (stratified for classification)"),
        Option("test_size", 0.2, _holdout_size,
               "an int count >= 1 or a float fraction in (0, 1)",
               "test rows carved out of the whole set when it has no official test split"),
        Option("train_size", None, _train_size,
               "null, an int count >= 1 or a float fraction in (0, 1]",
               "cap on the training rows kept after the validation split "
               "(seeded stratified subsample)"),
        Option("seed", 0, _seed, "an int >= 0",
               "seed of every split, subsample and synthetic draw"),
        Option("scale", None, _scale, "true, false or a positive number (the divisor)",
               "divide raw values by the top of the pixel range (255 images, 16 digits)"),
        Option("center", "none", _choice("none", "mean_image", "standardize", none_as="none"),
               "'none', 'mean_image' or 'standardize'",
               "per-feature centering fitted on the training split"),
        Option("dtype", "float32", _dtype, "'float32' or 'float64'",
               "dtype of X (and of regression targets)"),
        Option("data_dir", None, _optional_path, "a directory path",
               "directory holding the data files (searched first, and only, when given)"),
        Option("format", "auto", _choice("auto", "binary", "python"),
               "'auto', 'binary' or 'python'",
               "CIFAR-10 flavour to read: the binary version or the python-pickle version"),
        Option("label_column", 0, _label_column,
               "a column index >= 0 or a header name",
               "CSV column holding the label"),
        Option("kind", "spirals", _choice("spirals", "blobs", "regression"),
               "'spirals', 'blobs' or 'regression'", "synthetic data generator"),
        Option("n_samples", 300, _int_at_least(2, optional=False), "an int >= 2",
               "synthetic: total number of rows"),
        Option("n_classes", None, _int_at_least(2), "null or an int >= 2",
               "synthetic: classes (spiral arms / blobs); default 3"),
        Option("n_features", None, _int_at_least(1), "null or an int >= 1",
               "synthetic: features (blobs / regression); spirals always have 2; default 2 / 10"),
        Option("n_targets", None, _int_at_least(1), "null or an int >= 1",
               "synthetic regression: target columns; default 1"),
        Option("noise", None, _optional_nonneg_real, "null or a real >= 0",
               "synthetic: noise level (spirals 0.2 rad, blobs cluster std 1.0, regression 0.1)"),
    ]
}


def suggest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    return did_you_mean(name, choices, quote="'")


def validate_options(dataset: str, given: dict[str, Any], accepted: Iterable[str],
                     defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check ``given`` against the options ``accepted`` by ``dataset``; return all of them resolved.

    ``defaults`` overrides the generic defaults for this data set (e.g. ``scale=True`` for images).
    Raises DataError for an unknown option (with a did-you-mean) or a bad value.
    """
    accepted = list(accepted)
    allowed = ", ".join(sorted(accepted))
    resolved: dict[str, Any] = {}
    for key, value in given.items():
        if key not in accepted:
            if key in OPTIONS:
                hint = f" (it does not apply to {dataset!r})"
            else:
                hint = suggest(key, accepted)
            raise DataError(
                f"dataset option {shown(key)} is unknown for {dataset!r}{hint}; allowed: {allowed}")
        opt = OPTIONS[key]
        try:
            resolved[key] = opt.check(value)
        except Invalid:
            raise DataError(
                f"dataset option {key!r} has a bad value {shown(value)} for {dataset!r}; "
                f"allowed: {opt.allowed()}") from None
    defaults = defaults or {}
    for key in accepted:
        if key not in resolved:
            resolved[key] = defaults.get(key, OPTIONS[key].default)
    return resolved


def describe(value: Any) -> Any:
    """A JSON-friendly copy of a resolved option value (paths as strings)."""
    return str(value) if isinstance(value, Path) else value

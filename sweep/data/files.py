"""User data files: ``npz:PATH`` (NumPy archive) and ``csv:PATH`` (label + numeric features).

NPZ keys (``numpy.load(..., allow_pickle=False)``, so object arrays are refused):

* ``X_train, y_train`` and optionally ``X_val, y_val`` and ``X_test, y_test`` — a missing split is
  carved out of the training rows (``val_size`` / ``test_size``); or ``X, y`` with both carved;
* ``X_*``: (N, D) numbers, or (N, H, W) / (N, H, W, 3) images (``image_shape`` taken from them);
* ``y_*``: (N,) integer class labels (float arrays with integral values are accepted), or
  (N, C) real targets for regression;
* optional ``image_shape`` (ints whose product is D) and ``class_names`` (strings).

CSV: one row per example. The label is the first column, or the column ``label_column`` (an index,
or a header name). Every other column must be numeric. The header is optional: the first row is
taken as a header when one of its feature cells does not parse as a number. Labels are integers
0..K-1, or strings (class names, numbered in sorted order).
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from sweep.data.options import suggest
from sweep.data.raw import RawData
from sweep.errors import DataError
from sweep.memory import npz_bytes

NPZ_ARRAYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "X", "y")
NPZ_META = ("image_shape", "class_names")


# ------------------------------------------------------------------------------------ npz


def _labels_or_targets(y: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Integer labels as is, integral floats as int64 labels, 2-D arrays as regression targets."""
    if y.ndim == 2:
        return y
    if y.ndim != 1:
        raise DataError(f"{path}: {key} has shape {y.shape}; expected (N,) labels or (N, C) "
                        "targets")
    if y.dtype.kind in "iu":
        return y
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise DataError(f"{path}: {key} contains NaN or inf")
        if np.all(y == np.round(y)):
            return y.astype(np.int64)
        raise DataError(f"{path}: {key} holds non-integer values; class labels must be integers "
                        "(store regression targets as a 2-D (N, C) array)")
    if y.dtype.kind == "b":
        return y.astype(np.int64)
    raise DataError(f"{path}: {key} has dtype {y.dtype}; expected integer labels or float targets")


def load_npz(path: Path, opts: dict, given: frozenset = frozenset()) -> RawData:
    """Read an ``.npz`` archive (see the module docstring for the keys).

    ``given`` names the options the user set explicitly: ``val_size``/``test_size`` conflict with a
    validation/test split stored in the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    npz_bytes(path, str(path))  # the arrays' headers, before a byte is inflated
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            unknown = sorted(keys - set(NPZ_ARRAYS) - set(NPZ_META))
            if unknown:
                raise DataError(f"{path}: unexpected array {unknown[0]!r}"
                                f"{suggest(unknown[0], NPZ_ARRAYS + NPZ_META)}; allowed keys: "
                                f"{', '.join(NPZ_ARRAYS + NPZ_META)}")
            arrays = {k: z[k] for k in keys}
    except DataError:
        raise
    except ValueError as e:  # object arrays need pickle
        raise DataError(f"{path}: cannot load without pickle ({e})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None

    if "X" in arrays or "y" in arrays:
        clash = sorted(k for k in arrays if k in NPZ_ARRAYS and k not in ("X", "y"))
        if clash:
            raise DataError(f"{path}: has both 'X'/'y' and {clash[0]!r}; use either X, y or "
                            "X_train, y_train (+ optional X_val, y_val, X_test, y_test)")
        arrays["X_train"], arrays["y_train"] = arrays.pop("X", None), arrays.pop("y", None)
    for split in ("train", "val", "test"):
        X, y = arrays.get(f"X_{split}"), arrays.get(f"y_{split}")
        if (X is None) != (y is None) or (split == "train" and X is None):
            have = "X_" if X is not None else "y_"
            need = "y_" if X is not None else "X_"
            if split == "train" and X is None and y is None:
                raise DataError(f"{path}: needs arrays X_train and y_train (or X and y); found "
                                f"{', '.join(sorted(arrays)) or 'none'}")
            raise DataError(f"{path}: has {have}{split} but no {need}{split}")
        if y is not None:
            arrays[f"y_{split}"] = _labels_or_targets(y, path, f"y_{split}")
        if X is not None and X.ndim == 1:
            raise DataError(f"{path}: X_{split} has shape {X.shape}; expected (N, D) features")

    for split, option in (("val", "val_size"), ("test", "test_size")):
        if arrays.get(f"X_{split}") is not None and option in given:
            raise DataError(f"{path}: option {option!r} conflicts with the X_{split} array in the "
                            "file; drop the option or the array")

    X_train = arrays["X_train"]
    image_shape = None
    if "image_shape" in arrays:
        shape = arrays["image_shape"]
        if shape.dtype.kind not in "iu" or shape.ndim != 1 or not 2 <= len(shape) <= 3 \
                or np.any(shape <= 0) or int(np.prod(shape)) != int(np.prod(X_train.shape[1:])):
            raise DataError(f"{path}: image_shape {shape.tolist()} does not match features of "
                            f"shape {X_train.shape[1:]}")
        image_shape = tuple(int(s) for s in shape)
    elif X_train.ndim in (3, 4):
        image_shape = tuple(int(s) for s in X_train.shape[1:])

    class_names = None
    if "class_names" in arrays:
        names = arrays["class_names"]
        if names.ndim != 1 or names.dtype.kind not in "US" or len(names) == 0:
            raise DataError(f"{path}: class_names must be a 1-D array of strings")
        class_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist())
        if arrays["y_train"].ndim == 2:
            raise DataError(f"{path}: class_names given but y_train holds regression targets")

    return RawData(
        X_train=X_train, y_train=arrays["y_train"],
        X_val=arrays.get("X_val"), y_val=arrays.get("y_val"),
        X_test=arrays.get("X_test"), y_test=arrays.get("y_test"),
        image_shape=image_shape, class_names=class_names, pixel_max=None,
        files={"train": str(path)}, sources=[str(path)], format="npz",
    )


# ------------------------------------------------------------------------------------ csv


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _first_rows(path: Path, count: int = 2) -> list[list[str]]:
    """The first ``count`` non-empty rows of a CSV file, cells stripped."""
    rows = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for row in csv.reader(f):
                if row:
                    rows.append([c.strip() for c in row])
                    if len(rows) == count:
                        break
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text CSV file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    if not rows:
        raise DataError(f"{path}: the CSV file is empty (zero rows)")
    return rows


def _looks_like_header(rows: list[list[str]], label_idx: int) -> bool:
    """A first row is a header when a feature cell is not a number, or when its label cell is text
    while the next row's label is a number (feature columns named 0, 1, 2... under ``label``)."""
    first = rows[0]
    if not all(_is_number(c) for i, c in enumerate(first) if i != label_idx):
        return True
    return (len(rows) > 1 and label_idx < len(rows[1]) and not _is_number(first[label_idx])
            and _is_number(rows[1][label_idx]))


def _data_line(path: Path, header: bool, index: int) -> tuple[int, list[str]]:
    """(line number, cells) of the data row ``index`` (0-based, as pandas counts them: blank lines
    skipped, the header not counted) of the CSV file ``path``; read again only to word an error."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        seen, start = -1 if header else 0, 1
        for cells in reader:
            if cells and any(c.strip() for c in cells):
                if seen == index:
                    return start, [c.strip() for c in cells]
                seen += 1
            start = reader.line_num + 1
    return start, []  # pragma: no cover - pandas read that row from this file


def _column(name, header: bool) -> str:
    """A feature column as a message names it: by its header name, or by its 0-based index (as
    ``label_column`` counts) in a file without a header."""
    return f"column {str(name)[:40]!r}" if header else f"column {int(name)}"


def _parse_problem(message: str) -> str:
    """pandas' parse error in the words of the other messages: a row with too many fields names its line."""
    import re

    extra = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if extra:
        expected, line, saw = extra.groups()
        return f"line {line} has {saw} fields, where {expected} are expected (as in the first row)"
    return f"cannot parse CSV ({message.splitlines()[0][:200]})"


def _class_labels(values: np.ndarray, path: Path, header: bool, label_idx: int) -> np.ndarray:
    """Numeric labels as int64 class labels; a DataError naming the file, line and value of the first
    label that is not a whole number from 0 to MAX_CLASSES - 1 (checked in float64, so that 1e300 or
    inf never reaches an integer cast)."""
    from sweep.data.prep import MAX_CLASSES

    as_float = values.astype(np.float64)
    finite = np.isfinite(as_float)
    whole = finite & (as_float == np.round(np.where(finite, as_float, 0.0)))
    fits = whole & (as_float >= 0) & (as_float < MAX_CLASSES)
    if fits.all():
        return values.astype(np.int64)
    r = int(np.flatnonzero(~fits)[0])
    line, cells = _data_line(path, header, r)
    text = cells[label_idx][:40] if label_idx < len(cells) else str(values[r])
    if not whole[r]:
        what = f"label {text} at line {line} is not an integer class label"
    elif as_float[r] < 0:
        what = f"negative label {text} at line {line}"
    else:
        what = f"label {text} at line {line} is more than {MAX_CLASSES - 1:,}, the largest class label allowed"
    raise DataError(f"{path}: {what}; class labels are whole numbers 0..C-1 (or class names)")


def load_csv(path: Path, opts: dict) -> RawData:
    """Read a CSV file with pandas (see the module docstring for the layout)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    rows = _first_rows(path)
    first = rows[0]
    label_column = opts.get("label_column", 0)
    if isinstance(label_column, str):
        if label_column not in first:
            raise DataError(f"{path}: no column named {label_column!r}"
                            f"{suggest(label_column, first)}; header: {', '.join(first)}")
        header, label_idx = True, first.index(label_column)
    else:
        if label_column >= len(first):
            raise DataError(f"{path}: label_column={label_column} but the file has only "
                            f"{len(first)} columns")
        label_idx = label_column
        header = _looks_like_header(rows, label_idx)
    if len(first) < 2:
        raise DataError(f"{path}: needs a label column and at least one feature column")

    try:
        df = pd.read_csv(path, header=0 if header else None, skipinitialspace=True,
                         encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: {_parse_problem(str(e))}") from None
    if len(df) == 0:
        raise DataError(f"{path}: the CSV file has a header but no data rows (empty set)")

    label_series = df.iloc[:, label_idx]
    features = df.drop(columns=df.columns[label_idx])
    for col in features.columns:
        if not pd.api.types.is_numeric_dtype(features[col]):
            bad = pd.to_numeric(features[col], errors="coerce").isna() & features[col].notna()
            row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
            line, _ = _data_line(path, header, row)
            raise DataError(f"{path}: {_column(col, header)} is not numeric (line {line}: "
                            f"{str(features[col].iloc[row])[:40]!r})")
    X = features.to_numpy(dtype=np.float64)
    if not np.isfinite(X).all():
        r, c = np.argwhere(~np.isfinite(X))[0]
        line, cells = _data_line(path, header, int(r))
        if len(cells) < len(df.columns):
            raise DataError(f"{path}: line {line} has {len(cells)} fields, where {len(df.columns)} are expected "
                            f"(a label and {len(df.columns) - 1} features)")
        raise DataError(f"{path}: NaN, inf or empty feature at line {line}, {_column(features.columns[c], header)}")

    class_names = None
    if label_series.isna().any():
        r = int(np.flatnonzero(label_series.isna().to_numpy())[0])
        raise DataError(f"{path}: missing label at line {_data_line(path, header, r)[0]}")
    if pd.api.types.is_numeric_dtype(label_series):
        y = _class_labels(label_series.to_numpy(), path, header, label_idx)
    else:
        labels = label_series.astype(str).str.strip()
        class_names_arr, y = np.unique(labels.to_numpy(), return_inverse=True)
        class_names = tuple(str(c) for c in class_names_arr)
        y = y.astype(np.int64)

    return RawData(
        X_train=X, y_train=y, class_names=class_names, pixel_max=None,
        files={"train": str(path)}, sources=[str(path)], format="csv",
        extra_info={"csv": {"header": header, "label_column": str(df.columns[label_idx])
                            if header else label_idx, "feature_columns": len(features.columns)}},
    )

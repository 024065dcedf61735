"""Tests of sweep.data loaders, splits and preprocessing, on small files in the real formats."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import socket
from pathlib import Path

import numpy as np
import pytest
from conftest import idx_bytes

from sweep.data import DATASETS, Dataset, dataset_options, load_dataset, locate
from sweep.errors import DataError, SweepError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Loading data must never open a connection."""

    def refuse(self, address):
        raise AssertionError(f"a data loader tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


# --------------------------------------------------------------------------- file writers
# Written from the format specifications, independently of the readers under test.


def write_mnist(d: Path, n_train=100, n_test=20, gz=False, seed=0):
    """Four MNIST IDX files with balanced labels; returns the arrays written."""
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) * 3 % 10).astype(np.uint8),
    }
    for name, arr in arrays.items():
        blob = idx_bytes(arr)
        if gz:
            (d / f"{name}.gz").write_bytes(gzip.compress(blob))
        else:
            (d / name).write_bytes(blob)
    return arrays


def cifar_record_bytes(images_hwc: np.ndarray, labels) -> bytes:
    """CIFAR-10 binary records: label byte, then the R, G and B 32x32 planes."""
    planes = images_hwc.transpose(0, 3, 1, 2).reshape(len(images_hwc), 3072)
    return np.column_stack([np.asarray(labels, np.uint8), planes]).astype(np.uint8).tobytes()


def cifar_images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def write_cifar_bin(d: Path, per_batch=20, n_test=20, meta=None):
    d.mkdir(parents=True, exist_ok=True)
    train_imgs = []
    for i in range(1, 6):
        imgs = cifar_images(per_batch, i)
        train_imgs.append(imgs)
        (d / f"data_batch_{i}.bin").write_bytes(
            cifar_record_bytes(imgs, np.arange(per_batch) % 10))
    test = cifar_images(n_test, 99)
    (d / "test_batch.bin").write_bytes(cifar_record_bytes(test, np.arange(n_test) % 10))
    if meta is not None:
        (d / "batches.meta.txt").write_text(meta)
    return np.concatenate(train_imgs), test


def python_batch(images_hwc, labels, old_numpy_names=False) -> bytes:
    """A CIFAR-10 python batch pickled like the official ones (protocol 2, bytes keys)."""
    data = np.ascontiguousarray(images_hwc.transpose(0, 3, 1, 2).reshape(len(images_hwc), 3072))
    blob = pickle.dumps({b"batch_label": b"testing batch", b"labels": [int(v) for v in labels],
                         b"data": data, b"filenames": [b"x.png"] * len(labels)}, protocol=2)
    if old_numpy_names:  # as written by NumPy 1.x / Python 2: numpy.core.multiarray
        blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return blob


def write_cifar_py(d: Path, per_batch=20, n_test=20, old_numpy_names=False):
    d.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        (d / f"data_batch_{i}").write_bytes(
            python_batch(cifar_images(per_batch, i), np.arange(per_batch) % 10, old_numpy_names))
    test = cifar_images(n_test, 99)
    (d / "test_batch").write_bytes(python_batch(test, np.arange(n_test) % 10, old_numpy_names))
    return test


def assert_well_formed(ds: Dataset, dtype=np.float32):
    for X, y in ((ds.X_train, ds.y_train), (ds.X_val, ds.y_val), (ds.X_test, ds.y_test)):
        assert X.flags.c_contiguous and X.dtype == dtype and X.ndim == 2
        assert y.flags.c_contiguous and len(X) == len(y)
        if ds.task == "classification":
            assert y.dtype == np.int64 and y.ndim == 1
            assert 0 <= y.min() and y.max() < ds.num_classes
        else:
            assert y.dtype == dtype and y.ndim == 2
    json.dumps(ds.info)  # info stays JSON-friendly


# --------------------------------------------------------------------------- registry / options


def test_names_and_option_table():
    assert set(DATASETS) == {"digits", "mnist", "fashion-mnist", "cifar10", "synthetic", "npz",
                             "csv"}
    opts = dataset_options("mnist")
    assert opts["scale"] is True and opts["val_size"] == 0.1 and "test_size" not in opts
    assert dataset_options("npz:x.npz")["scale"] is False


def test_unknown_option_did_you_mean():
    with pytest.raises(DataError) as e:
        load_dataset("synthetic", val_sise=0.2)
    msg = str(e.value)
    assert "'val_sise'" in msg and "did you mean 'val_size'?" in msg and "allowed:" in msg
    assert "\n" not in msg
    assert isinstance(e.value, SweepError)


@pytest.mark.parametrize("option,value,needle", [
    ("val_size", 1.5, "fraction in (0, 1)"),
    ("val_size", 0, "int count >= 1"),
    ("val_size", True, "int count"),
    ("center", "zscore", "'mean_image'"),
    ("dtype", "float16", "'float64'"),
    ("seed", -1, "int >= 0"),
    ("scale", "yes", "positive number"),
])
def test_bad_option_value_names_option_value_and_allowed(option, value, needle):
    with pytest.raises(DataError) as e:
        load_dataset("synthetic", **{option: value})
    msg = str(e.value)
    assert repr(option) in msg and repr(value) in msg and needle in msg


def test_option_that_does_not_apply():
    with pytest.raises(DataError, match=r"'test_size'.*does not apply to 'mnist'"):
        load_dataset("mnist", test_size=0.3)
    with pytest.raises(DataError, match="n_targets.*spirals"):
        load_dataset("synthetic", n_targets=2)


def test_unknown_dataset_name():
    with pytest.raises(DataError, match=r"unknown dataset 'mnsit'.*did you mean 'mnist'"):
        load_dataset("mnsit")
    with pytest.raises(DataError, match="npz:PATH"):
        load_dataset("npz")


# --------------------------------------------------------------------------- MNIST / IDX


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx(tmp_path, gz):
    arrays = write_mnist(tmp_path / "m", gz=gz)
    ds = load_dataset("mnist", data_dir=tmp_path / "m")
    assert_well_formed(ds)
    assert ds.image_shape == (28, 28) and ds.class_names == tuple("0123456789")
    assert (len(ds.X_train), len(ds.X_val), len(ds.X_test)) == (90, 10, 20)
    # The official test split is the test set, in file order, scaled by 255.
    expected = arrays["t10k-images-idx3-ubyte"].reshape(20, 784).astype(np.float32) / 255
    np.testing.assert_array_equal(ds.X_test, expected)
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    # Train + val are exactly the training file's rows.
    rows = np.concatenate([ds.X_train, ds.X_val]) * 255
    orig = arrays["train-images-idx3-ubyte"].reshape(100, 784)
    assert sorted(map(bytes, np.rint(rows).astype(np.uint8))) == sorted(map(bytes, orig))
    assert sorted(ds.y_val.tolist()) == list(range(10))  # stratified: one of each class
    assert ds.info["sizes"] == {"train": 90, "val": 10, "test": 20}
    assert any("t10k-images" in s for s in ds.info["sources"])


def test_mnist_found_in_cwd_data_dir(tmp_path, monkeypatch):
    write_mnist(tmp_path / "data" / "mnist", gz=True)
    monkeypatch.chdir(tmp_path)
    assert len(load_dataset("mnist").X_test) == 20


def test_mnist_missing_lists_directories(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    (tmp_path / "data" / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(DataError) as e:
        load_dataset("mnist")
    msg = str(e.value)
    assert "\n" not in msg
    assert str(tmp_path / "data" / "mnist") in msg
    assert "t10k-labels-idx1-ubyte" in msg
    assert "sweep data fetch mnist" in msg and "data_dir" in msg
    with pytest.raises(DataError, match="nowhere.*no such directory"):
        load_dataset("mnist", data_dir=tmp_path / "nowhere")


def test_fashion_missing_mentions_apt(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(locate.SYSTEM_DIRS, "fashion-mnist", (tmp_path / "usr-share",))
    with pytest.raises(DataError) as e:
        load_dataset("fashion-mnist")
    msg = str(e.value)
    assert str(tmp_path / "data" / "fashion-mnist") in msg and str(tmp_path / "usr-share") in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "sweep data fetch fashion-mnist" in msg


def _rewrite(path: Path, fn):
    path.write_bytes(fn(path.read_bytes()))


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated(tmp_path, gz):
    write_mnist(tmp_path, gz=False)
    f = tmp_path / "train-images-idx3-ubyte"
    _rewrite(f, lambda b: b[:-100])
    if gz:
        f.with_name(f.name + ".gz").write_bytes(gzip.compress(f.read_bytes()))
        f.unlink()
        f = f.with_name(f.name + ".gz")
    with pytest.raises(DataError, match="truncated IDX") as e:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(f) in str(e.value)


def test_idx_trailing_bytes(tmp_path):
    write_mnist(tmp_path)
    _rewrite(tmp_path / "t10k-labels-idx1-ubyte", lambda b: b + b"\0\0")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.*2 unexpected bytes"):
        load_dataset("mnist", data_dir=tmp_path)


def test_idx_bad_magic(tmp_path):
    write_mnist(tmp_path)
    # Swap: an image file where the labels should be.
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(
        (tmp_path / "train-images-idx3-ubyte").read_bytes())
    with pytest.raises(DataError,
                       match=r"train-labels-idx1-ubyte: bad IDX magic number 0x00000803"):
        load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("damage", ["flip", "cut"])
def test_idx_corrupted_gzip(tmp_path, damage):
    write_mnist(tmp_path, gz=True)
    f = tmp_path / "t10k-images-idx3-ubyte.gz"
    if damage == "flip":
        _rewrite(f, lambda b: b[:20] + bytes(x ^ 0xFF for x in b[20:60]) + b[60:])
    else:
        _rewrite(f, lambda b: b[: len(b) // 2])
    with pytest.raises(DataError, match="corrupted or truncated gzip") as e:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(f) in str(e.value)


def test_idx_mismatched_counts(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(99) % 10))
    with pytest.raises(DataError, match="100 images but .*train-labels-idx1-ubyte has 99 labels"):
        load_dataset("mnist", data_dir=tmp_path)


def test_idx_label_out_of_range(tmp_path):
    write_mnist(tmp_path)
    labels = np.arange(20) % 10
    labels[7] = 10
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    with pytest.raises(DataError,
                       match=r"t10k-labels-idx1-ubyte: labels contain label 10 \(row 7\)"):
        load_dataset("mnist", data_dir=tmp_path)


def test_idx_empty(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((0, 28, 28))))
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*empty"):
        load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_debian(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./data/fashion-mnist here: the system copy is found
    ds = load_dataset("fashion-mnist")
    assert (ds.X_train.shape, ds.X_val.shape, ds.X_test.shape) == \
        ((54000, 784), (6000, 784), (10000, 784))
    assert ds.X_train.dtype == np.float32 and ds.X_train.flags.c_contiguous
    assert 0.0 <= ds.X_train.min() and ds.X_train.max() <= 1.0 and ds.X_test.max() > 0.99
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert np.bincount(ds.y_val).tolist() == [600] * 10
    assert ds.info["data_dir"] == str(DEBIAN_FASHION)


# --------------------------------------------------------------------------- CIFAR-10


@pytest.mark.parametrize("subdir", ["", "cifar-10-batches-bin"])
def test_cifar_binary_hwc(tmp_path, subdir):
    d = tmp_path / subdir if subdir else tmp_path
    names = "\n".join(f"class{i}" for i in range(10)) + "\n\n"
    train, test = write_cifar_bin(d, meta=names)
    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert_well_formed(ds)
    assert ds.image_shape == (32, 32, 3) and ds.class_names[3] == "class3"
    assert (len(ds.X_train), len(ds.X_val), len(ds.X_test)) == (90, 10, 20)
    # HWC rows: pixel (h, w) channel c at (h*32 + w)*3 + c.
    np.testing.assert_array_equal(ds.X_test * 255, test.reshape(20, -1).astype(np.float32))
    img = ds.X_test[0].reshape(32, 32, 3) * 255
    assert img[0, 1, 2] == test[0, 0, 1, 2] and img[1, 0, 0] == test[0, 1, 0, 0]
    assert ds.info["format"] == "cifar10-binary"


def test_cifar_binary_plane_layout(tmp_path):
    """An image whose channel planes are constant 10 / 20 / 30 reads as RGB triples."""
    write_cifar_bin(tmp_path)
    rec = bytes([4]) + bytes([10]) * 1024 + bytes([20]) * 1024 + bytes([30]) * 1024
    (tmp_path / "test_batch.bin").write_bytes(rec * 2)
    ds = load_dataset("cifar10", data_dir=tmp_path, scale=False)
    assert ds.X_test[0, :6].tolist() == [10, 20, 30, 10, 20, 30]
    assert ds.class_names[4] == "deer" and ds.y_test.tolist() == [4, 4]


def test_cifar_binary_bad_size(tmp_path):
    write_cifar_bin(tmp_path)
    _rewrite(tmp_path / "data_batch_3.bin", lambda b: b[:-1])
    with pytest.raises(DataError,
                       match="data_batch_3.bin: 61459 bytes is not a whole number of 3073"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_cifar_binary_label_out_of_range(tmp_path):
    write_cifar_bin(tmp_path)
    _rewrite(tmp_path / "data_batch_2.bin", lambda b: b"\x0b" + b[1:])
    with pytest.raises(DataError, match="data_batch_2.bin: labels contain label 11"):
        load_dataset("cifar10", data_dir=tmp_path)


@pytest.mark.parametrize("old_names", [False, True])
def test_cifar_python_pickle(tmp_path, old_names):
    test = write_cifar_py(tmp_path / "cifar-10-batches-py", old_numpy_names=old_names)
    ds = load_dataset("cifar10", data_dir=tmp_path, format="python")
    assert_well_formed(ds)
    np.testing.assert_array_equal(ds.X_test * 255, test.reshape(20, -1).astype(np.float32))
    assert ds.class_names[0] == "airplane" and ds.info["format"] == "cifar10-python"
    assert (len(ds.X_train), len(ds.X_val)) == (90, 10)


class _Evil:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


@pytest.mark.parametrize("func", [os.system, eval])
def test_cifar_malicious_pickle_is_refused(tmp_path, func):
    d = tmp_path / "cifar-10-batches-py"
    write_cifar_py(d)
    marker = tmp_path / "pwned"
    code = f"touch {marker}" if func is os.system else f"open({str(marker)!r}, 'w')"
    (d / "data_batch_1").write_bytes(
        pickle.dumps({b"data": _Evil(func, code), b"labels": [0]}, protocol=2))
    with pytest.raises(DataError, match="data_batch_1: refused or invalid pickle.*not allowed"):
        load_dataset("cifar10", data_dir=tmp_path)
    assert not marker.exists()


def test_cifar_missing(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_dir=tmp_path)
    assert str(tmp_path) in str(e.value) and "sweep data fetch cifar10" in str(e.value)
    assert "test_batch.bin" in str(e.value)


# --------------------------------------------------------------------------- digits


def test_digits():
    ds = load_dataset("digits")
    assert_well_formed(ds)
    assert ds.image_shape == (8, 8) and ds.input_dim == 64 and ds.num_classes == 10
    assert len(ds.X_train) + len(ds.X_val) + len(ds.X_test) == 1797
    assert len(ds.X_test) == 360 and len(ds.X_val) == 144
    assert ds.X_train.max() == 1.0 and ds.X_train.min() == 0.0  # 0..16 divided by 16
    assert set(ds.y_val.tolist()) == set(range(10)) == set(ds.y_test.tolist())
    # Stratified: class shares within one row of proportional.
    full = np.bincount(np.concatenate([ds.y_train, ds.y_val, ds.y_test]))
    assert np.all(np.abs(np.bincount(ds.y_test) - full * 360 / 1797) <= 1)


def test_digits_are_read_from_scikit_learns_file_without_importing_it():
    # Importing sklearn.datasets took 2 s in the command and in every worker, most of a small sweep's time.
    import subprocess
    import sys

    code = ("import sys; from sweep.data import load_dataset; load_dataset('digits'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))")
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "[]"
    from sklearn.datasets import load_digits

    from sweep.data import digits

    raw, bunch = digits.load({}), load_digits()
    assert raw.X_train.dtype == bunch.data.dtype and np.array_equal(raw.X_train, bunch.data)
    assert raw.y_train.dtype == np.int64 and np.array_equal(raw.y_train, bunch.target)


def test_digits_determinism_seed_and_dtype():
    np_state = np.random.get_state()[1].copy()
    a = load_dataset("digits", seed=3)
    b = load_dataset("digits", seed=3)
    c = load_dataset("digits", seed=4)
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.y_val, c.y_val) or not np.array_equal(a.X_val, c.X_val)
    assert not np.array_equal(a.X_test, c.X_test)
    assert np.array_equal(np.random.get_state()[1], np_state)  # global RNG untouched
    d = load_dataset("digits", seed=3, dtype="float64")
    assert_well_formed(d, np.float64)
    np.testing.assert_allclose(d.X_val, a.X_val, rtol=1e-6)


def test_train_size_cap_is_stratified_subsample():
    full = load_dataset("digits")
    ds = load_dataset("digits", train_size=200)
    assert len(ds.X_train) == 200 and set(ds.y_train.tolist()) == set(range(10))
    np.testing.assert_array_equal(ds.X_val, full.X_val)  # val/test unaffected
    rows = {bytes(r) for r in full.X_train}
    assert all(bytes(r) in rows for r in ds.X_train)
    assert len(load_dataset("digits", train_size=0.5).X_train) == len(full.X_train) // 2
    assert len(load_dataset("digits", train_size=10**6).X_train) == len(full.X_train)


def test_mean_image_fitted_on_train_only():
    plain = load_dataset("digits", dtype="float64")
    ds = load_dataset("digits", center="mean_image", dtype="float64")
    train_mean = plain.X_train.mean(axis=0)
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.X_val, plain.X_val - train_mean, atol=1e-12)
    np.testing.assert_allclose(ds.X_test, plain.X_test - train_mean, atol=1e-12)
    assert abs(ds.X_val.mean()) > 1e-6  # not re-centred on its own mean


def test_standardize_fitted_on_train_only():
    plain = load_dataset("digits", dtype="float64")
    ds = load_dataset("digits", center="standardize")
    mu, sd = plain.X_train.mean(axis=0), plain.X_train.std(axis=0)
    constant = sd == 0
    assert constant.any()  # digits has always-blank corner pixels
    np.testing.assert_allclose(ds.X_train.std(axis=0)[~constant], 1, atol=1e-4)
    np.testing.assert_array_equal(ds.X_train[:, constant], 0)
    sd[constant] = 1
    np.testing.assert_allclose(ds.X_test, (plain.X_test - mu) / sd, atol=1e-4)
    assert np.isfinite(ds.X_val).all()


def test_val_size_too_big_is_empty_split():
    with pytest.raises(DataError, match="val_size=2000.*training split would be empty"):
        load_dataset("digits", val_size=2000)
    with pytest.raises(DataError, match="test_size=1797"):
        load_dataset("digits", test_size=1797)
    ds = load_dataset("digits", val_size=50, test_size=100)
    assert (len(ds.X_val), len(ds.X_test)) == (50, 100)


# --------------------------------------------------------------------------- npz


def test_npz_full(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "set.npz"
    np.savez(p, X_train=rng.integers(0, 256, (40, 4, 5), dtype=np.uint8),
             y_train=np.arange(40) % 4, X_val=rng.random((8, 20)), y_val=np.arange(8) % 4,
             X_test=rng.random((6, 20)), y_test=np.arange(6) % 4,
             class_names=np.array(["a", "b", "c", "d"]))
    ds = load_dataset(f"npz:{p}")
    assert_well_formed(ds)
    assert (len(ds.X_train), len(ds.X_val), len(ds.X_test)) == (40, 8, 6)
    assert ds.image_shape == (4, 5) and ds.class_names == ("a", "b", "c", "d")
    assert ds.X_train.max() > 1  # scale defaults to false for files
    assert load_dataset(f"npz:{p}", scale=True).X_train.max() <= 1  # uint8 -> /255
    with pytest.raises(DataError, match="'val_size' conflicts with the X_val array"):
        load_dataset(f"npz:{p}", val_size=0.2)


def test_npz_X_y_carved_and_regression(tmp_path):
    rng = np.random.default_rng(1)
    p = tmp_path / "xy.npz"
    np.savez(p, X=rng.random((100, 3)), y=rng.random((100, 2)))
    ds = load_dataset(f"npz:{p}", dtype="float64", test_size=20, val_size=10)
    assert ds.task == "regression" and ds.class_names is None and ds.num_classes == 2
    assert (len(ds.X_train), len(ds.X_val), len(ds.X_test)) == (70, 10, 20)
    assert_well_formed(ds, np.float64)


@pytest.mark.parametrize("arrays,needle", [
    ({"X_train": np.array([[1.0, np.nan]] * 5), "y_train": np.zeros(5, int)},
     "NaN or inf .*row 0, column 1"),
    ({"X_train": np.ones((5, 2)), "y_train": np.zeros(4, int)}, "5 rows but labels have 4"),
    ({"X_train": np.ones((5, 2)), "y_train": np.array([0, 1, -1, 0, 1])}, "negative label -1"),
    ({"X_train": np.ones((5, 2)), "y_train": np.array([0, 1, 2, 0, 1]),
      "class_names": np.array(["x", "y"])}, "label 2 .* only 2 classes"),
    ({"X_train": np.ones((0, 2)), "y_train": np.zeros(0, int)}, "empty"),
    ({"X_train": np.ones((5, 2)), "y_train": np.zeros(5, int), "X_tst": np.ones((1, 2))},
     "'X_tst' \\(did you mean 'X_test'\\?\\)"),
    ({"X_train": np.array([[1], [2]], dtype=object), "y_train": np.zeros(2, int)},
     "without pickle"),
    ({"X_train": np.ones((5, 2)), "y_train": np.array([0.5, 1, 0, 1, 0])}, "non-integer"),
])
def test_npz_bad_data(tmp_path, arrays, needle):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(DataError, match=needle) as e:
        load_dataset(f"npz:{p}")
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_npz_not_a_zip(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DataError, match="junk.npz"):
        load_dataset(f"npz:{p}")
    with pytest.raises(DataError, match="no such file"):
        load_dataset(f"npz:{tmp_path / 'absent.npz'}")


# --------------------------------------------------------------------------- csv


def test_csv_without_header(tmp_path):
    p = tmp_path / "plain.csv"
    rows = [f"{i % 3},{i * 0.5},{-i}" for i in range(60)]
    p.write_text("\n".join(rows) + "\n")
    ds = load_dataset(f"csv:{p}", test_size=0.25)
    assert_well_formed(ds)
    assert ds.input_dim == 2 and ds.class_names == ("0", "1", "2")
    assert (len(ds.X_train) + len(ds.X_val), len(ds.X_test)) == (45, 15)
    assert ds.info["csv"]["header"] is False
    allrows = np.concatenate([ds.X_train, ds.X_val, ds.X_test])
    assert sorted(allrows[:, 0].tolist()) == [i * 0.5 for i in range(60)]


def test_csv_with_header_named_label_and_string_classes(tmp_path):
    p = tmp_path / "iris.csv"
    lines = ["x1,x2,species"] + [f"{i},{i % 7},{['setosa', 'virginica'][i % 2]}" for i in range(40)]
    p.write_text("\n".join(lines))
    ds = load_dataset(f"csv:{p}", label_column="species", seed=1)
    assert ds.class_names == ("setosa", "virginica") and ds.input_dim == 2
    assert ds.info["csv"]["header"] is True
    with pytest.raises(DataError, match=r"no column named 'specie' \(did you mean 'species'\?\)"):
        load_dataset(f"csv:{p}", label_column="specie")


def test_csv_header_detected_with_first_column_label(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("label,a,b\n" + "".join(f"{i % 2},{i},{i}\n" for i in range(30)))
    ds = load_dataset(f"csv:{p}")
    assert ds.info["csv"]["header"] is True and ds.input_dim == 2


@pytest.mark.parametrize("body,needle", [
    ("0,1,2\n1,,3\n0,1,1\n1,2,2\n", "NaN, inf or empty feature at line 2"),
    ("0,1,2\n1,x,3\n", "column 1 is not numeric \\(line 2"),
    ("0,1,2\n-1,1,3\n0,2,2\n1,1,1\n", "negative label -1"),
    ("0,1,2\n1.5,1,3\n", "label 1.5 at line 2 is not an integer"),
    ("label,a,b\n", "no data rows"),
    ("", "empty"),
])
def test_csv_bad_data(tmp_path, body, needle):
    p = tmp_path / "bad.csv"
    p.write_text(body)
    with pytest.raises(DataError, match=needle) as e:
        load_dataset(f"csv:{p}")
    assert str(p) in str(e.value)


# --------------------------------------------------------------------------- synthetic


def test_synthetic_spirals():
    ds = load_dataset("synthetic", kind="spirals", n_samples=300, n_classes=3, seed=5)
    assert_well_formed(ds)
    assert ds.input_dim == 2 and ds.num_classes == 3 and ds.image_shape is None
    X = np.concatenate([ds.X_train, ds.X_val, ds.X_test])
    assert len(X) == 300 and np.all(np.hypot(X[:, 0], X[:, 1]) <= 1.0 + 1e-6)
    y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    assert np.bincount(y).tolist() == [100, 100, 100]
    again = load_dataset("synthetic", kind="spirals", n_samples=300, n_classes=3, seed=5)
    np.testing.assert_array_equal(again.X_train, ds.X_train)
    other = load_dataset("synthetic", kind="spirals", n_samples=300, n_classes=3, seed=6)
    assert not np.array_equal(other.X_train, ds.X_train)


def test_synthetic_blobs():
    ds = load_dataset("synthetic", kind="blobs", n_samples=200, n_classes=4, n_features=6,
                      noise=0.5, center="standardize")
    assert_well_formed(ds)
    assert ds.input_dim == 6 and ds.num_classes == 4
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-5)


def test_synthetic_regression():
    ds = load_dataset("synthetic", kind="regression", n_samples=120, n_features=3, n_targets=2,
                      dtype="float64")
    assert ds.task == "regression" and ds.class_names is None
    assert ds.y_train.shape[1] == 2 and ds.y_train.dtype == np.float64
    assert_well_formed(ds, np.float64)
    assert ds.info["splits"]["val"]["stratified"] is False  # plain split for regression


def test_stratification_falls_back_for_tiny_class(tmp_path):
    p = tmp_path / "tiny.npz"
    y = np.array([0] * 30 + [1] * 29 + [2])  # class 2 has a single row
    np.savez(p, X=np.arange(60.0)[:, None], y=y)
    ds = load_dataset(f"npz:{p}", test_size=10, val_size=5)
    assert ds.info["splits"]["test"]["stratified"] is False
    assert "single row" in ds.info["splits"]["test"]["reason"]
    assert (len(ds.X_train), len(ds.X_val), len(ds.X_test)) == (45, 5, 10)


def test_csv_header_with_numeric_feature_names(tmp_path):
    path = tmp_path / "named.csv"
    rows = ["label,0,1,2"] + [f"{i % 3},{i},{i + 1},{i + 2}" for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    data = load_dataset(f"csv:{path}")
    assert data.num_classes == 3 and data.class_names == ("0", "1", "2")
    assert data.info["csv"]["header"] is True


def test_labels_far_beyond_the_number_of_classes_are_refused(tmp_path):
    path = tmp_path / "huge.npz"
    rng = np.random.default_rng(0)
    y = np.array([0, 1, 10**12] * 20)
    np.savez(path, X=rng.standard_normal((60, 3)).astype(np.float32), y=y)
    with pytest.raises(DataError, match="labels go up to 1000000000000"):
        load_dataset(f"npz:{path}", val_size=6, test_size=6)


def test_realign_copies_only_the_arrays_that_are_misaligned():
    """Dask can deliver a scattered array at an odd address, where BLAS cannot be used."""
    data = load_dataset("digits")
    buffer = bytearray(data.X_train.nbytes + 1)
    odd = np.frombuffer(buffer, dtype=data.X_train.dtype, offset=1, count=data.X_train.size)
    odd = odd.reshape(data.X_train.shape)
    odd[...] = data.X_train
    assert not odd.flags.aligned
    X_val = data.X_val
    data.X_train = odd
    assert data.realign() is data
    assert data.X_train.flags.aligned and data.X_train.flags.c_contiguous
    assert np.array_equal(data.X_train, odd) and data.X_val is X_val

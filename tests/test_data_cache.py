"""The cache of prepared data sets: a second load maps the arrays a first load prepared, bitwise,
and an edited source file, a damaged entry or an unwritable folder never gives wrong data."""

import gzip

import numpy as np
import pytest
from conftest import idx_bytes

from sweep.data import load_dataset
from sweep.data import cache

FILES = {"train-images-idx3-ubyte.gz": (60, 28, 28), "train-labels-idx1-ubyte.gz": (60,),
         "t10k-images-idx3-ubyte.gz": (20, 28, 28), "t10k-labels-idx1-ubyte.gz": (20,)}


def write_fashion(folder, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(exist_ok=True)
    for name, shape in FILES.items():
        values = rng.integers(0, 10 if "labels" in name else 256, size=shape, dtype=np.uint8)
        if "labels" in name:
            values[:10] = np.arange(10)  # every class present
        (folder / name).write_bytes(gzip.compress(idx_bytes(values)))
    return folder


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "data"


def load(folder, **options):
    return load_dataset("fashion-mnist", **{"data_dir": str(folder), "val_size": 10, "center": "standardize",
                                            **options})


def same(a, b):
    return all(np.array_equal(getattr(a, n), getattr(b, n)) and getattr(a, n).dtype == getattr(b, n).dtype
               for n in a.ARRAYS) and a.image_shape == b.image_shape and a.class_names == b.class_names


def test_the_second_load_maps_what_the_first_prepared(tmp_path, cache_dir, monkeypatch):
    folder = write_fashion(tmp_path / "fashion")
    first = load(folder)
    assert not isinstance(first.X_train, np.memmap) and len(list(cache_dir.iterdir())) == 1
    second = load(folder)
    assert isinstance(second.X_train, np.memmap) and not second.X_train.flags.writeable
    assert same(first, second) and second.info["cache"].startswith(str(cache_dir))
    assert not isinstance(load(folder, center="mean_image").X_train, np.memmap)  # other options, other entry
    monkeypatch.setenv("SWEEP_CACHE_DIR", "off")
    assert not isinstance(load(folder).X_train, np.memmap)


def test_an_edited_source_file_is_a_miss(tmp_path, cache_dir):
    folder = write_fashion(tmp_path / "fashion")
    load(folder)
    write_fashion(folder, seed=1)  # same names and sizes, other pixels
    fresh = load(folder)
    assert not isinstance(fresh.X_train, np.memmap)
    assert same(fresh, load(folder)) and not same(fresh, load(write_fashion(tmp_path / "other")))


def test_a_damaged_entry_is_a_miss_and_is_replaced(tmp_path, cache_dir):
    folder = write_fashion(tmp_path / "fashion")
    first = load(folder)
    [entry] = cache_dir.iterdir()
    data = (entry / "X_train.npy").read_bytes()
    (entry / "X_train.npy").write_bytes(data[: len(data) // 2])  # truncated
    again = load(folder)
    assert not isinstance(again.X_train, np.memmap) and same(first, again)
    assert isinstance(load(folder).X_train, np.memmap)


def test_an_unwritable_cache_folder_only_means_no_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SWEEP_CACHE_DIR", str(blocker))
    folder = write_fashion(tmp_path / "fashion")
    assert same(load(folder), load(folder))


def test_only_the_most_recently_used_entries_are_kept(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    folder = write_fashion(tmp_path / "fashion")
    for val_size in (10, 11, 12):
        load_dataset("fashion-mnist", data_dir=str(folder), val_size=val_size)
    assert len(list(cache_dir.iterdir())) == 2


def test_an_entry_a_running_sweep_maps_is_not_evicted_by_another_process(tmp_path, cache_dir, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setattr(cache, "MAX_ENTRIES", 1)
    folder = write_fashion(tmp_path / "fashion")
    load(folder)
    mapped = load(folder)  # this process maps it (and holds its lock) from now on
    assert isinstance(mapped.X_train, np.memmap)
    # Another process fills the cache with other entries, beyond the limit of one:
    code = ("import sys; from sweep.data import cache, load_dataset; cache.MAX_ENTRIES = 1\n"
            "for size in (11, 12): load_dataset('fashion-mnist', data_dir=sys.argv[1], val_size=size)")
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True, timeout=120)
    assert (mapped.info["cache"] and cache.Path(mapped.info["cache"]).is_dir())
    assert len(list(cache_dir.iterdir())) == 2  # ours, kept, and the newest of the other process
    assert np.array_equal(np.load(cache.Path(mapped.info["cache"]) / "X_train.npy"), mapped.X_train)

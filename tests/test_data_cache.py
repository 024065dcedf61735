"""The cache of prepared data sets: a second load maps the arrays a first load prepared, bitwise,
and an edited source file, a damaged entry or an unwritable folder never gives wrong data; the cache
removes nothing it did not make."""

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import idx_bytes, sweep_cli, write_experiment

from sweep.data import load_dataset
from sweep.data import cache

FILES = {"train-images-idx3-ubyte.gz": (60, 28, 28), "train-labels-idx1-ubyte.gz": (60,),
         "t10k-images-idx3-ubyte.gz": (20, 28, 28), "t10k-labels-idx1-ubyte.gz": (20,)}


def write_fashion(folder, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
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


def tree(folder):
    """Everything under ``folder`` (links not followed): path -> the bytes of a file, a link's target, or None."""
    found = {}
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(parent, name)
            found[str(path)] = (os.readlink(path) if path.is_symlink() else
                                path.read_bytes() if path.is_file() else None)
    return found


def test_saving_entries_removes_no_folder_the_cache_did_not_make(tmp_path, monkeypatch, capfd):
    """$SWEEP_CACHE_DIR at a project: its data/ keeps the user's data sets (as the README says) beside
    the entries. Eviction, the replacement of an entry and the clean-up of abandoned saves leave alone
    every folder that is not provably the cache's: its name pattern and the marker in its meta.json."""
    project = tmp_path / "project"
    monkeypatch.setenv("SWEEP_CACHE_DIR", str(project))
    monkeypatch.setattr(cache, "MAX_ENTRIES", 1)
    data_dir = project / "data"
    fashion = write_fashion(data_dir / "fashion-mnist")
    (data_dir / "my-csvs").mkdir()
    (data_dir / ("0" * 32)).mkdir()  # named like an entry, with no meta.json
    (data_dir / ("0" * 32) / "notes.txt").write_text("mine")
    abandoned = data_dir / f".writing-{'a' * 32}-x1y2z3w4"  # named like a save killed long ago, no marker
    abandoned.mkdir()
    (abandoned / "meta.json").write_text("{}")
    os.utime(abandoned, (0, 0))
    ours = data_dir / f".writing-{'b' * 32}-abcd_123"  # a save of the cache's, killed long ago: removed
    ours.mkdir()
    (ours / "meta.json").write_text(json.dumps({"sweep_cache": 2}))
    (ours / "X_train.npy").write_bytes(b"partial")
    os.utime(ours, (0, 0))
    elsewhere = tmp_path / "elsewhere"  # a link named like an entry, to a folder that looks like one
    elsewhere.mkdir()
    (elsewhere / "meta.json").write_text(json.dumps({"sweep_cache": 2}))
    (data_dir / ("e" * 32)).symlink_to(elsewhere)
    first = load(fashion)
    [unmarked] = [p for p in data_dir.iterdir() if (p / "X_train.npy").is_file()]
    meta = json.loads((unmarked / "meta.json").read_text())
    meta.pop("sweep_cache", None)  # an entry the cache cannot prove it wrote (an earlier version's, or edited)
    (unmarked / "meta.json").write_text(json.dumps(meta))
    before = {k: v for k, v in {**tree(data_dir), **tree(elsewhere)}.items() if not k.startswith(str(ours))}
    for val_size in (11, 12, 13):
        load(fashion, val_size=val_size)
    assert {**tree(data_dir), **tree(elsewhere)}.items() >= before.items()  # everything still there, unchanged
    entries = [p for p in data_dir.iterdir() if (p / "meta.json").is_file() and not p.is_symlink()
               and "sweep_cache" in json.loads((p / "meta.json").read_text())]
    assert len(entries) == 1 and not ours.exists()  # the cache's own folders are still removed
    capfd.readouterr()
    again = load(fashion)  # the unmarked folder is in the way of its key: used neither to read nor replaced
    assert not isinstance(again.X_train, np.memmap) and same(first, again)
    assert {**tree(data_dir), **tree(elsewhere)}.items() >= before.items()
    [line] = capfd.readouterr().err.splitlines()
    assert line.startswith(f"warning: the data cache leaves {unmarked} alone")


def test_a_cache_folder_that_is_a_link_is_not_used(tmp_path, monkeypatch, capfd):
    """~/.cache/sweep/data as a link to a user's folder: nothing in it is removed or written, the data
    sets load from their files, and one warning line says why."""
    monkeypatch.setattr(cache, "MAX_ENTRIES", 1)
    target = tmp_path / "photos"
    for i in range(6):
        (target / f"album{i}").mkdir(parents=True)
        if i % 2:
            (target / f"album{i}" / "a.jpg").write_bytes(b"jpeg")
    home = tmp_path / "cache"
    home.mkdir()
    (home / "data").symlink_to(target)
    monkeypatch.setenv("SWEEP_CACHE_DIR", str(home))
    before = tree(target)
    fashion = write_fashion(tmp_path / "fashion")
    fresh = [load(fashion, val_size=size) for size in (10, 11, 12, 10)]
    assert tree(target) == before
    assert not any(isinstance(data.X_train, np.memmap) for data in fresh) and same(fresh[0], fresh[3])
    [line] = capfd.readouterr().err.splitlines()
    assert line.startswith(f"warning: the data cache folder {home / 'data'} is a symbolic link")


def damage(entry, array, row, value):
    """Write ``value`` into row ``row`` of the cached ``array`` of ``entry``, in place."""
    mapped = np.load(entry / f"{array}.npy", mmap_mode="r+")
    mapped[row] = value
    mapped.flush()


@pytest.mark.parametrize("array, value, problem", [
    ("X_train", np.nan, "X_train.npy: train features contain NaN or inf (first at row 3, column 0)"),
    ("y_train", 99, "y_train.npy: train labels contain label 99 (row 3) but there are only 10 classes (labels 0..9)"),
    ("y_test", -1, "y_test.npy: test labels contain negative label -1 (row 3)"),
])
def test_cached_arrays_a_fresh_load_would_refuse_are_rebuilt_with_a_warning(tmp_path, cache_dir, capfd, array,
                                                                             value, problem):
    folder = write_fashion(tmp_path / "fashion")
    first = load(folder)
    [entry] = cache_dir.iterdir()
    damage(entry, array, 3, value)
    again = load(folder)
    assert not isinstance(again.X_train, np.memmap) and same(first, again)
    [line] = capfd.readouterr().err.splitlines()
    assert line == (f"warning: the data cache entry {entry} is damaged ({problem}): the data set is loaded "
                    "from its files and the entry rebuilt")
    rebuilt = load(folder)
    assert isinstance(rebuilt.X_train, np.memmap) and same(first, rebuilt) and not capfd.readouterr().err


def test_a_link_in_an_entry_is_not_read_and_is_removed_without_following_it(tmp_path, cache_dir, capfd):
    folder = write_fashion(tmp_path / "fashion")
    first = load(folder)
    [entry] = cache_dir.iterdir()
    mine = tmp_path / "mine.npy"  # the same array, in a file the cache did not write
    np.save(mine, first.X_train)
    (entry / "X_train.npy").unlink()
    (entry / "X_train.npy").symlink_to(mine)
    before = mine.read_bytes()
    again = load(folder)
    assert "(X_train.npy is not a regular file)" in capfd.readouterr().err
    assert not isinstance(again.X_train, np.memmap) and same(first, again)
    assert isinstance(load(folder).X_train, np.memmap) and mine.read_bytes() == before


def test_a_sweep_on_a_damaged_cache_entry_trains_normally(tmp_path, cache_dir):
    """NaN in a cached X_train made every trial `diverged` (exit 0, nothing pointed at the cache)."""
    folder = write_fashion(tmp_path / "fashion")
    load(folder)
    [entry] = cache_dir.iterdir()
    damage(entry, "X_train", 0, np.nan)
    write_experiment(tmp_path / "exp.yaml", name="cached", method="grid", n_jobs=1,
                     dataset={"name": "fashion-mnist", "data_dir": str(folder), "val_size": 10,
                              "center": "standardize"},
                     parameters={"hidden_size": {"values": [8, 16]}}, fixed={"epochs": 2, "batch_size": 16})
    result = sweep_cli("run", "exp.yaml", "--quiet", "--no-plots", "--out", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(pd.read_csv(tmp_path / "run" / "trials.csv")["status"]) == ["ok", "ok"]
    [line] = result.stderr.splitlines()
    assert line.startswith(f"warning: the data cache entry {entry} is damaged (X_train.npy: train features")

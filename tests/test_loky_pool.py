"""The loky pool: workers kept for the next sweep of the process, data sets shared through memory-mapped files."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from conftest import sweep_cli, write_experiment

from sweep.config import parse_experiment
from sweep.data import load_dataset
from sweep.pools.loky import LokyPool
from sweep.pools.shared import MAP_BYTES, open_shared, share
from sweep.runner import run_sweep

NUMBERS = ["trial_id", "status", "train_loss", "train_acc", "val_loss", "val_acc"]
#: A second data set, large enough that its training split is memory-mapped (40,000 x 40 float32 rows).
BLOBS = {"name": "blobs", "dataset": {"name": "synthetic", "kind": "blobs", "n_samples": 50000, "n_features": 40},
         "method": "grid", "parameters": {"hidden_size": {"values": [8, 12]}},
         "fixed": {"epochs": 1, "learning_rate": 0.05, "optimizer": "sgd_momentum"}, "n_jobs": 2}


def numbers(run_dir):
    return pd.read_csv(run_dir / "trials.csv")[NUMBERS].sort_values("trial_id").reset_index(drop=True)


def workers(run_dir) -> set[int]:
    return {int(w.rsplit(":", 1)[1]) for w in pd.read_csv(run_dir / "trials.csv")["worker"]}


def test_a_second_sweep_in_the_process_reuses_the_workers_and_gets_the_numbers_of_fresh_ones(small_grid, tmp_path):
    """Two sweeps on two data sets in one process, then the second again from the command line
    (a new process, new workers): the same numbers, so nothing of the first sweep's data or
    state leaks into the second."""
    first = run_sweep(parse_experiment(small_grid), run_dir=tmp_path / "digits", quiet=True)
    second = run_sweep(parse_experiment(BLOBS), run_dir=tmp_path / "blobs", quiet=True)
    assert first.all_ran and second.all_ran
    assert workers(second.run_dir) <= workers(first.run_dir), "the second sweep ran on the first one's workers"
    assert os.getpid() not in workers(first.run_dir)
    write_experiment(tmp_path / "blobs.yaml", **BLOBS)
    fresh = sweep_cli("run", "blobs.yaml", "--out", "fresh", "--quiet", "--no-plots", cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    pd.testing.assert_frame_equal(numbers(second.run_dir), numbers(tmp_path / "fresh"))
    assert not workers(second.run_dir) & workers(tmp_path / "fresh")


def test_two_pools_open_at_once_do_not_share_workers(tmp_path):
    first, second = LokyPool(2, temp_folder=tmp_path / "a"), LokyPool(1, temp_folder=tmp_path / "b")
    try:
        a = {first.result(first.submit(os.getpid)) for _ in range(4)}
        b = {second.result(second.submit(os.getpid)) for _ in range(4)}
        assert a and b and not a & b and os.getpid() not in a | b
    finally:
        first.shutdown(keep=True)
        second.shutdown(keep=True)


def test_a_shared_data_set_maps_its_large_arrays_read_only_and_carries_the_small_ones(tmp_path):
    data = load_dataset("synthetic", kind="blobs", n_samples=50000, n_features=40)
    handle = share(data, tmp_path)
    assert data.X_train.nbytes >= MAP_BYTES > data.y_val.nbytes
    opened = open_shared(*handle.__reduce__()[1])
    assert isinstance(opened.X_train, np.memmap) and not opened.X_train.flags.writeable
    assert not isinstance(opened.y_val, np.memmap)
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(opened, name), getattr(data, name))
    assert (opened.name, opened.image_shape, opened.class_names) == (data.name, data.image_shape, data.class_names)
    assert open_shared(*handle.__reduce__()[1]) is opened, "opened once per process"


def test_a_data_set_that_cannot_be_written_leaves_no_folder(tmp_path, monkeypatch):
    import errno

    data = load_dataset("synthetic", kind="blobs", n_samples=50000, n_features=40)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        share(data, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_arrays_mapped_whole_from_npy_files_are_linked_not_copied_and_others_are_copied(tmp_path):
    """A data set from the cache is read-only maps of whole .npy files: sharing links them (no copy,
    and they outlive the cache entry); a view of a map, or a writable one, is written out as before."""
    data = load_dataset("synthetic", kind="blobs", n_samples=100000, n_features=40)
    source = tmp_path / "cache-entry"
    source.mkdir()
    arrays = {}
    for name in data.ARRAYS:
        np.save(source / f"{name}.npy", getattr(data, name))
        arrays[name] = np.load(source / f"{name}.npy", mmap_mode="r")
    arrays["X_val"] = np.load(source / "X_val.npy", mmap_mode="r+")  # writable: may change under the workers
    whole_train = arrays["X_train"]
    arrays["X_train"] = whole_train[: len(whole_train) // 2]  # a view: the file holds more than the array
    arrays["y_train"] = arrays["y_train"][: len(whole_train) // 2]
    mapped = type(data)(data.name, **arrays, image_shape=data.image_shape, class_names=data.class_names)
    assert min(a.nbytes for a in (mapped.X_train, mapped.X_val, mapped.X_test)) >= MAP_BYTES

    handle = share(mapped, tmp_path / "shared")
    folder = tmp_path / "shared" / os.listdir(tmp_path / "shared")[0]
    assert os.stat(folder / "X_test.npy").st_ino == os.stat(source / "X_test.npy").st_ino
    for name in ("X_train", "X_val"):
        assert os.stat(folder / f"{name}.npy").st_ino != os.stat(source / f"{name}.npy").st_ino
    for path in source.iterdir():  # the cache entry is evicted: the linked files stay for the workers
        path.unlink()
    opened = open_shared(*handle.__reduce__()[1])
    for name in data.ARRAYS:
        np.testing.assert_array_equal(getattr(opened, name), getattr(mapped, name))

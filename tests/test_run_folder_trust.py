"""The run folder's newer parts under careless and hostile use (issue 22): nothing is written or
deleted through a link the run did not make, saved state is proven before it is trusted (paused
states, kept weights, the best model), one sweep at a time even when the lock file is deleted, a
resume under another ``fuse`` is refused, and labels of classes the training split lacks are
refused up front.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import start, sweep_cli, wait_for_rows, write_experiment
from test_hostile import GRID, LONG, in_process, one_error_line

from sweep.config import parse_experiment
from sweep.errors import SweepError
from sweep.results.store import RunStore
from sweep.strategies import plan_trials


# ------------------------------------------------------------------------------------------ the lock
def test_deleting_the_lock_file_does_not_let_a_second_sweep_into_the_folder(tmp_path):
    experiment = parse_experiment({**GRID, "name": "lock"})
    trials = plan_trials(experiment)
    with RunStore.create(tmp_path / "run", experiment, trials):
        for lock in (tmp_path / "run").glob(".lock"):  # the lock file of earlier versions
            lock.unlink()
        with pytest.raises(SweepError, match="in use by another running sweep"):
            RunStore.open(tmp_path / "run", experiment, trials)
    RunStore.open(tmp_path / "run", experiment, trials).close()


def test_a_resume_beside_a_running_sweep_is_refused_after_the_lock_file_is_deleted(tmp_path):
    write_experiment(tmp_path / "exp.yaml", **LONG)
    first = start(["run", "exp.yaml", "--out", "run", "--no-plots"], tmp_path)
    try:
        wait_for_rows(tmp_path / "run" / "trials.csv", 1, first)
        (tmp_path / "run" / ".lock").unlink(missing_ok=True)
        one_error_line(sweep_cli("run", "exp.yaml", "--resume", "run", cwd=tmp_path),
                       "run is in use by another running sweep")
    finally:
        first.terminate()
        first.communicate(timeout=120)
    resumed = sweep_cli("run", "exp.yaml", "--resume", "run", "--no-plots", "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    trials = (tmp_path / "run" / "trials.csv").read_text().splitlines()[1:]
    assert len(trials) == 60 and len({line.split(",")[0] for line in trials}) == 60


# ------------------------------------------------------------------------------------------ fuse
FUSED = {**GRID, "name": "fused", "parameters": {"hidden_size": {"values": [16, 32]},
                                                 "learning_rate": {"values": [0.1, 0.02]}},
         "fixed": {"epochs": 2, "batch_size": 64, "optimizer": "sgd_momentum", "init": "he"}, "fuse": 4}


@pytest.mark.parametrize("fuse, said", [(2, "it was made with fuse 4, the experiment now says 2"),
                                        (1, "it was made with fuse 4, the experiment now says 1")])
def test_a_resume_under_another_fuse_is_refused(tmp_path, monkeypatch, capsys, fuse, said):
    write_experiment(tmp_path / "exp.yaml", **FUSED)
    made = sweep_cli("run", "exp.yaml", "--out", "run", "--quiet", "--no-plots", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    trials = tmp_path / "run" / "trials.csv"
    trials.write_text("".join(trials.read_text().splitlines(keepends=True)[:2]))  # as if cut short
    before = trials.read_bytes()
    one_error_line(in_process(monkeypatch, capsys, tmp_path, "run", "exp.yaml", "--resume", "run",
                              "--set", f"fuse={fuse}"), said)
    assert trials.read_bytes() == before


# ------------------------------------------------------------------------------------------ labels
@pytest.mark.parametrize("split, said", [
    ("val", "the val split holds 3 row(s) of class(es) 2, which the training split lacks (it has labels 0, 1)"),
    ("test", "the test split holds 3 row(s) of class(es) 2, which the training split lacks (it has labels 0, 1)"),
])
def test_labels_of_a_class_the_training_split_lacks_are_refused_in_one_line(tmp_path, split, said):
    rng = np.random.default_rng(0)
    arrays = {}
    for name, rows in (("train", 60), ("val", 20), ("test", 20)):
        arrays[f"X_{name}"] = rng.normal(size=(rows, 4))
        arrays[f"y_{name}"] = np.arange(rows) % 2
    arrays[f"y_{split}"][:3] = 2
    np.savez(tmp_path / "d.npz", **arrays)
    write_experiment(tmp_path / "exp.yaml", **{**GRID, "dataset": f"npz:{tmp_path / 'd.npz'}"})
    line = one_error_line(sweep_cli("run", "exp.yaml", cwd=tmp_path), said)
    assert "d.npz" in line
    assert not (tmp_path / "results").exists()

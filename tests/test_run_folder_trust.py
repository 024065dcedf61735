"""The run folder's newer parts under careless and hostile use (issue 22): nothing is written or
deleted through a link the run did not make, saved state is proven before it is trusted (paused
states, kept weights, the best model), one sweep at a time even when the lock file is deleted, a
resume under another ``fuse`` is refused, and labels of classes the training split lacks are
refused up front.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import GRID, start, sweep_cli, wait_for_rows, write_experiment
from test_hostile import LONG, half_done, in_process, one_error_line, snapshot

import sweep
from sweep.config import parse_experiment
from sweep.data import load_dataset
from sweep.errors import SweepError
from sweep.results.candidates import save_candidate
from sweep.results.paused import SEAL_KIND, save_state, state_path
from sweep.results.seal import seal
from sweep.results.store import RunStore
from sweep.strategies import plan_trials
from sweep.task import build_and_train


# ------------------------------------------------------------------------------------------ links
def user_folder(path):
    """A user's folder holding files with the names sweep writes and deletes in its sub-folders."""
    path.mkdir()
    for name in ("0123456789ab.npz", ".0123456789ab.npz.tmp", ".x.tmp", "model.npz", "summary.json",
                 "heatmap.png", "notes.txt", "shared-1-1-abc"):
        (path / name).write_bytes(b"the user's " + name.encode())
    return path


@pytest.mark.parametrize("name", ["candidates", "best", "paused", "plots", "errors", ".scratch"])
def test_a_sub_folder_replaced_by_a_link_is_refused_and_what_it_points_to_is_untouched(
        workdir, monkeypatch, capsys, name):
    run = workdir / "run"
    half_done(run)
    shutil.rmtree(run / name, ignore_errors=True)
    mine = user_folder(workdir / "mine")
    before = snapshot(mine)
    (run / name).symlink_to(mine)
    one_error_line(in_process(monkeypatch, capsys, workdir, "run", "exp.yaml", "--resume", "run"),
                   f"run/{name} is a symbolic link", "remove the link")
    if name == "plots":
        one_error_line(in_process(monkeypatch, capsys, workdir, "report", "run"), "run/plots is a symbolic link")
    assert snapshot(mine) == before
    (run / name).unlink()
    resumed = in_process(monkeypatch, capsys, workdir, "run", "exp.yaml", "--resume", "run", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert len(pd.read_csv(run / "trials.csv")) == 12


def test_a_file_at_a_temporary_name_is_replaced_never_written_through(tmp_path):
    from sweep.results.files import atomic_write

    theirs = tmp_path / "theirs.txt"
    theirs.write_text("the user's")
    (tmp_path / ".summary.json.tmp").symlink_to(theirs)
    atomic_write(tmp_path / "summary.json", b"{}")
    assert theirs.read_text() == "the user's" and (tmp_path / "summary.json").read_bytes() == b"{}"


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
    line = one_error_line(sweep_cli("run", "exp.yaml", "--no-plots", cwd=tmp_path), said)
    assert "d.npz" in line
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------------------------------ paused states
HYPERBAND = {"name": "hb", "dataset": "digits", "method": "grid",
             "parameters": {"hidden_size": {"values": [16, 32]},
                            "learning_rate": {"values": [0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 0.0003]}},
             "fixed": {"epochs": 4, "optimizer": "adam", "init": "he", "batch_size": 64},
             "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2}, "n_jobs": 2}


def state_arrays(path):
    """The arrays of a saved state (its seal among them), and its meta as a dict."""
    with np.load(path) as archive:
        arrays = dict(archive)
    return arrays, json.loads(str(arrays.pop("meta")))


def write_state(path, arrays, meta, compressed=False, sealed=True):
    """Write a state as sweep does, sealed as this user's sweeps seal it (a forger with the key, or a state
    saved wrong: what the checks after the seal are for); else with the seal it had."""
    text = json.dumps(meta)
    if sealed:
        arrays = {**arrays, "seal": np.array(seal(SEAL_KIND, text, {k: v for k, v in arrays.items() if k != "seal"}))}
    (np.savez_compressed if compressed else np.savez)(path, meta=np.array(text), **arrays)


def with_header_claiming(path, member, shape):
    """Replace ``member`` of the archive at ``path`` with a header claiming ``shape`` (float32) and no data."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    members[f"{member}.npy"] = header.getvalue() + b"\0" * 16
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_paused_states_that_are_not_their_trials_own_are_set_aside_and_their_trials_train_from_the_start(tmp_path):
    """A run killed with every trial paused at the first milestone, its states forged in every way
    the issue lists: each forged state is a warning naming its file, its trial trains from the start,
    and the run ends with the numbers of the uninterrupted sweep; the one genuine state is continued."""
    write_experiment(tmp_path / "exp.yaml", **HYPERBAND)
    whole = sweep_cli("run", "exp.yaml", "--out", "whole", "--quiet", "--no-plots", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    run = tmp_path / "part"
    shutil.copytree(tmp_path / "whole", run, ignore=shutil.ignore_patterns("best", "candidates"))
    for name in ("trials.csv", "history.csv"):  # nothing recorded yet
        (run / name).write_text((run / name).read_text().splitlines(keepends=True)[0])
    trials = plan_trials(parse_experiment(HYPERBAND))
    small = [t for t in trials if t.params["hidden_size"] == 16]
    large = [t for t in trials if t.params["hidden_size"] == 32]
    genuine = small[6]
    data = load_dataset("digits")
    for trial in trials:  # the state each trial is paused in at milestone 1
        save_state(run, trial, build_and_train(trial.params, trial.seed, data, 4, pause_at=1)[1].checkpoint)
    path = {t.trial_id: state_path(run, t.trial_id) for t in trials}
    forged = {}

    def forge(trial, why, change=None, compressed=False, source=None, sealed=True):
        arrays, meta = state_arrays(path[(source or trial).trial_id])
        if change:
            change(arrays, meta)
        write_state(path[trial.trial_id], arrays, meta, compressed, sealed)
        forged[trial.trial_id] = why

    forge(small[0], "does not carry the seal of this user's sweeps", sealed=False,  # a plausible edit without the key
          change=lambda a, m: m["records"][0].__setitem__("val_acc", 0.999))
    forge(small[1], "it is the state of trial", source=small[2])  # swapped with another trial of its shape
    forge(small[2], "its weights score validation loss",
          lambda a, m: a.__setitem__("param/W2", a["param/W2"] * 3))
    forge(small[3], "has shape (64, 32)", source=large[0])  # a hidden-32 state under a hidden-16 trial
    forge(small[4], "holds NaN or inf", lambda a, m: a["param/W1"].__setitem__((0, 0), np.nan))
    forge(small[5], "has val_acc 1e+308", lambda a, m: m["records"][0].__setitem__("val_acc", 1e308))
    forge(large[1], "dtype int64", lambda a, m: a.__setitem__("param/W1", a["param/W1"].astype(np.int64)))
    forge(large[2], "generator state", lambda a, m: m.__setitem__("rng_state", {"bit_generator": "PCG64"}))
    forge(large[3], "records are not a list of 1 epochs", lambda a, m: m.__setitem__("records", []))
    forge(large[4], "records are not a list of 1 epochs", lambda a, m: m.__setitem__("records", "abc"))
    forge(large[5], "is compressed",  # 64 MB of zeros in a file of a few hundred kB
          lambda a, m: a.__setitem__("param/W1", np.zeros((64, 32 * 8192), np.float32)), compressed=True)
    forge(large[6], "update rule's settings", lambda a, m: m.__setitem__("configs", {}))
    forge(large[0], "has shape (80000000000,)")
    with_header_claiming(path[large[0].trial_id], "param/W1", (80_000_000_000,))  # 320 GB in a few kB

    resumed = sweep_cli("run", "exp.yaml", "--resume", "part", "--no-plots", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    warnings = [line for line in resumed.stderr.splitlines() if "not continued from" in line]
    assert len(warnings) == len(forged), resumed.stderr
    for trial_id, why in forged.items():
        [line] = [w for w in warnings if f"paused/{trial_id}.npz" in w]
        assert why in line and f"trial {trial_id} trains from the start" in line, line
        assert (run / "paused" / f"{trial_id}.npz.rejected").is_file()
    assert genuine.trial_id not in "".join(warnings)  # the genuine state is continued

    def numbers(folder):
        frame = pd.read_csv(folder / "trials.csv").sort_values("trial_id").reset_index(drop=True)
        return frame[["trial_id", "status", "val_acc", "val_loss", "train_loss", "best_epoch", "error"]]

    pd.testing.assert_frame_equal(numbers(run), numbers(tmp_path / "whole"))
    history = [pd.read_csv(f / "history.csv").drop(columns="seconds").sort_values(["trial_id", "epoch"])
               .reset_index(drop=True) for f in (run, tmp_path / "whole")]
    pd.testing.assert_frame_equal(*history)


# ------------------------------------------------------------------------------------------ kept weights
def best_trial_weights(run):
    """The best trial's id, summary and its genuine weights (trained again from its seed)."""
    summary = json.loads((run / "best" / "summary.json").read_text())
    net, _ = build_and_train(summary["params"], summary["seed"], load_dataset("digits"), summary["epochs_trained"])
    return summary, net.params


def unsealed(path, trial_id, epoch, weights):
    """A candidate file as sweep writes one, but with a seal made without the key."""
    np.savez(path, epoch=np.array(epoch, dtype=np.int64), seal=np.array("0" * 64),
             **{f"param/{name}": value for name, value in weights.items()})


def flipped(path, trial_id, epoch, weights):
    """A genuine candidate with one byte of its W1 data flipped (a damaged disk)."""
    save_candidate(path.parent.parent, trial_id, epoch, weights)
    data = bytearray(path.read_bytes())
    at = data.index(b"W1.npy") + 200  # inside W1's data, past its local header and .npy header
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("write, said", [
    (lambda p, t, e, w: save_candidate(p.parent.parent, t, e, {**w, "W2": w["W2"] * 3}),
     "its weights score validation loss"),  # sealed by the run, yet not the trial's weights
    (lambda p, t, e, w: save_candidate(p.parent.parent, t, e, {**w, "b1": np.full_like(w["b1"], np.nan)}),
     "holds NaN or inf"),
    (lambda p, t, e, w: save_candidate(p.parent.parent, t, e, {**w, "W1": w["W1"].astype(np.float64)}),
     "dtype float64"),
    (unsealed, "does not carry the seal of this user's sweeps"),
    (flipped, "it cannot be read (Bad CRC-32"),
])
def test_kept_weights_that_are_not_the_trials_are_retrained_before_they_become_the_best_model(
        workdir, monkeypatch, capsys, write, said):
    run = workdir / "run"
    summary, weights = best_trial_weights(run)
    shutil.rmtree(run / "best")  # every trial recorded, the best model still to save from its candidate
    (run / "candidates").mkdir(exist_ok=True)
    write(run / "candidates" / f"{summary['trial_id']}.npz", summary["trial_id"], summary["epochs_trained"], weights)
    resumed = in_process(monkeypatch, capsys, workdir, "run", "exp.yaml", "--resume", "run", "--no-plots")
    assert resumed.returncode == 0, resumed.stderr
    [warning] = [line for line in resumed.stderr.splitlines() if "not used as the model of trial" in line]
    assert f"candidates/{summary['trial_id']}.npz" in warning and said in warning and "retrained" in warning
    now = json.loads((run / "best" / "summary.json").read_text())
    assert now["model_from"] == "retrain" and now["reproduced"] is True
    assert now["test_acc"] == summary["test_acc"] and now["val_acc"] == summary["val_acc"]


def test_a_genuine_kept_candidate_becomes_the_best_model_without_a_retrain(workdir, monkeypatch, capsys):
    run = workdir / "run"
    summary, weights = best_trial_weights(run)
    shutil.rmtree(run / "best")
    save_candidate(run, summary["trial_id"], summary["epochs_trained"], weights)
    resumed = in_process(monkeypatch, capsys, workdir, "run", "exp.yaml", "--resume", "run", "--no-plots")
    assert resumed.returncode == 0 and "warning" not in resumed.stderr, resumed.stderr
    now = json.loads((run / "best" / "summary.json").read_text())
    assert now["model_from"] == "trial" and now["test_acc"] == summary["test_acc"]


def test_a_replaced_best_model_is_not_served_and_check_best_saves_it_again(workdir, monkeypatch, capsys):
    run = workdir / "run"
    model = run / "best" / "model.npz"
    original = sweep.load_run(run).best_model().net
    other = original.__class__(original.input_dim, original.hidden_dim, original.num_classes, seed=7)
    other.save(model)
    with pytest.raises(SweepError, match="best/model.npz: it is not the model this run saved"):
        sweep.load_run(run).best_model()
    report = in_process(monkeypatch, capsys, workdir, "report", "run")
    assert report.returncode == 0 and "is not the model this run saved" in (run / "report.html").read_text()
    again = in_process(monkeypatch, capsys, workdir, "run", "exp.yaml", "--resume", "run", "--check-best",
                       "--no-plots")
    assert again.returncode == 0, again.stderr
    assert "best/model.npz: not used as the model of trial" in again.stderr
    served = sweep.load_run(run).best_model()
    for name, value in original.params.items():
        np.testing.assert_array_equal(served.params[name], value)


# ------------------------------------------------------------------------------------------ review findings
def test_a_resume_does_not_append_through_hard_links_to_a_snapshot(workdir, monkeypatch, capsys):
    run = workdir / "run"
    half_done(run)
    snap = workdir / "snap"
    shutil.copytree(run, snap, copy_function=lambda src, dst: __import__("os").link(src, dst))  # cp -al
    before = snapshot(snap)
    resumed = in_process(monkeypatch, capsys, workdir, "run", "exp.yaml", "--resume", "run", "--quiet", "--no-plots")
    assert resumed.returncode == 0, resumed.stderr
    assert len(pd.read_csv(run / "trials.csv")) == 12 and snapshot(snap) == before


def test_files_in_candidates_that_are_not_the_runs_survive_its_end(workdir, monkeypatch, capsys):
    run = workdir / "run"
    half_done(run)
    (run / "candidates").mkdir()
    for name in ("0123456789ab.npz", ".0123456789ab.npz.tmp", "notes.txt"):
        (run / "candidates" / name).write_text("the user's")
    resumed = in_process(monkeypatch, capsys, workdir, "run", "exp.yaml", "--resume", "run", "--quiet", "--no-plots")
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(p.name for p in (run / "candidates").iterdir()) == [".0123456789ab.npz.tmp", "0123456789ab.npz",
                                                                      "notes.txt"]


def test_a_best_folder_that_is_not_this_runs_is_left_out_and_saved_again(workdir, tmp_path_factory, monkeypatch,
                                                                          capsys):
    other = tmp_path_factory.mktemp("other")
    write_experiment(other / "exp.yaml", **{**GRID, "seed": 1})
    made = sweep_cli("run", "exp.yaml", "--out", "run", "--quiet", "--no-plots", cwd=other)
    assert made.returncode == 0, made.stderr
    run = workdir / "run"
    mine = json.loads((run / "best" / "summary.json").read_text())
    shutil.rmtree(run / "best")
    shutil.copytree(other / "run" / "best", run / "best")  # another run's best model, copied in
    loaded = sweep.load_run(run)
    assert loaded.best is None and any("not a finished trial of this run" in note for note in loaded.notes)
    resumed = in_process(monkeypatch, capsys, workdir, "run", "exp.yaml", "--resume", "run", "--no-plots")
    assert resumed.returncode == 0, resumed.stderr
    assert "not a scored trial of this run; the best model is saved again" in resumed.stderr
    again = json.loads((run / "best" / "summary.json").read_text())
    assert again["trial_id"] == mine["trial_id"] and again["test_acc"] == mine["test_acc"]


def test_a_plots_folder_replaced_by_a_link_while_drawing_is_not_written_through(workdir):
    from sweep.results.owned import OwnedFiles

    run = workdir / "run"
    mine = user_folder(workdir / "mine")
    before = snapshot(mine)
    with OwnedFiles(run) as owned:
        shutil.rmtree(run / "plots")  # between two figures
        (run / "plots").symlink_to(mine)
        with pytest.raises(SweepError, match="plots is a symbolic link"):
            owned.write("plots/heatmap.png", lambda tmp: tmp.write_bytes(b"png"))
    assert snapshot(mine) == before


def test_a_resume_by_an_earlier_version_holding_the_lock_file_keeps_this_one_out(tmp_path):
    """An earlier version locks only .lock: while it resumes a run, this version must not start beside it."""
    import fcntl
    import os

    experiment = parse_experiment({**GRID, "name": "lock"})
    trials = plan_trials(experiment)
    RunStore.create(tmp_path / "run", experiment, trials).close()
    fd = os.open(tmp_path / "run" / ".lock", os.O_RDWR | os.O_CREAT, 0o644)  # as the earlier version does
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SweepError, match="in use by another running sweep"):
            RunStore.open(tmp_path / "run", experiment, trials)
    finally:
        os.close(fd)
    RunStore.open(tmp_path / "run", experiment, trials).close()

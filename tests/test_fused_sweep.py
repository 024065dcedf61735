"""Sweeps with ``fuse: K``: training runs grouped by the plan and trained in one pass (sweep.plan.fuse_tasks,
sweep.task.run_group), with real loky workers and the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import sweep_cli, write_experiment

from sweep.config import parse_experiment
from sweep.data import load_dataset
from sweep.errors import ConfigError
from sweep.plan import FUSED_UNITS_CAP, batch_seed, fuse_tasks, group_tasks
from sweep.runner import run_sweep
from sweep.strategies import make_strategy
from sweep.task import build_and_train

#: 6 training runs (12 trials): lr 1e6 diverges in the first epoch; 4 runs a group, so 2 groups.
FUSED = {
    "name": "fused",
    "dataset": "digits",
    "method": "grid",
    "parameters": {"hidden_size": {"values": [16, 32]}, "learning_rate": {"values": [0.1, 0.02, 1.0e6]},
                   "epochs": {"values": [2, 3]}},
    "fixed": {"optimizer": "sgd_momentum", "batch_size": 64, "init": "he", "reg": 1e-3},
    "fuse": 4,
    "n_jobs": 2,
}
NUMBERS = ["trial_id", "status", "epochs_trained", "train_loss", "train_acc", "val_loss", "val_acc", "best_val_acc",
           "best_epoch"]
HISTORY = ["trial_id", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr"]


def tasks(doc: dict):
    experiment = parse_experiment(doc)
    return fuse_tasks(group_tasks(make_strategy(experiment).plan()), experiment.fuse, experiment.seed)


def trials_of(run_dir):
    frame = pd.read_csv(run_dir / "trials.csv")
    return frame[[c for c in NUMBERS if c in frame]].sort_values("trial_id").reset_index(drop=True)


def history_of(run_dir):
    return pd.read_csv(run_dir / "history.csv")[HISTORY].sort_values(["trial_id", "epoch"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------- the plan
def test_runs_are_grouped_in_plan_order_up_to_k_runs_and_the_unit_cap_each_on_its_repeat_s_minibatches():
    doc = {**FUSED, "repeats": 2,
           "parameters": {"hidden_size": {"values": [16, 32, 200]}, "learning_rate": {"values": [0.1, 0.02]},
                          "optimizer": {"values": ["sgd_momentum", "adam"]}},
           "fixed": {"batch_size": 64, "epochs": 2}}
    fused = tasks(doc)
    runs = group_tasks(make_strategy(parse_experiment(doc)).plan())
    assert sorted(t.trial_id for task in fused for t in task.trials) == sorted(t.trial_id for t in runs
                                                                               for t in t.trials)
    for task in fused:
        members = task.members or (task,)
        assert len(members) <= 4 and (len(members) == 1 or sum(m.params["hidden_size"] for m in members)
                                      <= FUSED_UNITS_CAP)
        assert {(m.trials[0].repeat, m.params["optimizer"]) for m in members} == {(members[0].trials[0].repeat,
                                                                                   members[0].params["optimizer"])}
        assert task.batch_seed == batch_seed(0, members[0].trials[0].repeat)
        assert all(m.batch_seed == task.batch_seed for m in members)
        if members[0].params["optimizer"] == "adam":  # no fused form: trained alone, on the same minibatches
            assert not task.members
    groups = [[m.params["hidden_size"] for m in task.members] for task in fused if task.members]
    assert groups and all(len(g) >= 2 for g in groups)
    assert any(len(g) == 4 for g in groups) and [200, 200] in groups
    assert fused == tasks(doc), "groups depend on the plan only"
    first = [min(t.index for t in task.trials) for task in fused]
    assert first == sorted(first), "a group stands where its first run was planned"


@pytest.mark.parametrize("change, said", [
    ({"early_terminate": {"type": "hyperband", "min_iter": 1}}, "cannot be combined with early_terminate"),
    ({"method": "random"}, "cannot be combined with an open-ended random search"),
    ({"method": "bayes", "run_cap": 4}, "cannot be combined with method bayes"),
    ({"fuse": 0}, "fuse (training runs trained together in one pass) must be a whole number >= 1"),
    ({"fuse": "8"}, "must be a whole number >= 1"),
])
def test_what_cannot_be_fused_is_refused_in_the_experiment(change, said):
    doc = {**FUSED, "parameters": {"hidden_size": {"values": [16, 32]},
                                   "learning_rate": {"min": 0.01, "max": 0.1}}, "fixed": {"epochs": 3}, **change}
    if doc["method"] == "grid":
        doc["parameters"] = {"hidden_size": {"values": [16, 32]}}
    with pytest.raises(ConfigError, match=r"fuse: .*" + said.replace("(", r"\(").replace(")", r"\)")):
        parse_experiment(doc)


def test_fuse_1_is_the_sweep_as_before():
    doc = {**FUSED, "fuse": 1}
    assert tasks(doc) == group_tasks(make_strategy(parse_experiment(doc)).plan())
    assert "fuse" not in parse_experiment(doc).to_dict() and parse_experiment(FUSED).to_dict()["fuse"] == 4


# --------------------------------------------------------------------------------------------- sweeps
@pytest.fixture(scope="module")
def fused_runs(tmp_path_factory):
    """The FUSED sweep run with one and with two loky workers, the second with --check-best."""
    root = tmp_path_factory.mktemp("fused")
    experiment = parse_experiment(FUSED)
    one = run_sweep(experiment, run_dir=root / "one", n_jobs=1, quiet=True)
    two = run_sweep(experiment, run_dir=root / "two", n_jobs=2, quiet=True, check_best=True)
    return one.run_dir, two.run_dir


def test_a_fused_sweep_gives_the_same_numbers_for_one_and_two_workers(fused_runs):
    one, two = fused_runs
    pd.testing.assert_frame_equal(trials_of(one), trials_of(two))
    pd.testing.assert_frame_equal(history_of(one), history_of(two))
    trials = pd.read_csv(one / "trials.csv")
    assert len(trials) == 12
    assert set(trials.loc[trials["learning_rate"] == 1.0e6, "status"]) == {"diverged"}, "a diverging run leaves its group"
    assert set(trials.loc[trials["learning_rate"] < 1, "status"]) == {"ok"} and trials["val_acc"].max() > 0.8


def test_the_best_model_is_the_one_its_trial_trained_and_a_retrain_of_its_group_gives_it_bitwise(fused_runs):
    one, two = fused_runs
    summaries = [json.loads((run / "best" / "summary.json").read_text()) for run in (one, two)]
    assert summaries[0]["trial_id"] == summaries[1]["trial_id"]
    assert summaries[0]["model_from"] == summaries[1]["model_from"] == "trial"
    assert summaries[1]["reproduced"] is True and summaries[1]["retrain_seconds"] is not None
    with np.load(one / "best" / "model.npz") as a, np.load(two / "best" / "model.npz") as b:
        for name in ("W1", "b1", "W2", "b2"):
            np.testing.assert_array_equal(a[name], b[name])


def test_each_fused_trial_agrees_with_its_run_trained_alone_on_the_same_minibatches(fused_runs):
    one, _ = fused_runs
    data = load_dataset("digits")
    history = history_of(one)
    trials = pd.read_csv(one / "trials.csv")
    for row in trials[(trials["status"] == "ok") & (trials["epochs"] == 3)].itertuples():
        params = {k: getattr(row, k) for k in ("hidden_size", "learning_rate", "reg", "batch_size", "lr_decay",
                                               "optimizer", "momentum", "weight_scale", "init", "activation",
                                               "loss", "dtype", "dropout", "input_dropout")}
        _, alone = build_and_train(params, int(row.seed), data, 3, batch_seed=batch_seed(0, int(row.repeat)))
        fused = history[history["trial_id"] == row.trial_id]
        # Not bitwise: OpenBLAS blocks the group's wider products differently (see sweep.fused).
        np.testing.assert_allclose(fused["val_loss"], [r["val_loss"] for r in alone], rtol=1e-5)
        np.testing.assert_allclose(fused["train_loss"], [r["train_loss"] for r in alone], rtol=1e-5)


def test_a_fused_sweep_cut_short_resumes_to_the_numbers_of_the_whole_sweep(fused_runs, tmp_path):
    """The state a kill leaves (trials.csv and history.csv hold the trials finished so far, no best
    model): the resume trains the groups with unrecorded trials whole and records only those."""
    whole, _ = fused_runs
    part = tmp_path / "part"
    shutil.copytree(whole, part)
    shutil.rmtree(part / "best")
    lines = (part / "trials.csv").read_text().splitlines(keepends=True)
    kept = lines[:6]  # header and 5 trials
    (part / "trials.csv").write_text("".join(kept))
    ids = {line.split(",")[0] for line in kept[1:]}
    history = (part / "history.csv").read_text().splitlines(keepends=True)
    (part / "history.csv").write_text("".join([history[0]] + [h for h in history[1:] if h.split(",")[0] in ids]))
    write_experiment(tmp_path / "exp.yaml", **FUSED)
    listed = sweep_cli("list", "exp.yaml", cwd=tmp_path)
    assert "fuse 4: 6 of the 6 training runs train in 2 fused group(s) of 4/2 runs; 0 train alone" in listed.stdout

    resumed = sweep_cli("run", "exp.yaml", "--resume", "part", "--no-plots", "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    pd.testing.assert_frame_equal(trials_of(part), trials_of(whole))
    pd.testing.assert_frame_equal(history_of(part), history_of(whole))
    assert json.loads((part / "best" / "summary.json").read_text())["trial_id"] == \
        json.loads((whole / "best" / "summary.json").read_text())["trial_id"]

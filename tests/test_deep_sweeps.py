"""Built-in nets of any depth in a sweep (issue 23 item 7): ``hidden_size`` as a list of widths, or a
number with ``num_layers``, as the NumPy-MLP sweep files of course work write them; layer
normalization; the nadam rule."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from conftest import GRID, sweep_cli, write_experiment
from test_hostile import half_done, in_process

import sweep
from sweep.config import parse_experiment
from sweep.data import load_dataset
from sweep.nn import FullyConnectedNet, TwoLayerNet
from sweep.strategies import plan_trials
from sweep.task import build_and_train, build_net

#: A W&B sweep file of NumPy-MLP course work, its parameters renamed to ours.
DEPTHS = {"name": "depths", "dataset": "digits", "method": "grid",
          "parameters": {"hidden_size": {"values": [[64, 32], [48, 48, 32], 32]},
                         "optimizer": {"values": ["adam", "nadam"]}},
          "fixed": {"epochs": 3, "init": "he", "learning_rate": 0.003, "batch_size": 64, "dropout": 0.1}, "n_jobs": 2}
NUMBERS = ["trial_id", "status", "train_loss", "train_acc", "val_loss", "val_acc", "best_epoch"]


def numbers(run):
    return pd.read_csv(run / "trials.csv").sort_values("trial_id").reset_index(drop=True)[NUMBERS]


def test_lists_of_widths_sweep_with_the_same_numbers_for_one_and_two_workers(tmp_path):
    write_experiment(tmp_path / "exp.yaml", **DEPTHS)
    for out, jobs in (("two", "2"), ("one", "1")):
        result = sweep_cli("run", "exp.yaml", "--out", out, "--n-jobs", jobs, "--no-plots", "--quiet", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    pd.testing.assert_frame_equal(numbers(tmp_path / "two"), numbers(tmp_path / "one"))
    trials = pd.read_csv(tmp_path / "two" / "trials.csv")
    assert set(trials["hidden_size"]) == {"[64, 32]", "[48, 48, 32]", "32"} and (trials["status"] == "ok").all()
    assert trials["val_acc"].max() > 0.9
    run = sweep.load_run(tmp_path / "two")
    model = run.best_model()
    raw = load_dataset("digits", scale=False)  # raw inputs: the model applies the run's scaling itself
    assert model.accuracy(raw.X_test, raw.y_test) == run.best["test_acc"]


def test_num_layers_gives_that_many_layers_of_the_width_and_one_layer_stays_the_two_layer_net():
    data = load_dataset("digits")
    doc = {"name": "n", "dataset": "digits", "method": "grid", "parameters": {"num_layers": {"values": [1, 3]}},
           "fixed": {"hidden_size": 16, "normalization": "none"}}
    one, three = plan_trials(parse_experiment(doc))
    assert type(build_net(one.params, one.seed, data)) is TwoLayerNet  # the fused path needs it
    deep = build_net(three.params, three.seed, data)
    assert isinstance(deep, FullyConnectedNet) and deep.hidden_dims == [16, 16, 16]
    listed = {**one.params, "hidden_size": [16], "normalization": "layernorm"}
    assert isinstance(build_net(listed, one.seed, data), FullyConnectedNet)
    with pytest.raises(ValueError, match=r"num_layers 3 with hidden_size \[16, 8\]"):
        build_net({**three.params, "hidden_size": [16, 8]}, three.seed, data)


def test_a_paused_deep_net_continues_bitwise_under_hyperband(tmp_path):
    doc = {"name": "deep-hb", "dataset": "digits", "method": "grid",
           "parameters": {"learning_rate": {"values": [0.003, 0.001, 0.0003]}},
           "fixed": {"epochs": 4, "hidden_size": [32, 32], "normalization": "layernorm", "dropout": 0.2,
                     "optimizer": "nadam", "init": "he", "batch_size": 64},
           "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2}, "n_jobs": 2}
    write_experiment(tmp_path / "exp.yaml", **doc)
    result = sweep_cli("run", "exp.yaml", "--out", "run", "--no-plots", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    history = pd.read_csv(tmp_path / "run" / "history.csv").drop(columns="seconds")
    data = load_dataset("digits")
    continued = 0
    for trial in plan_trials(parse_experiment(doc)):
        rows = history[history["trial_id"] == trial.trial_id].sort_values("epoch").reset_index(drop=True)
        if len(rows) <= 1:
            continue
        continued += 1
        _, whole = build_and_train(trial.params, trial.seed, data, len(rows))
        expected = pd.DataFrame(whole.records).drop(columns="seconds")
        pd.testing.assert_frame_equal(rows.drop(columns="trial_id"), expected, check_dtype=False)
    assert continued >= 1


def test_a_run_folder_from_before_the_deep_nets_resumes_with_the_same_trial_ids(finished, tmp_path, monkeypatch,
                                                                                 capsys):
    """A run folder whose plan.csv and trials.csv have no num_layers and normalization columns (an
    earlier version's): its trials keep their ids, and it resumes."""
    write_experiment(tmp_path / "exp.yaml", **GRID)
    shutil.copytree(finished, tmp_path / "run")
    kept = half_done(tmp_path / "run")
    for name in ("plan.csv", "trials.csv"):
        frame = pd.read_csv(tmp_path / "run" / name, dtype=str, keep_default_na=False)
        frame.drop(columns=["num_layers", "normalization"]).to_csv(tmp_path / "run" / name, index=False)
    resumed = in_process(monkeypatch, capsys, tmp_path, "run", "exp.yaml", "--resume", "run", "--no-plots")
    assert resumed.returncode == 0, resumed.stderr
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert len(trials) == 12 and set(kept["trial_id"]) <= set(trials["trial_id"])
    assert set(trials["num_layers"]) == {1} and set(trials["normalization"]) == {"none"}


def test_the_built_in_net_takes_exactly_the_built_in_hyperparameters_the_trainer_does_not():
    """Its constructor and the table agree on names and defaults: a hyperparameter added to one and not
    the other fails here."""
    from sweep.models import model_hyperparameters
    from sweep.nn.builtin import builtin_net
    from sweep.params import BUILTIN, TRAINER_NAMES

    taken = model_hyperparameters(builtin_net)
    assert set(taken) == set(BUILTIN) - set(TRAINER_NAMES)
    assert all(taken[name].default == BUILTIN[name].default for name in taken)

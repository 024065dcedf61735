"""The runner on real worker processes: results on disk, reproducibility, failures, crashes, backends."""

import json
import math

import faults
import numpy as np
import pandas as pd
import pytest

from sweep.config import parse_experiment
from sweep.results.files import HISTORY_COLUMNS, TRIAL_COLUMNS
from sweep.runner import run_sweep
from sweep.strategies import plan_trials
from sweep.task import run_task

METRICS = ["train_loss", "train_acc", "val_loss", "val_acc", "best_val_acc", "best_epoch"]


def run(doc, tmp_path, name="run", **kwargs):
    return run_sweep(parse_experiment(doc), run_dir=tmp_path / name, quiet=True, **kwargs)


def read(outcome):
    return (pd.read_csv(outcome.run_dir / "trials.csv"), pd.read_csv(outcome.run_dir / "history.csv"))


def by_trial(frame):
    return frame.sort_values("trial_id").reset_index(drop=True)


def test_end_to_end_on_two_worker_processes(small_grid, tmp_path):
    outcome = run(small_grid, tmp_path, n_jobs=2)
    trials, history = read(outcome)
    assert outcome.total == 12 and outcome.counts == {"ok": 12} and outcome.all_ran
    assert tuple(trials.columns) == TRIAL_COLUMNS and tuple(history.columns) == HISTORY_COLUMNS
    assert sorted(trials["trial_id"]) == sorted(t.trial_id for t in plan_trials(parse_experiment(small_grid)))
    assert (trials["status"] == "ok").all() and trials["error"].isna().all()
    assert len(history) == trials["epochs"].sum()
    assert history.groupby("trial_id")["epoch"].max().to_dict() == dict(zip(trials["trial_id"], trials["epochs"]))
    assert trials["val_acc"].max() > 0.9
    summary = json.loads((outcome.run_dir / "best" / "summary.json").read_text())
    best = trials.sort_values(["val_acc", "val_loss"], ascending=[False, True]).iloc[0]  # ties: lower loss
    assert summary["trial_id"] == best["trial_id"] and summary["metric"]["value"] == best["val_acc"]
    assert summary["model_from"] == "trial" and 0.85 < summary["test_acc"] <= 1.0
    assert not (outcome.run_dir / "candidates").exists()
    assert summary["test_rows"] == 360 and (outcome.run_dir / "best" / "model.npz").is_file()
    document = (outcome.run_dir / "experiment.yaml").read_text()
    assert "provenance:" in document and "numpy:" in document and "command:" in document


def test_identical_metrics_for_one_and_two_workers(small_grid, tmp_path):
    one, _ = read(run(small_grid, tmp_path, "one", n_jobs=1))
    two, _ = read(run(small_grid, tmp_path, "two", n_jobs=2))
    pd.testing.assert_frame_equal(by_trial(one)[["trial_id", "seed"] + METRICS],
                                  by_trial(two)[["trial_id", "seed"] + METRICS])


def test_each_epochs_value_is_scored_exactly_from_the_longest_run(small_grid, tmp_path):
    grouped, grouped_history = read(run(small_grid, tmp_path, "grouped", n_jobs=2))
    alone_doc = {**small_grid, "parameters": {**small_grid["parameters"], "epochs": {"values": [3]}}}
    alone, alone_history = read(run(alone_doc, tmp_path, "alone", n_jobs=2))
    same = grouped[grouped["trial_id"].isin(alone["trial_id"])]
    assert len(same) == len(alone) == 4  # same ids: the seed does not depend on epochs
    pd.testing.assert_frame_equal(by_trial(same)[["trial_id"] + METRICS], by_trial(alone)[["trial_id"] + METRICS])
    cols = ["trial_id", "epoch", "val_loss", "val_acc", "lr"]
    pd.testing.assert_frame_equal(
        grouped_history[grouped_history["trial_id"].isin(alone["trial_id"])][cols].sort_values(cols[:2]).reset_index(drop=True),
        alone_history[cols].sort_values(cols[:2]).reset_index(drop=True))


def test_a_trial_that_raises_is_recorded_and_the_sweep_goes_on(small_grid, tmp_path):
    doc = {**small_grid, "parameters": {**small_grid["parameters"],
                                         "hidden_size": {"values": [16, faults.RAISE_HIDDEN_SIZE]}}}
    outcome = run(doc, tmp_path, n_jobs=2, task_fn=faults.raise_in_task)
    trials, _ = read(outcome)
    failed = trials[trials["status"] == "failed"]
    assert len(trials) == 12 and len(failed) == 6 and (failed["hidden_size"] == 17).all()
    assert failed["error"].str.contains("RuntimeError: injected failure").all()
    assert (trials[trials["hidden_size"] == 16]["status"] == "ok").all()
    assert not outcome.all_ran and outcome.counts == {"ok": 6, "failed": 6}
    tb = (outcome.run_dir / "errors" / f"{failed['trial_id'].iloc[0]}.txt").read_text()
    assert "Traceback" in tb and "injected failure" in tb
    assert json.loads((outcome.run_dir / "best" / "summary.json").read_text())["params"]["hidden_size"] == 16


def test_resume_with_retry_failed_runs_only_the_failed_trials_again(small_grid, tmp_path):
    doc = {**small_grid, "parameters": {"hidden_size": {"values": [16, faults.RAISE_HIDDEN_SIZE]},
                                         "epochs": {"values": [1, 2]}}}
    first = run(doc, tmp_path, n_jobs=2, task_fn=faults.raise_in_task)
    before, _ = read(first)
    assert first.counts == {"ok": 2, "failed": 2}
    plain = run_sweep(parse_experiment(doc), run_dir=first.run_dir, resume=True, quiet=True)
    assert plain.ran == 0 and plain.counts == {"ok": 2, "failed": 2}  # resume alone keeps recorded failures
    again = run_sweep(parse_experiment(doc), run_dir=first.run_dir, resume=True, retry_failed=True, quiet=True)
    trials, history = read(again)
    assert again.ran == 2 and again.counts == {"ok": 4} and trials["trial_id"].is_unique
    pd.testing.assert_frame_equal(trials.head(2), before[before["status"] == "ok"].reset_index(drop=True),
                                  check_dtype=False)  # earlier NaNs of failed rows made some columns float
    assert len(history) == 1 + 2 + 1 + 2  # epochs of the four trials, each once
    assert not list((first.run_dir / "errors").glob("*.txt"))


def test_an_error_inside_training_fails_only_that_trial(small_grid, tmp_path):
    doc = {**small_grid, "parameters": {"hidden_size": {"values": [16, faults.RAISE_HIDDEN_SIZE]},
                                         "epochs": {"values": [1, 2]}}}
    outcome = run(doc, tmp_path, n_jobs=2, task_fn=faults.fail_in_training)
    trials, _ = read(outcome)
    failed = trials[trials["status"] == "failed"]
    assert len(failed) == 2 and failed["error"].str.contains("ValueError").all()
    assert all((tmp_path / "run" / "errors" / f"{t}.txt").is_file() for t in failed["trial_id"])
    assert (trials[trials["hidden_size"] == 16]["status"] == "ok").all()


def test_a_trial_too_large_for_memory_is_refused_before_the_run_folder_exists(small_grid, tmp_path):
    from sweep.errors import SweepError

    doc = {**small_grid, "parameters": {"hidden_size": {"values": [16, 10**11]}}}
    with pytest.raises(SweepError, match=r"trial \w+ \(hidden_size 100,000,000,000, batch_size 64, sgd_momentum, "
                                         r"float32\) on 64 inputs and 10 outputs would need 1\.8 PB of memory; this "
                                         r"machine has .* available"):
        run(doc, tmp_path)
    assert not (tmp_path / "run").exists()


def test_a_worker_that_dies_gives_crashed_rows_and_the_sweep_goes_on(small_grid, tmp_path):
    doc = {**small_grid, "parameters": {"hidden_size": {"values": [16, faults.CRASH_HIDDEN_SIZE, 24, 32]},
                                         "learning_rate": {"values": [0.1]}, "epochs": {"values": [1, 2]}}}
    outcome = run(doc, tmp_path, n_jobs=2, task_fn=faults.crash_worker)
    trials, history = read(outcome)
    assert len(trials) == 8 and trials["trial_id"].is_unique
    crashed = trials[trials["status"] == "crashed"]
    assert sorted(crashed["hidden_size"]) == [13, 13]
    assert crashed["error"].str.contains("TerminatedWorkerError|BrokenProcessPool").all()
    assert (trials[trials["hidden_size"] != 13]["status"] == "ok").all()
    assert set(history["trial_id"]) == set(trials[trials["status"] == "ok"]["trial_id"])
    assert outcome.counts == {"ok": 6, "crashed": 2}


def test_the_data_set_reaches_workers_memory_mapped_and_is_loaded_once(tmp_path, monkeypatch):
    import sweep.data

    calls = []
    real = sweep.data.load_dataset
    monkeypatch.setattr(sweep.data, "load_dataset", lambda *a, **k: calls.append(a) or real(*a, **k))
    doc = {"name": "mm", "dataset": {"name": "synthetic", "kind": "blobs", "n_samples": 12000, "n_features": 40},
           "method": "grid", "parameters": {"hidden_size": {"values": [8, 12, 16, 20]}},
           "fixed": {"epochs": 1, "learning_rate": 0.05, "optimizer": "sgd_momentum"}}
    outcome = run(doc, tmp_path, n_jobs=2, task_fn=faults.require_memmap)
    trials, _ = read(outcome)
    assert (trials["status"] == "ok").all(), trials["error"].tolist()
    assert len(calls) == 1


def test_diverged_trials_are_results_ranked_last(small_grid, tmp_path):
    # With reg 1, a step of learning rate 10 multiplies the weights by about -9: they overflow in epoch 1.
    doc = {**small_grid, "parameters": {"learning_rate": {"values": [0.05, 10.0]}, "epochs": {"values": [2]}},
           "fixed": {**small_grid["fixed"], "optimizer": "sgd", "hidden_size": 16, "reg": 1.0}}
    outcome = run(doc, tmp_path, n_jobs=2)
    trials, history = read(outcome)
    diverged = trials[trials["status"] == "diverged"]
    assert len(diverged) == 1 and "diverged in epoch" in diverged["error"].iloc[0]
    assert outcome.all_ran  # diverged is a result, not a failure
    summary = json.loads((outcome.run_dir / "best" / "summary.json").read_text())
    assert summary["params"]["learning_rate"] == 0.05


def test_repeats_and_best_val_acc_metric(small_grid, tmp_path):
    doc = {**small_grid, "repeats": 2, "metric": {"name": "best_val_acc", "goal": "maximize"},
           "parameters": {"hidden_size": {"values": [16, 32]}, "epochs": {"values": [4]}}}
    outcome = run(doc, tmp_path, n_jobs=2)
    trials, _ = read(outcome)
    assert len(trials) == 4 and trials.groupby("hidden_size")["seed"].nunique().tolist() == [2, 2]
    summary = json.loads((outcome.run_dir / "best" / "summary.json").read_text())
    best_row = trials[trials["trial_id"] == summary["trial_id"]].iloc[0]
    assert summary["epochs_trained"] == best_row["best_epoch"] and summary["model_from"] == "trial"
    # The summary describes the saved model (at its best epoch), not the trial's last epoch.
    assert summary["val_acc"] == best_row["best_val_acc"] == summary["metric"]["value"]


def test_regression_sweep_ranks_by_validation_loss(tmp_path):
    doc = {"name": "reg", "dataset": {"name": "synthetic", "kind": "regression", "n_samples": 400, "n_targets": 2},
           "metric": {"name": "val_loss"}, "method": "grid", "parameters": {"learning_rate": {"values": [0.05, 0.005]}},
           "fixed": {"loss": "mse", "epochs": 3, "optimizer": "sgd_momentum", "init": "he", "batch_size": 32}}
    outcome = run(doc, tmp_path, n_jobs=2)
    trials, _ = read(outcome)
    assert (trials["status"] == "ok").all() and trials["val_acc"].isna().all()
    summary = json.loads((outcome.run_dir / "best" / "summary.json").read_text())
    assert summary["metric"]["value"] == trials["val_loss"].min() and summary["test_acc"] is None
    assert math.isfinite(summary["test_loss"])


def test_run_task_turns_exceptions_into_failed_results(small_grid):
    from sweep.data import load_dataset
    from sweep.plan import group_tasks

    task = group_tasks(plan_trials(parse_experiment(small_grid)))[0]
    data = load_dataset("digits")
    data.y_train = data.y_train + 100  # labels out of range for the 10 outputs: training raises
    results = run_task(task, data)
    assert [r.status for r in results] == ["failed"] * len(task.trials)
    assert "IndexError" in results[0].error and "Traceback" in results[0].traceback
    good = run_task(task, load_dataset("digits"))
    assert [r.status for r in good] == ["ok"] * len(task.trials)
    assert np.isfinite(good[0].metrics["val_loss"])


def test_a_worker_dying_while_results_are_being_recorded_is_survived(tmp_path, monkeypatch):
    """The pool can break between a wait and the next submit; that must not end the sweep."""
    import time as time_module

    from sweep.results.store import RunStore

    real_write = RunStore._write
    monkeypatch.setattr(RunStore, "_write", lambda self, *a: (time_module.sleep(0.03), real_write(self, *a))[1])
    doc = {"name": "race", "dataset": "digits", "n_jobs": 2,
           "method": "grid",
           "parameters": {"hidden_size": {"values": [4, 5, 6, 7, 8, 9, 10, 11, 12, faults.SLOW_CRASH_HIDDEN_SIZE,
                                                     14, 15, 16, 18, 19, 20]}},
           "fixed": {"epochs": 1, "batch_size": 256}}
    outcome = run(doc, tmp_path, n_jobs=2, task_fn=faults.crash_worker_slowly)
    trials, _ = read(outcome)
    assert len(trials) == 16 and trials["trial_id"].is_unique
    assert dict(trials.groupby("status").size()) == {"ok": 15, "crashed": 1}
    assert trials[trials["status"] == "crashed"]["hidden_size"].tolist() == [faults.SLOW_CRASH_HIDDEN_SIZE]

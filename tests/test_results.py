"""`sweep.load_run`: a finished run folder read back in a notebook or a script."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest_run import make_run

import sweep


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return sweep.load_run(make_run(tmp_path_factory, "grid"))


def test_load_run_gives_the_trials_the_history_and_the_experiment(run):
    trials = pd.read_csv(run.run_dir / "trials.csv")
    assert len(run.trials) == len(trials) == 36 and run.trials["trial_id"].tolist() == trials["trial_id"].tolist()
    assert run.trials["order"].tolist() == list(range(1, 37))
    assert len(run.history) == len(pd.read_csv(run.run_dir / "history.csv"))
    assert run.experiment["name"] == "grid" and run.metric == "val_acc" and run.maximize
    assert run.params == ["hidden_size", "learning_rate", "reg", "epochs"] and run.notes == []


def test_the_leaderboard_and_the_best_model(run):
    board = run.leaderboard(top=10)
    assert len(board) == 10 and board["rank"].tolist() == list(range(1, 11))
    assert board["val_acc_mean"].is_monotonic_decreasing
    assert len(run.leaderboard()) == 36  # one row per configuration (one seed each)
    summary = json.loads((run.run_dir / "best" / "summary.json").read_text())
    assert run.best == summary and run.best_id == summary["trial_id"]
    model = run.best_model()
    raw = sweep.load_dataset("digits", scale=False)  # the splits of the run, the values its files hold
    predictions = model.predict(raw.X_test)
    assert predictions.shape == (len(raw.X_test),)
    assert run.ranked()["trial_id"].iloc[0] == board["config_id"].map(
        run.trials.set_index("config_id")["trial_id"]).iloc[0]


def test_a_run_without_a_best_model_yet(tmp_path, run):
    import shutil

    shutil.copytree(run.run_dir, tmp_path / "run")
    shutil.rmtree(tmp_path / "run" / "best")
    unfinished = sweep.load_run(tmp_path / "run")
    assert unfinished.best is None and unfinished.best_model() is None
    assert unfinished.best_id == unfinished.ranked()["trial_id"].iloc[0]  # the best so far
    with pytest.raises(sweep.errors.SweepError, match="is not a run folder"):
        sweep.load_run(tmp_path / "nowhere")


def test_a_run_folder_of_the_previous_layout_still_resumes_and_reports(tmp_path, run):
    """A folder written before this version: no record of drawn files, a trials.csv without the
    worker column, a lock file holding a pid."""
    import shutil

    from sweep.config import parse_experiment
    from sweep.report import write_report
    from sweep.runner import run_sweep
    from conftest_run import GRID

    folder = tmp_path / "old"
    shutil.copytree(run.run_dir, folder)
    (folder / ".drawn.json").unlink(missing_ok=True)
    (folder / ".lock").write_text("12345")
    trials = pd.read_csv(folder / "trials.csv", dtype=str, keep_default_na=False).drop(columns=["worker"])
    trials.head(30).to_csv(folder / "trials.csv", index=False)
    shutil.rmtree(folder / "best")
    outcome = run_sweep(parse_experiment(GRID), run_dir=folder, resume=True, quiet=True)
    assert outcome.ran == 6 and sum(outcome.counts.values()) == 36
    assert write_report(folder).name == "report.html"
    assert sweep.load_run(folder).notes == []

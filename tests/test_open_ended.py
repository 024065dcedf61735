"""Open-ended searches (random without run_cap), --max-trials and the time limit, through the CLI."""

import os
import signal

import pandas as pd
import pytest
from conftest import start, sweep_cli, wait_for_rows, write_experiment

from sweep.config import parse_experiment
from sweep.durations import format_duration, parse_duration
from sweep.strategies import RandomStream, make_strategy, plan_trials

OPEN = dict(name="open", dataset="digits", method="random",
            parameters={"hidden_size": {"values": [8, 16, 32]},
                        "learning_rate": {"distribution": "log_uniform_values", "min": 0.01, "max": 0.3}},
            fixed={"epochs": 2, "optimizer": "sgd_momentum", "init": "he", "batch_size": 64}, n_jobs=2)


@pytest.mark.parametrize("text, seconds", [(90, 90.0), ("45s", 45.0), ("30m", 1800.0), ("1.5h", 5400.0),
                                           (" 2 m ", 120.0), (0.5, 0.5)])
def test_durations_read_as_people_write_them(text, seconds):
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["soon", "", "-5", 0, "1d", True, "5 minutes", "1e9h"])
def test_durations_that_are_not_refused_with_what_is_allowed(text):
    with pytest.raises(ValueError, match="write a number followed by s, m or h"):
        parse_duration(text)


def test_the_stream_is_the_random_search_of_any_run_cap_continued():
    open_ended = parse_experiment({**OPEN, "repeats": 2})
    stream = make_strategy(open_ended)
    assert isinstance(stream, RandomStream) and open_ended.open_ended and stream.total is None
    assert stream.plan() == [] and not stream.finished
    asked = stream.ask() + stream.ask() + stream.ask()
    assert [t.index for t in asked] == list(range(len(asked)))
    for run_cap in (1, 5, 12):
        capped = plan_trials(parse_experiment({**OPEN, "repeats": 2, "run_cap": run_cap}))
        assert [t.trial_id for t in capped] == [t.trial_id for t in asked[:2 * run_cap]]
    assert [t.trial_id for t in stream.preview(7)] == [t.trial_id for t in asked[:7]]


def test_max_trials_ends_an_open_ended_search_and_resume_continues_the_same_stream(tmp_path):
    write_experiment(tmp_path / "open.yaml", **OPEN)
    listed = sweep_cli("list", "open.yaml", cwd=tmp_path)
    assert listed.returncode == 0 and "the first 20 trials of an open-ended random search" in listed.stdout
    first = sweep_cli("run", "open.yaml", "--max-trials", "5", "--no-plots", "--out", "run", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "[5/5] " in first.stderr  # --max-trials gives the search its size
    kept = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert len(kept) == 5 and (tmp_path / "run" / "best" / "model.npz").is_file()
    more = sweep_cli("run", "open.yaml", "--resume", "run", "--max-trials", "11", "--no-plots", cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    plan = pd.read_csv(tmp_path / "run" / "plan.csv")
    expected = [t.trial_id for t in plan_trials(parse_experiment({**OPEN, "run_cap": 11}))]
    assert sorted(trials["trial_id"]) == sorted(expected) and plan["trial_id"].tolist() == expected
    pd.testing.assert_frame_equal(trials.head(5), kept)
    for trial_id in expected:  # listed before it ran, as it then ran
        assert trial_id in listed.stdout


def test_a_resumed_open_ended_search_that_asks_otherwise_is_refused_and_left_as_it_was(tmp_path):
    write_experiment(tmp_path / "open.yaml", **OPEN)
    assert sweep_cli("run", "open.yaml", "--max-trials", "3", "--no-plots", "--out", "run", cwd=tmp_path).returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()}
    write_experiment(tmp_path / "open.yaml", **{**OPEN, "seed": 1})
    again = sweep_cli("run", "open.yaml", "--resume", "run", "--max-trials", "6", "--no-plots", cwd=tmp_path)
    assert again.returncode == 2 and "the experiment no longer matches that run" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file() and p.name in before} == before


def test_ctrl_c_keeps_the_trials_of_an_open_ended_search_and_resume_goes_on(tmp_path):
    write_experiment(tmp_path / "open.yaml", **OPEN)
    proc = start(["run", "open.yaml", "--no-plots", "--out", "run"], tmp_path)
    wait_for_rows(tmp_path / "run" / "trials.csv", 4, proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "trials of an open-ended search are recorded" in stderr and "Traceback" not in stderr
    assert "resume with: sweep run open.yaml --resume run" in stderr
    kept = pd.read_csv(tmp_path / "run" / "trials.csv")
    total = len(kept) + 3
    resumed = sweep_cli("run", "open.yaml", "--resume", "run", "--max-trials", total, "--no-plots", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    expected = [t.trial_id for t in plan_trials(parse_experiment({**OPEN, "run_cap": total}))]
    assert sorted(trials["trial_id"]) == sorted(expected)
    pd.testing.assert_frame_equal(trials.head(len(kept)), kept)


def test_the_time_limit_stops_trials_at_an_epoch_boundary_and_still_picks_the_best_model(tmp_path):
    # Trials of 1,000 epochs outlast a one-second limit on any machine; the first epoch always runs.
    write_experiment(tmp_path / "slow.yaml", **{**OPEN, "name": "slow", "time_limit": "1s",
                                                "fixed": {**OPEN["fixed"], "epochs": 1000}})
    result = sweep_cli("run", "slow.yaml", "--no-plots", "--out", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "time limit 1s" in result.stderr and "time limit reached" in result.stderr
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert set(trials["status"]) == {"stopped"} and 1 <= len(trials) <= 2  # at most the two trials in flight
    for row in trials.itertuples():
        epochs = history.loc[history["trial_id"] == row.trial_id, "epoch"].tolist()
        assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) < 1000
        assert "stopped by the time limit after epoch" in row.error
    best = pd.read_json(tmp_path / "run" / "best" / "summary.json", typ="series")
    trained = (history["trial_id"] == best["trial_id"]).sum()
    assert best["epochs_trained"] == trained and best["model_from"] == "trial"
    flag = sweep_cli("run", "slow.yaml", "--no-plots", "--time-limit", "soon", cwd=tmp_path)
    assert flag.returncode == 2 and "--time-limit 'soon' is not a duration" in flag.stderr

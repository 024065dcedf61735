"""early_terminate: hyperband: W&B's milestones and threshold, decisions in plan order, bitwise
continuation from a paused state, the same trials stopped for any n_jobs, kill -9 + resume mid-bracket."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from conftest import kill_9_once_paused, sweep_cli, write_experiment

from sweep.config import parse_experiment
from sweep.data import load_dataset
from sweep.errors import ConfigError
from sweep.figures.rungs import curves_data
from sweep.results import load_run
from sweep.results.paused import load_state, save_state
from sweep.results.proof import InDoubt
from sweep.runner import run_sweep
from sweep.stopping import Hyperband, MilestoneRule, milestone_value, parse_early_terminate
from sweep.strategies import plan_trials
from sweep.task import build_and_train, build_net

HYPERBAND = {"name": "hb", "dataset": "digits", "method": "grid",
             "parameters": {"hidden_size": {"values": [8, 16, 32]},
                            "learning_rate": {"values": [0.3, 0.1, 0.03, 0.01, 0.003, 0.001]}},
             "fixed": {"epochs": 9, "optimizer": "sgd_momentum", "init": "he", "batch_size": 64},
             "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 3}, "n_jobs": 2}


@pytest.mark.parametrize("spec, epochs, milestones", [
    ({"min_iter": 3}, 100, (3, 9, 27, 81)),  # W&B's documented example
    ({"max_iter": 27, "s": 2}, 27, (3, 9)),  # W&B's documented example: max_iter itself is no milestone
    ({"max_iter": 27, "s": 5}, 27, (1, 3, 9)),  # bands below 1 are dropped
    ({"min_iter": 2, "eta": 2}, 10, (2, 4, 8)),
    ({"max_iter": 10, "s": 2, "eta": 2.5}, 10, (1, 4)),  # truncated to whole epochs
    ({"min_iter": 5}, 5, ()),
])
def test_milestones_are_computed_as_wandb_does(spec, epochs, milestones):
    assert parse_early_terminate({"type": "hyperband", **spec}).milestones(epochs) == milestones


@pytest.mark.parametrize("spec, message", [
    ({"type": "asha", "min_iter": 3}, "type: 'asha' is not allowed; allowed: hyperband"),
    ({"type": "hyperband"}, "hyperband needs min_iter, or max_iter and s"),
    ({"type": "hyperband", "max_iter": 27}, "early_terminate.max_iter: max_iter needs s"),
    ({"type": "hyperband", "min_iter": 0}, "early_terminate.min_iter: 0 is not allowed"),
    ({"type": "hyperband", "min_iter": 3, "eta": 1}, "early_terminate.eta: 1 is not allowed; eta must be a number > 1"),
    ({"type": "hyperband", "min_iter": 3, "strict": "yes"}, "early_terminate.strict: 'yes' is not allowed"),
    ({"type": "hyperband", "min_iter": 3, "brackets": 2}, "early_terminate.brackets: unknown key"),
])
def test_bad_early_terminate_blocks_are_one_line_errors(spec, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_experiment({**HYPERBAND, "early_terminate": spec})


#: HYPERBAND with epochs searched (W&B runs it: each trial's epochs is its own budget).
SEARCHED_EPOCHS = {**HYPERBAND, "parameters": {"hidden_size": {"values": [8, 16]},
                                               "learning_rate": {"values": [0.3, 0.1, 0.01, 0.001]},
                                               "epochs": {"values": [2, 9]}},
                   "fixed": {k: v for k, v in HYPERBAND["fixed"].items() if k != "epochs"}}


def test_searched_epochs_under_hyperband_stop_the_same_trials_for_one_and_two_workers(tmp_path):
    """Milestones 1 and 3 (up to the largest epochs, 9): a 2-epoch trial meets milestone 1 and then simply
    finishes `ok` at 2; a 9-epoch trial is judged at 1 and 3. The same for any n_jobs."""
    experiment = parse_experiment(SEARCHED_EPOCHS)
    one = run_sweep(experiment, run_dir=tmp_path / "one", n_jobs=1, quiet=True)
    two = run_sweep(experiment, run_dir=tmp_path / "two", n_jobs=2, quiet=True)
    trials = [by_trial(pd.read_csv(run.run_dir / "trials.csv")) for run in (one, two)]
    pd.testing.assert_frame_equal(trials[0][COLUMNS], trials[1][COLUMNS])
    frame, history = trials[0], pd.read_csv(one.run_dir / "history.csv")
    trained = history.groupby("trial_id")["epoch"].max()
    assert len(frame) == 16 and set(frame["status"]) == {"ok", "stopped"}
    for row in frame.itertuples():
        if row.status == "stopped":
            assert trained[row.trial_id] in ((1,) if row.epochs == 2 else (1, 3))
            assert str(row.error).startswith(f"stopped by hyperband at epoch {trained[row.trial_id]} of {row.epochs}")
        else:
            assert trained[row.trial_id] == row.epochs  # an ok trial trained its own epochs, 2 or 9
    assert {2, 9} <= set(frame.loc[frame["status"] == "ok", "epochs"])
    assert not (one.run_dir / "paused").exists()


def test_the_rule_on_a_small_known_case():
    # Seven trials at milestone 1, eta 3, lower is better; trial values in plan order:
    values = [5.0, 3.0, 6.0, 1.0, 2.0, 6.0, 2.5]
    rule = MilestoneRule(Hyperband(min_iter=1), (1, 3))
    for index in (0, 1, 2, 3, 4, 5):
        rule.reached(index, 1, values[index])
    # trial i compares with trials 0..i: sorted[int((i + 1) / 3)] is the cut, strictly worse stops.
    assert [rule.decide(i, 1) for i in range(6)] == [True, True, False, True, True, False]
    assert rule.decide(6, 1) is None  # trial 6 has not reached milestone 1
    rule.reached(6, 1, values[6])
    assert rule.threshold(6, 1) == 2.5 and rule.decide(6, 1) is True
    # At milestone 3 trial 3 waits for trial 1, which went on and is still training...
    rule.reached(3, 3, 0.5)
    assert rule.decide(3, 3) is None
    rule.reached(0, 3, 4.0)
    rule.ended(2, 1)  # ... trial 2 was stopped at 1, so it is not waited for
    assert rule.decide(3, 3) is None
    rule.reached(1, 3, 0.7)
    assert rule.decide(3, 3) is True and rule.threshold(3, 3) == 0.7


def test_a_cohort_is_judged_together_so_its_first_trials_can_be_stopped():
    # The same seven values, handed out as one cohort (a grid): nobody is judged before all reached
    # milestone 1, then the cut is sorted(values)[int(7 / 3)] = 2.5 for every one of them.
    values = [5.0, 3.0, 6.0, 1.0, 2.0, 6.0, 2.5]
    rule = MilestoneRule(Hyperband(min_iter=1), (1, 3))
    rule.cohort(list(range(7)))
    for index in range(6):
        rule.reached(index, 1, values[index])
    assert [rule.decide(i, 1) for i in range(7)] == [None] * 7
    rule.reached(6, 1, values[6])
    assert {rule.threshold(i, 1) for i in range(7)} == {2.5}
    assert [rule.decide(i, 1) for i in range(7)] == [False, False, False, True, True, False, True]
    # Two cohorts of three and four: the first is judged among itself (cut sorted([5, 3, 6])[1] = 5),
    # the second among all seven, without waiting for the first cohort's stopped trials at milestone 3.
    rule = MilestoneRule(Hyperband(min_iter=1), (1, 3))
    rule.cohort([0, 1, 2])
    rule.cohort([3, 4, 5, 6])
    for index in range(3):
        rule.reached(index, 1, values[index])
    assert [rule.decide(i, 1) for i in range(3)] == [True, True, False]
    rule.ended(2, 1)
    for index in range(3, 7):
        rule.reached(index, 1, values[index])
    assert rule.threshold(3, 1) == 2.5 and [rule.decide(i, 1) for i in range(3, 7)] == [True, True, False, True]
    rule.ended(5, 1)
    # At milestone 3 the first cohort is judged among itself (trial 2 stopped at 1): cut sorted([4, 2])[0].
    rule.reached(0, 3, 4.0)
    rule.reached(1, 3, 2.0)
    assert [rule.decide(i, 3) for i in (0, 1)] == [False, True]
    # The second waits for all of its members that went on (3, 4 and 6), then cuts among five values.
    rule.reached(4, 3, 1.0)
    rule.reached(6, 3, 0.5)
    assert rule.decide(4, 3) is None and rule.decide(6, 3) is None
    rule.reached(3, 3, 0.7)
    assert rule.threshold(4, 3) == 0.7 and [rule.decide(i, 3) for i in (3, 4, 6)] == [True, False, True]


def test_the_judged_value_follows_goal_strict_and_best_val_acc():
    records = [{"val_acc": a, "val_loss": loss} for a, loss in ((0.5, 1.0), (0.7, 0.8), (0.6, 0.9))]
    assert milestone_value(records, 3, "val_acc", True) == -0.6
    assert milestone_value(records, 3, "val_acc", True, best_so_far=True) == -0.7
    assert milestone_value(records, 3, "best_val_acc", True) == -0.7
    assert milestone_value(records, 2, "val_loss", False) == 0.8


def test_without_strict_the_cut_is_made_of_values_at_the_milestone_and_the_trial_judged_by_its_best():
    # As W&B's code: histories [1, 3], [1.5, 3], [2.5, 2.5] at milestone 2 with eta 3 give the cut
    # sorted([3, 3, 2.5])[1] = 3.0 (not one made of the best values so far, which would be 1.5).
    rule = MilestoneRule(Hyperband(min_iter=1, strict=False), (2,))
    for index, history in enumerate(([1, 3], [1.5, 3], [2.5, 2.5])):
        rule.reached(index, 2, history[1], min(history))
    assert rule.threshold(2, 2) == 3.0 and rule.decide(2, 2) is True
    # A fourth trial at 4 after a best of 1: strict judges the 4 (stopped), otherwise the 1 (goes on).
    for strict, goes_on in ((True, False), (False, True)):
        rule = MilestoneRule(Hyperband(min_iter=1, strict=strict), (2,))
        for index, history in enumerate(([1, 3], [1.5, 3], [2.5, 2.5], [1, 4])):
            rule.reached(index, 2, history[1], min(history))
        assert rule.threshold(3, 2) == 3.0 and rule.decide(3, 2) is goes_on


def test_an_eta_just_above_one_makes_at_most_a_hundred_milestones():
    assert len(parse_early_terminate({"type": "hyperband", "min_iter": 1, "eta": 1.0000000001}).milestones(10**9)) == 1


@pytest.mark.parametrize("optimizer, dropout, input_dropout", [
    ("sgd", 0.0, 0.0), ("sgd_momentum", 0.0, 0.0), ("nesterov", 0.0, 0.0), ("rmsprop", 0.0, 0.0), ("adam", 0.0, 0.0),
    ("sgd_momentum", 0.3, 0.0), ("nesterov", 0.3, 0.2)])
def test_a_run_paused_saved_and_continued_is_bitwise_an_uninterrupted_one(tmp_path, optimizer, dropout, input_dropout):
    data = load_dataset("digits")
    [trial] = plan_trials(parse_experiment({"name": "p", "dataset": "digits", "fixed": {
        "hidden_size": 16, "init": "he", "dropout": dropout, "input_dropout": input_dropout, "optimizer": optimizer,
        "learning_rate": 0.01, "lr_decay": 0.9, "epochs": 5, "batch_size": 50}}))

    def run(**kwargs):
        return build_and_train(trial.params, trial.seed, data, 5, **kwargs)

    def saved():  # through the run folder's file and its checks, as a resumed sweep does
        return load_state(tmp_path, trial, build_net(trial.params, trial.seed, data), data)

    whole, uninterrupted = run()
    _, paused = run(pause_at=2)
    assert len(paused.records) == 2 and paused.checkpoint.epoch == 2
    save_state(tmp_path, trial, paused.checkpoint)
    _, middle = run(resume=saved(), pause_at=4)
    save_state(tmp_path, trial, middle.checkpoint)
    resumed, finished = run(resume=saved())

    def strip(records):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in records]

    assert strip(finished.records) == strip(uninterrupted.records)
    for name in whole.params:
        assert np.array_equal(whole.params[name], resumed.params[name])


def test_a_damaged_paused_state_is_in_doubt_and_an_absent_one_is_none(tmp_path):
    data = load_dataset("digits")
    [trial] = plan_trials(parse_experiment({"name": "p", "dataset": "digits", "fixed": {"hidden_size": 4}}))
    net = build_net(trial.params, trial.seed, data)
    assert load_state(tmp_path, trial, net, data) is None
    (tmp_path / "paused").mkdir()
    (tmp_path / "paused" / f"{trial.trial_id}.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(InDoubt, match="not a readable archive of arrays"):
        load_state(tmp_path, trial, net, data)


def by_trial(frame):
    return frame.sort_values("trial_id").reset_index(drop=True)


COLUMNS = ["trial_id", "status", "val_acc", "val_loss", "train_loss", "best_epoch", "error"]


def test_hyperband_stops_the_same_trials_with_the_same_numbers_for_one_and_two_workers(tmp_path):
    experiment = parse_experiment(HYPERBAND)
    one = run_sweep(experiment, run_dir=tmp_path / "one", n_jobs=1, quiet=True)
    two = run_sweep(experiment, run_dir=tmp_path / "two", n_jobs=2, quiet=True)
    trials = [by_trial(pd.read_csv(run.run_dir / "trials.csv")) for run in (one, two)]
    pd.testing.assert_frame_equal(trials[0][COLUMNS], trials[1][COLUMNS])
    frame, history = trials[0], pd.read_csv(one.run_dir / "history.csv")
    trained = history.groupby("trial_id")["epoch"].max()
    assert set(frame["status"]) == {"ok", "stopped"} and (frame["status"] == "stopped").sum() >= 6
    for row in frame.itertuples():  # stopped at a milestone, its history ends there; ok ones trained all 9
        assert trained[row.trial_id] in ((1, 3) if row.status == "stopped" else (9,))
        assert (row.status == "stopped") == str(row.error).startswith("stopped by hyperband at epoch")
    assert len(frame) == 18
    assert not (one.run_dir / "paused").exists(), "paused states are removed once their trials are recorded"
    assert len(history) < 0.6 * 18 * 9
    summary = pd.read_json(one.run_dir / "best" / "summary.json", typ="series")
    assert frame.set_index("trial_id").loc[summary["trial_id"], "status"] == "ok" and summary["model_from"] == "trial"


def test_the_leaderboard_ranks_stopped_trials_below_finished_ones_and_the_report_shows_the_rule(tmp_path):
    experiment = parse_experiment(HYPERBAND)
    run_sweep(experiment, run_dir=tmp_path / "run", quiet=True)
    shown = sweep_cli("show", tmp_path / "run", "--top", "18", cwd=tmp_path)
    statuses = [line.split()[-1] for line in shown.stdout.splitlines()[1:19]]
    assert statuses == sorted(statuses, key=lambda s: s != "ok") and "stopped" in statuses
    report = sweep_cli("report", tmp_path / "run", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "run" / "report.html").read_text()
    assert "early termination: hyperband (eta 3, strict True, min_iter 1)" in page and "Early termination" in page
    assert (tmp_path / "run" / "plots" / "rungs.png").is_file()
    run = load_run(tmp_path / "run")
    curves = curves_data(run.history, run.trials, "val_acc")
    stopped = set(run.trials.loc[run.trials["status"] == "stopped", "trial_id"])
    assert set(curves.loc[curves["stopped"], "trial_id"]) == stopped
    assert curves.groupby("trial_id")["epoch"].max().loc[list(stopped)].isin([1, 3]).all()


SLOW = {**HYPERBAND, "name": "slowhb",
        "parameters": {"hidden_size": {"values": [128, 136, 144, 152]},
                       "learning_rate": {"values": [0.1, 0.01, 0.001]}},
        "fixed": {"epochs": 9, "optimizer": "sgd_momentum", "init": "he", "batch_size": 32}}


def test_kill_9_mid_bracket_and_resume_gives_what_an_uninterrupted_sweep_gives(tmp_path):
    write_experiment(tmp_path / "hb.yaml", **SLOW)
    whole = sweep_cli("run", "hb.yaml", "--out", "whole", "--no-plots", "--quiet", cwd=tmp_path, timeout=300)
    assert whole.returncode == 0, whole.stderr
    kill_9_once_paused(["run", "hb.yaml", "--out", "part", "--no-plots", "--quiet"], tmp_path, tmp_path / "part")
    rest = sweep_cli("run", "hb.yaml", "--resume", "part", "--no-plots", "--quiet", cwd=tmp_path, timeout=300)
    assert rest.returncode == 0, rest.stderr
    assert "warning" not in rest.stderr  # every saved state and kept weight proven genuine, none set aside
    pd.testing.assert_frame_equal(*(by_trial(pd.read_csv(tmp_path / run / "trials.csv"))[COLUMNS]
                                    for run in ("whole", "part")))
    columns = ["trial_id", "epoch", "train_loss", "val_loss", "val_acc"]
    pd.testing.assert_frame_equal(*(pd.read_csv(tmp_path / run / "history.csv").sort_values(["trial_id", "epoch"])
                                    .reset_index(drop=True)[columns] for run in ("whole", "part")))
    assert not (tmp_path / "part" / "paused").exists()


def test_a_resume_under_another_early_termination_rule_is_refused(tmp_path):
    write_experiment(tmp_path / "hb.yaml", **HYPERBAND)
    assert sweep_cli("run", "hb.yaml", "--out", "run", "--no-plots", "--quiet", "--max-trials", "4",
                     cwd=tmp_path).returncode == 0
    write_experiment(tmp_path / "hb.yaml", **{**HYPERBAND, "early_terminate": {"type": "hyperband", "min_iter": 3}})
    again = sweep_cli("run", "hb.yaml", "--resume", "run", "--no-plots", cwd=tmp_path)
    assert again.returncode == 2 and "it was made with early_terminate" in again.stderr


def test_the_best_model_of_a_resumed_search_that_asks_fewer_trials_than_it_recorded(tmp_path):
    open_ended = {**HYPERBAND, "method": "random", "parameters": {
        "learning_rate": {"distribution": "log_uniform_values", "min": 0.001, "max": 0.3}}}
    experiment = parse_experiment(open_ended)
    run_sweep(experiment, run_dir=tmp_path / "run", max_trials=8, quiet=True)
    summary = (tmp_path / "run" / "best" / "summary.json").read_text()
    for path in (tmp_path / "run" / "best").iterdir():  # as if the first call was stopped while saving it
        path.unlink()
    again = run_sweep(experiment, run_dir=tmp_path / "run", resume=True, max_trials=1, quiet=True)
    first = pd.read_csv(tmp_path / "run" / "plan.csv")["trial_id"][0]
    assert again.finalized and again.best["trial_id"] in summary and again.best["trial_id"] != first

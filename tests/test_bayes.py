"""method: bayes: W&B distributions on Optuna's TPE, rounds told in plan order, the same trials for any
n_jobs, and resume continuing the same sequence."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import sweep_cli, write_experiment

from sweep.config import parse_experiment
from sweep.runner import run_sweep
from sweep.space import parse_distribution
from sweep.strategies import BayesSearch, make_strategy
from sweep.strategies.bayes import ROUND_CONFIGURATIONS, STARTUP_CONFIGURATIONS, optuna_distribution, value_of
from sweep.task import TrialResult

BAYES = {"name": "tpe", "dataset": "digits", "method": "bayes", "run_cap": 14,
         "metric": {"name": "val_acc", "goal": "maximize"},
         "parameters": {"hidden_size": {"values": [8, 16, 32]},
                        "learning_rate": {"distribution": "log_uniform_values", "min": 0.003, "max": 0.5},
                        "reg": {"distribution": "q_log_uniform_values", "min": 1e-5, "max": 1e-2, "q": 1e-5},
                        "momentum": {"distribution": "uniform", "min": 0.5, "max": 0.95}},
         "fixed": {"epochs": 2, "optimizer": "sgd_momentum", "init": "he", "batch_size": 64}, "n_jobs": 2}

#: Every W&B kind, with the range its values must fall in.
KINDS = [
    ({"values": ["a", [1, 2], None]}, None),
    ({"distribution": "int_uniform", "min": -3, "max": 4}, (-3, 4)),
    ({"distribution": "uniform", "min": 0.5, "max": 2.0}, (0.5, 2.0)),
    ({"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25}, (0.0, 1.0)),
    ({"distribution": "log_uniform", "min": -5.0, "max": 0.0}, (math.exp(-5), 1.0)),
    ({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}, (1e-4, 1e-1)),
    ({"distribution": "inv_log_uniform_values", "min": 2.0, "max": 50.0}, (2.0, 50.0)),
    ({"distribution": "inv_log_uniform", "min": 1.0, "max": 3.0}, (math.exp(-3), math.exp(-1))),
    ({"distribution": "q_log_uniform_values", "min": 8, "max": 512, "q": 8}, (8, 512)),
    ({"distribution": "normal", "mu": 1.0, "sigma": 0.1}, (-math.inf, math.inf)),
    ({"distribution": "q_normal", "mu": 10.0, "sigma": 2.0, "q": 1}, (-math.inf, math.inf)),
    ({"distribution": "log_normal", "mu": -3.0, "sigma": 1.0}, (0.0, math.inf)),
    ({"distribution": "beta", "a": 2.0, "b": 5.0}, (0.0, 1.0)),
]


@pytest.mark.parametrize("spec, bounds", KINDS, ids=[k[0].get("distribution", "categorical") for k in KINDS])
def test_every_wandb_distribution_maps_onto_an_optuna_one_whose_ends_give_its_ends(spec, bounds):
    dist = parse_distribution(spec)
    searched = optuna_distribution(dist)
    if bounds is None:
        assert [value_of(dist, i) for i in searched.choices] == list(dist.values)
        return
    low, high = value_of(dist, searched.low), value_of(dist, searched.high)
    if dist.is_quantized:
        assert float(low / dist.q).is_integer() and float(high / dist.q).is_integer()
    if math.isfinite(bounds[0]) and dist.kind not in ("log_normal", "beta"):
        assert low == pytest.approx(bounds[0]) and high == pytest.approx(bounds[1])
    else:  # the inverse-CDF kinds: far into both tails, inside the support
        assert bounds[0] <= low < high <= bounds[1]
    if dist.is_log and not dist.is_quantized and "normal" not in dist.kind:
        assert searched.log


def test_the_random_start_follows_each_distribution():
    # TPE's first proposals are random draws through the mapping: a log-uniform parameter spreads
    # evenly over its decades, a beta(8, 2) one has its mean 0.8 and standard deviation 0.12.
    doc = {**BAYES, "run_cap": 400, "parameters": {
        "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0},
        "momentum": {"distribution": "beta", "a": 8.0, "b": 2.0}}}
    strategy = BayesSearch(parse_experiment(doc))
    drawn: list = []
    while len(drawn) < STARTUP_CONFIGURATIONS:
        drawn += strategy.ask()
        for trial in drawn[-ROUND_CONFIGURATIONS:]:
            strategy.tell(trial, TrialResult(trial.trial_id, "failed"))  # failed: TPE stays on its random start
    for _ in range(40):
        batch = strategy.ask()
        drawn += batch
        for trial in batch:
            strategy.tell(trial, TrialResult(trial.trial_id, "failed"))
    decades = np.log10([t.params["learning_rate"] for t in drawn])
    assert np.histogram(decades, bins=4, range=(-4, 0))[0].min() > len(drawn) / 4 * 0.6
    momentum = np.array([t.params["momentum"] for t in drawn])
    assert abs(momentum.mean() - 0.8) < 0.02 and abs(momentum.std() - math.sqrt(16 / 1100)) < 0.02


def fake_result(trial, metric):
    return TrialResult(trial.trial_id, "ok", {"val_acc": metric})


def test_rounds_are_told_in_plan_order_whatever_order_results_arrive_in():
    experiment = parse_experiment(BAYES)

    def rounds(order):
        strategy, proposed = BayesSearch(experiment), []
        while not strategy.finished:
            batch = strategy.ask()
            assert len(batch) <= ROUND_CONFIGURATIONS and strategy.ask() == [], "one round at a time"
            proposed.append([t.trial_id for t in batch])
            for trial in order(batch):  # a metric that depends on the trial alone
                strategy.tell(trial, fake_result(trial, -abs(math.log10(trial.params["learning_rate"]) + 1.3)))
        return proposed

    forward, backward = rounds(list), rounds(lambda b: b[::-1])
    assert forward == backward and sum(map(len, forward)) == 14
    assert [len(r) for r in forward] == [4, 4, 4, 2]
    # Later rounds learn: TPE moves towards learning rates near 10**-1.3 once the random start is over.
    rates = [t.params["learning_rate"] for t in BayesSearch(experiment).preview(4)]
    assert len(rates) == 4


def by_trial(frame):
    return frame.sort_values("trial_id").reset_index(drop=True)


METRICS = ["trial_id", "status", "val_loss", "val_acc", "train_loss"]


def test_bayes_runs_the_same_trials_with_the_same_numbers_for_one_and_two_workers(tmp_path):
    experiment = parse_experiment(BAYES)
    one = run_sweep(experiment, run_dir=tmp_path / "one", n_jobs=1, quiet=True)
    two = run_sweep(experiment, run_dir=tmp_path / "two", n_jobs=2, quiet=True)
    assert one.all_ran and two.all_ran and one.total == 14
    plans = [pd.read_csv(run / "plan.csv") for run in (one.run_dir, two.run_dir)]
    pd.testing.assert_frame_equal(*plans)
    pd.testing.assert_frame_equal(*(by_trial(pd.read_csv(run / "trials.csv"))[METRICS]
                                    for run in (one.run_dir, two.run_dir)))
    assert len(plans[0]) == 14 and plans[0]["config_id"].is_unique


def test_a_bayes_run_stopped_mid_round_resumes_into_the_same_sequence(tmp_path):
    write_experiment(tmp_path / "tpe.yaml", **BAYES)
    whole = sweep_cli("run", "tpe.yaml", "--out", "whole", "--no-plots", "--quiet", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    part = sweep_cli("run", "tpe.yaml", "--out", "part", "--no-plots", "--quiet", "--max-trials", "6", cwd=tmp_path)
    assert part.returncode == 0 and len(pd.read_csv(tmp_path / "part" / "trials.csv")) == 6
    rest = sweep_cli("run", "tpe.yaml", "--resume", "part", "--no-plots", "--quiet", cwd=tmp_path)
    assert rest.returncode == 0, rest.stderr
    for name in ("plan.csv",):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "whole" / name), pd.read_csv(tmp_path / "part" / name))
    pd.testing.assert_frame_equal(*(by_trial(pd.read_csv(tmp_path / run / "trials.csv"))[METRICS]
                                    for run in ("whole", "part")))
    listed = sweep_cli("list", "tpe.yaml", cwd=tmp_path)
    assert "the first 4 trials of a bayes search of 14 configurations" in listed.stdout


def test_an_open_ended_bayes_search_is_capped_from_the_command_line(tmp_path):
    write_experiment(tmp_path / "tpe.yaml", **{k: v for k, v in BAYES.items() if k != "run_cap"})
    assert make_strategy(parse_experiment({k: v for k, v in BAYES.items() if k != "run_cap"})).total is None
    run = sweep_cli("run", "tpe.yaml", "--out", "run", "--no-plots", "--max-trials", "5", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(pd.read_csv(tmp_path / "run" / "trials.csv")) == 5 and "[5/5]" in run.stderr


def test_bayes_proposes_q_uniform_values_inside_the_range_and_refuses_impossible_spaces_in_one_line(tmp_path):
    doc = {**BAYES, "run_cap": 40, "parameters": {"lr_decay": {"distribution": "q_uniform", "min": 0.85, "max": 1.0,
                                                               "q": 0.1}}}
    strategy, proposed = BayesSearch(parse_experiment(doc)), []
    while not strategy.finished:
        batch = strategy.ask()
        proposed += [t.params["lr_decay"] for t in batch]
        for trial in batch:
            strategy.tell(trial, fake_result(trial, trial.params["lr_decay"]))
    assert set(proposed) <= {0.9, 1.0} and len(proposed) == 40
    write_experiment(tmp_path / "bad.yaml", **{**BAYES, "parameters": {
        "learning_rate": {"distribution": "log_normal", "mu": -800.0, "sigma": 1.0}}})
    listed = sweep_cli("list", "bad.yaml", cwd=tmp_path)
    assert listed.returncode == 2 and "bayes proposals in a row had a value a hyperparameter refuses" in listed.stderr
    assert len(listed.stderr.strip().splitlines()) == 1


def test_retrying_failed_trials_of_a_bayes_run_is_refused_before_anything_changes(tmp_path):
    write_experiment(tmp_path / "tpe.yaml", **{**BAYES, "run_cap": 4})
    assert sweep_cli("run", "tpe.yaml", "--out", "run", "--no-plots", "--quiet", cwd=tmp_path).returncode == 0
    before = (tmp_path / "run" / "trials.csv").read_bytes()
    retry = sweep_cli("run", "tpe.yaml", "--resume", "run", "--retry-failed", cwd=tmp_path)
    assert retry.returncode == 2 and "--retry-failed cannot be used with method: bayes" in retry.stderr
    assert (tmp_path / "run" / "trials.csv").read_bytes() == before

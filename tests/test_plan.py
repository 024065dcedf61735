"""Planning: stable trial ids, seeds that depend on the trial (never on order), epochs grouping."""

import pytest

from sweep.config import parse_experiment
from sweep.params import PARAMETERS
from sweep.plan import group_tasks
from sweep.strategies import plan_trials


def experiment(**changes):
    doc = {"name": "p", "dataset": "digits", "method": "grid",
           "parameters": {"hidden_size": {"values": [10, 20]}, "learning_rate": {"values": [0.1, 0.01]},
                          "epochs": {"values": [2, 5]}}}
    doc.update(changes)
    return parse_experiment(doc)


def test_grid_plan_size_order_and_completeness():
    trials = plan_trials(experiment())
    assert len(trials) == 8
    assert [(t.params["hidden_size"], t.params["learning_rate"], t.params["epochs"]) for t in trials[:3]] == [
        (10, 0.1, 2), (10, 0.1, 5), (10, 0.01, 2)]
    assert [t.index for t in trials] == list(range(8))
    assert len({t.trial_id for t in trials}) == 8
    assert all(len(t.params) == len(PARAMETERS) and t.params["optimizer"] == "sgd" for t in trials)


def test_a_hyperparameter_added_later_leaves_the_ids_and_seeds_of_trials_that_do_not_use_it():
    # Computed by the version before `dropout` and `input_dropout` existed: runs made then still resume and compare.
    doc = dict(name="x", dataset="digits", method="grid",
               parameters={"hidden_size": {"values": [10, 20]}}, fixed={"epochs": 3})
    trials = plan_trials(parse_experiment(doc))
    assert [(t.trial_id, t.seed, t.config_id) for t in trials] == [
        ("9a147d71c6e7", 3777290680, "41105b1275d4"), ("f7c89bf11b96", 3514012772, "7eb90803cf6f")]
    for added_later in ({"dropout": 0.5}, {"input_dropout": 0.2}):
        dropped = plan_trials(parse_experiment({**doc, "fixed": {"epochs": 3, **added_later}}))
        assert not {t.trial_id for t in dropped} & {t.trial_id for t in trials}


def test_ids_and_seeds_do_not_depend_on_order_or_on_other_trials():
    a = {t.trial_id: t.seed for t in plan_trials(experiment())}
    reordered = experiment(parameters={"epochs": {"values": [5, 2]}, "learning_rate": {"values": [0.01, 0.1]},
                                       "hidden_size": {"values": [20, 10, 40]}})
    b = {t.trial_id: t.seed for t in plan_trials(reordered)}
    assert set(a) < set(b)
    assert all(b[trial_id] == seed for trial_id, seed in a.items())


def test_the_sweep_seed_changes_every_trial_seed():
    a = plan_trials(experiment())
    b = plan_trials(experiment(seed=1))
    assert all(x.seed != y.seed and x.trial_id != y.trial_id for x, y in zip(a, b))


def test_trials_differing_only_in_epochs_share_a_seed_and_a_task():
    trials = plan_trials(experiment())
    tasks = group_tasks(trials)
    assert len(tasks) == 4
    for task in tasks:
        assert sorted(t.params["epochs"] for t in task.trials) == [2, 5]
        assert task.max_epochs == 5 and "epochs" not in task.params
        assert len({t.seed for t in task.trials}) == 1 and task.seed == task.trials[0].seed


def test_repeats_give_distinct_seeds_per_configuration():
    trials = plan_trials(experiment(repeats=3))
    assert len(trials) == 24
    by_config = {}
    for t in trials:
        by_config.setdefault(t.config_id, set()).add(t.seed)
    assert len(by_config) == 8 and all(len(seeds) == 3 for seeds in by_config.values())
    assert len(group_tasks(trials)) == 12


def test_random_plan_is_seeded_and_capped():
    doc = dict(method="random", run_cap=6,
               parameters={"learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
                           "hidden_size": {"values": [10, 20]}})
    a, b = plan_trials(experiment(**doc)), plan_trials(experiment(**doc))
    assert [t.trial_id for t in a] == [t.trial_id for t in b] and len(a) == 6
    assert all(1e-4 <= t.params["learning_rate"] <= 1e-1 for t in a)
    assert [t.trial_id for t in plan_trials(experiment(seed=9, **doc))] != [t.trial_id for t in a]


def test_random_search_plans_run_cap_trials_repeated_draws_included_and_grid_run_cap_truncates():
    # W&B runs run_cap runs even when a small discrete space repeats itself; so do we, each with its own seed
    doc = dict(method="random", run_cap=20, repeats=2, parameters={"hidden_size": {"values": [10, 20]}})
    trials = plan_trials(experiment(**doc))
    assert len(trials) == 40 and len({t.trial_id for t in trials}) == 40 and len({t.seed for t in trials}) == 40
    assert len({t.config_id for t in trials}) == 2
    for config in {t.config_id for t in trials}:  # a draw again is further repeats of its configuration
        repeats = sorted(t.repeat for t in trials if t.config_id == config)
        assert repeats == list(range(len(repeats)))
    once = plan_trials(experiment(**{**doc, "run_cap": 1}))  # the first draw keeps its ids whatever follows
    assert [t.trial_id for t in once] == [t.trial_id for t in trials[:2]]
    weighted = dict(method="random", run_cap=200, parameters={"hidden_size": {"values": [10, 20],
                                                                             "probabilities": [0.9, 0.1]}})
    share = sum(t.params["hidden_size"] == 10 for t in plan_trials(experiment(**weighted))) / 200
    assert 0.85 <= share <= 0.95  # probabilities keep their meaning
    grid_twice = experiment(parameters={"hidden_size": {"values": [10, 10, 20]}})
    assert len(plan_trials(grid_twice)) == 2  # a grid visits each point once, as W&B's
    capped = experiment(run_cap=3)
    assert len(plan_trials(capped)) == 3 and any("run_cap 3 keeps the first 3 of 8" in w for w in capped.warnings)


@pytest.mark.parametrize("fixed", [{"epochs": 3}, {"optimizer": "adam", "learning_rate": 1e-3}])
def test_fixed_values_reach_every_trial(fixed):
    exp = experiment(parameters={"hidden_size": {"values": [10, 20]}}, fixed=fixed)
    assert all(all(t.params[k] == v for k, v in fixed.items()) for t in plan_trials(exp))


def test_sweep_list_says_how_many_draws_came_again(tmp_path):
    from conftest import sweep_cli, write_experiment

    write_experiment(tmp_path / "r.yaml", name="r", dataset="digits", method="random", run_cap=10,
                     parameters={"hidden_size": {"values": [8, 16]}})
    listed = sweep_cli("list", "r.yaml", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "10 trials (random, 2 configurations x 1 seed(s); 8 drawn again, run with new seeds)" in listed.stdout

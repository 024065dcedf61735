"""W&B fidelity: W&B's own tests (``tests/`` of github.com/wandb/sweeps), ported to this runner's API
with the same inputs, and the behaviour they imply here.

Each ported test names the W&B test it comes from. W&B's tests use parameter names of their own
(``a``, ``v1``); here any name is a parameter of a *program* sweep (``program:``, the W&B sweep file
as W&B's agent runs it), so the ported inputs are program sweeps unless a net's parameter is meant.
Where W&B reports a "schema violation" for a file its CLI still runs (the deprecated base-e
distributions), this runner warns; where W&B refuses, this runner refuses with one line.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
import yaml
from conftest import sweep_cli

from sweep.config import largest_epochs, parse_experiment
from sweep.errors import ConfigError
from sweep.space import nest_values
from sweep.strategies import make_strategy, plan_trials


def program_sweep(tmp_path: Path, **doc):
    """A W&B sweep file of a program (its parameters any names), as parse_experiment reads it."""
    (tmp_path / "train.py").write_text("")
    base = {"name": "w", "program": "train.py", "metric": {"name": "loss", "goal": "minimize"}}
    return parse_experiment({**base, **doc}, source=str(tmp_path / "sweep.yaml"))


def refused(tmp_path: Path, match: str, **doc) -> str:
    with pytest.raises(ConfigError, match=match) as info:
        program_sweep(tmp_path, **doc)
    assert "\n" not in str(info.value)
    return str(info.value)


NET = {"name": "n", "dataset": "digits", "metric": {"name": "val_acc", "goal": "maximize"}}


# ------------------------------------------------------------------ deprecated base-e distributions
# ported from tests/test_validation.py::test_that_old_distributions_warn
@pytest.mark.parametrize("parameter_type", ["log_uniform", "q_log_uniform", "inv_log_uniform"])
def test_that_old_distributions_warn(tmp_path, parameter_type):
    experiment = program_sweep(tmp_path, method="random",
                               parameters={"a": {"min": 1, "max": 2, "distribution": parameter_type}})
    [warning] = [w for w in experiment.warnings if parameter_type in w]
    # W&B's words (make_param_log_deprecation_message), naming the *_values form
    assert warning.endswith(f"parameters.a uses {parameter_type}, where min/max specify base-e exponents. "
                            f"Use {parameter_type}_values to specify limit values.")


def test_a_nets_base_e_learning_rate_warns_and_the_values_forms_do_not():
    warned = parse_experiment({**NET, "method": "random", "run_cap": 2, "parameters": {
        "learning_rate": {"distribution": "log_uniform", "min": -9.2, "max": -2.3}}})
    assert any("log_uniform_values to specify limit values" in w for w in warned.warnings)
    for kind in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
        quiet = parse_experiment({**NET, "method": "random", "run_cap": 2, "parameters": {
            "learning_rate": {"distribution": kind, "min": 1e-4, "max": 0.1, **({"q": 1e-4} if "q_" in kind else {})}}})
        assert not any("base-e" in w for w in quiet.warnings)


# ported from tests/test_validation.py::test_that_minmax_validation_fails_on_loguniform_values_types
@pytest.mark.parametrize("parameter_type", ["log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"])
def test_that_minmax_validation_fails_on_loguniform_values_types(tmp_path, parameter_type):
    refused(tmp_path, "min .* is greater than max", method="random",
            parameters={"a": {"min": 2, "max": 1, "distribution": parameter_type}})


# as sweeps' src/sweeps/config/schema.py validate_min_max: min must be below max, equal bounds included
@pytest.mark.parametrize("spec", [{"min": 3, "max": 3}, {"min": 0.5, "max": 0.5, "distribution": "uniform"},
                                  {"min": 1e-3, "max": 1e-3, "distribution": "log_uniform_values"}])
def test_equal_min_and_max_are_refused_naming_value(tmp_path, spec):
    refused(tmp_path, r"min .* is not less than max .*`value: ", method="random", parameters={"a": spec})


# ------------------------------------------------------------------ int_uniform needs int bounds
# ported from tests/test_validation.py::test_minmax_type_inference
def test_minmax_type_inference(tmp_path):
    program_sweep(tmp_path, method="random", parameters={"a": {"min": 0, "max": 1, "distribution": "uniform"}})
    message = refused(tmp_path, "int_uniform needs integer min and max", method="random",
                      parameters={"a": {"min": 0.0, "max": 1.0, "distribution": "int_uniform"}})
    assert "write min: 0" in message


def test_a_nets_int_uniform_with_float_bounds_is_refused_and_inferred_floats_are_uniform():
    with pytest.raises(ConfigError, match=r"parameters.hidden_size.min: int_uniform needs integer min and max"):
        parse_experiment({**NET, "method": "random", "run_cap": 2,
                          "parameters": {"hidden_size": {"distribution": "int_uniform", "min": 10.0, "max": 20}}})


# ported from tests/test_schema.py::test_json_type_inference_int_uniform and ::test_json_type_inference_uniform
def test_json_type_inference_int_uniform_and_uniform(tmp_path):
    assert program_sweep(tmp_path, method="random", parameters={"a": {"min": 0, "max": 1}}).parameters["a"].kind \
        == "int_uniform"
    assert program_sweep(tmp_path, method="random", parameters={"a": {"min": 0.0, "max": 1.0}}).parameters["a"].kind \
        == "uniform"


# ------------------------------------------------------------------ categorical with probabilities
# ported from tests/test_config.py::test_categorical_prob_grid
def test_categorical_prob_grid(tmp_path):
    refused(tmp_path, "categorical with `probabilities` cannot be searched by a grid", method="grid",
            parameters={"v1": {"values": [1, 2, 3], "probabilities": [0.2, 0.2, 0.6]}})
    refused(tmp_path, "cannot be searched by a grid", method="grid",
            parameters={"v1": {"distribution": "categorical_w_probabilities", "values": [1, 2, 3],
                               "probabilities": [0.2, 0.2, 0.6]}})


# ported from tests/test_config.py::test_wrong_prob_length
def test_wrong_prob_length(tmp_path):
    refused(tmp_path, "probabilities", method="random",
            parameters={"v1": {"values": [1, 2, 3], "probabilities": [0.1, 0.2, 0.3, 0.4]}})


# ported from tests/test_config.py::test_irregular_probs
def test_irregular_probs(tmp_path):
    refused(tmp_path, "summing to 1", method="random",
            parameters={"v1": {"values": [1, 2, 3], "probabilities": [0.1, 0.2, 0.3]}})


def test_categorical_w_probabilities_is_wandbs_name_and_needs_probabilities(tmp_path):
    experiment = program_sweep(tmp_path, method="random", run_cap=3, parameters={
        "v1": {"distribution": "categorical_w_probabilities", "values": ["a", "b"], "probabilities": [0.25, 0.75]}})
    assert experiment.parameters["v1"].probabilities == (0.25, 0.75)
    refused(tmp_path, "categorical_w_probabilities needs `probabilities`", method="random",
            parameters={"v1": {"distribution": "categorical_w_probabilities", "values": ["a", "b"]}})


# ported from tests/test_random_search.py::test_rand_categorical (1000 draws within 3 sigma of n * p)
@pytest.mark.parametrize("values, probs", [
    (list(range(5)), [0.2, 0.2, 0.2, 0.2, 0.2]),
    (list(range(3)), [0.5, 0.0, 0.5]),
    (list(range(5)), [0.1, 0.25, 0.15, 0.2, 0.3]),
])
def test_rand_categorical(tmp_path, values, probs):
    n_samples = 1000
    experiment = program_sweep(tmp_path, method="random", run_cap=n_samples, seed=7,
                               parameters={"v1": {"values": values, "probabilities": probs}})
    counts = collections.Counter(trial.params["v1"] for trial in plan_trials(experiment))
    for value, p in zip(values, probs):
        expected = n_samples * p
        assert abs(counts[value] - expected) <= 3 * expected ** 0.5
    again = collections.Counter(t.params["v1"] for t in plan_trials(program_sweep(
        tmp_path, method="random", run_cap=n_samples, seed=7, parameters={"v1": {"values": values, "probabilities": probs}})))
    assert again == counts  # the same seed, the same draws


def test_bayes_reads_probabilities_as_a_plain_categorical(tmp_path):
    """Optuna's TPE has no prior weights for a categorical: the probabilities parse, and are not used."""
    from sweep.strategies.bayes import optuna_distribution

    experiment = program_sweep(tmp_path, method="bayes", run_cap=8, parameters={
        "v1": {"distribution": "categorical_w_probabilities", "values": ["a", "b", "c"], "probabilities": [0.8, 0.1, 0.1]}})
    dist = optuna_distribution(experiment.parameters["v1"])
    assert type(dist).__name__ == "CategoricalDistribution" and len(dist.choices) == 3
    assert {t.params["v1"] for t in make_strategy(experiment).preview(8)} <= {"a", "b", "c"}


# ------------------------------------------------------------------ parameters and method
# ported from tests/test_validation.py::test_validation_not_enough_params
def test_validation_not_enough_params(tmp_path):
    refused(tmp_path, r"parameters: is empty: W&B refuses a sweep without parameters", method="random", parameters={})
    refused(tmp_path, r"no `parameters`", method="random")  # del schema["parameters"]: refused too


# ported from tests/test_config.py::test_missing_parameters_section
def test_missing_parameters_section(tmp_path):
    refused(tmp_path, r"no `parameters`.*W&B requires", method="random")


def test_our_fixed_only_files_still_run_as_one_trial(tmp_path):
    """Ours, not W&B's: a file without `parameters` runs `fixed` once (a net, or a program given `fixed`)."""
    assert plan_trials(parse_experiment({**NET, "fixed": {"epochs": 1}}))[0].params["epochs"] == 1
    assert len(plan_trials(program_sweep(tmp_path, fixed={"x": 1}))) == 1


# ported from tests/test_validation.py::test_sweepconfig_no_method_baseline_validation
def test_sweepconfig_no_method_baseline_validation(tmp_path):
    message = refused(tmp_path, "no `method`", parameters={"a": {"values": [1, 2, 3, 4]}})
    assert "add `method: grid`" in message
    with pytest.raises(ConfigError, match="no `method`"):
        parse_experiment({**NET, "parameters": {"hidden_size": {"values": [8, 16]}}})


# ------------------------------------------------------------------ controller
# ported from tests/test_validation.py::test_controller
@pytest.mark.parametrize("controller_type", ["cloud", "local", "invalid"])
def test_controller(tmp_path, controller_type):
    doc = {"controller": {"type": controller_type}, "method": "random", "run_cap": 4,
           "parameters": {"a": {"values": [1, 2, 3, 4]}}}
    if controller_type in ["cloud", "local"]:
        experiment = program_sweep(tmp_path, **doc)
        assert any("`controller` is a W&B setting" in w for w in experiment.warnings)
    else:
        refused(tmp_path, r"controller.type: 'invalid' is not allowed; allowed: cloud, local", **doc)


def test_a_nets_controller_local_is_ignored_with_a_warning():
    experiment = parse_experiment({**NET, "method": "grid", "controller": {"type": "local"},
                                   "parameters": {"hidden_size": {"values": [8]}}})
    assert any("controller" in w and "ignores it" in w for w in experiment.warnings)


# ------------------------------------------------------------------ nested parameters
# ported from tests/test_validation.py::test_param_dict
@pytest.mark.parametrize("search_type", ["bayes", "grid", "random"])
def test_param_dict(tmp_path, search_type):
    cap = {} if search_type == "grid" else {"run_cap": 4}
    experiment = program_sweep(tmp_path, method=search_type, **cap, parameters={
        "a": {"parameters": {"b": {"values": [1, 2]}, "c": {"parameters": {"d": {"value": 1}}}}}})
    assert list(experiment.parameters) == ["a.b", "a.c.d"]  # each leaf a searched dimension
    configs = [experiment.program.arguments(t.params) for t in make_strategy(experiment).preview(4)]
    assert configs and all(c in ({"a": {"b": 1, "c": {"d": 1}}}, {"a": {"b": 2, "c": {"d": 1}}}) for c in configs)

    # naming conflict is ok as long as different nest levels
    experiment = program_sweep(tmp_path, method=search_type, **cap, parameters={
        "a": {"parameters": {"b": {"value": 1}, "c": {"parameters": {"d": {"value": 2}}}}},
        "b": {"values": [2, 3]}})
    configs = [experiment.program.arguments(t.params) for t in make_strategy(experiment).preview(4)]
    assert configs and all(c in ({"a": {"b": 1, "c": {"d": 2}}, "b": 2}, {"a": {"b": 1, "c": {"d": 2}}, "b": 3})
                           for c in configs)


# ported from tests/test_grid_search.py::test_nested_grid_search_advances (its config; the grid here is planned)
def test_nested_grid_search_advances(tmp_path):
    experiment = program_sweep(tmp_path, method="grid", command=["${env}", "python3", "-m", "hellowsweep"],
                               project="sweep_test", parameters={
                                   "p1": {"values": ["a", "b", "c"]},
                                   "p2": {"parameters": {"n1": {"values": [0.01, 0.001]}, "n2": {"value": 0.9},
                                                         "n3": {"values": [1, 2, 3]}}}})
    configs = [experiment.program.arguments(t.params) for t in plan_trials(experiment)]
    assert len(configs) == 18 and len({json.dumps(c) for c in configs}) == 18
    assert configs[0] == {"p1": "a", "p2": {"n1": 0.01, "n2": 0.9, "n3": 1}}
    assert configs[1] == {"p1": "a", "p2": {"n1": 0.01, "n2": 0.9, "n3": 2}}  # the grid advances past W&B's first run


# ported from tests/test_params.py::test_param_dict_default_values
def test_param_dict_default_values(tmp_path):
    experiment = program_sweep(tmp_path, method="grid", parameters={"a": {"parameters": {"b": {"min": 0, "max": 1}}}})
    assert experiment.parameters["a.b"].to_dict() == {"distribution": "int_uniform", "min": 0, "max": 1}


def test_nested_blocks_are_refused_where_wandb_refuses_them(tmp_path):
    refused(tmp_path, "takes no other key", method="grid",
            parameters={"a": {"parameters": {"b": {"value": 1}}, "values": [1]}})
    refused(tmp_path, "at least one parameter", method="grid", parameters={"a": {"parameters": {}}})


def test_a_nets_nested_parameters_are_refused_naming_the_flat_form():
    with pytest.raises(ConfigError, match=r"parameters.optimizer: nested parameters \(optimizer.lr\) reach a program "
                                          r"as a dict.*did you mean `learning_rate`"):
        parse_experiment({**NET, "method": "grid",
                          "parameters": {"optimizer": {"parameters": {"lr": {"values": [0.1, 0.01]}}}}})


def test_a_nested_parameters_error_names_its_line(tmp_path):
    from sweep.config import load_experiment

    (tmp_path / "train.py").write_text("")
    (tmp_path / "sweep.yaml").write_text("program: train.py\nmethod: grid\nmetric: {name: loss}\nparameters:\n"
                                         "  optimizer:\n    parameters:\n      lr: {values: [1e-3, 1e-4]}\n"
                                         "      beta: {distribution: uniform, min: 0.9, max: 0.99}\n")
    with pytest.raises(ConfigError, match=r"sweep.yaml:8: parameters.optimizer.parameters.beta: distribution uniform "
                                          "is continuous"):
        load_experiment(tmp_path / "sweep.yaml")


def test_nested_parameters_are_written_back_nested_and_read_again(tmp_path):
    experiment = program_sweep(tmp_path, method="grid", parameters={
        "batch_size": {"values": [32]}, "optimizer": {"parameters": {"lr": {"values": [0.1]}}}})
    written = experiment.to_dict()
    assert written["parameters"]["optimizer"] == {"parameters": {"lr": {"distribution": "categorical", "values": [0.1]}}}
    again = parse_experiment(written, source=str(tmp_path / "sweep.yaml"))
    assert again.nested == experiment.nested and list(again.parameters) == ["batch_size", "optimizer.lr"]
    assert nest_values({"batch_size": 32, "optimizer.lr": 0.1}, again.nested) == {"batch_size": 32,
                                                                                  "optimizer": {"lr": 0.1}}



def test_set_fixes_a_nested_leaf_and_leaves_its_siblings_searched(tmp_path):
    from sweep.config import apply_overrides

    raw = {"program": "train.py", "method": "grid", "metric": {"name": "loss"}, "parameters": {
        "batch_size": {"values": [32, 64]},
        "optimizer": {"parameters": {"lr": {"values": [0.1, 0.01]}, "beta": {"values": [0.9, 0.99]}}}}}
    sources = {}
    fixed = apply_overrides(raw, ["optimizer.lr=0.5"], sources=sources)
    experiment = program_sweep(tmp_path, **{k: v for k, v in fixed.items() if k != "program"})
    configs = [experiment.program.arguments(t.params) for t in plan_trials(experiment)]
    assert len(configs) == 4 and all(c["optimizer"]["lr"] == 0.5 for c in configs)
    assert {(c["batch_size"], c["optimizer"]["beta"]) for c in configs} == {(32, 0.9), (32, 0.99), (64, 0.9), (64, 0.99)}
    assert sources == {("parameters", "optimizer", "parameters", "lr"): "--set optimizer.lr=0.5"}
    assert raw["parameters"]["optimizer"]["parameters"]["lr"] == {"values": [0.1, 0.01]}  # the file's mapping untouched


@pytest.mark.parametrize("item, message", [
    ("optimizer.lrr=0.5", "--set 'optimizer.lrr=0.5': `optimizer` has no nested parameter `lrr` (did you mean `lr`?); "
                          "it has lr, beta"),
    ("optimizer.distribution=uniform", "`optimizer` has no nested parameter `distribution`; it has lr, beta"),
    ("optimizer.lr.values=[1]", "`optimizer.lr` is not a nested parameter; `optimizer` has lr, beta"),
])
def test_set_of_a_nested_leaf_it_does_not_have_is_refused_naming_the_ones_it_has(item, message):
    """A misspelt leaf would add a parameter and leave the meant one searched."""
    from sweep.config import apply_overrides

    raw = {"program": "train.py", "method": "grid", "metric": {"name": "loss"}, "parameters": {
        "optimizer": {"parameters": {"lr": {"values": [0.1, 0.01]}, "beta": {"values": [0.9, 0.99]}}}}}
    with pytest.raises(ConfigError) as raised:
        apply_overrides(raw, [item])
    assert message in str(raised.value)

#: Records its argv and the JSON file of its parameters (W&B's examples/nested-params/ program reads them).
ECHO = """\
import json, os, sys
import sweep
with open(os.path.join(os.environ["SWEEP_TRIAL_DIR"], "argv.json"), "w") as f:
    json.dump(sys.argv[1:], f)
sweep.log({"loss": 1.0})
"""


def test_nested_parameters_reach_a_programs_argv_as_wandb_formats_them(tmp_path):
    """W&B's examples/nested-params/sweep-nested-cli.yaml, run: each trial gets ``--optimizer={'lr': ...,
    'nadam': {'beta': ...}}`` (W&B's agent writes a value with str()), and ${args_json} nested JSON."""
    (tmp_path / "train-nested-cli.py").write_text(ECHO)
    doc = {"description": "sweep examples with nested parameters using cli", "program": "train-nested-cli.py",
           "project": "sweeps-examples", "method": "grid", "metric": {"name": "loss", "goal": "minimize"},
           "parameters": {"batch_size": {"values": [32, 64]},
                          "optimizer": {"parameters": {"lr": {"values": [0.001, 0.0001]},
                                                       "nadam": {"parameters": {"beta": {"values": [0.9, 0.95]}}}}}},
           "command": ["${env}", "${interpreter}", "${program}", "${args}", "--", "${args_json}"]}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    result = sweep_cli("run", "sweep.yaml", "--out", "run", "--n-jobs", "2", "--quiet", "--no-plots", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "run" / "trials.csv") as f:
        import csv

        trials = list(csv.DictReader(f))
    assert len(trials) == 8 and {t["status"] for t in trials} == {"ok"}
    assert {"batch_size", "optimizer.lr", "optimizer.nadam.beta"} <= set(trials[0])  # a column per leaf
    seen = set()
    for trial in trials:
        argv = json.loads((tmp_path / "run" / "trials" / trial["trial_id"] / "argv.json").read_text())
        params = {"batch_size": int(trial["batch_size"]),
                  "optimizer": {"lr": float(trial["optimizer.lr"]),
                                "nadam": {"beta": float(trial["optimizer.nadam.beta"])}}}
        assert argv == [f"--batch_size={params['batch_size']}", f"--optimizer={params['optimizer']}", "--",
                        json.dumps(params)]
        seen.add(argv[1])
    assert "--optimizer={'lr': 0.001, 'nadam': {'beta': 0.9}}" in seen and len(seen) == 4
    from sweep.results import load_run

    run = load_run(tmp_path / "run")  # the leaves are the run's searched parameters, by their columns' names
    assert list(run.params) == ["batch_size", "optimizer.lr", "optimizer.nadam.beta"]
    assert run.spec("optimizer.lr") == {"distribution": "categorical", "values": [0.001, 0.0001]}


# ------------------------------------------------------------------ searched epochs under hyperband
def test_searched_epochs_under_hyperband_are_accepted_with_milestones_up_to_the_largest():
    experiment = parse_experiment({**NET, "method": "grid", "parameters": {"epochs": {"values": [3, 27, 9]}},
                                   "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 3}})
    assert largest_epochs(experiment.parameters, experiment.fixed) == 27
    assert experiment.early_terminate.milestones(27) == (1, 3, 9)
    ranged = parse_experiment({**NET, "method": "random", "run_cap": 3,
                               "parameters": {"epochs": {"distribution": "int_uniform", "min": 2, "max": 12}},
                               "early_terminate": {"type": "hyperband", "min_iter": 2}})
    assert largest_epochs(ranged.parameters, ranged.fixed) == 12


@pytest.mark.parametrize("kind, bound, value", [("log_uniform", -2, "0.1353"), ("q_log_uniform", 0, "1.0"),
                                                ("inv_log_uniform", 1, "0.3678")])
def test_equal_base_e_bounds_name_the_value_they_would_draw_not_the_exponent(tmp_path, kind, bound, value):
    """Their bounds are exponents: the one value drawn is e to that power (inv_log_uniform: to minus it)."""
    spec = {"distribution": kind, "min": bound, "max": bound, **({"q": 0.5} if kind.startswith("q_") else {})}
    refused(tmp_path, rf"min .* is not less than max .*`value: {value}", method="random", parameters={"a": spec})


def test_set_reaches_a_key_inside_a_fixed_mapping_by_its_dotted_name():
    """As ``fixed.sched.gamma=0.9`` does: a program's fixed mapping is set by the name the program reads."""
    from sweep.config import apply_overrides

    raw = {"program": "train.py", "method": "grid", "metric": {"name": "loss"},
           "parameters": {"lr": {"values": [0.1, 0.01]}}, "fixed": {"sched": {"gamma": 0.5, "step": 3}}}
    sources = {}
    fixed = apply_overrides(raw, ["sched.gamma=0.9"], sources=sources)
    assert fixed["fixed"]["sched"] == {"gamma": 0.9, "step": 3} and raw["fixed"]["sched"]["gamma"] == 0.5
    assert sources == {("fixed", "sched", "gamma"): "--set sched.gamma=0.9"}

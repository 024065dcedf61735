"""Experiment files: every user error is caught up front with one clear line; W&B blocks read unchanged."""

import re

import pytest
from conftest import sweep_cli, write_experiment

from sweep.config import Backend, apply_overrides, load_experiment, parse_experiment
from sweep.errors import ConfigError

BASE = """\
name: t
dataset: digits
method: grid
parameters:
  hidden_size:
    values: [50, 100]
  learning_rate:
    values: [1e-3, 1e-2]
"""


def load_text(tmp_path, text, overrides=()):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return load_experiment(path, overrides)


def error_of(tmp_path, text, overrides=()):
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text, overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_valid_file_and_its_defaults(tmp_path):
    exp = load_text(tmp_path, BASE)
    assert exp.name == "t" and exp.dataset == "digits" and exp.method == "grid"
    assert exp.metric.name == "val_acc" and exp.metric.maximize
    assert list(exp.parameters) == ["hidden_size", "learning_rate"]
    assert exp.parameters["learning_rate"].values == (1e-3, 1e-2)  # YAML 1.2 floats: 1e-3 is a number
    assert exp.fixed["epochs"] == 10 and "hidden_size" not in exp.fixed
    assert exp.repeats == 1 and exp.seed == 0 and exp.n_jobs == -1 and exp.backend.name == "loky"


def test_a_wandb_sweep_block_reads_unchanged(tmp_path):
    text = """\
project: mnist
method: random
metric:
  name: val_loss
  goal: minimize
run_cap: 20
parameters:
  learning_rate:
    distribution: log_uniform_values
    min: 0.0001
    max: 0.1
  batch_size:
    distribution: q_log_uniform_values
    q: 8
    min: 32
    max: 256
  optimizer:
    values: ["adam", "sgd"]
  epochs:
    value: 5
  reg:
    min: 0.0
    max: 0.5
dataset: digits
"""
    exp = load_text(tmp_path, text)
    assert exp.method == "random" and exp.run_cap == 20 and not exp.metric.maximize
    assert exp.parameters["reg"].kind == "uniform" and exp.parameters["epochs"].kind == "constant"
    assert any("project" in w for w in exp.warnings) and exp.program is None


@pytest.mark.parametrize("edit, expected", [
    (BASE.replace("values: [50, 100]", "values: []"), "exp.yaml:6: parameters.hidden_size.values: `values` is empty"),
    (BASE.replace("values: [1e-3, 1e-2]", "values: [-1e-3, 1e-2]"), "parameters.learning_rate: -0.001 is out of range"),
    (BASE.replace("values: [1e-3, 1e-2]", "values: [0, 1e-2]"), "learning_rate must be a number > 0"),
    (BASE.replace("values: [50, 100]", "values: [0, 100]"), "hidden_size must be a whole number >= 1"),
    (BASE.replace("values: [50, 100]", "values: [50.5]"), "50.5 is not a whole number"),
    (BASE + "fixed: {epochs: 0}\n", "fixed.epochs: 0 is out of range; epochs must be a whole number >= 1"),
    (BASE + "fixed: {batch_size: -5}\n", "fixed.batch_size"),
    (BASE + "  reg: {distribution: uniform, min: 0.5, max: 0.1}\n", "parameters.reg.min: min (0.5) is greater than max"),
    (BASE + "time_limit: soon\n", "time_limit: 'soon' is not a duration; write a number followed by s, m or h"),
    (BASE + "time_limit: -5\n", "time_limit: '-5' is not a duration"),
    (BASE + "  reg: {distribution: log_uniform_values, min: 1e-5, max: 1e-1}\n",
     "parameters.reg: distribution log_uniform_values is continuous"),
    (BASE + "learnig_rate: 0.1\n", "exp.yaml:9: learnig_rate: unknown key (did you mean `learning_rate`?)"),
    (BASE.replace("  learning_rate:", "  learning_rte:"), "unknown hyperparameter (did you mean `learning_rate`?)"),
    (BASE.replace("method: grid", "method: gird"), "method: 'gird' is not allowed (did you mean `grid`?)"),
    (BASE.replace("method: grid", "method: bayse"), "method: 'bayse' is not allowed (did you mean `bayes`?)"),
    (BASE + "  epochs: {distribution: int_uniform, min: 1.0, max: 9}\n",
     "exp.yaml:9: parameters.epochs.min: int_uniform needs integer min and max, got 1.0 and 9; write min: 1"),
    (BASE + "metric: {name: val_accuracy}\n", "did you mean `val_acc`?"),
    (BASE + "metric: {name: val_loss, goal: maximize}\n", "val_loss should be minimized"),
    (BASE + "fixed: {hidden_size: 10}\n", "fixed.hidden_size: is also under `parameters`"),
    (BASE + "fixed: {optimizer: adamw}\n", "'adamw' is not allowed; optimizer must be one of sgd"),
    (BASE + "  optimizer: {distribution: uniform, min: 0, max: 1}\n", "optimizer takes one of"),
    (BASE + "  hidden_size2: {values: [1]}\n", "unknown hyperparameter"),
    (BASE + "  learning_rate2: 0.1\n", "unknown hyperparameter"),
    (BASE.replace("values: [1e-3, 1e-2]", "0.01"), "must be a mapping such as"),
    (BASE + "  reg: {distribution: normal, mu: 0.1, sigma: 0.1}\n", "reg must be a number >= 0"),
    (BASE + "  hidden_size: {distribution: log_uniform_values, min: 10, max: 100}\n", ""),  # duplicate key
    (BASE + "  momentum: {values: [0.9, 1.0]}\n", "momentum must be a number >= 0 and < 1"),
    (BASE + "  lr_decay: {values: [0.95, 1.5]}\n", "lr_decay must be a number > 0 and <= 1"),
    (BASE + "  hidden_size: {distribution: uniform, min: 10.0, max: 100.0}\n".replace("hidden_size", "epochs"),
     "epochs takes whole numbers"),
    (BASE.replace("dataset: digits", "dataset: {name: digits, val_sise: 0.2}"),
     "exp.yaml:2: dataset.val_sise: dataset option 'val_sise' is unknown for 'digits' (did you mean 'val_size'?)"),
    (BASE.replace("dataset: digits", "dataset: mnst"), "unknown dataset 'mnst' (did you mean 'mnist'?)"),
    (BASE.replace("dataset: digits\n", ""), "dataset: missing"),
    (BASE + "repeats: 0\n", "repeats: 0 is not allowed"),
    (BASE + "n_jobs: 0\n", "n_jobs: 0 is not allowed"),
    (BASE + "backend: spark\n", "backend: 'spark' is not allowed"),
    (BASE + "backend: dask_local\n", "backend: 'dask_local' is not allowed (did you mean `dask-local`?)"),
    (BASE + "backend: dask\n", "backend: dask needs the cluster's scheduler: `scheduler: tcp://HOST:8786`"),
    (BASE + "backend: loky\nscheduler: tcp://10.0.0.5:8786\n", "scheduler: a scheduler is only for backend: dask"),
    (BASE + "scheduler: 10.0.0.5\n", "scheduler: '10.0.0.5' is not a scheduler address; expected tcp://HOST:PORT"),
    (BASE + "scheduler: tcp://h:1\nscheduler_file: s.json\n", "give either scheduler (an address) or"),
    (BASE + "scheduler: tcp://127.0.0.1:99999\n", "scheduler: port 99999 is out of range (1 to 65535)"),
    (BASE + "scheduler: ucx://127.0.0.1:8786\n", "scheduler: protocol ucx:// is not supported; use one of tcp"),
    (BASE + "scheduler_file: [a]\n", "scheduler_file: must be a non-empty string, got ['a']"),
    (BASE + "name: my run\n", ""),  # duplicate key: the last wins and is then invalid
    ("name: [unclosed\n", "not valid YAML"),
    (BASE + "metric: {name: [1]}\n", "metric.name: [1] is not a metric"),
    (BASE + "metric: {name: val_acc, goal: {a: 1}}\n", "metric.goal: {'a': 1} is not allowed"),
    (BASE.replace("method: grid", "method: [grid]"), "method: ['grid'] is not allowed"),
    (BASE + "  reg: {distribution: [1]}\n", "unknown distribution [1]"),
    (BASE + "  reg: {distribution: log_uniform, min: -1000, max: 1000}\n".replace("reg", "learning_rate2"), ""),
    (BASE + "  weight_scale: {distribution: log_uniform, min: -1000, max: 1000}\n",
     "parameters.weight_scale.max: log_uniform takes natural-log exponents"),
    (BASE + "  hidden_size: {distribution: int_uniform, min: 1, max: 1e300}\n".replace("hidden_size", "epochs"),
     "int_uniform bounds must lie within"),
    (BASE + "  reg: {distribution: q_uniform, min: 0, max: 1, q: 1.0e-9}\n",
     "more than the 1,000,000 trials a sweep may plan"),
    (BASE.replace("method: grid", "method: random") + "run_cap: 100000000\n", "run_cap: 100,000,000 x 1 repeat(s)"),
    ("- a\n- b\n", "the experiment must be a mapping"),
])
def test_validation_errors_name_file_key_value_and_fix(tmp_path, edit, expected):
    message = error_of(tmp_path, edit)
    assert message.startswith(str(tmp_path / "exp.yaml"))
    assert expected in message


def test_overrides(tmp_path):
    exp = load_text(tmp_path, BASE, ["n_jobs=2", "dataset.val_size=0.2", "learning_rate=0.05",
                                     "parameters.hidden_size.values=[10, 20, 30]", "metric.name=val_loss"])
    assert exp.n_jobs == 2 and exp.dataset_options == {"val_size": 0.2}
    assert "learning_rate" not in exp.parameters and exp.fixed["learning_rate"] == 0.05
    assert exp.parameters["hidden_size"].values == (10, 20, 30)
    assert exp.metric.name == "val_loss" and not exp.metric.maximize
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["n_jobs"])
    assert "epochs: -1 is out of range" in error_of(tmp_path, BASE, ["epochs=-1"])


def test_backends_and_schedulers(tmp_path):
    assert load_text(tmp_path, BASE + "backend: dask-local\n").backend.name == "dask-local"
    by_address = load_text(tmp_path, BASE + "scheduler: tcp://10.0.0.5:8786\n").backend
    assert (by_address.name, by_address.scheduler) == ("dask", "tcp://10.0.0.5:8786")  # a scheduler means dask
    by_file = load_text(tmp_path, BASE + "backend: dask\nscheduler_file: /shared/s.json\n").backend
    assert (by_file.scheduler, by_file.scheduler_file) == (None, "/shared/s.json")
    for address in ("tcp://[::1]:8786", "tls://sched.example.org:8786", "127.0.0.1:8786"):
        assert load_text(tmp_path, BASE + f"scheduler: '{address}'\n").backend.scheduler == address
    again = parse_experiment(load_text(tmp_path, BASE + "scheduler: tcp://h:9\n").to_dict())
    assert again.backend == Backend("dask", "tcp://h:9")
    # options from the command line win over the file; their errors name the option
    exp = load_experiment(tmp_path / "exp.yaml", (), [("backend", "loky", "--backend loky"),
                                                      ("scheduler", None, "--backend loky")])
    assert exp.backend.name == "loky"
    with pytest.raises(ConfigError, match=r"^--scheduler nowhere: scheduler: 'nowhere' is not a scheduler address"):
        load_experiment(tmp_path / "exp.yaml", (), [("scheduler", "nowhere", "--scheduler nowhere")])


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="experiment file not found"):
        load_experiment(tmp_path / "nope.yaml")
    assert "is empty" in error_of(tmp_path, "")


def test_resolved_experiment_round_trips(tmp_path):
    exp = load_text(tmp_path, BASE + "  reg: {distribution: log_uniform_values, min: 1e-5, max: 1e-1}\n"
                    .replace("method: grid", "method: random") + "run_cap: 3\n", ["method=random"])
    again = parse_experiment(exp.to_dict(), source="again")
    assert again.parameters == exp.parameters and again.fixed == exp.fixed and again.run_cap == 3


# --------------------------------------------------------------------- through the CLI, as users see it
CLI_CASES = {
    "empty grid": (BASE.replace("values: [50, 100]", "values: []"), "`values` is empty"),
    "zero rate": (BASE.replace("values: [1e-3, 1e-2]", "values: [0.0]"), "learning_rate must be a number > 0"),
    "negative size": (BASE.replace("values: [50, 100]", "values: [-50]"), "hidden_size must be"),
    "zero epochs": (BASE + "fixed: {epochs: 0}\n", "epochs must be a whole number >= 1"),
    "min > max": (BASE + "  reg: {min: 0.5, max: 0.1}\n", "is greater than max"),
    "bad time limit": (BASE + "time_limit: 30 minutes\n", "is not a duration"),
    "unknown key": (BASE + "hiden_size: 3\n", "did you mean `hidden_size`?"),
    "bayes typo": (BASE.replace("method: grid", "method: baye"), "did you mean `bayes`?"),
    "early_terminate": (BASE + "early_terminate: {type: hyperband}\n", "hyperband needs min_iter, or max_iter and s"),
    "bad yaml": ("name: [\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_reports_user_errors_in_one_line_with_status_2(tmp_path, case):
    text, expected = CLI_CASES[case]
    (tmp_path / "exp.yaml").write_text(text)
    result = sweep_cli("run", "exp.yaml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("sweep: error: exp.yaml") and expected in lines[0]
    assert not (tmp_path / "results").exists()


def test_cli_backend_options(tmp_path):
    (tmp_path / "exp.yaml").write_text(BASE + "scheduler: tcp://10.0.0.5:8786\n")
    listed = sweep_cli("list", "exp.yaml", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    both = sweep_cli("run", "exp.yaml", "--scheduler", "tcp://h:1", "--scheduler-file", "s.json", "--no-plots",
                     cwd=tmp_path)
    assert both.returncode == 2 and "give one" in both.stderr
    bad = sweep_cli("run", "exp.yaml", "--backend", "dask", "--scheduler", "h", "--no-plots", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("sweep: error: --scheduler h: scheduler: 'h' is not")
    empty = sweep_cli("run", "exp.yaml", "--scheduler", "", "--no-plots", cwd=tmp_path)  # e.g. an unset shell variable
    assert empty.returncode == 2 and empty.stderr.strip() == (
        "sweep: error: --scheduler '': scheduler: must be a non-empty string, got ''")
    choice = sweep_cli("run", "exp.yaml", "--backend", "spark", "--no-plots", cwd=tmp_path)
    assert choice.returncode == 2 and "invalid choice: 'spark'" in choice.stderr
    (tmp_path / "dask.yaml").write_text(BASE + "backend: dask\n")
    missing = sweep_cli("run", "dask.yaml", "--no-plots", cwd=tmp_path)
    assert missing.returncode == 2 and "use dask-local to start a cluster on this machine" in missing.stderr
    assert not (tmp_path / "results").exists()


def test_cli_missing_file_and_bad_set(tmp_path):
    result = sweep_cli("run", "missing.yaml", "--no-plots", cwd=tmp_path)
    assert result.returncode == 2 and "experiment file not found" in result.stderr
    write_experiment(tmp_path / "ok.yaml", name="ok", dataset="digits",
                     method="grid", parameters={"hidden_size": {"values": [5]}})
    result = sweep_cli("run", "ok.yaml", "--set", "learning_rate=-1", "--no-plots", cwd=tmp_path)
    assert result.returncode == 2 and "learning_rate must be a number > 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_warns_about_wandb_only_keys(tmp_path):
    (tmp_path / "exp.yaml").write_text("project: mine\nentity: me\n" + BASE)
    result = sweep_cli("list", "exp.yaml", cwd=tmp_path)
    assert result.returncode == 0
    assert "`project` is a W&B agent setting" in result.stderr and "`entity`" in result.stderr


def test_every_shipped_experiment_is_valid():
    from conftest import ROOT

    files = sorted((ROOT / "experiments").glob("*.yaml"))
    assert len(files) >= 6
    for path in files:
        exp = load_experiment(path)
        assert exp.name and not exp.warnings, path


def test_errors_in_set_values_name_the_override_not_a_line(tmp_path):
    message = error_of(tmp_path, BASE, ["learning_rate=-1"])
    assert message.startswith("--set learning_rate=-1: fixed.learning_rate: -1.0 is out of range")
    message = error_of(tmp_path, BASE, ["parameters.hidden_size.values=[0]"])
    assert message.startswith("--set parameters.hidden_size.values=[0]: parameters.hidden_size")


def test_wandb_metric_target_is_ignored_with_a_warning(tmp_path):
    exp = load_text(tmp_path, BASE + "metric: {name: val_acc, goal: maximize, target: 0.99}\n")
    assert any("metric.target" in w for w in exp.warnings)


# --------------------------------------------------------------------- issue 9: hostile and careless files
BOMB = """\
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
name: bomb
dataset: digits
parameters: {hidden_size: {values: *i}}
"""
SELF_REFERENCE = BASE + "fixed: &loop {optimizer: sgd, again: *loop}\n"
DEEP = BASE + "description: " + "[" * 5000 + "]" * 5000 + "\n"


@pytest.mark.parametrize("text, expected", [
    (BOMB, "exp.yaml:5: its aliases expand it to more than 100,000 values"),
    (SELF_REFERENCE, "exp.yaml:9: an alias refers to a list or mapping that contains it"),
    (DEEP, "nested more than 64 deep"),
    (BASE + "x" * (1 << 20) + ": 1\n", "exp.yaml: the file is larger than 1,048,576 bytes"),
    (BASE + "parameters:\n  reg: {values: [0.1]}\n", "exp.yaml:9: duplicate key `parameters` (first given on line 4)"),
    (BASE.replace("    values: [50, 100]", "    values: [50, 100]\n    values: [1]"),
     "exp.yaml:7: duplicate key `values` (first given on line 6)"),
])
def test_hostile_yaml_is_refused_up_front_in_one_line(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text)


@pytest.mark.parametrize("text, expected", [
    ("{1: a, 01: b}\n", "duplicate key `01`"),  # keys equal once built, as the mapping holds them
    ("{1: a, 1.0: b}\n", "duplicate key `1.0`"),
    ("{yes: 1, true: 2}\n", "duplicate key `true`"),
    ("{~: 1, null: 2}\n", "duplicate key `null`"),
    ("? [a, b]\n: 1\nname: x\n", "not valid YAML: found unhashable key"),
    (BASE + "seed: " + "9" * 5000 + "\n", "a value cannot be read (Exceeds the limit"),
])
def test_yaml_that_pyyaml_builds_oddly_or_cannot_build_is_one_line(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text)


def test_a_distribution_whose_draws_never_fit_is_one_line(tmp_path):
    from sweep.strategies import plan_trials

    text = BASE.replace("method: grid", "method: random") + \
        "  reg: {distribution: log_normal, mu: 0.0, sigma: 1.0}\n  momentum: {distribution: uniform, min: 0.0, " \
        "max: 1.0}\nrun_cap: 3\n"
    plan_trials(load_text(tmp_path, text))  # fine: the draws are guarded
    exp = load_text(tmp_path, BASE.replace("  learning_rate:\n    values: [1e-3, 1e-2]\n", "").replace(
        "method: grid", "method: random") + "  learning_rate: {distribution: log_normal, mu: -800.0, sigma: 1.0}\n"
                                              "run_cap: 3\n")
    with pytest.raises(ConfigError, match=r"exp.yaml: parameters: parameter `learning_rate`: 100 draws in a row from "
                                          r"log_normal gave values it does not accept \(the last: 0.0\)"):
        plan_trials(exp)


def test_a_set_value_with_an_alias_bomb_is_refused(tmp_path):
    levels = ["&l0 [" + ", ".join(["x"] * 10) + "]"]
    levels += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 7)]
    message = error_of(tmp_path, BASE, ["description=[" + ", ".join(levels) + "]"])
    assert message.startswith("--set 'description=[&l0") and "the value is refused: its aliases expand it" in message


@pytest.mark.parametrize("block", [
    "learning_rate: {distribution: log_normal, mu: -4.0, sigma: 1.0}",  # suggested for a positive quantity
    "learning_rate: {distribution: uniform, min: 0.0, max: 0.1}",
    "momentum: {distribution: beta, a: 9.0, b: 1.0}",
    "lr_decay: {distribution: beta, a: 8.0, b: 1.0}",
])
def test_a_continuous_distribution_may_touch_an_end_it_never_draws(tmp_path, block):
    base = BASE.replace("  learning_rate:\n    values: [1e-3, 1e-2]\n", "")
    text = base.replace("method: grid", "method: random") + "  " + block + "\nrun_cap: 400\n"
    exp = load_text(tmp_path, text)
    name = block.split(":")[0]
    from sweep.params import PARAMETERS
    from sweep.strategies import plan_trials

    assert all(PARAMETERS[name].accepts(t.params[name]) for t in plan_trials(exp))


def test_a_normal_distribution_for_a_positive_quantity_is_still_refused_and_the_hint_works(tmp_path):
    message = error_of(tmp_path, BASE + "  reg: {distribution: normal, mu: 0.1, sigma: 0.1}\n")
    assert "use log_normal for a positive quantity" in message
    load_text(tmp_path, BASE.replace("method: grid", "method: random")
              + "  reg: {distribution: log_normal, mu: -4.0, sigma: 1.0}\nrun_cap: 3\n")


@pytest.mark.parametrize("written, meant", [
    ("wd", "reg"), ("l2", "reg"), ("l2_coeff", "reg"), ("lr", "learning_rate"),
    ("num_epochs", "epochs"), ("EPOCHS", "epochs"), ("hidden_dim", "hidden_size"), ("Learning-Rate", "learning_rate"),
])
def test_did_you_mean_knows_what_people_call_the_hyperparameters(tmp_path, written, meant):
    """(``weight_decay`` is read as ``reg``: sweep.vocabulary, tests/test_vocabulary.py.)"""
    for text in (BASE + f"  {written}: {{values: [1]}}\n", BASE + f"fixed: {{{written}: 1}}\n",
                 BASE + f"{written}: 1\n"):
        message = error_of(tmp_path, text)
        assert f"(did you mean `{meant}`?)" in message, message
    # a name people use wins over a look-alike: weight_decay at the top level means reg, not weight_scale
    assert "(did you mean `reg`?)" in error_of(tmp_path, BASE + "weight_decay: 1\n")


REPEATED_PREFIX = re.compile(r"(?:^|: )([\w.]+): \1\b")


@pytest.mark.parametrize("text", [
    BASE.replace("method: grid", "method: bayse"),
    BASE + "early_terminate: {type: hyperband, min_iter: 0}\n",
    BASE.replace("method: grid", "method: gird"),
    BASE + "metric: {name: val_accuracy}\n",
    BASE + "backend: spark\n",
    BASE + "n_jobs: 0\n",
    BASE + "repeats: 0\n",
    BASE + "run_cap: 0\n",
    BASE + "seed: -1\n",
    BASE.replace("name: t", "name: [t]"),
    BASE + "fixed: {optimizer: adamw}\n",
    BASE + "metric: {name: val_acc, goal: up}\n",
])
def test_messages_do_not_repeat_their_key(tmp_path, text):
    message = error_of(tmp_path, text)
    assert not REPEATED_PREFIX.search(message.split(": ", 1)[1]), message


def test_metric_goal_and_impute_as_in_wandb(tmp_path):
    message = error_of(tmp_path, BASE + "metric: {name: val_acc}\n")
    assert "metric.name: val_acc without `goal`: W&B minimizes by default" in message and "goal: maximize" in message
    assert not load_text(tmp_path, BASE + "metric: {name: val_loss}\n").metric.maximize  # W&B's default agrees
    assert load_text(tmp_path, BASE + "metric: best_val_acc\n").metric.maximize  # our shorthand: its natural goal
    assert load_text(tmp_path, BASE + "metric: {name: val_acc, goal: maximize, impute: worst}\n").metric.maximize
    load_text(tmp_path, BASE + "metric: {name: val_acc, goal: maximize, impute_while_running: 'false'}\n")
    assert "metric.impute: 'best' is not supported; failed and crashed trials rank below" in error_of(
        tmp_path, BASE + "metric: {name: val_acc, goal: maximize, impute: best}\n")
    assert "metric.impute_while_running: 'latest' is not supported" in error_of(
        tmp_path, BASE + "metric: {name: val_acc, goal: maximize, impute_while_running: latest}\n")


@pytest.mark.parametrize("name, expected", [
    ("x" * 300, "name: the name is 300 characters long; at most 100"),
    ("'ends in a newline\\n'", "contains the control character '\\n'"),
    ("' padded '", "starts or ends with a space"),
])
def test_experiment_names_that_cannot_be_shown_on_one_line_are_refused(tmp_path, name, expected):
    text = BASE.replace("name: t", "name: " + (f'"{name[1:-1]}"' if name.startswith("'") else name))
    assert expected in error_of(tmp_path, text)


def test_wandb_display_names_with_spaces_are_accepted_with_a_safe_folder_name(tmp_path):
    exp = load_text(tmp_path, BASE.replace("name: t", "name: 'My sweep #2 (ResNet/CIFAR)'"))
    assert exp.name == "My sweep #2 (ResNet/CIFAR)" and exp.folder_name == "My-sweep-2-ResNet-CIFAR"
    assert load_text(tmp_path, BASE.replace("name: t", "name: 'Évaluation'")).folder_name == "Evaluation"
    assert load_text(tmp_path, BASE.replace("name: t", "name: '..'")).folder_name.startswith("experiment-")


def test_a_q_uniform_grid_never_plans_a_value_outside_its_range(tmp_path):
    from sweep.strategies import plan_trials

    exp = load_text(tmp_path, BASE + "  reg: {distribution: q_uniform, min: 0.05, max: 0.5, q: 0.1}\n")
    regs = sorted({t.params["reg"] for t in plan_trials(exp)})
    assert regs == pytest.approx([0.05, 0.15, 0.25, 0.35, 0.45]) and len(plan_trials(exp)) == 4 * 5
    assert "is not less than max" in error_of(tmp_path, BASE + "  reg: {distribution: q_uniform, min: 0.1, max: 0.1}\n")
    assert "hidden_size" in error_of(tmp_path, BASE.replace("values: [50, 100]", "{distribution: q_uniform, min: 0.5,"
                                                                                  " max: 10, q: 2}"))

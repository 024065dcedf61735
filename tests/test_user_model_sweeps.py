"""Sweeping a user's own model (issue 23): the CS231n contract through the real command line.

The models are the examples users see (experiments/models/): a two-layer net written as CS231n's
assignment 1 writes it (np.random.randn weights, no dtype) and a three-layer net with dropout masks
drawn from np.random.rand. Each sweep runs as a user runs it: `sweep run` in a subprocess, loky
workers, the model file copied beside the experiment file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, kill_9_once_paused, sweep_cli, write_experiment
from test_hostile import in_process, one_error_line

import sweep
from sweep.config import load_experiment
from sweep.data import load_dataset
from sweep.figures import as_plot_run, run_caption
from sweep.models import resolve_model
from sweep.models.fingerprint import code_change, code_files
from sweep.strategies import plan_trials
from sweep.task import build_and_train

TWO_LAYER = {"name": "cs231n", "dataset": "digits", "model": "models/two_layer.py:TwoLayerNet", "method": "grid",
             "parameters": {"hidden_size": {"values": [32, 64]}, "learning_rate": {"values": [0.5, 0.1]}},
             "fixed": {"epochs": 3, "std": 0.01, "reg": 1e-3, "batch_size": 64, "optimizer": "sgd_momentum"},
             "n_jobs": 2}
THREE_LAYER = {"name": "three", "dataset": "digits", "model": "models/three_layer.py:ThreeLayerNet",
               "method": "grid",
               "parameters": {"h1": {"values": [32, 64]}, "learning_rate": {"values": [0.2, 0.1, 0.05]}},
               "fixed": {"epochs": 6, "h2": 32, "dropout": 0.3, "weight_scale": 0.1, "batch_size": 64,
                         "optimizer": "sgd_momentum"},
               "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2}, "n_jobs": 2}
NUMBERS = ["trial_id", "status", "train_loss", "train_acc", "val_loss", "val_acc", "best_epoch", "error"]


def with_models(folder, **doc):
    """``folder`` with the example models beside ``exp.yaml`` written from ``doc``."""
    shutil.copytree(ROOT / "experiments" / "models", folder / "models", dirs_exist_ok=True)
    write_experiment(folder / "exp.yaml", **doc)
    return folder


def numbers(run) -> pd.DataFrame:
    return pd.read_csv(run / "trials.csv").sort_values("trial_id").reset_index(drop=True)[NUMBERS]


def history(run) -> pd.DataFrame:
    return pd.read_csv(run / "history.csv").drop(columns="seconds").sort_values(["trial_id", "epoch"]) \
        .reset_index(drop=True)


@pytest.fixture(scope="module")
def two_layer_runs(tmp_path_factory):
    """The CS231n two-layer sweep with two loky workers and with one."""
    folder = with_models(tmp_path_factory.mktemp("two"), **TWO_LAYER)
    for out, jobs in (("two", "2"), ("one", "1")):
        result = sweep_cli("run", "exp.yaml", "--out", out, "--n-jobs", jobs, "--no-plots", cwd=folder)
        assert result.returncode == 0, result.stderr
    return folder


def test_a_cs231n_model_sweeps_with_the_same_numbers_for_one_and_two_workers(two_layer_runs):
    pd.testing.assert_frame_equal(numbers(two_layer_runs / "two"), numbers(two_layer_runs / "one"))
    pd.testing.assert_frame_equal(history(two_layer_runs / "two"), history(two_layer_runs / "one"))
    trials = pd.read_csv(two_layer_runs / "two" / "trials.csv")
    assert list(trials.columns[2:8]) == ["hidden_size", "std", "reg", "learning_rate", "epochs", "batch_size"]
    assert (trials["status"] == "ok").all() and trials["val_acc"].max() > 0.8


def test_the_best_user_model_is_saved_measured_once_and_predicts_when_loaded(two_layer_runs):
    run = sweep.load_run(two_layer_runs / "two")
    model = run.best_model()
    raw = load_dataset("digits", scale=False)  # raw inputs: the model applies the run's scaling itself
    assert model.accuracy(raw.X_test, raw.y_test) == run.best["test_acc"]
    assert set(model.params) == {"W1", "b1", "W2", "b2"} and model.params["W1"].dtype == np.float32
    assert run.best["model_from"] == "trial" and run.best["params"]["std"] == 0.01
    report = sweep_cli("report", "two", cwd=two_layer_runs)
    assert report.returncode == 0, report.stderr
    assert (two_layer_runs / "two" / "plots" / "weights.png").is_file()  # W1 (64, H) matches the 8x8 images


def test_the_ensemble_combines_a_users_model_the_same_for_one_and_two_workers(two_layer_runs):
    records = [json.loads((two_layer_runs / out / "best" / "ensemble.json").read_text()) for out in ("two", "one")]
    same = ("members", "order", "val_acc", "test_acc", "pool", "retrained")
    assert [{k: r[k] for k in same} for r in records][0] == {k: records[1][k] for k in same}
    record = records[0]
    assert record["pool"] == 4 and record["retrained"] == []  # every trial kept its weights: none trained again
    assert record["val_acc"] >= record["single_best"]["val_acc"]
    ensemble = sweep.load_run(two_layer_runs / "two").ensemble()  # rebuilt from the saved text of the model file
    raw = load_dataset("digits", scale=False)
    assert ensemble.accuracy(raw.X_test, raw.y_test) == record["test_acc"]
    assert len(ensemble.nets) == len(record["members"])
    assert all(set(net.params) == {"W1", "b1", "W2", "b2"} for net in ensemble.nets)


def test_the_report_of_a_conv_net_draws_its_first_layers_filters(tmp_path):
    doc = {"name": "conv", "dataset": "digits", "model": "models/conv_net.py:ThreeLayerConvNet", "method": "grid",
           "parameters": {"learning_rate": {"values": [1e-3, 3e-3]}},
           "fixed": {"epochs": 1, "num_filters": 4, "filter_size": 3, "hidden_dim": 16, "batch_size": 64,
                     "optimizer": "adam"},
           "ensemble": False, "n_jobs": 2}
    folder = with_models(tmp_path, **doc)
    result = sweep_cli("run", "exp.yaml", "--out", "run", cwd=folder)
    assert result.returncode == 0, result.stderr
    run = sweep.load_run(folder / "run")
    drawn = as_plot_run(run)
    # 4 filters: W2 takes (8 / 2)**2 * 4 = 64 inputs, as many as the image has pixels, and is not drawn
    assert drawn.W1.shape == (4, 1, 3, 3) and drawn.image_shape == (8, 8)
    assert (folder / "run" / "plots" / "weights.png").is_file()
    assert run_caption(run, "weights.png")[0] == "First-layer filters of the best model"
    assert "First-layer filters of the best model" in (folder / "run" / "report.html").read_text()


def test_a_paused_user_model_with_global_rng_dropout_continues_bitwise(tmp_path):
    """Hyperband pauses each trial at its milestones; a trial continued from its saved state (its
    weights, update rule, generator and NumPy's global generator) is bitwise the trial trained
    without a pause, dropout masks from np.random.rand included."""
    folder = with_models(tmp_path, **THREE_LAYER)
    result = sweep_cli("run", "exp.yaml", "--out", "hb", "--no-plots", "--quiet", cwd=folder)
    assert result.returncode == 0, result.stderr
    experiment = load_experiment(folder / "exp.yaml")
    data = load_dataset("digits")
    recorded = history(folder / "hb")
    continued = 0
    for trial in plan_trials(experiment):
        rows = recorded[recorded["trial_id"] == trial.trial_id]
        if len(rows) <= 1:
            continue
        continued += 1
        _, whole = build_and_train(trial.params, trial.seed, data, len(rows), model=experiment.model)
        expected = pd.DataFrame(whole.records).drop(columns="seconds")
        pd.testing.assert_frame_equal(rows.drop(columns="trial_id").reset_index(drop=True), expected,
                                      check_dtype=False)
    assert continued >= 2


def test_kill_9_of_a_user_model_sweep_then_resume_gives_the_uninterrupted_numbers(tmp_path):
    """The uninterrupted sweep runs on one worker, the killed and resumed one on two: the same numbers
    for any n_jobs, and nothing lost or repeated by the kill."""
    folder = with_models(tmp_path, **THREE_LAYER)
    whole = sweep_cli("run", "exp.yaml", "--out", "whole", "--n-jobs", "1", "--no-plots", "--quiet", cwd=folder)
    assert whole.returncode == 0, whole.stderr
    kill_9_once_paused(["run", "exp.yaml", "--out", "part", "--no-plots", "--quiet"], folder, folder / "part")
    rest = sweep_cli("run", "exp.yaml", "--resume", "part", "--no-plots", "--quiet", cwd=folder)
    assert rest.returncode == 0, rest.stderr
    assert "warning" not in rest.stderr  # every saved state proven genuine and continued
    pd.testing.assert_frame_equal(numbers(folder / "part"), numbers(folder / "whole"))
    pd.testing.assert_frame_equal(history(folder / "part"), history(folder / "whole"))


def test_a_user_model_on_dask_gives_the_numbers_of_loky(two_layer_runs, tmp_path):
    folder = with_models(tmp_path, **TWO_LAYER)
    result = sweep_cli("run", "exp.yaml", "--out", "dask", "--backend", "dask-local", "--no-plots", "--quiet",
                       cwd=folder, timeout=300)
    assert result.returncode == 0, result.stderr
    pd.testing.assert_frame_equal(numbers(folder / "dask"), numbers(two_layer_runs / "two"))


# ------------------------------------------------------------------------------------------ refusals
BROKEN = ["syntax_error.py:Net", "raises_at_import.py:Net", "constructor_raises.py:TwoHeads",
          "no_params.py:WeightsAsAttributes", "scores_wrong_shape.py:ReturnsLabels", "loss_not_pair.py:ForgetsGrads",
          "grads_missing_key.py:ForgetsBiasGradient", "grad_wrong_shape.py:TransposedGradient",
          "nan_loss.py:NoMaxShift"]


def test_broken_models_are_refused_in_one_line_naming_the_file_and_line_before_a_run_folder_exists(
        tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "tests" / "models", tmp_path / "models")
    for n, ref in enumerate(BROKEN):
        write_experiment(tmp_path / "exp.yaml", name="broken", dataset="digits", model=f"models/{ref}",
                         fixed={"epochs": 1})
        cli = sweep_cli if n == 0 else (lambda *args, cwd: in_process(monkeypatch, capsys, cwd, *args))
        line = one_error_line(cli("run", "exp.yaml", cwd=tmp_path))
        path = tmp_path / "models" / ref.split(":")[0]
        marked = next((i for i, text in enumerate(path.read_text().splitlines(), 1) if text.endswith("# expected")),
                      None)
        assert ref.split(":")[0] in line and (marked is None or f":{marked}" in line), (ref, line)
    assert not (tmp_path / "results").exists()


def test_a_hyperparameter_the_model_does_not_take_is_refused_with_a_did_you_mean_from_its_signature(
        tmp_path, monkeypatch, capsys):
    with_models(tmp_path, **{**TWO_LAYER, "parameters": {"hiden_size": {"values": [8]}}})
    one_error_line(in_process(monkeypatch, capsys, tmp_path, "run", "exp.yaml"),
                   "exp.yaml:", "parameters.hiden_size: unknown hyperparameter (did you mean `hidden_size`?)",
                   "allowed: hidden_size, std, reg, learning_rate")
    with_models(tmp_path, **{**TWO_LAYER, "fuse": 4})
    one_error_line(in_process(monkeypatch, capsys, tmp_path, "run", "exp.yaml"), "fuse 4 trains the built-in nets only")


def test_a_trial_that_fails_in_the_users_code_names_its_line_and_the_sweep_goes_on(tmp_path):
    with_models(tmp_path, **{**TWO_LAYER, "model": "models/picky.py:Picky",
                             "parameters": {"width": {"values": [8, 13]}}, "fixed": {"epochs": 1}})
    (tmp_path / "models" / "picky.py").write_text(
        "import numpy as np\n\n\nclass Picky:\n"
        "    def __init__(self, input_dim, num_classes, width=8):\n"
        "        self.width = width\n"
        "        self.params = {'W': 0.01 * np.random.randn(input_dim, num_classes)}\n\n"
        "    def loss(self, X, y=None):\n"
        "        scores = X.dot(self.params['W'])\n"
        "        if y is None:\n"
        "            return scores\n"
        "        if self.width == 13:\n"
        "            raise ValueError('unlucky width')\n"
        "        p = np.exp(scores - scores.max(axis=1, keepdims=True))\n"
        "        p /= p.sum(axis=1, keepdims=True)\n"
        "        loss = -np.log(p[np.arange(len(y)), y]).mean()\n"
        "        p[np.arange(len(y)), y] -= 1\n"
        "        return loss, {'W': X.T.dot(p) / len(y)}\n")
    result = sweep_cli("run", "exp.yaml", "--out", "run", "--no-plots", "--quiet", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # a failed trial, the other recorded
    trials = pd.read_csv(tmp_path / "run" / "trials.csv").set_index("width")
    assert trials.loc[8, "status"] == "ok" and trials.loc[13, "status"] == "failed"
    assert trials.loc[13, "error"].startswith("models/picky.py:14: ValueError: unlucky width"), trials.loc[13, "error"]
    [traceback] = (tmp_path / "run" / "errors").glob("*.txt")
    assert "picky.py\", line 14" in traceback.read_text()


def test_a_resume_after_the_model_file_changed_is_refused(two_layer_runs, tmp_path, monkeypatch, capsys):
    folder = with_models(tmp_path, **TWO_LAYER)
    shutil.copytree(two_layer_runs / "two", folder / "run")
    with open(folder / "models" / "two_layer.py", "a") as f:
        f.write("\n# an edit\n")
    one_error_line(in_process(monkeypatch, capsys, folder, "run", "exp.yaml", "--resume", "run"),
                   "the model's file", "changed since the run was made")
    assert json.loads((folder / "run" / "best" / "summary.json").read_text())["trial_id"]


def test_a_sibling_module_the_model_imports_is_fingerprinted_a_resume_refused_and_a_load_warned(tmp_path):
    """three_layer.py takes its layers from layers.py, which is imported from disk: its code gives the
    numbers as much as the model file's. The other files beside it, which it does not import, are not
    the model's."""
    doc = {**{k: v for k, v in THREE_LAYER.items() if k != "early_terminate"},
           "parameters": {"h1": {"values": [16, 32]}}, "fixed": {**THREE_LAYER["fixed"], "epochs": 1}}
    folder = with_models(tmp_path, **doc)
    result = sweep_cli("run", "exp.yaml", "--out", "run", "--no-plots", "--max-trials", "1", cwd=folder)
    assert result.returncode == 0, result.stderr
    layers = folder / "models" / "layers.py"
    recorded = yaml.safe_load((folder / "run" / "experiment.yaml").read_text())["model_code_sha256"]
    assert recorded == {"layers.py": hashlib.sha256(layers.read_bytes()).hexdigest()}
    with open(layers, "a") as f:
        f.write("\n# an edit\n")
    one_error_line(sweep_cli("run", "exp.yaml", "--resume", "run", cwd=folder),
                   f"cannot resume run: {layers}, which the model imports, changed since the run was made")
    assert len(pd.read_csv(folder / "run" / "trials.csv")) == 1
    # In a new process: this one may hold another folder's `layers` already, which Python would not import again.
    loaded = subprocess.run([sys.executable, "-c", "import sweep; sweep.load_run('run').best_model()"], cwd=folder,
                            capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert f"UserWarning: run/best/model.npz: {layers}, which the model imports, changed since the model was saved" \
        in loaded.stderr


def test_what_a_model_imports_is_read_from_its_imports_not_from_what_the_process_imported(tmp_path):
    """Two sweeps in one script: the second model imports nothing of the user's, though the first one's
    modules (and the script's own helper) sit in the same folder and in sys.modules. A project moved
    elsewhere loads its saved model without a warning."""
    folder = with_models(tmp_path / "project", **TWO_LAYER)
    write_experiment(folder / "three.yaml", **{**{k: v for k, v in THREE_LAYER.items() if k != "early_terminate"},
                                               "fixed": {**THREE_LAYER["fixed"], "epochs": 1}})
    (folder / "models" / "helpers.py").write_text("SEED = 1\n")
    (folder / "script.py").write_text(
        "import sys\nsys.path.insert(0, 'models')\nimport helpers\nimport sweep\n"
        "sweep.run_experiment('three.yaml', out='three', n_jobs=1, max_trials=1, report=False, quiet=True)\n"
        "sweep.run_experiment('exp.yaml', out='two', n_jobs=1, max_trials=1, report=False, quiet=True)\n")
    script = subprocess.run([sys.executable, "script.py"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert script.returncode == 0, script.stderr
    recorded = {run: yaml.safe_load((folder / run / "experiment.yaml").read_text())["model_code_sha256"]
                for run in ("three", "two")}
    assert recorded == {"three": {"layers.py": hashlib.sha256((folder / "models" / "layers.py").read_bytes())
                                  .hexdigest()}, "two": {}}
    (folder / "models" / "helpers.py").write_text("SEED = 2\n")
    resumed = sweep_cli("run", "exp.yaml", "--resume", "two", "--no-plots", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    moved = tmp_path / "moved"
    folder.rename(moved)
    loaded = subprocess.run([sys.executable, "-W", "error", "-c",
                             "import sys; sys.path.insert(0, 'models'); import sweep; "
                             "print(sweep.load_run('three').best_model().params.keys())"],
                            cwd=moved, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0 and "Warning" not in loaded.stderr, loaded.stderr


def test_a_module_refs_package_is_fingerprinted_and_a_damaged_record_is_named(tmp_path, monkeypatch):
    package = tmp_path / "src" / "mypkg"
    package.mkdir(parents=True)
    shutil.copy(ROOT / "experiments" / "models" / "layers.py", package / "layers.py")
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text((ROOT / "experiments" / "models" / "three_layer.py").read_text()
                                     .replace("from layers import", "from .layers import"))
    monkeypatch.syspath_prepend(tmp_path / "src")
    source = resolve_model("mypkg.nets:ThreeLayerNet", tmp_path)
    recorded = code_files(source)
    assert sorted(recorded) == ["mypkg/__init__.py", "mypkg/layers.py", "mypkg/nets.py"]
    assert code_change(source, recorded) is None
    (package / "__init__.py").write_text("# an edit\n")
    assert code_change(source, recorded) == f"{package / '__init__.py'}, which the model imports, changed since"
    assert "is damaged" in code_change(source, {1: "x", "mypkg/layers.py": "y"})


def test_a_model_file_that_imports_no_module_of_the_users_records_none(two_layer_runs):
    assert yaml.safe_load((two_layer_runs / "two" / "experiment.yaml").read_text())["model_code_sha256"] == {}


# ------------------------------------------------------------------------ the README's model (docs/your-model.md)
def readme_block(first_line: str) -> str:
    """The fenced block of docs/your-model.md (where the README's model section went) whose first line is
    ``first_line``."""
    text = (ROOT / "docs" / "your-model.md").read_text()
    for block in text.split("```")[1::2]:
        body = block.split("\n", 1)[1] if "\n" in block else ""
        if body.startswith(first_line + "\n"):
            return body
    raise AssertionError(f"docs/your-model.md has no block starting {first_line!r}")


def test_the_readmes_example_model_runs_as_a_student_would_run_it(tmp_path):
    (tmp_path / "nets.py").write_text(readme_block("# nets.py"))
    (tmp_path / "exp.yaml").write_text(readme_block("# exp.yaml"))
    result = sweep_cli("run", "exp.yaml", "--out", "run", "--no-plots", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = sweep.load_run(tmp_path / "run")
    assert len(run.trials) == 8 and (run.trials["status"] == "ok").all() and run.best["val_acc"] > 0.9
    gradients = sweep_cli("gradcheck", "nets.py:TwoLayerNet", "--set", "std=0.1", "--set", "reg=0.1", cwd=tmp_path)
    assert gradients.returncode == 0, gradients.stdout + gradients.stderr


def test_the_shipped_example_experiment_plans_its_model(tmp_path):
    listed = sweep_cli("list", ROOT / "experiments" / "cs231n_model.yaml", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "18 trials (grid, 18 configurations x 1 seed(s)) in 18 training runs on digits" in listed.stdout
    assert "fixed: std=0.01" in listed.stdout


# ------------------------------------------------------------------------------------------ searches
@pytest.mark.parametrize("search, trials", [
    ({"method": "grid", "parameters": {"hidden_size": {"values": [8, 16]}, "epochs": {"values": [1, 2]}}}, 4),
    ({"method": "random", "run_cap": 4, "parameters": {"hidden_size": {"distribution": "int_uniform", "min": 8,
                                                                        "max": 32}}}, 4),
    ({"method": "bayes", "run_cap": 4, "repeats": 2, "metric": {"name": "val_acc", "goal": "maximize"},
      "parameters": {"learning_rate": {"distribution": "log_uniform_values", "min": 0.01, "max": 0.5}}}, 8),
])
def test_grid_random_and_bayes_search_a_users_model(tmp_path, search, trials):
    from sweep.runner import run_sweep

    fixed = {k: v for k, v in TWO_LAYER["fixed"].items() if k not in search["parameters"]}
    folder = with_models(tmp_path, **{**TWO_LAYER, **search, "fixed": fixed})
    outcome = run_sweep(load_experiment(folder / "exp.yaml"), run_dir=folder / "run", quiet=True)
    recorded = pd.read_csv(folder / "run" / "trials.csv")
    assert outcome.all_ran and (recorded["status"] == "ok").all() and len(recorded) == trials
    if "epochs" in search["parameters"]:  # each epochs value scored from one training run of its configuration
        for _, run in recorded.groupby("hidden_size"):
            history = pd.read_csv(folder / "run" / "history.csv").set_index(["trial_id", "epoch"])
            one, two = (run[run["epochs"] == e].iloc[0] for e in (1, 2))
            assert one["val_loss"] == history.loc[(two["trial_id"], 1), "val_loss"]


def test_a_hyperparameter_without_a_default_must_be_given(tmp_path, monkeypatch, capsys):
    folder = with_models(tmp_path, **{**{k: v for k, v in TWO_LAYER.items() if k != "parameters"},
                                      "model": "models/needs.py:Needs", "fixed": {"epochs": 1}})
    (folder / "models" / "needs.py").write_text((folder / "models" / "two_layer.py").read_text().replace(
        "class TwoLayerNet:", "class Needs:").replace("hidden_size=50", "hidden_size"))
    one_error_line(in_process(monkeypatch, capsys, folder, "run", "exp.yaml"),
                   "models/needs.py:Needs: its constructor has no default for hidden_size: give it under "
                   "`parameters` or `fixed`")

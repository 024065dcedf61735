"""The best model is the best trial's own weights, sent back by its worker: no retrain at the end."""

import json
from dataclasses import replace

import numpy as np
import pytest

from sweep.best import BestBar
from sweep.config import parse_experiment
from sweep.data import load_dataset
from sweep.nn import TwoLayerNet
from sweep.plan import KeepModel, TrialSpec, group_tasks
from sweep.runner import run_sweep
from sweep.strategies import plan_trials
from sweep.task import TrialResult, build_and_train, run_task


def run(doc, tmp_path, name="run", **kwargs):
    return run_sweep(parse_experiment(doc), run_dir=tmp_path / name, quiet=True, **kwargs)


def summary_of(outcome):
    return json.loads((outcome.run_dir / "best" / "summary.json").read_text())


def retrain(doc, summary):
    """The best trial of ``doc``'s sweep trained again from its seed, in this process."""
    trial = next(t for t in plan_trials(parse_experiment(doc)) if t.trial_id == summary["trial_id"])
    data = load_dataset("digits").astype(trial.params["dtype"])
    net, _ = build_and_train(trial.params, trial.seed, data, summary["epochs_trained"])
    return net


@pytest.mark.parametrize("metric", ["val_acc", "best_val_acc"])
def test_the_saved_model_is_the_best_trials_weights_and_bitwise_a_retrain(small_grid, tmp_path, metric):
    doc = {**small_grid, "metric": {"name": metric, "goal": "maximize"}}
    outcome = run(doc, tmp_path, n_jobs=2)
    summary = summary_of(outcome)
    assert summary["model_from"] == "trial" and summary["reproduced"] is None and summary["retrain_seconds"] is None
    saved = TwoLayerNet.load(outcome.run_dir / "best" / "model.npz")
    retrained = retrain(doc, summary)
    for name in ("W1", "b1", "W2", "b2"):
        assert np.array_equal(saved.params[name], retrained.params[name]), name
    assert not (outcome.run_dir / "candidates").exists()
    checked = run(doc, tmp_path, name="checked", n_jobs=2, check_best=True)
    assert summary_of(checked)["reproduced"] is True and summary_of(checked)["model_from"] == "trial"
    assert summary_of(checked)["test_acc"] == summary["test_acc"]


def test_only_trials_that_may_be_the_best_send_their_weights(tmp_path, monkeypatch):
    # The first configuration is good, the next three hopeless: once the first is recorded, the
    # bar is set, and only the two tasks sent before it (one training run each) may send weights.
    doc = {"name": "bar", "dataset": {"name": "digits"}, "method": "grid",
           "parameters": {"learning_rate": {"values": [0.1, 1e-5, 2e-5, 3e-5]}, "epochs": {"values": [2, 3]}},
           "fixed": {"optimizer": "sgd_momentum", "init": "he", "batch_size": 64, "hidden_size": 32},
           "ensemble": False}  # an ensemble keeps the weights of its top trials too (tests/test_ensemble.py)
    saved = []
    import sweep.results.candidates as candidates

    real_save = candidates.save_candidate
    monkeypatch.setattr(candidates, "save_candidate", lambda *args: (saved.append(args[1]), real_save(*args)))
    outcome = run(doc, tmp_path, n_jobs=1)
    trials = plan_trials(parse_experiment(doc))
    first_two_tasks = {t.trial_id for task in group_tasks(trials)[:2] for t in task.trials}
    assert set(saved) <= first_two_tasks and summary_of(outcome)["trial_id"] in saved
    assert summary_of(outcome)["model_from"] == "trial"


def test_a_run_that_kept_no_weights_retrains_its_best(small_grid, tmp_path):
    outcome = run(small_grid, tmp_path, n_jobs=2)
    first = summary_of(outcome)
    for path in (outcome.run_dir / "best").iterdir():
        path.unlink()
    (outcome.run_dir / "best").rmdir()  # as a run folder of an older version, or one killed while saving
    resumed = run_sweep(parse_experiment(small_grid), run_dir=outcome.run_dir, resume=True, quiet=True)
    again = summary_of(resumed)
    assert again["model_from"] == "retrain" and again["reproduced"] is True
    assert again["trial_id"] == first["trial_id"] and again["test_acc"] == first["test_acc"]


def _trial(trial_id, config_id, epochs, lr=0.1):
    params = {"hidden_size": 16, "learning_rate": lr, "reg": 0.0, "epochs": epochs, "batch_size": 64,
              "lr_decay": 1.0, "optimizer": "sgd_momentum", "momentum": 0.9, "weight_scale": 1e-3, "init": "he",
              "activation": "relu", "loss": "softmax", "dtype": "float32", "dropout": 0.0,
              "input_dropout": 0.0}
    return TrialSpec(trial_id, config_id, 0, 0, 7, params)


def test_a_task_sends_each_trial_the_weights_of_the_epoch_it_is_judged_at():
    data = load_dataset("digits")
    trials = (_trial("short", "a", 2), _trial("long", "b", 5))
    [task] = group_tasks(list(trials))
    for metric in ("val_acc", "best_val_acc"):
        results = {r.trial_id: r for r in run_task(replace(task, keep_model=KeepModel(metric, True)), data)}
        for trial in trials:
            result = results[trial.trial_id]
            epoch = result.metrics["best_epoch"] if metric == "best_val_acc" else trial.params["epochs"]
            assert result.model_epoch == epoch
            alone, _ = build_and_train(trial.params, trial.seed, data, epoch)  # the epoch-prefix property
            assert all(np.array_equal(result.model[k], alone.params[k]) for k in alone.params)
    # A bar no trial reaches sends nothing; no keep_model sends nothing either.
    assert all(r.model is None for r in run_task(replace(task, keep_model=KeepModel("val_acc", True, 1.01)), data))
    assert all(r.model is None for r in run_task(task, data))


def test_the_bar_is_the_best_worst_repeat_of_a_configuration_whose_repeats_all_finished_ok():
    bar = BestBar("val_acc", maximize=True)
    a1, a2, b1, b2 = _trial("a1", "a", 3), _trial("a2", "a", 3), _trial("b1", "b", 3), _trial("b2", "b", 3)
    bar.asked([a1, a2, b1, b2])

    def result(trial, value, status="ok"):
        return TrialResult(trial.trial_id, status, {"val_acc": value})

    bar.recorded(a1, result(a1, 0.9))
    assert bar.bar is None and bar.may_be_best(0.1)  # configuration a is not complete
    bar.recorded(a2, result(a2, 0.8))
    assert bar.bar == 0.8 and bar.may_be_best(0.8) and not bar.may_be_best(0.79)
    bar.recorded(b1, result(b1, 0.95))
    bar.recorded(b2, result(b2, 0.99, "diverged"))
    assert bar.bar == 0.8  # b has a repeat that is not ok: it may rank below a
    lower = BestBar("val_loss", maximize=False)
    lower.asked([a1])
    lower.recorded(a1, TrialResult("a1", "ok", {"val_loss": 0.3}))
    assert lower.may_be_best(0.3) and not lower.may_be_best(0.31) and not lower.may_be_best(float("nan"))


def test_a_candidate_file_that_is_not_as_written_is_not_used(small_grid, tmp_path):
    outcome = run(small_grid, tmp_path, n_jobs=2)
    best = summary_of(outcome)
    candidates = outcome.run_dir / "candidates"
    candidates.mkdir()
    (candidates / "notes.txt").write_text("mine")  # a file sweep did not write is never removed
    weights = {"W1": np.zeros((3, 3), np.float32), "b1": np.zeros(3, np.float32),
               "W2": np.zeros((3, 10), np.float32), "b2": np.zeros(10, np.float32)}
    np.savez(candidates / f"{best['trial_id']}.npz", epoch=np.array(best["epochs_trained"]), **weights)
    (outcome.run_dir / "best" / "summary.json").unlink()
    again = summary_of(run_sweep(parse_experiment(small_grid), run_dir=outcome.run_dir, resume=True, quiet=True))
    assert again["model_from"] == "retrain" and again["reproduced"] is True and again["test_acc"] == best["test_acc"]
    assert sorted(p.name for p in candidates.iterdir()) == ["notes.txt"]


def test_candidates_stay_until_no_later_call_can_change_the_best(small_grid, tmp_path):
    capped = run(small_grid, tmp_path, n_jobs=2, max_trials=7)  # a resume may still pick another best
    assert summary_of(capped)["model_from"] == "trial"
    assert summary_of(capped)["trial_id"] in [p.stem for p in (capped.run_dir / "candidates").iterdir()]
    resumed = run_sweep(parse_experiment(small_grid), run_dir=capped.run_dir, resume=True, quiet=True, n_jobs=2)
    assert summary_of(resumed)["model_from"] == "trial" and not (capped.run_dir / "candidates").exists()
    checked = run_sweep(parse_experiment(small_grid), run_dir=capped.run_dir, resume=True, quiet=True,
                        check_best=True)  # nothing left to run: --check-best still checks
    assert checked.ran == 0 and summary_of(checked)["reproduced"] is True


def test_a_trial_stopped_at_a_milestone_gives_the_weights_it_stopped_with(tmp_path):
    from sweep.early import EarlyTermination
    from sweep.trainer import TrainState

    doc = {"name": "hb", "dataset": "digits", "method": "grid", "parameters": {"hidden_size": {"values": [8, 16]}},
           "fixed": {"epochs": 9}, "early_terminate": {"type": "hyperband", "min_iter": 3}}
    trial = plan_trials(parse_experiment(doc))[0]
    records = [{"epoch": e, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0, "val_acc": acc, "lr": 0.1,
                "seconds": 0.1} for e, acc in ((1, 0.5), (2, 0.7), (3, 0.6))]
    state = TrainState(3, {"W1": np.ones((64, 8), np.float32)}, {}, {}, records)
    for metric, kept in (("val_acc", True), ("best_val_acc", False)):  # best_val_acc's model is epoch 2's
        experiment = parse_experiment({**doc, "metric": {"name": metric, "goal": "maximize"}})
        early = EarlyTermination(experiment, tmp_path, None, print)
        result = early.stopped_result(trial, state, "stopped by the time limit at epoch 3")
        assert (result.model is not None) is kept and (not kept or result.model_epoch == 3)

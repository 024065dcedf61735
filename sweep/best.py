"""The best model of a run: pick the best trial, retrain it from its seed, score it once on test."""

from __future__ import annotations

import time
from pathlib import Path

from .config import Experiment
from .params import PARAMETER_NAMES, PARAMETERS
from .plan import TrialSpec
from .results.analysis import best_trial, clean, read_history, read_trials
from .results.store import write_best
from .status import STOPPED
from .task import build_and_train
from .trainer import evaluate


def spec_of(row) -> TrialSpec:
    """The trial of a trials.csv row (a resumed search that did not ask for it again in this call)."""
    params = {name: PARAMETERS[name].check(row[name].item() if hasattr(row[name], "item") else row[name])
              for name in PARAMETER_NAMES}
    return TrialSpec(row["trial_id"], row["config_id"], -1, int(row["repeat"]), int(row["seed"]), params)


def finalize(run_dir: Path, experiment: Experiment, trials: list[TrialSpec], data) -> dict | None:
    """Retrain the best trial (bitwise reproducible from its seed), save it, measure test accuracy once.

    The best trial is the best repeat of the configuration ranked first by the leaderboard. With
    metric ``best_val_acc`` the model is taken at its best epoch (exact, by the epoch-prefix
    property). The validation and training figures of the summary are those of the saved model.
    ``reproduced`` says whether the retrain gave bitwise the validation losses recorded by the
    sweep. A trial stopped early (a time limit) is retrained to the epoch where it stopped.
    Returns the summary written to ``best/summary.json``, or None when no trial has a metric.
    """
    metric = experiment.metric
    row = best_trial(read_trials(run_dir), metric.name, metric.maximize)
    if row is None:
        return None
    spec = next((t for t in trials if t.trial_id == row["trial_id"]), None) or spec_of(row)
    recorded = read_history(run_dir)
    recorded = recorded[recorded["trial_id"] == spec.trial_id].sort_values("epoch")
    if metric.name == "best_val_acc":
        epochs = int(row["best_epoch"])
    elif row["status"] == STOPPED:  # the model where it was stopped
        epochs = len(recorded)
    else:
        epochs = spec.params["epochs"]
    recorded = recorded.head(epochs)
    typed = data.astype(spec.params["dtype"])
    start = time.perf_counter()
    net, history = build_and_train(spec.params, spec.seed, typed, epochs)
    reproduced = [r["val_loss"] for r in history] == recorded["val_loss"].tolist()
    test_loss, test_acc = evaluate(net, typed.X_test, typed.y_test)
    final = history[-1]
    summary = {
        "trial_id": spec.trial_id, "config_id": spec.config_id, "repeat": spec.repeat, "seed": spec.seed,
        "params": spec.params, "epochs_trained": epochs,
        "metric": {"name": metric.name, "goal": metric.goal, "value": clean(row[metric.name])},
        "val_acc": clean(final["val_acc"]), "val_loss": clean(final["val_loss"]),
        "train_acc": clean(final["train_acc"]), "train_loss": clean(final["train_loss"]),
        "test_acc": clean(test_acc), "test_loss": clean(test_loss), "test_rows": int(len(typed.X_test)),
        "reproduced": bool(reproduced), "retrain_seconds": round(time.perf_counter() - start, 3),
        "dataset": experiment.dataset, "image_shape": list(data.image_shape) if data.image_shape else None,
        "class_names": list(data.class_names) if data.class_names else None,
    }
    write_best(run_dir, net, summary)
    return summary

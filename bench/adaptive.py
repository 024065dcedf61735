"""Adaptive search, measured: bayes against random search, and Hyperband against the full grid.

1. Bayes vs random (digits by default): for each of 5 seeds, a random search and a bayes search of
   the same space and the same number of trials. Prints the mean best-so-far validation accuracy
   against the number of trials for both, random search's median best, and how many trials bayes
   needs to reach it (median over seeds).
2. Hyperband vs the full grid: the same grid with and without ``early_terminate`` (by default the
   shipped Fashion-MNIST grid with epochs fixed at 20 when the data set is installed, with min_iter 1
   and 2; else a digits grid with min_iter 1). Prints the epochs each trained, their ratio, and the
   best validation accuracy of each.

    python bench/adaptive.py [--seeds 5] [--trials 30] [--grid fashion|digits] [--skip-bayes] [--skip-hyperband]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sweep.config import load_experiment, parse_experiment
from sweep.runner import run_sweep

ROOT = Path(__file__).resolve().parents[1]

SPACE = {"learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0},
         "reg": {"distribution": "log_uniform_values", "min": 1e-6, "max": 1e-1},
         "hidden_size": {"distribution": "q_log_uniform_values", "min": 8, "max": 256, "q": 8},
         "momentum": {"distribution": "uniform", "min": 0.0, "max": 0.99}}
DIGITS_GRID = {"name": "digits-grid", "dataset": {"name": "digits", "center": "mean_image"}, "method": "grid",
               "parameters": {"hidden_size": {"values": [16, 64, 256]},
                              "learning_rate": {"values": [0.3, 0.1, 0.03, 0.01, 0.003]},
                              "reg": {"values": [1e-5, 1e-3, 1e-1]}},
               "fixed": {"epochs": 27, "optimizer": "sgd_momentum", "init": "he", "batch_size": 64}}


def best_so_far(run_dir: Path) -> np.ndarray:
    """Best validation accuracy after each trial, in plan order (failed and diverged count as 0)."""
    plan = pd.read_csv(run_dir / "plan.csv")
    trials = pd.read_csv(run_dir / "trials.csv").set_index("trial_id")
    scores = trials["val_acc"].where(trials["status"].isin(["ok", "stopped"])).reindex(plan["trial_id"])
    return np.maximum.accumulate(scores.fillna(0.0).to_numpy())


def bayes_against_random(seeds: int, trials: int, tmp: Path) -> None:
    curves = {"random": [], "bayes": []}
    for seed in range(seeds):
        for method in curves:
            doc = {"name": f"{method}-{seed}", "dataset": {"name": "digits", "center": "mean_image"},
                   "method": method, "run_cap": trials, "seed": seed, "parameters": SPACE,
                   "fixed": {"epochs": 10, "optimizer": "sgd_momentum", "init": "he", "batch_size": 64}}
            outcome = run_sweep(parse_experiment(doc), run_dir=tmp / f"{method}{seed}", quiet=True)
            curves[method].append(best_so_far(outcome.run_dir))
    mean = {method: np.mean(runs, axis=0) for method, runs in curves.items()}
    print(f"\nbest-so-far validation accuracy (mean over {seeds} seeds) after k trials, digits, {trials} trials:")
    print(f"{'k':>4} {'random':>8} {'bayes':>8}")
    for k in range(trials):
        print(f"{k + 1:>4} {mean['random'][k]:8.4f} {mean['bayes'][k]:8.4f}")
    target = float(np.median([run[-1] for run in curves["random"]]))
    reached = [int(np.argmax(run >= target)) + 1 if (run >= target).any() else None for run in curves["bayes"]]
    needed = sorted(r if r is not None else trials + 1 for r in reached)
    print(f"random search's median best after {trials} trials: {target:.4f}")
    print(f"trials bayes needs to reach it, per seed: {reached}; median {needed[len(needed) // 2]}"
          f" (> {trials} means not reached)")


def hyperband_against_grid(grid: str, tmp: Path) -> None:
    if grid == "fashion":
        experiment = load_experiment(ROOT / "experiments" / "fashion_mnist.yaml")
        doc = experiment.to_dict()
        doc["parameters"].pop("epochs")
        doc["fixed"]["epochs"] = 20
        rules = [{"type": "hyperband", "min_iter": 1, "eta": 3}, {"type": "hyperband", "min_iter": 2, "eta": 3}]
    else:
        doc, rules = dict(DIGITS_GRID), [{"type": "hyperband", "min_iter": 1, "eta": 3}]
    results = {}
    runs = [("full grid", {})] + [(f"min_iter {rule['min_iter']}", {"early_terminate": rule}) for rule in rules]
    for label, extra in runs:
        start = time.perf_counter()
        outcome = run_sweep(parse_experiment({**doc, **extra}), run_dir=tmp / label.replace(" ", "-"), quiet=True)
        seconds = time.perf_counter() - start
        history = pd.read_csv(outcome.run_dir / "history.csv")
        trials = pd.read_csv(outcome.run_dir / "trials.csv")
        results[label] = (len(history), trials.loc[trials["status"] == "ok", "val_acc"].max(), seconds,
                          int((trials["status"] == "stopped").sum()), len(trials))
    print(f"\nHyperband (eta 3) against the full grid ({doc['name']}, {doc['fixed']['epochs']} epochs):")
    for label, (epochs, best, seconds, stopped, count) in results.items():
        print(f"  {label:>10}: {count} trials, {stopped} stopped, {epochs} epochs trained, best val_acc {best:.4f}, "
              f"{seconds:.0f} s")
    full_epochs, full_best, *_ = results["full grid"]
    for label, (hb_epochs, hb_best, *_) in list(results.items())[1:]:
        print(f"  hyperband {label} trained {hb_epochs / full_epochs:.1%} of the grid's epochs; its best is "
              f"{100 * (hb_best - full_best):+.2f} points from the grid's")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--grid", choices=("fashion", "digits"), default=None)
    parser.add_argument("--skip-bayes", action="store_true")
    parser.add_argument("--skip-hyperband", action="store_true")
    args = parser.parse_args()
    grid = args.grid or ("fashion" if Path("/usr/share/datasets/fashion-mnist").is_dir() else "digits")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_bayes:
            bayes_against_random(args.seeds, args.trials, Path(tmp))
        if not args.skip_hyperband:
            hyperband_against_grid(grid, Path(tmp))


if __name__ == "__main__":
    main()

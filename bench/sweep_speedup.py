"""Parallel speed-up of a whole sweep: the same experiment with n_jobs 1 and n_jobs 2, in one run.

Default: experiments/seed_grid.yaml (16 Fashion-MNIST trials in 8 training runs). Prints the wall
time of each, the speed-up, and checks that both runs recorded bitwise-identical metrics.

    python bench/sweep_speedup.py [EXPERIMENT.yaml] [--jobs 1 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from sweep.config import load_experiment
from sweep.runner import run_sweep

ROOT = Path(__file__).resolve().parents[1]
METRICS = ["trial_id", "train_loss", "train_acc", "val_loss", "val_acc", "best_val_acc", "best_epoch"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", nargs="?", type=Path, default=ROOT / "experiments" / "seed_grid.yaml")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    experiment = load_experiment(args.experiment)
    seconds, frames = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in args.jobs:
            start = time.perf_counter()
            outcome = run_sweep(experiment, run_dir=Path(tmp) / f"jobs{jobs}", n_jobs=jobs, quiet=True)
            seconds[jobs] = time.perf_counter() - start
            frames[jobs] = pd.read_csv(outcome.run_dir / "trials.csv")[METRICS].sort_values("trial_id")
            print(f"n_jobs {jobs}: {outcome.total} trials in {seconds[jobs]:.1f} s "
                  f"(load, train, best model and test)")
    base = args.jobs[0]
    for jobs in args.jobs[1:]:
        same = frames[jobs].reset_index(drop=True).equals(frames[base].reset_index(drop=True))
        print(f"speed-up n_jobs {jobs} over {base}: {seconds[base] / seconds[jobs]:.2f}x; "
              f"identical metrics: {same}")


if __name__ == "__main__":
    main()

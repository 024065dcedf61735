"""The whole job against scikit-learn's GridSearchCV on the same sweep, from the shell.

The 16-point Fashion-MNIST grid of issue 12: hidden [100, 200] x learning rate [0.01, 0.05] x L2
[1e-4, 1e-3] x momentum [0.8, 0.9], 2 epochs, batch 200, SGD with momentum, a fixed 10,000-row
validation split, float32. Each side is one command timed from start to exit, data loading
included, at n_jobs 1 and 2, taking turns; the best of ``--repeats`` runs counts:

- ``sweep run`` (the prepared data set comes from the cache after the first run);
- ``GridSearchCV(MLPClassifier, PredefinedSplit, refit=False)`` on the same split, in a script
  that reads the same IDX files.

- the same ``sweep run`` with ``fuse: K`` (``--fuse``, default 8): training runs grouped by the
  plan and trained in one pass (sweep.fused).

Prints the wall times, their ratios, sweep's speed-up from 1 to 2 workers, and the best
validation accuracies. Needs Fashion-MNIST (Debian's dataset-fashion-mnist).

    python bench/vs_gridsearch.py [--repeats 2] [--jobs 1 2] [--fuse 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

EXPERIMENT = {
    "name": "vs-gridsearch", "dataset": {"name": "fashion-mnist", "val_size": 10000}, "method": "grid",
    "parameters": {"hidden_size": {"values": [100, 200]}, "learning_rate": {"values": [0.01, 0.05]},
                   "reg": {"values": [1e-4, 1e-3]}, "momentum": {"values": [0.8, 0.9]}},
    "fixed": {"epochs": 2, "batch_size": 200, "optimizer": "sgd_momentum", "init": "he"},
}

SKLEARN = r'''
import json, sys, time, warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.neural_network import MLPClassifier
from sweep.data import load_dataset

n_jobs = int(sys.argv[1])
data = load_dataset("fashion-mnist", val_size=10000)  # the same rows and preprocessing as the sweep
X = np.concatenate([data.X_train, data.X_val])
y = np.concatenate([data.y_train, data.y_val])
split = PredefinedSplit(np.r_[np.full(len(data.X_train), -1), np.zeros(len(data.X_val), dtype=int)])
grid = {"hidden_layer_sizes": [(100,), (200,)], "learning_rate_init": [0.01, 0.05], "alpha": [1e-4, 1e-3],
        "momentum": [0.8, 0.9]}
model = MLPClassifier(solver="sgd", batch_size=200, max_iter=2, nesterovs_momentum=False, tol=0.0,
                      n_iter_no_change=3, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search = GridSearchCV(model, grid, cv=split, refit=False, n_jobs=n_jobs).fit(X, y)
print(json.dumps({"best": float(search.best_score_)}))
'''


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} failed:\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--fuse", type=int, default=8, help="K of the fused sweep (1: leave it out)")
    args = parser.parse_args()
    variants = {"sweep": "grid.yaml", **({f"fuse {args.fuse}": "fused.yaml"} if args.fuse > 1 else {})}
    times = {name: {} for name in [*variants, "sklearn"]}
    best = {name: {} for name in times}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "grid.yaml").write_text(yaml.safe_dump(EXPERIMENT))
        (tmp / "fused.yaml").write_text(yaml.safe_dump({**EXPERIMENT, "fuse": args.fuse}))
        (tmp / "gridsearch.py").write_text(SKLEARN)
        sweep_cmd = [sys.executable, "-m", "sweep", "run", "--no-plots", "--quiet"]
        timed(sweep_cmd + ["grid.yaml", "--out", "warm"], tmp)  # fills the data cache, as any earlier run would
        for jobs in args.jobs:
            for k in range(args.repeats):  # taking turns, so that a slow moment of the machine hits every side
                for name, file in variants.items():
                    out = f"run-{file}-{jobs}-{k}"
                    seconds, _ = timed(sweep_cmd + [file, "--n-jobs", str(jobs), "--out", out], tmp)
                    times[name].setdefault(jobs, []).append(seconds)
                    best[name][jobs] = float(pd.read_csv(tmp / out / "trials.csv")["val_acc"].max())
                seconds, out = timed([sys.executable, "gridsearch.py", str(jobs)], tmp)
                times["sklearn"].setdefault(jobs, []).append(seconds)
                best["sklearn"][jobs] = json.loads(out.strip().splitlines()[-1])["best"]
    print(f"16-point Fashion-MNIST grid, whole command, best of {args.repeats} (ratio: GridSearchCV's time / ours):")
    print(f"{'n_jobs':>6}  {'':>8}  {'seconds':>8}  {'ratio':>6}  {'best val_acc':>12}")
    for jobs in args.jobs:
        theirs = min(times["sklearn"][jobs])
        for name in times:
            ours = min(times[name][jobs])
            print(f"{jobs:>6}  {name:>8}  {ours:8.1f}  {theirs / ours:5.2f}x  {best[name][jobs]:12.4f}")
    if 1 in args.jobs and 2 in args.jobs:
        for name in variants:
            print(f"{name}: speed-up from 1 to 2 workers {min(times[name][1]) / min(times[name][2]):.2f}x")


if __name__ == "__main__":
    main()

"""Wall time of one sweep on each backend, measured in the same run: loky, dask-local, a Dask cluster.

Default: bench/seed_grid_minute.yaml (the seed posts' 16-trial Fashion-MNIST grid with 3x the
epochs: about a minute on loky) with 2 workers everywhere. The Dask cluster is `dask scheduler`
plus `dask worker` subprocesses on 127.0.0.1 as `dask worker` starts by default (nannies included),
started (and timed) before the sweep, as a cluster would already be running, then the same cluster
with the workers' profiler off, as the README advises (dask-local turns it off itself);
dask-local's time includes starting its LocalCluster. Prints each wall time, its ratio to loky's, and whether the
metrics are bitwise identical to loky's.

    python bench/backends.py [EXPERIMENT.yaml] [--workers 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from sweep.config import Backend, load_experiment
from sweep.runner import run_sweep

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from cluster import SubprocessCluster  # noqa: E402  (the test suite's real subprocess cluster)

#: The variable the README tells users to set on their workers (Dask's profiler costs training ~15%).
PROFILER = "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED"
METRICS = ["trial_id", "train_loss", "train_acc", "val_loss", "val_acc", "best_val_acc", "best_epoch"]


def timed_sweep(experiment, backend: Backend, run_dir: Path, workers: int) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    outcome = run_sweep(dataclasses.replace(experiment, backend=backend), run_dir=run_dir, n_jobs=workers,
                        quiet=True)
    seconds = time.perf_counter() - start
    trials = pd.read_csv(outcome.run_dir / "trials.csv")
    assert outcome.counts.get("ok") == outcome.total, outcome.counts
    return seconds, trials[METRICS].sort_values("trial_id").reset_index(drop=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", nargs="?", type=Path, default=ROOT / "bench" / "seed_grid_minute.yaml")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    experiment = load_experiment(args.experiment)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results["loky"] = timed_sweep(experiment, Backend("loky"), tmp / "loky", args.workers)
        results["dask-local"] = timed_sweep(experiment, Backend("dask-local"), tmp / "dask-local", args.workers)
        for name, env in (("dask cluster", {}), ("no profiler", {PROFILER: "False"})):
            started = time.perf_counter()
            with SubprocessCluster(tmp / name.replace(" ", "-"), n_workers=args.workers, worker_env=env) as cluster:
                startup = time.perf_counter() - started
                backend = Backend("dask", scheduler_file=str(cluster.scheduler_file))
                results[name] = timed_sweep(experiment, backend, tmp / f"{name.replace(' ', '-')}-run", args.workers)
    loky_seconds, loky_metrics = results["loky"]
    print(f"{experiment.name}: {len(loky_metrics)} trials, {args.workers} workers per backend "
          "(wall time: load, train, best model and test)")
    for name, (seconds, metrics) in results.items():
        same = metrics.equals(loky_metrics)
        print(f"  {name:13s} {seconds:6.1f} s   {seconds / loky_seconds:4.2f}x loky's time   "
              f"identical metrics: {same}")
    print(f"  (starting a subprocess cluster took {startup:.1f} s, not counted above)")


if __name__ == "__main__":
    main()

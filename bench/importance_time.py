"""How long parameter importance (fANOVA, :mod:`sweep.results.importance`) takes on a run of 100 trials x 4
searched parameters (a log-scaled float, a float, an int range and a categorical): the run folder is written by
the run store with a known metric, then ``load_run(...).importance()`` is timed 5 times (after one warm-up call
that pays the imports). Prints each time and the median.

    python bench/importance_time.py [--trials 100] [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import sweep
from sweep.config import parse_experiment
from sweep.results.store import RunStore
from sweep.strategies import make_strategy
from sweep.task import TrialResult

SPACE = {"learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
         "noise": {"min": 0.0, "max": 1.0}, "layers": {"min": 1, "max": 4},
         "opt": {"values": ["sgd", "adam", "rmsprop"]}}


def make_run(folder: Path, trials: int) -> Path:
    (folder / "train.py").write_text("")
    doc = {"name": "bench", "program": "train.py", "method": "random", "run_cap": trials,
           "metric": {"name": "score", "goal": "maximize"}, "parameters": SPACE}
    experiment = parse_experiment(doc, source=str(folder / "sweep.yaml"))
    planned = make_strategy(experiment).plan()
    with RunStore.create(folder / "run", experiment, planned) as store:
        for trial in planned:
            p = trial.params
            score = -(math.log10(p["learning_rate"]) + 2.5) ** 2 + 0.3 * p["noise"] + 0.1 * p["layers"]
            store.append(trial, TrialResult(trial.trial_id, "ok", {"score": score, "steps": 1, "seconds": 0.0},
                                            [{"step": 1, "score": score}]))
    return folder / "run"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = sweep.load_run(make_run(Path(tmp), args.trials))
        run.importance()  # warm-up: Optuna and scikit-learn imports
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            importance = run.importance()
            times.append(time.perf_counter() - start)
    print(importance.round(3).to_string())
    print(f"{args.trials} trials x {len(SPACE)} parameters: " + ", ".join(f"{t:.3f}" for t in times)
          + f" s; median {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()

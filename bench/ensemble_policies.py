"""Ways to combine a finished run's top trials, compared on validation and test from the weights the
run kept (nothing is trained): the run's best trial, Caruana's greedy selection with 10, 25 and 50
rounds over the kept trials among the top 10 (the shipped default is 10 rounds over the top 10), the
same over finished trials only (no trial that Hyperband stopped), and plain averages of the finished
trials and of the first 3, 5 and 10 kept trials (each line prints how many it averaged).

Trials whose weights the run did not keep are left out (a finished run that cannot be resumed removes
them; a time-limited search keeps them for its resume), so run it on time-limited runs such as the
Fashion-MNIST search's; a run that kept none is skipped with a line.

    python bench/ensemble_policies.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sweep.best import trial_model
from sweep.config import load_experiment
from sweep.ensemble import combine, pool_rows, score, select
from sweep.modelfile import softmax
from sweep.results.candidates import kept_trials
from sweep.results.records import history_records, read_history_table, read_summary, read_trial_records
from sweep.runner import load_data
from sweep.trainer import scores_of

TOP_K = 10


def pool_probabilities(run_dir: Path):
    """The kept trials among the top TOP_K of ``run_dir`` (the run's best trial first, when it was
    kept): their validation and test probabilities, trial ids, statuses, and the labels."""
    experiment = load_experiment(run_dir / "experiment.yaml")
    metric = experiment.metric
    data = load_data(experiment)
    rows = read_trial_records(run_dir)
    histories = history_records(read_history_table(run_dir))
    kept = set(kept_trials(run_dir))
    best_id = (read_summary(run_dir) or {}).get("trial_id", "")
    pool = [r for r in pool_rows(rows, metric.name, metric.maximize, TOP_K, best_id) if r["trial_id"] in kept]
    pool.sort(key=lambda r: r["trial_id"] != best_id)  # the run's best trial first, when its weights were kept
    val, test = [], []
    for row in pool:
        trained = trial_model(run_dir, experiment, [], data, row, histories, warn=lambda message: None)
        val.append(softmax(scores_of(trained.net, trained.data.X_val)))
        test.append(softmax(scores_of(trained.net, trained.data.X_test)))
    return val, test, [r["trial_id"] for r in pool], [r["status"] for r in pool], data.y_val, data.y_test


def policies(val, test, names, statuses, y_val, y_test) -> dict[str, tuple[float, float, int]]:
    """Policy name -> (validation accuracy, test accuracy, ensemble size)."""
    accuracy = lambda p, y: score(p, y)[0]  # noqa: E731
    out = {"best trial (else the first kept)": (accuracy(val[0], y_val), accuracy(test[0], y_test), 1)}
    for rounds in (10, 25, 50):
        chosen = select(val, y_val, rounds, names)
        out[f"greedy, {rounds} rounds"] = (chosen.val_acc, accuracy(combine(test, chosen.order), y_test),
                                           len(chosen.order))
    finished = [i for i, status in enumerate(statuses) if status == "ok"]
    if not finished:
        return out
    chosen = select([val[i] for i in finished], y_val, 10, [names[i] for i in finished])
    out["greedy, 10 rounds, finished only"] = (
        chosen.val_acc, accuracy(combine([test[i] for i in finished], chosen.order), y_test), len(chosen.order))
    out["mean of finished"] = (accuracy(np.mean([val[i] for i in finished], 0), y_val),
                               accuracy(np.mean([test[i] for i in finished], 0), y_test), len(finished))
    for k in (3, 5, 10):
        out[f"mean of top {k}"] = (accuracy(np.mean(val[:k], 0), y_val), accuracy(np.mean(test[:k], 0), y_test),
                                   min(k, len(val)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    tests: dict[str, list[float]] = {}
    for run_dir in args.runs:
        val, test, names, statuses, y_val, y_test = pool_probabilities(run_dir)
        if not val:
            print(f"{run_dir}: skipped: it kept no trial's weights (a finished run removes them)")
            continue
        print(f"{run_dir}: {len(names)} kept trials of the top {TOP_K}, {statuses.count('ok')} finished")
        for name, (v, t, size) in policies(val, test, names, statuses, y_val, y_test).items():
            print(f"  {name:<34} val {v:.4f}  test {t:.4f}  size {size}")
            tests.setdefault(name, []).append(t)
    if len(args.runs) > 1:
        print("mean test accuracy over the runs that have it:")
        for name, values in tests.items():
            print(f"  {name:<34} {np.mean(values):.4f} ({len(values)} runs)")


if __name__ == "__main__":
    main()

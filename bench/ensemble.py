"""The ensemble of a sweep's top trials against its best single trial (issue 26), on validation and test,
and the time the greedy selection takes.

Digits: ``experiments/default.yaml`` run once per seed (``--set seed=S``, 5 seeds by default) on two
workers. Fashion-MNIST (``--fashion``): the shipped search ``experiments/fashion_mnist_search.yaml`` run
once (about 15 minutes on two cores; skipped with a line when the data set is not installed), or an
existing run of it read back with ``--fashion-run RUN_DIR``. Each run's numbers come from its own
``best/summary.json`` and ``best/ensemble.json``; nothing is recomputed here.

    python bench/ensemble.py [--seeds 5] [--fashion | --fashion-run RUN_DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEP = [sys.executable, "-m", "sweep"]


def run_sweep(experiment: Path, out: Path, *settings: str) -> float:
    """Run ``experiment`` into ``out``; the wall time in seconds."""
    command = [*SWEEP, "run", str(experiment), "--out", str(out), "--quiet", "--no-plots", "--n-jobs", "2"]
    for setting in settings:
        command += ["--set", setting]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    return time.perf_counter() - start


def row_of(name: str, run_dir: Path, seconds: float | None) -> dict:
    ensemble = json.loads((run_dir / "best" / "ensemble.json").read_text())
    single = ensemble["single_best"]
    return {"run": name, "single_val": single["val_acc"], "single_test": single["test_acc"],
            "ensemble_val": ensemble["val_acc"], "ensemble_test": ensemble["test_acc"],
            "members": len(ensemble["members"]), "size": ensemble["size"], "pool": ensemble["pool"],
            "retrained": len(ensemble["retrained"]),
            # None for a run made before ensemble.json recorded the selection's own time
            "selection_ms": None if ensemble.get("selection_seconds") is None else 1000 * ensemble["selection_seconds"],
            "ensemble_s": ensemble["seconds"], "sweep_min": None if seconds is None else seconds / 60,
            "test_rows": ensemble["test_rows"]}


def print_rows(rows: list[dict]) -> None:
    header = ("run", "single_val", "ensemble_val", "single_test", "ensemble_test", "members", "size", "pool",
              "retrained", "selection_ms", "ensemble_s", "sweep_min")
    print("  ".join(f"{h:>13}" for h in header))
    for r in rows:
        print("  ".join(f"{r[h]:>13.4f}" if isinstance(r[h], float) else f"{str(r[h]):>13}" for h in header))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="digits runs, seeds 0..N-1")
    fashion = parser.add_mutually_exclusive_group()
    fashion.add_argument("--fashion", action="store_true", help="also run the Fashion-MNIST search (~15 min)")
    fashion.add_argument("--fashion-run", type=Path, help="read an existing run of the Fashion-MNIST search")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            out = Path(tmp) / f"digits-{seed}"
            seconds = run_sweep(ROOT / "experiments" / "default.yaml", out, f"seed={seed}")
            rows.append(row_of(f"digits s{seed}", out, seconds))
        if args.fashion_run is not None:
            rows.append(row_of("fashion-mnist", args.fashion_run, None))
        elif args.fashion:
            try:
                seconds = run_sweep(ROOT / "experiments" / "fashion_mnist_search.yaml", Path(tmp) / "fashion")
                rows.append(row_of("fashion-mnist", Path(tmp) / "fashion", seconds))
            except subprocess.CalledProcessError as exc:  # its own error line is above, on stderr
                print(f"fashion-mnist: the search ended with exit status {exc.returncode} (if the data set is "
                      "missing: apt-get install dataset-fashion-mnist)")
    print_rows(rows)
    digits = [r for r in rows if r["run"].startswith("digits")]
    if digits:
        gain = [r["ensemble_test"] - r["single_test"] for r in digits]
        print(f"digits, {len(digits)} seeds: test accuracy ensemble - single best: mean {statistics.mean(gain):+.4f} "
              f"(each: {', '.join(f'{g:+.4f}' for g in gain)}; one test row = {1 / digits[0]['test_rows']:.4f}); "
              f"selection median {statistics.median(r['selection_ms'] for r in digits):.1f} ms")


if __name__ == "__main__":
    main()

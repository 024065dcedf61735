"""How long one update of the live report takes on the 60-trial Hyperband example, and so how often a
running sweep's page is written (:mod:`sweep.live`: every max(5 s, 5 x that time)).

The example is run once (``sweep run experiments/hyperband.yaml --no-plots`` into a temporary folder,
or the folder given), then the live page of the finished run (every figure, the leaderboard and the
parameter importance: what the last update of the running sweep draws) is written ``--repeats`` times
after a warm-up that pays the imports. Prints each time, the median and the interval it gives.

    python bench/live_report.py [--run RUN_DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sweep.live import MIN_SECONDS, SHARE_OF_TIME, live_facts
from sweep.observers import SweepStatus
from sweep.report import write_report

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished run of experiments/hyperband.yaml (made if absent)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        run = args.run or Path(scratch) / "hyperband"
        if not (run / "trials.csv").exists():
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "sweep", "run", str(ROOT / "experiments" / "hyperband.yaml"),
                            "--out", str(run), "--no-plots", "--quiet"], check=True)
            print(f"ran the 60-trial Hyperband example in {time.monotonic() - started:.1f} s")
        status = SweepStatus(done=60, running=0, queued=0, total=60, elapsed=60.0, eta=0.0)
        write_report(run, live=live_facts(status))  # warm-up: imports, fonts
        times = []
        for _ in range(args.repeats):
            started = time.monotonic()
            write_report(run, live=live_facts(status))
            times.append(time.monotonic() - started)
        median = statistics.median(times)
        print("live page of 60 trials: " + ", ".join(f"{t:.2f}" for t in times) + f" s; median {median:.2f} s")
        print(f"a running sweep's page is written every {max(MIN_SECONDS, median / SHARE_OF_TIME):.1f} s at most "
              f"(max({MIN_SECONDS:g} s, {1 / SHARE_OF_TIME:g} x {median:.2f} s))")


if __name__ == "__main__":
    main()

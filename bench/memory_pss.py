"""Total proportional memory (PSS) of a sweep's process tree, with 1 and with 2 workers.

PSS divides each shared page among the processes that map it, so the sum over the tree is what the
sweep really costs the machine: the data set mapped from the cache (or joblib's dump) by every
worker counts once. Runs ``sweep run`` on the 16-point Fashion-MNIST grid of bench/vs_gridsearch.py
(same experiment) with ``--n-jobs 1`` and ``--n-jobs 2``, samples the tree every 0.1 s, and prints
the peak of the sum for each and their ratio (issue 12's target: at most 1.3x).

    python bench/memory_pss.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vs_gridsearch import EXPERIMENT  # noqa: E402


def tree_pss(root: psutil.Process) -> int:
    total = 0
    for process in [root] + root.children(recursive=True):
        try:
            total += process.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def peak_pss(command: list[str], cwd: Path) -> int:
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            peak = max(peak, tree_pss(root))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{proc.stderr.read().decode()[-2000:]}")
    return peak


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "grid.yaml").write_text(yaml.safe_dump(EXPERIMENT))
        command = [sys.executable, "-m", "sweep", "run", "grid.yaml", "--no-plots", "--quiet"]
        subprocess.run(command + ["--out", "warm"], cwd=tmp, check=True, capture_output=True)  # fills the cache
        peaks = {jobs: peak_pss(command + ["--n-jobs", str(jobs), "--out", f"run{jobs}"], tmp) for jobs in (1, 2)}
    for jobs, peak in peaks.items():
        print(f"n_jobs {jobs}: peak PSS of the process tree {peak / 2**20:.0f} MiB")
    print(f"2 workers over 1: {peaks[2] / peaks[1]:.2f}x")


if __name__ == "__main__":
    main()

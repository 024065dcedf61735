"""glibc's thresholds while a task trains in a worker started with Dask's MALLOC_TRIM_THRESHOLD_ (sweep.pools.malloc).

Measured by page faults in a fresh process: with the trim threshold set, every 313 KiB array is a new
mmap whose pages fault in again; under training_malloc they come from the heap, already mapped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import json, resource
    import numpy as np
    from sweep.pools.malloc import training_malloc

    def faults_of_steps():
        np.ones((100, 784), np.float32)  # warm up
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(200):
            batch = np.ones((100, 784), np.float32)  # 313 KiB, a minibatch of Fashion-MNIST
            del batch
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    untuned = faults_of_steps()
    with training_malloc():
        tuned = faults_of_steps()
    after = faults_of_steps()
    print(json.dumps({"untuned": untuned, "tuned": tuned, "after": after}))
""")


def faults(**env) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    result = subprocess.run([sys.executable, "-c", PROBE], env={**environment, **env}, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_task_in_a_worker_with_dasks_trim_threshold_does_not_fault_in_every_array_again():
    seen = faults(MALLOC_TRIM_THRESHOLD_="65536")
    # 200 arrays of 77 pages each: about 15,000 faults when each is a fresh mmap
    assert seen["untuned"] > 10_000, seen
    assert seen["tuned"] < seen["untuned"] / 20, seen
    assert seen["after"] > 10_000, "the environment's thresholds are back once the task ends"


def test_without_a_trim_threshold_nothing_is_changed():
    seen = faults()
    assert seen["untuned"] < 1_000 and seen["tuned"] < 1_000 and seen["after"] < 1_000, seen

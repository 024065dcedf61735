"""The shipped W&B-style examples of bayes, hyperband and an open-ended random search plan and run."""

import pandas as pd
import pytest
from conftest import ROOT, sweep_cli


@pytest.mark.parametrize("name, args, statuses", [
    ("bayes", ["--max-trials", "5"], {"ok"}),
    ("hyperband", ["--max-trials", "9"], {"ok", "stopped"}),
    ("open_random", ["--max-trials", "3"], {"ok"}),
])
def test_the_adaptive_examples_plan_and_run(tmp_path, name, args, statuses):
    path = ROOT / "experiments" / f"{name}.yaml"
    listed = sweep_cli("list", path, cwd=tmp_path)
    assert listed.returncode == 0 and not listed.stderr, listed.stderr
    run = sweep_cli("run", path, *args, "--set", "epochs=4", "--no-plots", "--quiet", "--out", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert len(trials) == int(args[1]) and set(trials["status"]) == statuses

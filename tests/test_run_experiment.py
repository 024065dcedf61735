"""``sweep.run_experiment`` checks its arguments as ``sweep run`` checks its options: one-line errors
naming the argument, before any run folder is made; a good call runs and returns the run."""

from __future__ import annotations

import pytest

import sweep
from sweep.errors import SweepError
from tests.conftest import write_experiment

RANDOM = {"name": "api", "dataset": {"name": "digits"}, "method": "random",
          "parameters": {"learning_rate": {"distribution": "log_uniform_values", "min": 0.01, "max": 0.2}},
          "fixed": {"hidden_size": 16, "epochs": 1, "optimizer": "sgd_momentum", "batch_size": 64}, "n_jobs": 1}


@pytest.mark.parametrize("arguments, message", [
    ({"max_trials": "2"}, "max_trials '2': a whole number >= 1"),
    ({"max_trials": 2.5}, "max_trials 2.5: a whole number >= 1"),
    ({"max_trials": 0}, "max_trials 0: a whole number >= 1"),
    ({"n_jobs": "2"}, "n_jobs '2': a whole number >= 1, or -1"),
    ({"n_jobs": True}, "n_jobs True: a whole number"),
    ({"n_jobs": 0}, "n_jobs 0: a whole number"),
    ({"time_limit": -5}, "time_limit '-5' is not a duration"),
    ({"time_limit": float("nan")}, "time_limit 'nan' is not a duration"),
    ({"time_limit": "soon"}, "time_limit 'soon' is not a duration"),
    ({"overrides": "epochs=1"}, "overrides: a list of 'KEY=VALUE' strings, got 'epochs=1'; write ['epochs=1']"),
    ({"overrides": None}, "overrides: a list of 'KEY=VALUE' strings, got None"),
    ({"overrides": [("epochs", 1)]}, "overrides: each is a 'KEY=VALUE' string"),
])
def test_a_bad_argument_is_one_line_naming_it_and_makes_no_run_folder(tmp_path, arguments, message):
    experiment = write_experiment(tmp_path / "exp.yaml", **RANDOM)
    with pytest.raises(SweepError) as raised:
        sweep.run_experiment(experiment, out=tmp_path / "run", report=False, quiet=True, **arguments)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "run").exists()


def test_an_experiment_that_is_not_a_path_is_refused(tmp_path):
    with pytest.raises(SweepError, match="experiment: the path of an experiment file, got dict"):
        sweep.run_experiment(RANDOM, out=tmp_path / "run")


def test_a_duration_as_the_command_line_writes_it_and_max_trials_end_the_search(tmp_path):
    experiment = write_experiment(tmp_path / "exp.yaml", **RANDOM)
    run = sweep.run_experiment(experiment, out=tmp_path / "run", max_trials=3, time_limit="10m", n_jobs=1,
                               overrides=["epochs=2"], report=False, quiet=True)
    assert len(run.trials) == 3 and set(run.trials.epochs) == {2}

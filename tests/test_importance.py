"""Parameter importance (fANOVA): which searched parameters explain the metric.

The run folders are real ones, written by the run store itself (plan.csv, trials.csv, history.csv,
experiment.yaml) from trials a strategy planned, with results whose metric is a known function of
the parameters: no training, so the tests are quick and the right answer is known.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from conftest import sweep_cli

import sweep
from sweep.config import parse_experiment
from sweep.errors import SweepError
from sweep.results.store import RunStore
from sweep.strategies import make_strategy
from sweep.task import TrialResult

#: learning_rate decides the metric; the other three provably do not (the metric never reads them).
SPACE = {
    "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
    "noise": {"min": 0.0, "max": 1.0},
    "opt": {"values": ["sgd", "adam", "rmsprop"]},
    "layers": {"min": 1, "max": 4},
}


def only_lr(params: dict) -> float:
    return -(math.log10(params["learning_rate"]) + 2.5) ** 2


def program_run(folder: Path, parameters: dict, score, run_cap: int = 40, status=lambda i: "ok",
                reverse: bool = False, **extra) -> Path:
    """A program sweep's run folder (random search, metric ``score``) whose trials scored ``score(params)``,
    recorded in plan order (or the reverse: another completion order)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text("")
    doc = {"name": "imp", "program": "train.py", "method": "random", "run_cap": run_cap,
           "metric": {"name": "score", "goal": "maximize"}, "parameters": parameters, **extra}
    experiment = parse_experiment(doc, source=str(folder / "sweep.yaml"))
    trials = make_strategy(experiment).plan()
    run_dir = folder / "run"
    with RunStore.create(run_dir, experiment, trials) as store:
        order = list(enumerate(trials))
        for i, trial in reversed(order) if reverse else order:
            value = score(trial.params)
            store.append(trial, TrialResult(trial.trial_id, status(i), {"score": value, "steps": 1, "seconds": 0.01},
                                            [{"step": 1, "score": value}]))
    return run_dir


@pytest.fixture(scope="module")
def lr_run(tmp_path_factory) -> Path:
    return program_run(tmp_path_factory.mktemp("lr"), SPACE, only_lr)


def test_the_parameter_the_metric_depends_on_explains_it_and_the_others_do_not(lr_run):
    importance = sweep.load_run(lr_run).importance()
    assert isinstance(importance, pd.Series) and importance.name == "importance"
    assert set(importance.index) == set(SPACE)
    assert importance.index[0] == "learning_rate"
    assert importance["learning_rate"] > 0.8
    for other in ("noise", "opt", "layers"):
        assert importance[other] < 0.1, importance
    assert importance.sum() == pytest.approx(1.0)
    assert list(importance) == sorted(importance, reverse=True)
    assert importance.attrs["trials"] == 40 and importance.attrs["method"] == "fANOVA"
    assert importance.attrs["seed"] == 0 and importance.attrs["notes"] == []


def test_the_same_numbers_every_time_and_whatever_order_trials_finished_in(lr_run, tmp_path):
    first = sweep.load_run(lr_run).importance()
    pd.testing.assert_series_equal(first, sweep.load_run(lr_run).importance())
    backwards = program_run(tmp_path, SPACE, only_lr, reverse=True)  # trials.csv in the other order
    assert list(sweep.load_run(backwards).trials["trial_id"]) != list(sweep.load_run(lr_run).trials["trial_id"])
    pd.testing.assert_series_equal(first, sweep.load_run(backwards).importance())


def test_a_log_scaled_parameter_is_weighed_in_log_space(tmp_path):
    # The metric steps at lr = 1e-3: a third of the log range 1e-4..1e-1, under 1% of the linear one.
    # In log space lr explains p(1-p) = 2/9 of the variance against y's 1/16 (about 78%); weighed
    # linearly, as Optuna's fANOVA weighs a log=True distribution, it would get about 12%.
    space = {"learning_rate": SPACE["learning_rate"], "y": {"min": 0.0, "max": 1.0}}
    run = program_run(tmp_path, space, lambda p: float(p["learning_rate"] < 1e-3) + 0.5 * float(p["y"] > 0.5),
                      run_cap=60)
    importance = sweep.load_run(run).importance()
    assert importance["learning_rate"] > 0.6, importance
    assert importance["y"] > 0.05, importance


def test_too_few_finished_trials_is_one_line_that_says_so(tmp_path):
    # 6 trials: 4 stopped early by hyperband (their metric is from fewer epochs) and 2 ok.
    run = program_run(tmp_path, SPACE, only_lr, run_cap=6, status=lambda i: "ok" if i < 2 else "stopped")
    with pytest.raises(SweepError, match="not enough trials") as info:
        sweep.load_run(run).importance()
    message = str(info.value)
    assert "\n" not in message and "at least 4" in message and "has 2" in message and "4 stopped early" in message


def test_no_searched_parameter_that_varies_is_an_error(tmp_path):
    run = program_run(tmp_path, {"x": {"values": [1]}}, lambda p: 1.0 + p["x"], run_cap=5, repeats=5,
                      method="grid")
    with pytest.raises(SweepError, match="no searched parameter varies"):
        sweep.load_run(run).importance()


def test_a_run_of_the_built_in_net_ranked_by_val_acc(tmp_path):
    """A net's run folder (the built-in table, val_acc): hidden_size a categorical of ints, reg on a log scale."""
    doc = {"name": "net", "dataset": {"name": "digits"}, "method": "random", "run_cap": 24,
           "parameters": {"hidden_size": {"values": [16, 32, 64]},
                          "reg": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1}},
           "fixed": {"epochs": 1}}
    experiment = parse_experiment(doc)
    trials = make_strategy(experiment).plan()
    with RunStore.create(tmp_path / "run", experiment, trials) as store:
        for trial in trials:
            acc = 0.5 + trial.params["hidden_size"] / 200
            record = {"epoch": 1, "train_loss": 1.0, "train_acc": acc, "val_loss": 1.0, "val_acc": acc, "lr": 0.1,
                      "seconds": 0.01}
            metrics = {"train_loss": 1.0, "train_acc": acc, "val_loss": 1.0, "val_acc": acc, "best_val_acc": acc,
                       "best_epoch": 1, "seconds": 0.01}
            store.append(trial, TrialResult(trial.trial_id, "ok", metrics, [record]))
    importance = sweep.load_run(tmp_path / "run").importance()
    assert importance["hidden_size"] > 0.8 and importance["reg"] < 0.1, importance


def test_the_command_line(lr_run, tmp_path):
    done = sweep_cli("importance", lr_run, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["parameter", "importance"]
    first = lines[1].split()
    assert first[0] == "learning_rate" and first[1].endswith("%") and float(first[1][:-1]) > 80
    assert first[2].startswith("#####")
    assert {line.split()[0] for line in lines[1:5]} == set(SPACE)
    assert "fANOVA" in lines[-1] and "seed 0" in lines[-1] and "40 trials" in lines[-1]
    few = program_run(tmp_path / "few", SPACE, only_lr, run_cap=3)
    done = sweep_cli("importance", few, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "not enough trials" in done.stderr


def test_the_report_has_the_section_or_says_why_not(lr_run, tmp_path):
    from sweep.figures import load_run
    from sweep.report import render, write_report

    page = render(load_run(lr_run), [])
    section = page[page.index('<section id="importance">'):]
    section = section[:section.index("</section>")]
    assert "Parameter importance" in section and "fANOVA" in section and "seed 0" in section
    assert "40 trials" in section and section.count("<tr>") == 1 + len(SPACE)  # the header and a row each
    assert section.index("learning rate") < section.index("noise")
    few = program_run(tmp_path, SPACE, only_lr, run_cap=3)
    page = write_report(few).read_text()  # the whole page, plots and all
    section = page[page.index('<section id="importance">'):]
    assert "Not computed: not enough trials" in section[:section.index("</section>")]
    assert '<section id="plots">' in page

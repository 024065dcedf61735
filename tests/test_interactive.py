"""The data behind the report's interactive parts, without a browser: the parallel coordinates'
axes and rows, the standard error of a metric and which configurations are tied with the best."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweep.figures import PlotRun
from sweep.figures.parallel import parallel_data
from sweep.results.analysis import leaderboard
from sweep.results.uncertainty import binomial_se, describe, standard_errors, tied_with_best


# ------------------------------------------------------------------------------------------ standard errors
def test_binomial_standard_error_on_known_cases():
    assert binomial_se(0.8, 100) == pytest.approx(0.04)  # sqrt(0.8 * 0.2 / 100)
    assert binomial_se(0.5, 144) == pytest.approx(0.5 / 12)
    assert binomial_se(1.0, 50) == 0.0
    assert np.allclose(binomial_se(np.array([0.9, 0.1]), 400), [0.015, 0.015])
    assert math.isnan(binomial_se(1.5, 100)) and math.isnan(binomial_se(0.5, 0))  # not a proportion; no rows


def test_standard_errors_add_the_seeds_spread_to_the_binomial_one():
    se = standard_errors("val_acc", [0.8, 0.8], [0.02, np.nan], [4, 1], n_val=100)
    assert se[0] == pytest.approx(math.sqrt(0.0016 + 0.02 ** 2 / 4)) and se[1] == pytest.approx(0.04)
    # not an accuracy, or n not known: only the seeds' spread, when there are repeats
    assert np.allclose(standard_errors("val_loss", [0.5], [0.1], [4], n_val=100), [0.05])
    assert np.allclose(standard_errors("val_acc", [0.8], [0.1], [4], n_val=None), [0.05])
    assert np.isnan(standard_errors("val_loss", [0.5], [np.nan], [1], n_val=100)).all()
    assert np.isnan(standard_errors("accuracy", [0.5], [np.nan], [1], n_val=None)).all()  # a program's metric


def test_ties_with_the_best_follow_the_two_standard_errors_rule():
    # |0.90 - 0.88| = 0.02 <= 2 sqrt(0.01^2 + 0.01^2) = 0.0283: tied; 0.80 is 0.10 away: a clear loser
    tied = tied_with_best([0.90, 0.88, 0.80, 0.89], [0.01, 0.01, 0.01, np.nan])
    assert tied.tolist() == [True, True, False, False]  # without a standard error, never tied
    # the rule holds for losses too (it looks at distances only)
    assert tied_with_best([0.30, 0.33, 0.40], [0.01, 0.02, 0.01]).tolist() == [True, True, False]
    assert tied_with_best([0.9, 0.8], [np.nan, 0.01]).tolist() == [False, False]  # the best has none


def _trials(rows, params=("learning_rate",)) -> pd.DataFrame:
    """A trials table as trials.csv has it: hyperparameters between ``status`` and ``seed``."""
    frame = pd.DataFrame(rows)
    order = ["trial_id", "status", *params, "seed", "repeat", "config_id", "val_loss", "val_acc", "error"]
    frame = frame.reindex(columns=order)
    frame["error"] = frame["error"].astype(object).fillna("")
    frame.insert(0, "order", np.arange(1, len(frame) + 1))
    return frame


def test_the_leaderboard_marks_the_configurations_tied_with_the_best():
    trials = _trials([
        {"trial_id": "a", "status": "ok", "learning_rate": 0.1, "seed": 1, "repeat": 0, "config_id": "A",
         "val_acc": 0.90, "val_loss": 0.3},
        {"trial_id": "b", "status": "ok", "learning_rate": 0.03, "seed": 2, "repeat": 0, "config_id": "B",
         "val_acc": 0.88, "val_loss": 0.35},
        {"trial_id": "c", "status": "ok", "learning_rate": 0.01, "seed": 3, "repeat": 0, "config_id": "C",
         "val_acc": 0.70, "val_loss": 0.9},
        {"trial_id": "d", "status": "diverged", "learning_rate": 10.0, "seed": 4, "repeat": 0, "config_id": "D"},
    ])
    board = leaderboard(trials, "val_acc", True, n_val=400)
    assert board["config_id"].tolist() == ["A", "B", "C", "D"]
    assert board["val_acc_se"].iloc[:3].tolist() == pytest.approx(
        [math.sqrt(p * (1 - p) / 400) for p in (0.90, 0.88, 0.70)])
    assert board["tied"].tolist() == [True, True, False, False]
    assert list(board.columns).index("tied") == list(board.columns).index("val_acc_std") + 2
    # another sort keeps each configuration's mark, which is about the best one
    by_loss = leaderboard(trials, "val_acc", True, sort="val_loss", n_val=400).set_index("config_id")
    assert by_loss["tied"].to_dict() == {"A": True, "B": True, "C": False, "D": False}
    # without the validation set size (an unfinished run) and without repeats: no columns at all
    assert "tied" not in leaderboard(trials, "val_acc", True) and "val_acc_se" not in leaderboard(trials, "val_acc", True)


def test_repeats_give_a_standard_error_without_n():
    rows = []
    for config, lr, scores in (("A", 0.1, (0.90, 0.92, 0.91)), ("B", 0.03, (0.91, 0.86, 0.88)),
                               ("C", 0.01, (0.60, 0.61, 0.62))):
        rows += [{"trial_id": f"{config}{r}", "status": "ok", "learning_rate": lr, "seed": r, "repeat": r,
                  "config_id": config, "val_acc": s, "val_loss": 1 - s} for r, s in enumerate(scores)]
    board = leaderboard(_trials(rows), "val_acc", True)
    assert board["val_acc_se"].tolist() == pytest.approx(
        [np.std(s, ddof=1) / math.sqrt(3) for s in ((0.90, 0.92, 0.91), (0.91, 0.86, 0.88), (0.60, 0.61, 0.62))])
    assert board["tied"].tolist() == [True, True, False]


def test_the_caption_says_where_the_standard_errors_come_from():
    assert "n = 144 validation rows" in describe("val_acc", 144, 1) and "≤ 2·√(se_best² + se_x²)" in describe(
        "val_acc", 144, 1)
    assert "seeds" in describe("val_acc", 144, 3)
    assert describe("loss", None, 1, program=True).startswith("No standard errors: a program sweep")
    assert "over the seeds" in describe("loss", None, 3, program=True)
    assert "<=" in describe("val_acc", 144, 1, ascii=True) and describe("val_acc", 144, 1, ascii=True).isascii()


# ------------------------------------------------------------------------------------------ parallel coordinates
def _plot_run(trials: pd.DataFrame, params, log_params=(), metric="val_acc", maximize=True) -> PlotRun:
    return PlotRun(run_dir=Path("/nonexistent"), experiment={}, trials=trials, history=pd.DataFrame(),
                   metric=metric, maximize=maximize, params=list(params), log_params=set(log_params))


def test_parallel_data_has_an_axis_per_parameter_and_the_metric():
    params = ("learning_rate", "optimizer", "hidden_size")
    base = {"seed": 1, "repeat": 0}
    trials = _trials([
        {**base, "trial_id": "t1", "status": "ok", "learning_rate": 1e-3, "optimizer": "sgd", "hidden_size": 10,
         "config_id": "c1", "val_acc": 0.6, "val_loss": 1.0},
        {**base, "trial_id": "t2", "status": "ok", "learning_rate": 1e-1, "optimizer": "adam", "hidden_size": 30,
         "config_id": "c2", "val_acc": 0.9, "val_loss": 0.4},
        {**base, "trial_id": "t3", "status": "stopped", "learning_rate": 1e-2, "optimizer": "sgd", "hidden_size": 20,
         "config_id": "c3", "val_acc": 0.5, "val_loss": 1.2},
        {**base, "trial_id": "t4", "status": "diverged", "learning_rate": 1.0, "optimizer": "adam",
         "hidden_size": 20, "config_id": "c4"},
        {**base, "trial_id": "t5", "status": "failed", "learning_rate": 1e-2, "optimizer": "sgd", "hidden_size": 10,
         "config_id": "c5", "error": "boom"},
    ], params=params)
    data = parallel_data(_plot_run(trials, params, log_params={"learning_rate"}))
    json.dumps(data, allow_nan=False)  # plain JSON: no NaN
    axes = {a["key"]: a for a in data["axes"]}
    assert [a["key"] for a in data["axes"]] == [*params, "val_acc"]
    assert axes["learning_rate"]["kind"] == "log" and axes["learning_rate"]["range"] == [1e-3, 1.0]
    assert [t[1] for t in axes["learning_rate"]["ticks"]] == ["1e-3", "0.01", "0.1", "1"]
    assert axes["optimizer"]["kind"] == "category" and axes["optimizer"]["categories"] == ["adam", "sgd"]
    assert axes["optimizer"]["range"] == [0.0, 1.0]
    assert axes["hidden_size"]["kind"] == "linear" and axes["hidden_size"]["range"] == [10.0, 30.0]
    metric = axes["val_acc"]
    assert metric["metric"] and metric["maximize"] and metric["range"] == [0.5, 0.9]  # the scored trials only
    rows = {r["id"]: r for r in data["rows"]}
    assert [r["id"] for r in data["rows"]] == ["t2", "t1", "t3", "t4", "t5"]  # leaderboard order
    assert [r["rank"] for r in data["rows"]] == [1, 2, 3, 4, 5]
    assert rows["t2"]["values"] == [0.1, 0.0, 30.0, 0.9] and rows["t2"]["scored"]
    assert rows["t3"]["status"] == "stopped" and rows["t3"]["scored"]  # drawn dashed, with its last score
    for bad in ("t4", "t5"):  # no score: greyed, below the metric's axis
        assert rows[bad]["values"][-1] is None and not rows[bad]["scored"]
    assert rows["t4"]["values"][:3] == [1.0, 0.0, 20.0] and data["stopped"] == "stopped"


def test_parallel_data_puts_a_zero_a_decade_below_on_a_log_axis_and_logs_a_wide_loss():
    trials = _trials([
        {"trial_id": f"t{i}", "status": "ok", "reg": reg, "seed": i, "repeat": 0, "config_id": f"c{i}",
         "val_loss": loss, "val_acc": np.nan} for i, (reg, loss) in enumerate(((0.0, 0.01), (1e-3, 0.5), (1e-1, 5.0)))
    ], params=("reg",))
    data = parallel_data(_plot_run(trials, ["reg"], {"reg"}, metric="val_loss", maximize=False))
    reg, loss = data["axes"]
    assert reg["range"] == [1e-4, 1e-1] and [1e-4, "0"] in reg["ticks"]
    assert {r["id"]: r["values"][0] for r in data["rows"]}["t0"] == 1e-4
    assert loss["kind"] == "log" and not loss["maximize"] and loss["range"] == [0.01, 5.0]  # 500x: a log axis
    assert [r["id"] for r in data["rows"]] == ["t0", "t1", "t2"]  # lowest loss first

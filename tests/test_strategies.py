"""Search strategies behind the ask/tell seam, and a strategy that asks in rounds driving a real sweep."""

from __future__ import annotations

import pandas as pd

from sweep.config import parse_experiment
from sweep.runner import run_sweep
from sweep.strategies import GridSearch, RandomSearch, Strategy, make_strategy, plan_trials

GRID = {"name": "rounds", "dataset": "digits", "method": "grid",
        "parameters": {"hidden_size": {"values": [8, 12, 16]}, "learning_rate": {"values": [0.1, 0.02]},
                       "epochs": {"values": [1, 2]}},
        "fixed": {"optimizer": "sgd_momentum", "init": "he", "batch_size": 64}, "n_jobs": 2}


class InRounds(Strategy):
    """The grid's trials, ``size`` at a time: a round is handed out only once the one before is told."""

    def __init__(self, experiment, size):
        super().__init__(experiment)
        self.trials = GridSearch(experiment).plan()
        self.rounds = [self.trials[i:i + size] for i in range(0, len(self.trials), size)]
        self.outstanding: set[str] = set()
        self.asked: list[list[str]] = []
        self.told: list[str] = []

    def plan(self):
        return self.trials

    def ask(self):
        if self.outstanding or not self.rounds:
            return []
        batch = self.rounds.pop(0)
        self.outstanding = {t.trial_id for t in batch}
        self.asked.append([t.trial_id for t in batch])
        return batch

    def tell(self, trial, result):
        assert trial.trial_id in self.outstanding, "told only about trials it asked for, once"
        self.outstanding.discard(trial.trial_id)
        self.told.append(trial.trial_id)

    @property
    def finished(self):
        return not self.rounds and not self.outstanding


def test_grid_and_random_are_strategies_that_hand_out_their_plan_in_one_round():
    grid = make_strategy(parse_experiment(GRID))
    assert isinstance(grid, GridSearch) and not grid.finished
    first = grid.ask()
    assert [t.trial_id for t in first] == [t.trial_id for t in plan_trials(parse_experiment(GRID))]
    assert grid.finished and grid.ask() == []
    random = make_strategy(parse_experiment({**GRID, "method": "random", "run_cap": 5}))
    assert isinstance(random, RandomSearch) and len(random.ask()) == 5 * 1


def test_a_strategy_that_asks_in_rounds_drives_a_real_sweep(tmp_path):
    experiment = parse_experiment(GRID)
    strategy = InRounds(experiment, size=4)
    outcome = run_sweep(experiment, run_dir=tmp_path / "rounds", quiet=True, strategy=strategy)
    assert outcome.counts == {"ok": 12} and outcome.best is not None
    assert len(strategy.asked) == 3 and sorted(strategy.told) == sorted(t.trial_id for t in strategy.trials)
    recorded = pd.read_csv(tmp_path / "rounds" / "trials.csv")["trial_id"].tolist()
    for i, batch in enumerate(strategy.asked):  # round k is recorded before round k + 1 is asked for
        assert set(recorded[4 * i:4 * i + 4]) == set(batch)
    # the same numbers as the grid in one round: a trial's result does not depend on when it was asked
    run_sweep(experiment, run_dir=tmp_path / "grid", quiet=True)
    by_id = [pd.read_csv(tmp_path / run / "trials.csv").set_index("trial_id").sort_index()
             for run in ("rounds", "grid")]
    pd.testing.assert_frame_equal(by_id[0][["val_acc", "val_loss"]], by_id[1][["val_acc", "val_loss"]])


def test_resuming_tells_the_strategy_what_was_recorded_and_runs_only_the_rest(tmp_path):
    experiment = parse_experiment(GRID)
    run_sweep(experiment, run_dir=tmp_path / "run", quiet=True, strategy=InRounds(experiment, size=4))
    trials = pd.read_csv(tmp_path / "run" / "trials.csv", dtype=str, keep_default_na=False)
    history = pd.read_csv(tmp_path / "run" / "history.csv", dtype=str, keep_default_na=False)
    kept = trials.head(6)  # as if interrupted in the second round
    kept.to_csv(tmp_path / "run" / "trials.csv", index=False)
    history[history["trial_id"].isin(kept["trial_id"])].to_csv(tmp_path / "run" / "history.csv", index=False)
    (tmp_path / "run" / "best" / "summary.json").unlink()
    strategy = InRounds(experiment, size=4)
    outcome = run_sweep(experiment, run_dir=tmp_path / "run", resume=True, quiet=True, strategy=strategy)
    assert outcome.ran == 6 and outcome.counts == {"ok": 12}
    assert set(strategy.told[:6]) >= set(kept["trial_id"][:4])  # the first round, recorded, was told at once
    assert sorted(strategy.told) == sorted(t.trial_id for t in strategy.trials)

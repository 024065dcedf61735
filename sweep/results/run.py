"""A run folder read back, for notebooks and scripts as for the command line, the figures and the report.

    import sweep

    run = sweep.load_run("results/digits-grid/20261201-101500")
    run.trials                 # pandas: one row per finished trial, completion order
    run.history                # pandas: one row per trial and epoch
    run.leaderboard(top=10)    # one row per configuration, best first (mean and std over repeats; se, tied)
    run.best                   # best/summary.json: the best trial, its metric and test accuracy
    run.best_model().predict(X)   # X: raw inputs, as the data set's files hold them
    run.ensemble()             # the ensemble of the top trials (best/ensemble.json), or None
    run.importance()           # pandas: how much of the metric each searched parameter explains (fANOVA)

Only what can be trusted is read: rows that are not finished trials of the run are left out, and a
damaged experiment.yaml or summary.json is read as missing; each such problem is a line in
``run.notes``. A folder without trials.csv, or a trials.csv that is not a CSV file at all, is a
:class:`~sweep.errors.SweepError` (the line ``sweep show`` gives).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import SweepError
from ..status import STOPPED
from .analysis import best_trial, hyperparameter_columns, leaderboard, rank, read_history, read_trials, run_metric
from .files import BEST_DIR, HISTORY_COLUMNS, HISTORY_FILE, MODEL_FILE
from .folders import find_run, model_file_problem
from .records import read_experiment_document, read_summary


@dataclass
class Run:
    """One run folder: its experiment, trials, histories, ranking metric and best model.

    ``params`` are the hyperparameters that took more than one value in the run, in the order the
    experiment declares them; ``best_id`` is the trial of the saved best model (or, before the
    run has finished, the best trial so far).
    """

    run_dir: Path
    experiment: dict
    trials: pd.DataFrame
    history: pd.DataFrame
    metric: str
    maximize: bool
    params: list[str]
    best: dict | None = None
    best_id: str | None = None
    notes: list[str] = field(default_factory=list)

    def ranked(self) -> pd.DataFrame:
        """Every trial, best first: ``ok`` by the metric, then ``diverged``, then failed and crashed."""
        return self.trials if self.trials.empty else rank(self.trials, self.metric, self.maximize)

    def leaderboard(self, top: int | None = None, sort: str | None = None) -> pd.DataFrame:
        """One row per configuration, best first (see :func:`~sweep.results.analysis.leaderboard`);
        the first ``top`` rows when given; ``sort`` names another column to sort by. With the metric's
        standard error and ``tied`` (with the best) when known: see :mod:`sweep.results.uncertainty`."""
        if self.trials.empty:
            return self.trials
        board = leaderboard(self.trials, self.metric, self.maximize, sort=sort, n_val=self.val_rows)
        if (self.trials["status"] == STOPPED).any() and not self.history.empty:
            # Trials stopped early: how far each configuration trained (mean over its repeats).
            unit = "iteration" if "iteration" in self.history else "epoch"  # a program's: lines with the metric
            trained = self.history.groupby("trial_id")[unit].max().reindex(self.trials["trial_id"])
            epochs = pd.Series(trained.to_numpy(), index=self.trials["config_id"]).groupby(level=0).mean()
            board.insert(board.columns.get_loc("status"), "epochs_trained", board["config_id"].map(epochs))
        return board.head(top) if top else board

    @property
    def val_rows(self) -> int | None:
        """The number of validation rows the metric was measured on (recorded with the best model in
        ``best/summary.json``); None when not known (a program sweep, an unfinished or older run)."""
        rows = (self.best or {}).get("val_rows")
        return rows if isinstance(rows, int) and not isinstance(rows, bool) and rows > 0 else None

    def best_model(self):
        """The saved best model, a :class:`~sweep.modelfile.Model` that predicts on raw inputs (the
        rows the data set's loader reads, before scaling and centring: ``predict(X)``,
        ``predict_proba(X)``, ``accuracy(X, y)``; its ``net`` is the :class:`~sweep.nn.TwoLayerNet`,
        or for a user's model a :class:`~sweep.modelfile.LoadedModel`, whose loading runs the model's
        code), or None when the run has none yet. The model of an older run's file takes
        preprocessed inputs, with a warning.

        SweepError when ``best/model.npz`` is not the file the run saved (its SHA-256 is recorded in
        ``best/summary.json``): a replaced model is never served beside the summary's test accuracy.
        """
        from ..modelfile import load_saved_model

        return self._checked_best_file(load_saved_model)

    def ensemble(self):
        """The ensemble of the run's top trials (:class:`~sweep.ensemble.Ensemble`: ``predict`` and
        ``predict_proba`` on raw inputs, as :meth:`best_model`), or None when the run has none.

        SweepError when ``best/ensemble.npz`` is not the file the run saved (its SHA-256 is recorded in
        ``best/ensemble.json``)."""
        from ..ensemble import load_ensemble

        return load_ensemble(self.run_dir)

    def _checked_best_file(self, read):
        """``read(path)`` of ``best/model.npz`` once it proves to be the file the run saved; None when absent."""
        path = self.run_dir / BEST_DIR / MODEL_FILE
        if not path.is_file():
            return None
        try:
            problem = model_file_problem(path, self.best or {})
            if problem:
                raise SweepError(f"{path}: {problem}; `sweep run EXP.yaml --resume {self.run_dir} --check-best` "
                                 "saves the best model again")
            return read(path)
        except OSError as exc:
            raise SweepError(f"cannot read {path}: {exc.strerror or exc}") from None

    def best_arrays(self) -> dict | None:
        """The trained arrays of the saved best model (name -> array), read without running any model
        code; None when the run has none yet; SweepError as :meth:`best_model` says."""
        from ..modelfile import model_file_arrays

        return self._checked_best_file(model_file_arrays)

    def importance(self, seed: int = 0) -> pd.Series:
        """How much of the metric's variation each searched parameter explains: Optuna's fANOVA over
        the trials finished ``ok``, a Series ``parameter -> share`` summing to 1, largest first (see
        :mod:`sweep.results.importance`). SweepError when there are too few trials or nothing varies."""
        from .importance import parameter_importance

        return parameter_importance(self, seed=seed)

    def spec(self, param: str) -> dict | None:
        """The W&B parameter block the experiment gave ``param`` (None when not searched or unreadable)."""
        from ..space import flat_blocks

        specs = flat_blocks(self.experiment.get("parameters"))  # nested parameters by their columns' names
        block = specs.get(param) if isinstance(specs, dict) else None
        return block if isinstance(block, dict) else None


def load_run(run_dir=None, results_root="results") -> Run:
    """Read a run folder (see the module docstring): ``run_dir``, or the latest run inside it when it
    is an experiment's folder of runs (``"results/digits-grid"`` or ``"digits-grid"``), or with no
    argument the latest run under ``results_root``, as the command line's ``sweep show`` does."""
    run_dir = find_run(run_dir, Path(results_root))
    notes: list[str] = []
    experiment = read_experiment_document(run_dir, notes)
    trials = read_trials(run_dir, notes)
    history = pd.DataFrame(columns=list(HISTORY_COLUMNS) if "program_parameters" not in experiment else
                           ["trial_id", "step", "iteration"])
    if (run_dir / HISTORY_FILE).is_file():
        try:
            history = read_history(run_dir, notes)
        except SweepError as exc:
            notes.append(f"{exc}; learning curves left out")
    metric, maximize = run_metric(experiment, notes)
    from ..space import flat_blocks

    specs = flat_blocks(experiment.get("parameters"))  # nested parameters by their columns' names (a.b)
    specs = specs if isinstance(specs, dict) else {}
    # the searched parameters in the order the experiment declares them (all, if it is unreadable),
    # those that took more than one value in this run
    columns = hyperparameter_columns(trials)
    candidates = [p for p in specs if p in columns] if specs else columns
    params = [p for p in candidates if p in trials and trials[p].nunique() > 1]
    try:
        best = read_summary(run_dir)
    except SweepError as exc:
        notes.append(str(exc))
        best = None
    if best and "trial_id" in trials and best["trial_id"] not in set(trials["trial_id"]):
        notes.append(f"{run_dir / BEST_DIR}: its summary names trial {best['trial_id'][:40]}, not a finished trial "
                     "of this run; left out")
        best = None
    best_id = best.get("trial_id") if best else None
    if best_id is None and not trials.empty and metric in trials:
        row = best_trial(trials, metric, maximize)
        best_id = None if row is None else row["trial_id"]
    return Run(run_dir, experiment, trials, history, metric, maximize, params, best, best_id, notes)

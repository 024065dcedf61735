"""Pandas views of a run folder: trials, histories, the ranking and the leaderboard."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .ranking import SCORED, best_row, config_order, rank_rows, tie_break
from .files import TRIALS_FILE
from .uncertainty import add_uncertainty
from .records import history_records, planned_rows, read_history_table, read_trials_table


def read_trials(run_dir, problems: list | None = None) -> pd.DataFrame:
    """trials.csv as a DataFrame, one row per trial in completion order (``order`` column added).

    Only rows proven to be finished trials of the run's plan are read (see :mod:`sweep.results.records`);
    a line saying which were left out is appended to ``problems``. A file that is not a trials
    file at all raises a one-line SweepError.
    """
    table = read_trials_table(run_dir, planned_rows(run_dir))
    _note(table, problems)
    frame = pd.read_csv(io.BytesIO(table.to_bytes()), dtype={"trial_id": str, "config_id": str, "error": str,
                                                             "worker": str},
                        keep_default_na=False, na_values=["", "nan", "NaN"])
    frame["error"] = frame["error"].fillna("")
    frame.insert(0, "order", np.arange(1, len(frame) + 1))
    return frame


def read_history(run_dir, problems: list | None = None) -> pd.DataFrame:
    """history.csv as a DataFrame, one row per trial and epoch (proven rows only, as :func:`read_trials`);
    a program's, one row per line it logged (see :func:`program_history`)."""
    table = read_history_table(run_dir)
    _note(table, problems)
    if table.results.program:
        return program_history(table, table.results.required)
    return pd.read_csv(io.BytesIO(table.to_bytes()), dtype={"trial_id": str})


def program_history(table, metric: str) -> pd.DataFrame:
    """A program's history.csv (one row per value) as one row per line it logged: ``trial_id``, ``step``
    (the line's number), ``iteration`` (how many lines up to it carried ``metric``: W&B's iterations,
    the milestones' unit; NaN before the first) and a column per name it logged (its own ``epoch`` among
    them), numbers as numbers."""
    lines = history_records(table)
    rows = [{"trial_id": trial_id, **line} for trial_id, records in lines.items() for line in records]
    if not rows:
        return pd.DataFrame(columns=["trial_id", "step", "iteration", metric])
    frame = pd.DataFrame(rows)
    carries = frame[metric].notna() if metric in frame else pd.Series(False, index=frame.index)
    counts = carries.astype(int).groupby(frame["trial_id"]).cumsum()
    frame.insert(2, "iteration", counts.where(counts > 0))
    return frame


def _note(table, problems: list | None) -> None:
    if table.rejected and problems is not None:
        count = len(table.rejected)
        problems.append(f"{table.path}: {count} line{'s' * (count > 1)} left out, not finished trials of this run "
                        f"({table.problem()})")


def training_run_columns(trials: pd.DataFrame) -> list[str]:
    """The columns that identify a training run: every hyperparameter but ``epochs``, and the seed.

    Trials that differ only in ``epochs`` are scored from one training run (see :mod:`sweep.plan`).
    """
    return [p for p in hyperparameter_columns(trials) if p != "epochs"] + [c for c in ("seed",) if c in trials]


def hyperparameter_columns(trials: pd.DataFrame) -> list[str]:
    """The hyperparameters of a trials table: the columns between ``status`` and ``seed`` (see
    :func:`~sweep.results.files.trial_columns`), whatever the run's model."""
    columns = list(trials.columns)
    if "status" not in columns or "seed" not in columns:
        return []
    return columns[columns.index("status") + 1:columns.index("seed")]


def rank(trials: pd.DataFrame, metric: str, maximize: bool) -> pd.DataFrame:
    """Trials best first, by :func:`sweep.results.ranking.rank_rows`: ``ok`` by the metric, then
    ``stopped`` by the metric of the last epoch they trained, then ``diverged``, then ``failed`` /
    ``crashed``; ties to the lower validation loss, then to the earlier trial."""
    rows = [{**row, "_position": i} for i, row in enumerate(_ranking_rows(trials, metric))]
    positions = [row["_position"] for row in rank_rows(rows, metric, maximize)]
    return trials.iloc[positions].reset_index(drop=True)


def _ranking_rows(trials: pd.DataFrame, metric: str) -> list[dict]:
    """The columns the ranking reads, as plain rows (metrics as floats)."""
    tie = tie_break(metric)
    ties = trials[tie].astype(float) if tie in trials else np.full(len(trials), np.nan)  # a program logs no val_loss
    return [{"config_id": c, "status": s, "order": int(o), metric: float(m), tie: float(t)}
            for c, s, o, m, t in zip(trials["config_id"], trials["status"], trials["order"],
                                     trials[metric].astype(float), ties)]


def searched_columns(trials: pd.DataFrame) -> list[str]:
    """Hyperparameters that take more than one value in this run."""
    return [p for p in hyperparameter_columns(trials) if trials[p].nunique(dropna=False) > 1]


def leaderboard(trials: pd.DataFrame, metric: str, maximize: bool, sort: str | None = None,
                n_val: int | None = None) -> pd.DataFrame:
    """One row per configuration: its parameters, the metric's mean and std over repeats, the seeds run.

    Configurations whose repeats all finished ``ok`` come first, ranked by their mean; then those
    with a stopped repeat, then those with a diverged or failed one (ranked by the mean of their
    ``ok`` and ``stopped`` repeats, so one lucky seed does not beat three steady ones); those with
    no such repeat come last. ``ok`` counts those repeats. ``sort`` names another
    column to sort by (descending for mean accuracies, ascending otherwise).

    When the metric's standard error is known (:mod:`sweep.results.uncertainty`: a validation accuracy
    measured on ``n_val`` rows, or repeats), the columns ``<metric>_se`` and ``tied`` (statistically tied
    with the best configuration) follow ``<metric>_std``.
    """
    # When nothing varies, one parameter still says what was run (the built-in net's width, if it has one).
    columns = hyperparameter_columns(trials)
    params = searched_columns(trials) or (["hidden_size"] if "hidden_size" in columns else columns[:1])
    ok = trials[trials["status"].isin(SCORED)]
    stats = ok.groupby("config_id")[metric].agg(["mean", "std", "count"])
    first = trials.drop_duplicates("config_id").set_index("config_id")
    statuses = trials.groupby("config_id")["status"].agg(lambda s: ",".join(sorted(set(s))))
    board = pd.DataFrame({p: first[p] for p in params}, index=first.index)
    board[f"{metric}_mean"] = stats["mean"]
    board[f"{metric}_std"] = stats["std"]
    board["runs"] = trials.groupby("config_id").size()
    board["ok"] = stats["count"].reindex(board.index).fillna(0).astype(int)
    for extra in ("val_acc", "train_acc", "val_loss", "seconds"):
        if extra != metric and extra in ok:
            board[f"{extra}_mean"] = ok.groupby("config_id")[extra].mean()
    board["status"] = statuses
    board = board.loc[config_order(_ranking_rows(trials, metric), metric, maximize)].reset_index()
    board = add_uncertainty(board, metric, n_val)  # before any other sort: the first row is the best
    if "tied" in board:  # beside the mean and std
        at = board.columns.get_loc(f"{metric}_std") + 1
        board = board[[*board.columns[:at], f"{metric}_se", "tied",
                       *[c for c in board.columns[at:] if c not in (f"{metric}_se", "tied")]]]
    if sort:
        column = sort if sort in board else f"{sort}_mean"
        if column not in board:
            raise KeyError(sort)
        ascending = column.removesuffix("_mean") not in ("val_acc", "train_acc", "best_val_acc")
        board = board.sort_values(column, ascending=ascending, na_position="last", kind="stable")
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    return board.reset_index(drop=True)


def best_trial(trials: pd.DataFrame, metric: str, maximize: bool) -> pd.Series | None:
    """The row of the trial whose model is "the best" (:func:`sweep.results.ranking.best_row`):
    the best repeat of the configuration with the best mean. None when no trial finished ``ok``
    or ``stopped`` with a metric."""
    rows = [{**row, "_position": i} for i, row in enumerate(_ranking_rows(trials, metric))]
    best = best_row(rows, metric, maximize)
    return None if best is None else trials.iloc[best["_position"]]


def run_metric(experiment: dict, problems: list | None = None) -> tuple[str, bool]:
    """The ranking metric of a run's experiment.yaml document: (name, maximize).

    A metric this runner does not rank by (a damaged or foreign file) is replaced by ``val_acc``,
    with a line in ``problems``; its goal is always the metric's natural one. A program sweep ranks by
    the metric its lines carry, with the goal its file gives (W&B's default: minimize).
    """
    from ..config import METRICS

    doc = experiment.get("metric") or {}
    doc = {"name": doc} if isinstance(doc, str) else doc
    doc = doc if isinstance(doc, dict) else {}
    name = doc.get("name", "val_acc")
    if "program_parameters" in experiment and isinstance(name, str) and name:  # a program's: any name it logs
        return name, doc.get("goal", "minimize") == "maximize"
    if not isinstance(name, str) or name not in METRICS:
        if problems is not None:
            problems.append(f"experiment.yaml names the metric {str(name)[:60]!r}, which is not one of "
                            f"{', '.join(METRICS)}; ranked by val_acc")
        name = "val_acc"
    return name, METRICS[name] == "maximize"


def status_counts(trials: pd.DataFrame) -> dict[str, int]:
    """How many trials ended with each status."""
    return {str(k): int(v) for k, v in trials["status"].value_counts().items()}


def training_seconds(trials: pd.DataFrame) -> float:
    """Seconds of training the run took, summed over training runs.

    Trials that differ only in ``epochs`` are scored from one training run, and each records the
    time of its own epochs, so each run is counted once, by its longest trial.
    """
    if trials.empty or "seconds" not in trials:
        return 0.0
    key = training_run_columns(trials)
    seconds = pd.to_numeric(trials["seconds"], errors="coerce").fillna(0.0)
    if not key:
        return float(seconds.sum())
    return float(seconds.groupby([trials[k].astype(str) for k in key]).max().sum())


def started_and_wall(experiment: dict, run_dir) -> tuple[float | None, float | None]:
    """(start time as a POSIX timestamp, seconds from the start to the last result) of a run, each None
    when not recorded: the start is experiment.yaml's ``provenance.started``, the last result the time
    trials.csv was last written (a resumed run counts the time between its sessions too)."""
    provenance = experiment.get("provenance")
    started = provenance.get("started") if isinstance(provenance, dict) else None
    if not started:
        return None, None
    try:
        start = datetime.strptime(str(started), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except (ValueError, OverflowError):
        return None, None
    try:
        wall = (Path(run_dir) / TRIALS_FILE).stat().st_mtime - start
    except OSError:
        return start, None
    return start, (wall if wall >= 0 else None)

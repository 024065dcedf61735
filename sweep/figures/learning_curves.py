"""Loss and accuracy per epoch of the top trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..results.analysis import rank, training_run_columns
from ..status import STOPPED
from .style import epoch_axis, new_figure, plain_log_axis, scored_trials, short_params


def top_trials(trials: pd.DataFrame, metric: str, maximize: bool, top_k: int = 5) -> pd.DataFrame:
    """The ``top_k`` best scored trials, one per training run, best first, with their ``rank``.

    ``rank`` is the trial's place (1-based) among all ``trials`` as the report's leaderboard ranks
    them (:func:`~sweep.results.analysis.rank`: finished ones by the metric, then stopped ones by their
    last score, ...). Trials that differ only in ``epochs`` share a training run (their histories are
    prefixes of one another), so only the best of them is kept, and the next run takes the freed
    place: the ranks shown may skip a number.
    """
    if trials.empty:
        return trials.assign(rank=pd.Series(dtype=int))
    ranked = rank(trials, metric, maximize)
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    scored = ranked.loc[scored_trials(ranked, metric).index]
    if scored.empty:
        return scored.reset_index(drop=True)
    keys = scored[training_run_columns(scored)].astype(str).agg("|".join, axis=1)
    return scored[~keys.duplicated()].head(top_k).reset_index(drop=True)


def curve_label(trial: pd.Series, params=()) -> str:
    """A legend entry of one curve: the trial's leaderboard rank, its searched ``params`` (or its id),
    and "(stopped)" when it was stopped early."""
    text = f"#{trial['rank']} " + (short_params(trial, params) if params else str(trial["trial_id"]))
    return text + (" (stopped)" if trial["status"] == STOPPED else "")


def learning_curves_figure(history: pd.DataFrame, trials: pd.DataFrame, metric: str = "val_acc",
                           maximize: bool = True, top_k: int = 5, params=()) -> Figure | None:
    """Training loss per epoch (left) and accuracy per epoch (right) of the top ``top_k`` trials.

    The right panel has a dashed training and a solid validation line per trial. Without class
    accuracies (regression) it shows the validation loss instead. Legend entries name the rank in
    the report's leaderboard and the searched ``params`` (see :func:`curve_label`); a stopped trial's
    curves end at the epoch it was stopped at. None when no scored trial has a history.
    """
    if history.empty:
        return None
    top = top_trials(trials, metric, maximize, top_k)
    top = top[top["trial_id"].isin(history["trial_id"])].reset_index(drop=True)
    if top.empty:
        return None
    rows = history[history["trial_id"].isin(top["trial_id"])]
    has_acc = rows["val_acc"].notna().any()
    fig = new_figure(11, 4.6)
    loss_ax, right_ax = fig.subplots(1, 2)
    colors = colormaps["tab10"].colors
    for i, trial in top.iterrows():
        own = rows[rows["trial_id"] == trial["trial_id"]].sort_values("epoch")
        color = colors[i % len(colors)]
        label = curve_label(trial, params)
        loss_ax.plot(own["epoch"], own["train_loss"], color=color, marker="o", markersize=3, label=label)
        if has_acc:
            right_ax.plot(own["epoch"], own["train_acc"], color=color, linestyle="--", marker="o", markersize=3)
            right_ax.plot(own["epoch"], own["val_acc"], color=color, marker="o", markersize=3)
        else:
            right_ax.plot(own["epoch"], own["val_loss"], color=color, marker="o", markersize=3)
    loss = rows["train_loss"][np.isfinite(rows["train_loss"])]
    if len(loss) and loss.min() > 0 and loss.max() / loss.min() >= 30:
        loss_ax.set_yscale("log")
        loss_ax.set_ylim(loss.min() / 1.3, loss.max() * 1.3)
        plain_log_axis(loss_ax.yaxis)
    loss_ax.set_title("Training loss", fontsize=10)
    loss_ax.set_ylabel("loss")
    if has_acc:
        right_ax.set_title("Classification accuracy", fontsize=10)
        right_ax.set_ylabel("accuracy")
        right_ax.legend(handles=[Line2D([], [], color="black", linestyle="--", label="train"),
                                 Line2D([], [], color="black", label="validation")], fontsize=8, loc="lower right")
    else:
        right_ax.set_title("Validation loss", fontsize=10)
        right_ax.set_ylabel("loss")
    for ax in (loss_ax, right_ax):
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        epoch_axis(ax.xaxis, rows["epoch"])
    handles, labels = loss_ax.get_legend_handles_labels()
    ncol = min(len(handles), 3)
    order = [i for c in range(ncol) for i in range(c, len(handles), ncol)]  # read row by row: #1 #2 #3 / #4 #5
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="outside lower center", ncol=ncol,
               fontsize=8, frameon=False, columnspacing=1.5)
    return fig


def metric_curves_figure(history: pd.DataFrame, trials: pd.DataFrame, metric: str, maximize: bool,
                         top_k: int = 5, params=()) -> Figure | None:
    """A program sweep's learning curves: ``metric`` at each of its iterations (the lines that carry
    it, see :func:`~sweep.results.analysis.program_history`) of the top ``top_k`` trials. None when no
    scored trial logged it."""
    if history.empty or metric not in history or "iteration" not in history:
        return None
    top = top_trials(trials, metric, maximize, top_k)
    top = top[top["trial_id"].isin(history["trial_id"])].reset_index(drop=True)
    if top.empty:
        return None
    rows = history[history["trial_id"].isin(top["trial_id"]) & history[metric].notna()]
    fig = new_figure(7.5, 4.6)
    ax = fig.subplots()
    colors = colormaps["tab10"].colors
    for i, trial in top.iterrows():
        own = rows[rows["trial_id"] == trial["trial_id"]].sort_values("iteration")
        label = curve_label(trial, params)
        ax.plot(own["iteration"], pd.to_numeric(own[metric], errors="coerce"), color=colors[i % len(colors)],
                marker="o", markersize=3, label=label)
    ax.set_xlabel("iteration (a line the program logged with the metric)")
    ax.set_ylabel(metric)
    epoch_axis(ax.xaxis, rows["iteration"])
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig

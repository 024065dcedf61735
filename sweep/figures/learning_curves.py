"""Loss and accuracy per epoch of the top trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..results.analysis import rank, training_run_columns
from .style import new_figure, plain_log_axis, scored_trials, short_params


def top_trials(trials: pd.DataFrame, metric: str, maximize: bool, top_k: int = 5) -> pd.DataFrame:
    """The ``top_k`` best scored trials, one per training run.

    Trials that differ only in ``epochs`` share a training run (their histories are prefixes of
    one another), so only the best of them is kept, and the next run takes the freed place.
    """
    scored = rank(scored_trials(trials, metric), metric, maximize)
    if scored.empty:
        return scored
    keys = scored[training_run_columns(scored)].astype(str).agg("|".join, axis=1)
    return scored[~keys.duplicated()].head(top_k).reset_index(drop=True)


def learning_curves_figure(history: pd.DataFrame, trials: pd.DataFrame, metric: str = "val_acc",
                           maximize: bool = True, top_k: int = 5, params=()) -> Figure | None:
    """Training loss per epoch (left) and accuracy per epoch (right) of the top ``top_k`` trials.

    The right panel has a dashed training and a solid validation line per trial. Without class
    accuracies (regression) it shows the validation loss instead. Legend entries name the rank
    and the searched ``params``. None when no scored trial has a history.
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
        label = f"#{i + 1} " + (short_params(trial, params) if params else trial["trial_id"])
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
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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
        label = f"#{i + 1} " + (short_params(trial, params) if params else trial["trial_id"])
        ax.plot(own["iteration"], pd.to_numeric(own[metric], errors="coerce"), color=colors[i % len(colors)],
                marker="o", markersize=3, label=label)
    ax.set_xlabel("iteration (a line the program logged with the metric)")
    ax.set_ylabel(metric)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig

"""The metric against epochs for every trial, trials stopped early marked where they stopped."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from ..status import STOPPED
from .style import OK_COLOR, STOPPED_COLOR, STOPPED_MARKER, epoch_axis, metric_label, new_figure

#: Colours: trials that trained to the end, and those stopped early (as in every figure).
FINISHED_COLOR = OK_COLOR


def curves_data(history: pd.DataFrame, trials: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per trial and epoch: ``trial_id``, ``epoch``, ``value`` (the metric per epoch; the best
    validation accuracy so far for ``best_val_acc``) and ``stopped`` (the trial was stopped early)."""
    column = "val_acc" if metric == "best_val_acc" else metric
    if history.empty or column not in history:
        return pd.DataFrame(columns=["trial_id", "epoch", "value", "stopped"])
    rows = history[history["trial_id"].isin(trials["trial_id"])].sort_values(["trial_id", "epoch"])
    values = rows.groupby("trial_id")[column].cummax() if metric == "best_val_acc" else rows[column]
    stopped = set(trials.loc[trials["status"] == STOPPED, "trial_id"])
    return pd.DataFrame({"trial_id": rows["trial_id"], "epoch": rows["epoch"], "value": values,
                         "stopped": rows["trial_id"].isin(stopped)}).reset_index(drop=True)


def rungs_figure(history: pd.DataFrame, trials: pd.DataFrame, metric: str = "val_acc") -> Figure | None:
    """Every trial's ``metric`` per epoch, finished trials in blue, stopped ones in orange ending in a triangle.

    None unless some trial was stopped early (without early termination the learning curves say it).
    """
    data = curves_data(history, trials, metric)
    if data.empty or not data["stopped"].any():
        return None
    fig = new_figure(7.5, 4.6)
    ax = fig.subplots()
    for trial_id, own in data.groupby("trial_id", sort=False):
        stopped = bool(own["stopped"].iloc[0])
        color = STOPPED_COLOR if stopped else FINISHED_COLOR
        ax.plot(own["epoch"], own["value"], color=color, alpha=0.45 if stopped else 0.8, linewidth=1)
        if stopped:
            ax.plot(own["epoch"].iloc[-1], own["value"].iloc[-1], marker=STOPPED_MARKER, color=color, markersize=5)
    per_trial = data.drop_duplicates("trial_id")["stopped"]
    if (~per_trial).any():
        ax.plot([], [], color=FINISHED_COLOR, label=f"trained to the end ({(~per_trial).sum()})")
    ax.plot([], [], color=STOPPED_COLOR, marker=STOPPED_MARKER, label=f"stopped early ({per_trial.sum()})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric_label(metric))
    epoch_axis(ax.xaxis, data["epoch"])
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig

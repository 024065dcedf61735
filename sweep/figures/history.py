"""The metric of each trial in completion order, and the best so far."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .style import BEST_COLOR, OK_COLOR, metric_label, metric_ylim, new_figure, scored_trials, unscored_marks


def history_data(trials: pd.DataFrame, metric: str, maximize: bool) -> pd.DataFrame:
    """One row per trial in completion order: ``order``, ``status``, its ``value`` (NaN without a
    score) and the ``best_so_far`` after it (NaN until a trial has a score)."""
    order = trials["order"] if "order" in trials else pd.Series(np.arange(1, len(trials) + 1), index=trials.index)
    scored = scored_trials(trials, metric)
    values = pd.Series(np.nan, index=trials.index)
    values[scored.index] = scored[metric].astype(float)
    best_so_far = (values.cummax() if maximize else values.cummin()).ffill()
    return pd.DataFrame({"order": order, "status": trials["status"], "value": values, "best_so_far": best_so_far})


def history_figure(trials: pd.DataFrame, metric: str, maximize: bool) -> Figure | None:
    """The metric of each trial in completion order (dots) and the best so far (a step line)."""
    if trials.empty:
        return None
    data = history_data(trials, metric, maximize)
    scored = data[data["value"].notna()]
    fig = new_figure(7.5, 3.8)
    ax = fig.subplots()
    if not scored.empty:
        ax.scatter(scored["order"], scored["value"], s=20, color=OK_COLOR, alpha=0.75,
                   edgecolors="none", label="trial", zorder=3)
        ax.step(data["order"], data["best_so_far"], where="post", color=BEST_COLOR, linewidth=1.6,
                label="best so far", zorder=4)
    unscored_marks(ax, data["order"], data["status"], set())
    ax.set_xlabel("trial (completion order)")
    ax.set_ylabel(metric_label(metric))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.5, len(trials) + 0.5)
    ax.grid(True, alpha=0.3)
    metric_ylim(ax, scored["value"], metric)
    ax.legend(fontsize=8, loc="lower right" if maximize else "upper right", framealpha=0.8)
    return fig

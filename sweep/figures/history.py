"""The metric of each trial in completion order, and the best so far."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .style import (
    BEST_COLOR,
    figure_legend,
    metric_label,
    metric_ylim,
    new_figure,
    scored_points,
    scored_trials,
    unscored_marks,
)


def history_data(trials: pd.DataFrame, metric: str, maximize: bool) -> pd.DataFrame:
    """One row per trial in completion order: ``order`` (1-based), ``status``, its ``value`` (the metric;
    a stopped trial's is that of the last epoch it trained; NaN without a score) and the ``best_so_far``
    score of the trials up to it, stopped ones included (NaN until a trial has a score)."""
    order = trials["order"] if "order" in trials else pd.Series(np.arange(1, len(trials) + 1), index=trials.index)
    scored = scored_trials(trials, metric)
    values = pd.Series(np.nan, index=trials.index)
    values[scored.index] = scored[metric].astype(float)
    best_so_far = (values.cummax() if maximize else values.cummin()).ffill()
    return pd.DataFrame({"order": order, "status": trials["status"], "value": values, "best_so_far": best_so_far})


def history_figure(trials: pd.DataFrame, metric: str, maximize: bool) -> Figure | None:
    """The metric of each trial in completion order (dots; stopped trials triangles) and the best so
    far (a step line)."""
    if trials.empty:
        return None
    data = history_data(trials, metric, maximize)
    scored = data[data["value"].notna()]
    fig = new_figure(7.5, 4.0)
    ax = fig.subplots()
    if not scored.empty:
        scored_points(ax, scored["order"], scored["value"], scored["status"], size=20, label="finished trial")
        ax.step(data["order"], data["best_so_far"], where="post", color=BEST_COLOR, linewidth=1.6,
                label="best so far", zorder=4)
    unscored_marks(ax, data["order"], data["status"], set())
    ax.set_xlabel("trial (completion order)")
    ax.set_ylabel(metric_label(metric))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.5, len(trials) + 0.5)
    ax.grid(True, alpha=0.3)
    metric_ylim(ax, scored["value"], metric)
    figure_legend(fig, ax)
    return fig

"""The metric of each trial in completion order, and the best so far."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .style import BEST_COLOR, OK_COLOR, metric_label, metric_ylim, new_figure, scored_trials, unscored_marks


def history_figure(trials: pd.DataFrame, metric: str, maximize: bool) -> Figure | None:
    """The metric of each trial in completion order (dots) and the best so far (a step line)."""
    if trials.empty:
        return None
    order = trials["order"] if "order" in trials else pd.Series(np.arange(1, len(trials) + 1), index=trials.index)
    scored = scored_trials(trials, metric)
    fig = new_figure(7.5, 3.8)
    ax = fig.subplots()
    values = pd.Series(np.nan, index=trials.index)
    values[scored.index] = scored[metric].astype(float)
    best_so_far = (values.cummax() if maximize else values.cummin()).ffill()
    if not scored.empty:
        ax.scatter(order[scored.index], values[scored.index], s=20, color=OK_COLOR, alpha=0.75,
                   edgecolors="none", label="trial", zorder=3)
        ax.step(order, best_so_far, where="post", color=BEST_COLOR, linewidth=1.6, label="best so far", zorder=4)
    unscored_marks(ax, order, trials["status"], set())
    ax.set_xlabel("trial (completion order)")
    ax.set_ylabel(metric_label(metric))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.5, len(trials) + 0.5)
    ax.grid(True, alpha=0.3)
    metric_ylim(ax, scored[metric], metric)
    ax.legend(fontsize=8, loc="lower right" if maximize else "upper right", framealpha=0.8)
    return fig

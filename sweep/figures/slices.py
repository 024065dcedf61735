"""The metric of every trial against one searched hyperparameter."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from .style import (
    BEST_COLOR,
    OK_COLOR,
    Scale,
    apply_ticks,
    metric_label,
    metric_ylim,
    new_figure,
    param_label,
    scored_trials,
    unscored_marks,
)


def slice_figure(trials: pd.DataFrame, param: str, metric: str, maximize: bool, log: bool = False,
                 best_id: str | None = None) -> Figure | None:
    """The metric of every trial against one hyperparameter; the best trial starred.

    Trials sharing a value are spread a little sideways. A line joins the best score at each
    value (for discrete values). Trials without a score are crosses along the bottom.
    """
    if trials.empty or param not in trials:
        return None
    scale = Scale.of(param, trials[param], log)
    fig = new_figure(5.6, 4.0)
    ax = fig.subplots()
    scored = scored_trials(trials, metric)
    x = pd.Series(scale.jitter(trials[param]), index=trials.index)
    if not scored.empty:
        ax.scatter(x[scored.index], scored[metric].astype(float), s=22, alpha=0.75, color=OK_COLOR,
                   edgecolors="none", label="trial", zorder=3)
    if scale.discrete and not scored.empty:
        values = scored[metric].astype(float)
        groups = values.groupby(scale.data(scored[param]))
        best_rows = (groups.idxmax() if maximize else groups.idxmin()).sort_index()
        ax.plot(x[best_rows.to_numpy()], values[best_rows.to_numpy()], color=OK_COLOR, linewidth=1, alpha=0.6,
                zorder=2, label="best at each value")
    labelled: set = set()
    unscored_marks(ax, x[trials.index], trials["status"], labelled)
    if best_id is not None and (scored["trial_id"] == best_id).any():
        row = scored.index[scored["trial_id"] == best_id][0]
        ax.scatter([x[row]], [float(scored.at[row, metric])], marker="*", s=240, color=BEST_COLOR,
                   edgecolors="white", linewidths=0.8, zorder=5, label="best trial")
    apply_ticks(ax.xaxis, scale)
    ax.set_xlim(*scale.padded_limits())
    ax.set_xlabel(param_label(param))
    ax.set_ylabel(metric_label(metric))
    ax.grid(True, alpha=0.3)
    metric_ylim(ax, scored[metric], metric)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8, frameon=False,
               handletextpad=0.3, columnspacing=1.2)
    return fig




def slice_figures(trials: pd.DataFrame, metric: str, maximize: bool, params, log_params=(),
                  best_id: str | None = None) -> dict[str, Figure]:
    """One :func:`slice_figure` per parameter in ``params``: ``{param: Figure}``."""
    out = {}
    for param in params:
        fig = slice_figure(trials, param, metric, maximize, log=param in log_params, best_id=best_id)
        if fig is not None:
            out[param] = fig
    return out

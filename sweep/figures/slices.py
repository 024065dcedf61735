"""The metric of every trial against one searched hyperparameter."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from .style import (
    BEST_COLOR,
    OK_COLOR,
    Scale,
    apply_ticks,
    figure_legend,
    metric_label,
    metric_ylim,
    new_figure,
    param_label,
    scored_points,
    scored_trials,
    unscored_marks,
)


@dataclass
class SliceData:
    """What a slice figure shows, apart from the drawing (as Optuna's ``_get_slice_plot_info``).

    ``points`` has one row per trial: its ``x`` position on the axis (plot coordinates: the value,
    a category's index; spread sideways when trials share a value), its ``value`` (the metric; a
    stopped trial's from the last epoch it trained; NaN without a score) and ``status``;
    ``best_line`` the points of the best score at each value, stopped trials included (discrete
    axes only); ``best`` the (x, value) of the best trial.
    """

    scale: Scale
    points: pd.DataFrame
    best_line: pd.DataFrame
    best: tuple[float, float] | None


def slice_data(trials: pd.DataFrame, param: str, metric: str, maximize: bool, log: bool = False,
               best_id: str | None = None) -> SliceData | None:
    """The data of :func:`slice_figure`; None when ``param`` is not a column of ``trials``."""
    if trials.empty or param not in trials:
        return None
    scale = Scale.of(param, trials[param], log)
    scored = scored_trials(trials, metric)
    x = pd.Series(scale.jitter(trials[param]), index=trials.index)
    values = pd.Series(float("nan"), index=trials.index)
    values[scored.index] = scored[metric].astype(float)
    points = pd.DataFrame({"x": x, "value": values, "status": trials["status"]})
    best_line = pd.DataFrame({"x": [], "value": []})
    if scale.discrete and not scored.empty:
        groups = values[scored.index].groupby(scale.data(scored[param]))
        rows = (groups.idxmax() if maximize else groups.idxmin()).sort_index().to_numpy()
        best_line = pd.DataFrame({"x": x[rows].to_numpy(), "value": values[rows].to_numpy()})
    best = None
    if best_id is not None and (scored["trial_id"] == best_id).any():
        row = scored.index[scored["trial_id"] == best_id][0]
        best = (float(x[row]), float(values[row]))
    return SliceData(scale, points, best_line, best)


def slice_figure(trials: pd.DataFrame, param: str, metric: str, maximize: bool, log: bool = False,
                 best_id: str | None = None) -> Figure | None:
    """The metric of every trial against one hyperparameter; the best trial starred.

    Trials sharing a value are spread a little sideways; stopped trials are triangles at their last
    score. A line joins the best score at each value (for discrete values). Trials without a score
    are crosses along the bottom. 5.6 x 4.0 inches at 100 dpi.
    """
    data = slice_data(trials, param, metric, maximize, log, best_id)
    if data is None:
        return None
    fig = new_figure(5.6, 4.0)
    ax = fig.subplots()
    scored = data.points[data.points["value"].notna()]
    if not scored.empty:
        scored_points(ax, scored["x"], scored["value"], scored["status"], label="finished trial")
    if not data.best_line.empty:
        ax.plot(data.best_line["x"], data.best_line["value"], color=OK_COLOR, linewidth=1, alpha=0.6,
                zorder=2, label="best at each value")
    unscored_marks(ax, data.points["x"], data.points["status"], set())
    if data.best is not None:
        ax.scatter([data.best[0]], [data.best[1]], marker="*", s=240, color=BEST_COLOR,
                   edgecolors="white", linewidths=0.8, zorder=5, label="best trial")
    apply_ticks(ax.xaxis, data.scale)
    ax.set_xlim(*data.scale.padded_limits())
    ax.set_xlabel(param_label(param))
    ax.set_ylabel(metric_label(metric))
    ax.grid(True, alpha=0.3)
    metric_ylim(ax, scored["value"], metric)
    figure_legend(fig, ax, ncol=3)
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

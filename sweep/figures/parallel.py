"""Parallel coordinates: every trial as a line through its hyperparameters to its metric."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..status import STOPPED
from .style import (
    STOPPED_COLOR,
    STOPPED_LABEL,
    Scale,
    figure_legend,
    fmt_metric,
    fmt_value,
    metric_label,
    metric_norm,
    new_figure,
    param_label,
    scored_trials,
)


def parallel_coordinates_figure(trials: pd.DataFrame, metric: str, maximize: bool, params,
                                log_params=()) -> Figure | None:
    """Every trial as a line across one vertical axis per parameter and a last one for the metric.

    Scored trials are coloured by the metric (best drawn on top), those stopped early dashed and
    ending at the score of the last epoch they trained; trials without a score are grey dotted lines
    that end at "no score" below the metric axis. None without parameters.
    """
    params = [p for p in params if p in trials]
    if trials.empty or not params:
        return None
    scales = [Scale.of(p, trials[p], p in log_params) for p in params]
    scored = scored_trials(trials, metric)
    norm, cmap = metric_norm(scored[metric], maximize)
    columns = []
    for scale in scales:
        lo, hi = scale.unit_range()
        u = scale.unit(trials[scale.name])
        columns.append(np.full(len(u), 0.5) if hi == lo else (u - lo) / (hi - lo))
    metric_values = pd.to_numeric(trials[metric], errors="coerce").to_numpy(dtype=float)
    isscored = trials.index.isin(scored.index)
    if isscored.any():
        m = np.asarray(norm(np.where(isscored, metric_values, np.nan)), dtype=float)
        lo, hi = norm.vmin, norm.vmax
    else:
        m = np.full(len(trials), np.nan)
        lo = hi = None
    NO_SCORE = -0.12
    columns.append(np.where(isscored, m, NO_SCORE))
    points = np.column_stack(columns)
    n_axes = points.shape[1]
    fig = new_figure(max(6.0, 1.7 * n_axes + 1.5), 4.6)
    ax = fig.subplots()
    xs = np.arange(n_axes)
    # the norm puts good values at the bright end (viridis_r for minimised metrics): draw the best
    # last, on top: a high normalised value is good when maximising, a low one when minimising.
    good = np.where(isscored, m if maximize else 1 - m, -np.inf)
    order = np.argsort(good, kind="stable")
    stopped = (trials["status"] == STOPPED).to_numpy() & isscored
    bad_segments = [np.column_stack([xs, points[i]]) for i in order if not isscored[i]]
    ok_segments = [np.column_stack([xs, points[i]]) for i in order if isscored[i]]
    if bad_segments:
        ax.add_collection(LineCollection(bad_segments, colors="#aaaaaa", linestyles=":", linewidths=0.9,
                                         label="no score"))
    if ok_segments:
        colors = [cmap(m[i]) for i in order if isscored[i]]
        styles = [(0, (4, 2)) if stopped[i] else "solid" for i in order if isscored[i]]
        lines = LineCollection(ok_segments, colors=colors, linestyles=styles, linewidths=1.4, alpha=0.9)
        ax.add_collection(lines)
    if stopped.any():  # a legend entry for the dashes: the colours are the metric's
        ax.plot([], [], color=STOPPED_COLOR, linestyle=(0, (4, 2)), label=STOPPED_LABEL)
    ax.vlines(xs, 0, 1, colors="black", linewidths=0.8)
    for k, scale in enumerate(scales):
        lo_u, hi_u = scale.unit_range()
        positions, labels = scale.ticks(max_labels=8)
        units = np.asarray(positions, dtype=float) if scale.kind == "category" else scale.unit(positions)
        inside = (units >= lo_u - 1e-9) & (units <= hi_u + 1e-9)
        units, labels = units[inside], [label for label, keep in zip(labels, inside) if keep]
        for u, label in zip(units, labels):
            y = 0.5 if hi_u == lo_u else (u - lo_u) / (hi_u - lo_u)
            ax.text(k - 0.04, y, label, ha="right", va="center", fontsize=8,
                    bbox=dict(facecolor="white", edgecolor="none", pad=0.5, alpha=0.8))
    if lo is not None:
        if isinstance(norm, LogNorm):
            ticks = [10.0 ** k for k in range(math.ceil(math.log10(lo)), math.floor(math.log10(hi)) + 1)]
        else:
            ticks = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
        # the worst and the best score, and round values between them not too close to either
        ticks = [lo, hi] + [v for v in ticks if 0.08 < float(norm(v)) < 0.92]
        for value in ticks:
            ax.text(n_axes - 1 + 0.04, float(norm(value)), fmt_metric(value, metric), ha="left", va="center",
                    fontsize=8)
    if bad_segments:
        ax.text(n_axes - 1 + 0.04, NO_SCORE, "no score", ha="left", va="center", fontsize=8, color="#777777")
    ax.set_xlim(-0.45, n_axes - 1 + 0.45)
    ax.set_ylim(NO_SCORE - 0.06 if bad_segments else -0.06, 1.06)
    ax.set_xticks(xs, [param_label(p) for p in params] + [metric_label(metric)], fontsize=9)
    ax.xaxis.set_ticks_position("top")
    ax.tick_params(axis="x", length=0)
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if ok_segments:
        from matplotlib.cm import ScalarMappable

        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02, shrink=0.9)
        bar.set_label(metric_label(metric))
    if stopped.any():
        figure_legend(fig, ax)
    return fig


def parallel_data(run) -> dict:
    """The interactive parallel coordinates of the report, as plain JSON-ready data (no NaN).

    ``axes``: one per searched parameter, then the metric; each ``{"key", "label", "kind", "range",
    "ticks"}`` where ``kind`` is ``category`` (values are the category's index, evenly spaced;
    ``categories`` names them), ``log`` (values on a log axis; a 0 sits a decade below the smallest
    positive value, as in the PNG) or ``linear``; ``range`` is [low, high] in values (indexes for
    categories); ``ticks`` are ``[value, label]`` pairs. The metric's axis has ``"metric": true``,
    ``maximize`` and spans the scored trials.

    ``rows``: every trial in leaderboard order, ``{"id", "rank", "status", "values", "scored"}``:
    ``values`` follow ``axes`` (None where a trial has no value: the metric of a diverged or failed
    trial); ``scored`` is False for trials without a score (drawn grey, below the metric axis).
    """
    from .style import SCORED_STATUSES

    ranked = run.ranked()
    params = [p for p in run.params if p in ranked]
    axes, columns = [], []
    for p in params:
        scale = Scale.of(p, ranked[p], p in run.log_params)
        positions, labels = scale.ticks(max_labels=8)
        values = scale.data(ranked[p])
        if scale.kind == "category":
            span = [0.0, float(max(len(scale.uniques) - 1, 0))]
            ticks = [[float(i), str(c)] for i, c in enumerate(scale.uniques)]
        else:
            finite = values[np.isfinite(values)]
            span = [float(finite.min()), float(finite.max())] if len(finite) else [0.0, 1.0]
            ticks = [[float(v), _plain_label(label)] for v, label in zip(positions, labels)
                     if np.isfinite(v) and span[0] - 1e-9 * abs(span[0]) <= v <= span[1] + 1e-9 * abs(span[1])]
        axis = {"key": str(p), "label": param_label(str(p)), "kind": scale.kind, "range": span, "ticks": ticks}
        if scale.kind == "category":
            axis["categories"] = [str(c) for c in scale.uniques]
        axes.append(axis)
        columns.append(values)
    metric = run.metric
    scores = pd.to_numeric(ranked[metric], errors="coerce").to_numpy(dtype=float) if metric in ranked else \
        np.full(len(ranked), np.nan)
    scored = ranked["status"].isin(SCORED_STATUSES).to_numpy() & np.isfinite(scores)
    norm, _ = metric_norm(scores[scored], run.maximize)
    log_metric = isinstance(norm, LogNorm)
    lo, hi = (float(norm.vmin), float(norm.vmax)) if scored.any() else (0.0, 1.0)
    if log_metric:
        ticks = [10.0 ** k for k in range(math.ceil(math.log10(lo)), math.floor(math.log10(hi)) + 1)]
    else:
        ticks = list(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi))
    ticks = [lo, hi] + [float(v) for v in ticks if 0.08 < float(norm(v)) < 0.92] if scored.any() else []
    axes.append({"key": metric, "label": metric_label(metric), "kind": "log" if log_metric else "linear",
                 "range": [lo, hi], "ticks": [[v, fmt_metric(v, metric)] for v in ticks], "metric": True,
                 "maximize": bool(run.maximize)})
    columns.append(np.where(scored, scores, np.nan))
    rows = []
    for i, (trial_id, status) in enumerate(zip(ranked["trial_id"], ranked["status"])):
        rows.append({"id": str(trial_id), "rank": i + 1, "status": str(status),
                     "values": [_json_number(c[i]) for c in columns], "scored": bool(scored[i])})
    return {"axes": axes, "rows": rows, "metric": metric, "stopped": STOPPED}


def _plain_label(label: str) -> str:
    """A tick label without matplotlib's math text: ``$10^{-2}$`` reads ``0.01``, ``$10^{-4}$`` ``1e-4``."""
    return re.sub(r"\$(-?)10\^\{(-?\d+)\}\$", lambda m: m[1] + fmt_value(10.0 ** int(m[2])), label).replace("$", "")


def _json_number(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None

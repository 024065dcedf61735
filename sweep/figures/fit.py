"""Training against validation: the over- and under-fitting view."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ..status import OK, STOPPED
from .style import (
    BEST_COLOR,
    OK_COLOR,
    SHORT,
    Scale,
    fmt_value,
    new_figure,
    param_label,
    plain_log_axis,
    scored_points,
)


def fit_figure(trials: pd.DataFrame, metric: str = "val_acc", maximize: bool = True, color_by: str | None = None,
               log_color: bool = False, best_id: str | None = None) -> Figure | None:
    """Final training against validation accuracy of every ``ok`` trial, with the y = x diagonal; trials
    stopped early are orange triangles at the last epoch they trained.

    Finished trials are coloured by ``color_by`` (e.g. reg): a legend for a few values, a colour bar
    otherwise. Without accuracies (regression) the axes are training and validation loss.
    None when no trial has both values.
    """
    if trials.empty:
        return None
    scored = trials[trials["status"].isin([OK, STOPPED])]
    use_acc = scored[["train_acc", "val_acc"]].notna().all(axis=1).any()
    xcol, ycol = ("train_acc", "val_acc") if use_acc else ("train_loss", "val_loss")
    scored = scored[np.isfinite(scored[xcol].astype(float)) & np.isfinite(scored[ycol].astype(float))]
    if scored.empty:
        return None
    ok, stopped = scored[scored["status"] == OK], scored[scored["status"] == STOPPED]
    fig = new_figure(5.8, 5.0)
    ax = fig.subplots()
    scored_points(ax, stopped[xcol], stopped[ycol], stopped["status"], size=26, zorder=0.9)  # under the finished
    x, y = ok[xcol].astype(float), ok[ycol].astype(float)
    if color_by and color_by in ok and ok[color_by].nunique() > 1:
        scale = Scale.of(color_by, trials[color_by], log_color)
        if scale.discrete and len(scale.uniques) <= 8:
            palette = colormaps["viridis"](np.linspace(0.0, 0.75, len(scale.uniques)))
            keys = scale.data(ok[color_by])
            for k, value in enumerate(scale.uniques):
                mask = keys == k if scale.kind == "category" else ok[color_by].astype(float).to_numpy() == value
                if mask.any():
                    ax.scatter(x[mask], y[mask], s=26, color=palette[k], alpha=0.85, edgecolors="none",
                               label=f"{SHORT.get(color_by, color_by)} = {fmt_value(value)}")
        else:
            c = scale.data(ok[color_by])
            points = ax.scatter(x, y, c=c, s=26, cmap="viridis", norm=LogNorm() if scale.kind == "log" else None,
                                alpha=0.85, edgecolors="none")
            fig.colorbar(points, ax=ax, label=param_label(color_by))
    elif not ok.empty:
        ax.scatter(x, y, s=26, color=OK_COLOR, alpha=0.8, edgecolors="none", label="trial")
    if best_id is not None and (scored["trial_id"] == best_id).any():
        row = scored[scored["trial_id"] == best_id].iloc[0]
        ax.scatter([row[xcol]], [row[ycol]], marker="*", s=260, color=BEST_COLOR, edgecolors="white",
                   linewidths=0.8, zorder=5, label="best trial")
    both = pd.concat([scored[xcol], scored[ycol]]).astype(float)
    lo, hi = float(both.min()), float(both.max())
    if use_acc:
        pad = 0.03 * (hi - lo or 1)
        lo, hi = max(lo - pad, -0.01), min(hi + pad, 1.01)
    else:
        ax.set_xscale("log")
        ax.set_yscale("log")
        lo, hi = lo / 1.3, hi * 1.3
    ax.plot([lo, hi], [lo, hi], color="#777777", linestyle=":", linewidth=1, label="train = validation")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    if not use_acc:
        plain_log_axis(ax.xaxis)
        plain_log_axis(ax.yaxis)
    ax.set_xlabel("training accuracy" if use_acc else "training loss")
    ax.set_ylabel("validation accuracy" if use_acc else "validation loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left" if use_acc else "lower right", framealpha=0.8)
    return fig

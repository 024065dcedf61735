"""The metric over learning rate x regularization, one panel per hidden size."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..results.analysis import best_trial
from ..status import CRASHED, DIVERGED, FAILED, OK, STOPPED
from .style import (
    BAD_COLOR,
    BEST_COLOR,
    FAILED_COLOR,
    MAX_PANELS,
    STOPPED_COLOR,
    Scale,
    apply_ticks,
    fmt_metric,
    fmt_value,
    metric_label,
    metric_norm,
    new_figure,
    param_label,
    scored_points,
    scored_trials,
)

#: The axes of :func:`heatmap_figure` unless told otherwise.
X, Y, PANEL, LOG_AXES = "learning_rate", "reg", "hidden_size", ("learning_rate", "reg")


def heatmap_layout(trials: pd.DataFrame, log_axes=LOG_AXES, x: str = X, y: str = Y) -> str | None:
    """How :func:`heatmap_figure` draws ``trials``: ``"grid"`` (cells) when both axes take at most
    ``MAX_GRID_VALUES`` values, ``"scatter"`` (one point per trial) otherwise, None when ``x`` or ``y``
    does not vary (no figure). The report's caption follows it."""
    if trials.empty or any(c not in trials or trials[c].nunique() < 2 for c in (x, y)):
        return None
    grid = Scale.of(x, trials[x], x in log_axes).discrete and Scale.of(y, trials[y], y in log_axes).discrete
    return "grid" if grid else "scatter"


def heatmap_figure(trials: pd.DataFrame, metric: str, maximize: bool, log_axes=LOG_AXES,
                   x: str = X, y: str = Y, panel: str = PANEL) -> Figure | None:
    """The metric over ``x`` (learning rate) and ``y`` (reg), one panel per ``panel`` (hidden size).

    Each cell shows the best configuration in it (mean over repeats), so other searched
    parameters are maximised over. Cells of value pairs not run stay blank; cells whose trials all
    diverged (or failed) are hatched and say so; a cell where some trials diverged says how many.
    A cell where no trial finished but some were stopped early shows their best last score, outlined
    dashed in orange. The best cell is outlined. With more than ``MAX_GRID_VALUES`` distinct values
    (a random search over a continuous range) each panel is a scatter plot on the same axes instead
    (see :func:`heatmap_layout`), stopped trials as triangles. None when ``x`` or ``y`` does not vary.
    """
    layout = heatmap_layout(trials, log_axes, x, y)
    if layout is None:
        return None
    xs, ys = Scale.of(x, trials[x], x in log_axes), Scale.of(y, trials[y], y in log_axes)
    panels = sorted(trials[panel].dropna().unique()) if panel in trials else []
    if not (1 <= len(panels) <= MAX_PANELS):
        panels = [None]
    scored = scored_trials(trials, metric)
    norm, cmap = metric_norm(scored[metric], maximize)
    grid = layout == "grid"
    width = 0.9 * len(xs.uniques) + 1.6 if grid else 4.2
    fig = new_figure(min(width * len(panels), 18) + 1.2, 0.6 * len(ys.uniques) + 2.0 if grid else 4.0)
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    best = best_trial(trials, metric, maximize) if not scored.empty else None
    mappable = None
    for ax, value in zip(axes, panels):
        part = trials if value is None else trials[trials[panel] == value]
        if grid:
            mappable = _heatmap_cells(ax, part, metric, maximize, xs, ys, norm, cmap, best)
        else:
            mappable = _heatmap_scatter(ax, part, metric, xs, ys, norm, cmap, best)
        if value is not None:
            title = f"{param_label(panel)} = {fmt_value(value)}"
        else:
            title = f"all {param_label(panel)}s" if panel in trials else "all trials"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(param_label(x))
    axes[0].set_ylabel(param_label(y))
    if mappable is not None:
        bar = fig.colorbar(mappable, ax=list(axes), shrink=0.9, pad=0.02)
        bar.set_label(metric_label(metric))
    _legend(fig, axes)
    return fig


def _legend(fig, axes) -> None:
    """One legend under the panels for every kind of mark they hold (each label once)."""
    seen = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncol=min(len(seen), 4),
                   fontsize=8, frameon=False, handletextpad=0.3, columnspacing=1.2)


def heatmap_cells(part: pd.DataFrame, metric: str, maximize: bool, xs: Scale, ys: Scale,
                  best_trial_id: str | None = None) -> pd.DataFrame:
    """The cells of one heatmap panel, apart from the drawing: one row per (``yi``, ``xi``) grid cell
    that holds trials (``yi``, ``xi``: indexes into ``ys.uniques`` and ``xs.uniques``), with the
    ``value`` shown (the best configuration's mean over its ``ok`` repeats; when none finished, over
    its ``stopped`` ones, at the last epoch they trained, and ``from_stopped`` is True; NaN when no
    trial has a score), how many trials were ``stopped``, ``diverged`` and ``failed`` (or crashed),
    and whether it holds the ``best`` trial."""
    cells = pd.DataFrame({"xi": xs.index(part[xs.name]), "yi": ys.index(part[ys.name]),
                          "status": part["status"].to_numpy(), "config_id": part["config_id"].to_numpy(),
                          "metric": part[metric].to_numpy(dtype=float), "trial_id": part["trial_id"].to_numpy()})
    finite = cells["metric"].notna() & np.isfinite(cells["metric"])
    rows = []
    for (i, j), cell in cells.groupby(["yi", "xi"]):
        ok = cell[(cell["status"] == OK) & finite[cell.index]]
        from_stopped = ok.empty
        if from_stopped:
            ok = cell[(cell["status"] == STOPPED) & finite[cell.index]]
        means = ok.groupby("config_id")["metric"].mean()
        rows.append({"yi": i, "xi": j, "value": (means.max() if maximize else means.min()) if len(means) else np.nan,
                     "from_stopped": bool(from_stopped and len(means)),
                     "stopped": int((cell["status"] == STOPPED).sum()),
                     "diverged": int((cell["status"] == DIVERGED).sum()),
                     "failed": int(cell["status"].isin([FAILED, CRASHED]).sum()),
                     "best": bool(best_trial_id is not None and (cell["trial_id"] == best_trial_id).any())})
    return pd.DataFrame(rows, columns=["yi", "xi", "value", "from_stopped", "stopped", "diverged", "failed", "best"])


def _heatmap_cells(ax, part, metric, maximize, xs: Scale, ys: Scale, norm, cmap, best):
    cells = heatmap_cells(part, metric, maximize, xs, ys, None if best is None else best["trial_id"])
    values = np.full((len(ys.uniques), len(xs.uniques)), np.nan)
    values[cells["yi"].to_numpy(dtype=int), cells["xi"].to_numpy(dtype=int)] = cells["value"].to_numpy(dtype=float)
    best_cells = cells[cells["best"]]
    best_cell = (int(best_cells["yi"].iloc[0]), int(best_cells["xi"].iloc[0])) if len(best_cells) else None
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, origin="lower", aspect="auto",
                      interpolation="nearest")
    for cell in cells.itertuples():
        i, j, diverged, failed = int(cell.yi), int(cell.xi), cell.diverged, cell.failed
        if np.isfinite(values[i, j]):
            r, g, b, _ = image.cmap(image.norm(values[i, j]))
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            text = fmt_metric(values[i, j], metric) + ("\nstopped" if cell.from_stopped else "")
            if cell.from_stopped:
                ax.add_patch(Rectangle((j - 0.44, i - 0.44), 0.88, 0.88, fill=False, edgecolor=STOPPED_COLOR,
                                       linestyle="--", linewidth=1.6, label="stopped early (its last score)"))
            if diverged or failed:
                text += "\n" + ", ".join(s for s in (f"+{diverged} diverged" if diverged else "",
                                                     f"+{failed} failed" if failed else "") if s)
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
        else:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#eeeeee", edgecolor="#999999",
                                   hatch="///", linewidth=0.5))
            ax.text(j, i, "diverged" if diverged else "failed", ha="center", va="center", fontsize=9,
                    color=BAD_COLOR if diverged else FAILED_COLOR, fontweight="bold",
                    bbox=dict(facecolor="white", edgecolor="none", pad=1, alpha=0.85))
    if best_cell is not None:
        i, j = best_cell
        ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, edgecolor=BEST_COLOR, linewidth=2.2))
    ax.set_xticks(range(len(xs.uniques)), grid_labels(xs))
    ax.set_yticks(range(len(ys.uniques)), grid_labels(ys))
    ax.set_xlim(-0.5, len(xs.uniques) - 0.5)
    ax.set_ylim(-0.5, len(ys.uniques) - 0.5)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


def grid_labels(scale: Scale) -> list[str]:
    """Labels of evenly spaced grid values: powers of ten as $10^k$ when the axis is log-scaled or
    every non-zero value is a power of ten (so 0.1, 0.01 and 1e-4 read alike), plain numbers else."""
    if scale.kind == "category":
        return list(scale.uniques)
    powers = scale.kind == "log" or scale.powers_of_ten
    return [fmt_value(v, log=powers, math_text=powers) for v in scale.uniques]


def _heatmap_scatter(ax, part, metric, xs: Scale, ys: Scale, norm, cmap, best):
    scored = scored_trials(part, metric)
    points = scored_points(ax, xs.data(scored[xs.name]), ys.data(scored[ys.name]), scored["status"],
                           values=scored[metric].astype(float), cmap=cmap, norm=norm, size=40,
                           label="finished trial")
    unscored = part[~part.index.isin(scored.index)]
    if not unscored.empty:  # where they were run, in red (diverged) and grey (failed or crashed)
        for statuses, color, label in (([DIVERGED], BAD_COLOR, "diverged (no score)"),
                                       ([FAILED, CRASHED], FAILED_COLOR, "failed or crashed")):
            own = unscored[unscored["status"].isin(statuses)]
            if not own.empty:
                ax.scatter(xs.data(own[xs.name]), ys.data(own[ys.name]), marker="x", color=color, s=30, label=label)
    if best is not None and (part["trial_id"] == best["trial_id"]).any():
        ax.scatter(xs.data([best[xs.name]]), ys.data([best[ys.name]]), marker="*", s=220, facecolor="none",
                   edgecolor=BEST_COLOR, linewidths=1.5, label="best trial")
    apply_ticks(ax.xaxis, xs)
    apply_ticks(ax.yaxis, ys)
    return points

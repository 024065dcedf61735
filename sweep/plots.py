"""Figures of a run folder: what the sweep found, drawn with matplotlib's Agg renderer.

Every figure is built by one function from DataFrames or arrays and returned as a
:class:`matplotlib.figure.Figure` (or None when there is nothing to draw), so tests can look at
the axes, lines and images. :func:`draw_all` reads a run folder once (trials.csv, history.csv,
experiment.yaml, best/), draws every figure that applies into ``RUN_DIR/plots/`` and returns the
PNG paths. Figures are made with the object-oriented API on a ``FigureCanvasAgg``: no pyplot state,
no display, nothing to close.

Files (see :data:`PLOTS` for their captions)::

    heatmap.png             metric over learning rate x reg, one panel per hidden size
    history.png             metric of each trial in completion order, and the best so far
    slice_<param>.png       metric of every trial against one searched parameter
    parallel.png            parallel coordinates of all trials coloured by the metric
    learning_curves.png     loss and accuracy per epoch of the top trials
    fit.png                 train against validation accuracy of every trial
    weights.png             first-layer weights of the best model as images
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

from .analysis import best_trial, rank, read_history, read_trials, run_metric
from .params import PARAMETER_NAMES
from .errors import SweepError
from .owned import OwnedFiles
from .records import (BEST_DIR, HISTORY_COLUMNS, HISTORY_FILE, MODEL_FILE, TRIALS_FILE, read_experiment_document,
                      read_summary)
from .status import CRASHED, DIVERGED, FAILED, OK

PLOTS_DIR = "plots"
DPI = 100
#: Distribution kinds whose values spread over orders of magnitude (plotted on log axes).
LOG_KINDS = frozenset({"log_uniform", "log_uniform_values", "q_log_uniform", "q_log_uniform_values",
                       "inv_log_uniform", "inv_log_uniform_values", "log_normal", "q_log_normal"})
#: Categorical values are shown on a log axis when the positive ones span this ratio or more.
LOG_SPAN = 100.0
#: More distinct values than this and a parameter is treated as continuous (no grid, no jitter).
MAX_GRID_VALUES = 12
MAX_PANELS = 6

METRIC_LABELS = {"val_acc": "validation accuracy", "best_val_acc": "best validation accuracy",
                 "train_acc": "training accuracy", "val_loss": "validation loss", "train_loss": "training loss"}
PARAM_LABELS = {"hidden_size": "hidden size", "learning_rate": "learning rate", "reg": "L2 regularization (reg)",
                "epochs": "epochs", "batch_size": "batch size", "lr_decay": "learning-rate decay per epoch",
                "optimizer": "optimizer", "momentum": "momentum", "weight_scale": "initial weight scale",
                "init": "initialisation", "activation": "activation", "loss": "loss", "dtype": "dtype"}
SHORT = {"hidden_size": "h", "learning_rate": "lr", "reg": "reg", "epochs": "ep", "batch_size": "bs",
         "lr_decay": "decay", "optimizer": "opt", "momentum": "mom", "weight_scale": "ws", "init": "init",
         "activation": "act", "loss": "loss", "dtype": "dtype"}

#: The figures in report order: (file name, or pattern with {param}; title; one-line caption).
#: Captions may use {metric} (the metric's name in words) and {param}.
PLOTS: tuple[tuple[str, str, str], ...] = (
    ("heatmap.png", "Learning rate x regularization",
     "{metric} of the best configuration in each cell, one panel per hidden size when it varies; blank cells "
     "were not run, hatched ones diverged or failed, the outlined cell holds the best trial."),
    ("history.png", "Optimization history",
     "{metric} of each trial in the order the trials finished, and the best so far; "
     "crosses at the bottom are trials without a score."),
    ("slice_{param}.png", "Slice: {param}",
     "{metric} of every trial against {param}, the best trial starred; the line joins the best trial at each value."),
    ("parallel.png", "Parallel coordinates",
     "every trial as a line through its hyperparameters to its {metric}, coloured by the {metric}; "
     "grey dashed lines have no score."),
    ("learning_curves.png", "Learning curves of the top trials",
     "training loss per epoch (left) and train (dashed) and validation (solid) accuracy per epoch (right) "
     "of the best trials, one colour per trial."),
    ("fit.png", "Training against validation",
     "final training against validation accuracy of every trial: far below the diagonal is over-fitting, "
     "low on both axes is under-fitting."),
    ("weights.png", "First-layer weights of the best model",
     "each hidden unit's input weights reshaped to an image and scaled to its own range (dark = low, light = high)."),
)
#: Captions of runs without class accuracies (regression), where the figures show losses.
CAPTIONS_WITHOUT_ACCURACY = {
    "learning_curves.png": "training loss (left) and validation loss (right) per epoch of the best trials, "
                           "one colour per trial.",
    "fit.png": "final training against validation loss of every trial: far above the diagonal is over-fitting, "
               "high on both axes is under-fitting.",
}

_OK_COLOR, _BEST_COLOR, _BAD_COLOR, _FAILED_COLOR = "#1f77b4", "#d62728", "#d62728", "#555555"


# ------------------------------------------------------------------------------------------ helpers
def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def param_label(param: str) -> str:
    return PARAM_LABELS.get(param, param)


def caption(file_name: str, metric: str = "val_acc", accuracies: bool = True) -> tuple[str, str]:
    """(title, one-line caption) of a plot file written by :func:`draw_all`; ("name", "") if not ours.

    ``accuracies`` is False for runs without class accuracies (regression), whose figures show losses.
    """
    name = Path(file_name).name
    for pattern, title, text in PLOTS:
        if not accuracies:
            text = CAPTIONS_WITHOUT_ACCURACY.get(pattern, text)
        if "{param}" in pattern:
            head, tail = pattern.split("{param}")
            if name.startswith(head) and name.endswith(tail) and len(name) > len(head) + len(tail):
                param = name[len(head):-len(tail)]
                return (title.format(param=param_label(param)),
                        _sentence(text.format(metric=metric_label(metric), param=param_label(param))))
        elif name == pattern:
            return title, _sentence(text.format(metric=metric_label(metric)))
    return name, ""


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def fmt_value(value, log: bool = False, math_text: bool = False) -> str:
    """A short label for a hyperparameter value: ``0.01``, ``3e-4``, ``100``, ``adam``.

    With ``log`` and ``math_text``, exact powers of ten read ``$10^{-3}$`` (for log-axis ticks).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e5 and not (log and math_text and abs(value) >= 1000):
        return str(int(value))
    exponent = math.log10(abs(value))
    if log and math_text and abs(exponent - round(exponent)) < 1e-9:
        return f"$10^{{{int(round(exponent))}}}$" if value > 0 else f"$-10^{{{int(round(exponent))}}}$"
    if 1e-2 <= abs(value) < 1e5:
        return f"{value:.3g}"
    mantissa, _, exp = f"{value:.2e}".partition("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"


def fmt_metric(value, metric: str) -> str:
    """A metric value in a cell or a label: accuracies with 3 decimals, losses with 3 digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if metric.endswith("acc"):
        return f"{value:.3f}"
    return f"{value:.3g}"


def is_log_param(values, spec: dict | None = None) -> bool:
    """Whether a hyperparameter belongs on a log axis.

    Yes when its distribution (a W&B dict from experiment.yaml) is one of the log kinds; for
    categorical values or when the distribution is unknown, when the positive values span
    ``LOG_SPAN`` (two orders of magnitude) or more.
    """
    kind = (spec or {}).get("distribution")
    if kind in LOG_KINDS:
        return True
    series = pd.Series(values)
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    positive = series[series > 0].dropna()
    return bool(len(positive) >= 2 and positive.max() / positive.min() >= LOG_SPAN)


@dataclass
class Scale:
    """How one hyperparameter is laid out on an axis: ``category``, ``log`` or ``linear``.

    ``data`` maps values to plot coordinates (category index; the value itself on linear and log
    axes, where a 0 on a log axis is drawn one decade below the smallest positive value and
    labelled "0"); ``unit`` maps them to a linear space (log10 for log axes) for normalising.
    """

    name: str
    kind: str
    uniques: list
    zero_at: float | None = None

    @classmethod
    def of(cls, name: str, values, log: bool = False) -> "Scale":
        series = pd.Series(values).dropna()
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            return cls(name, "category", sorted(series.astype(str).unique()))
        uniques = sorted(float(v) for v in series.unique())
        positive = [v for v in uniques if v > 0]
        if log and positive:
            zero_at = min(positive) / 10 if any(v <= 0 for v in uniques) else None
            return cls(name, "log", uniques, zero_at)
        return cls(name, "linear", uniques)

    @property
    def powers_of_ten(self) -> bool:
        """Whether every non-zero value (two at least) is a power of ten, like 0.1 and 0.01."""
        if self.kind == "category":
            return False
        nonzero = [abs(v) for v in self.uniques if v != 0]
        return len(nonzero) >= 2 and all(abs(math.log10(v) - round(math.log10(v))) < 1e-9 for v in nonzero)

    @property
    def discrete(self) -> bool:
        return self.kind == "category" or len(self.uniques) <= MAX_GRID_VALUES

    def data(self, values) -> np.ndarray:
        series = pd.Series(values)
        if self.kind == "category":
            index = {v: i for i, v in enumerate(self.uniques)}
            return np.array([index.get(str(v), np.nan) if pd.notna(v) else np.nan for v in series], dtype=float)
        out = series.astype(float).to_numpy(copy=True)
        if self.kind == "log":
            out[out <= 0] = self.zero_at if self.zero_at is not None else np.nan
        return out

    def index(self, values) -> np.ndarray:
        """Position of each value among ``uniques`` (grid cell coordinates)."""
        if self.kind == "category":
            return self.data(values).astype(int)
        return np.searchsorted(self.uniques, pd.Series(values).astype(float).to_numpy())

    def unit(self, values) -> np.ndarray:
        out = self.data(values)
        if self.kind == "log":
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.log10(out)
        return out

    def unit_range(self) -> tuple[float, float]:
        points = self.unit(self.uniques)
        points = points[np.isfinite(points)]
        return (float(points.min()), float(points.max())) if len(points) else (0.0, 1.0)

    def ticks(self, max_labels: int = 8) -> tuple[list[float], list[str]]:
        """Tick positions (data coordinates) and labels."""
        if self.kind == "category":
            return list(range(len(self.uniques))), list(self.uniques)
        log = self.kind == "log" or self.powers_of_ten
        if len(self.uniques) <= max_labels:
            values = self.uniques
        elif log:
            lo, hi = self.unit_range()
            decades = range(math.floor(lo + 1e-9), math.ceil(hi - 1e-9) + 1)
            step = max(1, math.ceil(len(decades) / max_labels))
            subs = (1, 2, 5) if hi - lo < 2.5 else (1,)  # under ~2 decades, 1-2-5 steps keep a few labels
            values = [m * 10.0 ** k for k in decades[::step] for m in subs
                      if lo - 1e-9 <= math.log10(m) + k <= hi + 1e-9]
            if self.zero_at is not None:
                values = [0.0] + values
        else:
            lo, hi = min(self.uniques), max(self.uniques)
            values = [v for v in MaxNLocator(nbins=5).tick_values(lo, hi) if lo - 1e-12 <= v <= hi + 1e-12]
        positions = list(self.data(values))
        return positions, [fmt_value(v, log=log, math_text=True) for v in values]

    def padded_limits(self) -> tuple[float, float]:
        """Axis limits (data coordinates) leaving half a grid step beside the outer values."""
        if self.kind == "category":
            return -0.6, len(self.uniques) - 0.4
        units = np.unique(self.unit(self.uniques))
        units = units[np.isfinite(units)]
        if len(units) == 0:
            return 0.0, 1.0
        gap = float(np.diff(units).min()) if len(units) > 1 else 1.0
        if not self.discrete:
            gap = (units[-1] - units[0]) / 10 or 1.0
        lo, hi = units[0] - 0.5 * gap, units[-1] + 0.5 * gap
        return (10.0 ** lo, 10.0 ** hi) if self.kind == "log" else (lo, hi)

    def jitter(self, values, width: float = 0.16, seed: int = 0) -> np.ndarray:
        """Plot coordinates spread a little around repeated discrete values, so points do not hide."""
        x = self.data(values)
        if not self.discrete or len(x) <= len(self.uniques):
            return x
        units = np.unique(self.unit(self.uniques))
        units = units[np.isfinite(units)]
        gap = float(np.diff(units).min()) if len(units) > 1 else 1.0
        offsets = np.random.default_rng(seed).uniform(-width / 2, width / 2, len(x)) * gap
        if self.kind == "log":
            return x * 10.0 ** offsets
        return x + offsets


def _apply_ticks(axis, scale: Scale) -> None:
    """Set the scale and the ticks of a matplotlib x or y axis (``ax.xaxis``) for ``scale``."""
    ax = axis.axes
    if scale.kind == "log":
        (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
    positions, labels = scale.ticks()
    axis.set_ticks(positions, labels)
    if scale.kind == "category" or (scale.kind == "log" and scale.discrete):
        axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _plain_log_axis(axis) -> None:
    """Label a log axis with plain numbers at 1, 2 and 5 times powers of ten (no 3x10^-1 clutter)."""
    lo, hi = sorted(axis.get_view_interval())
    decades = math.log10(hi / lo) if lo > 0 else 99
    axis.set_major_locator(LogLocator(base=10, subs=(1.0,) if decades > 2.5 else (1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt_value(v, log=decades > 4, math_text=decades > 4)))
    axis.set_minor_formatter(NullFormatter())


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _scored(trials: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Trials that finished ``ok`` with a finite metric."""
    if trials.empty or metric not in trials:
        return trials.iloc[0:0]
    values = pd.to_numeric(trials[metric], errors="coerce")
    return trials[(trials["status"] == OK) & values.notna() & np.isfinite(values)]


def _metric_norm(values, maximize: bool):
    """A colour norm and colormap where the good end is bright (viridis; reversed for losses)."""
    values = pd.Series(values, dtype=float).dropna()
    cmap = colormaps["viridis"] if maximize else colormaps["viridis_r"]
    if values.empty:
        return Normalize(0, 1), cmap
    lo, hi = float(values.min()), float(values.max())
    if lo > 0 and hi / lo >= LOG_SPAN:
        return LogNorm(lo, hi), cmap
    if lo == hi:
        lo, hi = lo - 0.5 * (abs(lo) or 1) * 0.01, hi + 0.5 * (abs(hi) or 1) * 0.01
    return Normalize(lo, hi), cmap


def _unscored_marks(ax, x, statuses, label_once: set) -> None:
    """Crosses at the bottom of ``ax`` for trials without a score (diverged red, failed grey)."""
    for status, color, label in ((DIVERGED, _BAD_COLOR, "diverged (no score)"),
                                 (FAILED, _FAILED_COLOR, "failed or crashed")):
        mask = statuses.isin([status] if status == DIVERGED else [FAILED, CRASHED]).to_numpy()
        if mask.any():
            ax.scatter(np.asarray(x)[mask], np.full(mask.sum(), 0.03), marker="x", s=36, color=color,
                       transform=ax.get_xaxis_transform(), clip_on=False, zorder=4,
                       label=None if label in label_once else label)
            label_once.add(label)


def _short_params(row, params) -> str:
    return " ".join(f"{SHORT.get(p, p)}={fmt_value(row[p])}" for p in params)


# ------------------------------------------------------------------------------------------ heatmap
def heatmap_figure(trials: pd.DataFrame, metric: str, maximize: bool, log_axes=("learning_rate", "reg"),
                   x: str = "learning_rate", y: str = "reg", panel: str = "hidden_size") -> Figure | None:
    """The metric over ``x`` (learning rate) and ``y`` (reg), one panel per ``panel`` (hidden size).

    Each cell shows the best configuration in it (mean over repeats), so other searched
    parameters are maximised over. Cells of value pairs not run stay blank; cells whose trials all
    diverged (or failed) are hatched and say so; a cell where some trials diverged says how many.
    The best cell is outlined. With more than ``MAX_GRID_VALUES`` distinct values (a random search
    over a continuous range) each panel is a scatter plot on the same axes instead.
    None when ``x`` or ``y`` does not vary.
    """
    if trials.empty or any(c not in trials or trials[c].nunique() < 2 for c in (x, y)):
        return None
    xs, ys = Scale.of(x, trials[x], x in log_axes), Scale.of(y, trials[y], y in log_axes)
    panels = sorted(trials[panel].dropna().unique()) if panel in trials else []
    if not (1 <= len(panels) <= MAX_PANELS):
        panels = [None]
    scored = _scored(trials, metric)
    norm, cmap = _metric_norm(scored[metric], maximize)
    grid = xs.discrete and ys.discrete
    width = 0.9 * len(xs.uniques) + 1.6 if grid else 4.2
    fig = _figure(min(width * len(panels), 18) + 1.2, 0.6 * len(ys.uniques) + 2.0 if grid else 4.0)
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
    return fig


def _heatmap_cells(ax, part, metric, maximize, xs: Scale, ys: Scale, norm, cmap, best):
    shape = (len(ys.uniques), len(xs.uniques))
    values = np.full(shape, np.nan)
    xi, yi = xs.index(part[xs.name]), ys.index(part[ys.name])
    cells = pd.DataFrame({"xi": xi, "yi": yi, "status": part["status"].to_numpy(),
                          "config_id": part["config_id"].to_numpy(), "metric": part[metric].to_numpy(dtype=float),
                          "trial_id": part["trial_id"].to_numpy()})
    best_cell = None
    for (i, j), cell in cells.groupby(["yi", "xi"]):
        ok = cell[(cell["status"] == OK) & cell["metric"].notna()]
        if not ok.empty:
            means = ok.groupby("config_id")["metric"].mean()
            values[i, j] = means.max() if maximize else means.min()
        if best is not None and (cell["trial_id"] == best["trial_id"]).any():
            best_cell = (i, j)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, origin="lower", aspect="auto",
                      interpolation="nearest")
    for (i, j), cell in cells.groupby(["yi", "xi"]):
        diverged = int((cell["status"] == DIVERGED).sum())
        failed = int(cell["status"].isin([FAILED, CRASHED]).sum())
        if np.isfinite(values[i, j]):
            r, g, b, _ = image.cmap(image.norm(values[i, j]))
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            text = fmt_metric(values[i, j], metric)
            if diverged or failed:
                text += "\n" + ", ".join(s for s in (f"+{diverged} diverged" if diverged else "",
                                                     f"+{failed} failed" if failed else "") if s)
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
        else:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#eeeeee", edgecolor="#999999",
                                   hatch="///", linewidth=0.5))
            ax.text(j, i, "diverged" if diverged else "failed", ha="center", va="center", fontsize=9,
                    color=_BAD_COLOR if diverged else _FAILED_COLOR, fontweight="bold",
                    bbox=dict(facecolor="white", edgecolor="none", pad=1, alpha=0.85))
    if best_cell is not None:
        i, j = best_cell
        ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, edgecolor=_BEST_COLOR, linewidth=2.2))
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
    scored = _scored(part, metric)
    points = ax.scatter(xs.data(scored[xs.name]), ys.data(scored[ys.name]), c=scored[metric].astype(float),
                        cmap=cmap, norm=norm, s=40, edgecolors="white", linewidths=0.5)
    unscored = part[~part.index.isin(scored.index)]
    if not unscored.empty:
        ax.scatter(xs.data(unscored[xs.name]), ys.data(unscored[ys.name]), marker="x", color=_BAD_COLOR, s=30)
    if best is not None and (part["trial_id"] == best["trial_id"]).any():
        ax.scatter(xs.data([best[xs.name]]), ys.data([best[ys.name]]), marker="*", s=220, facecolor="none",
                   edgecolor=_BEST_COLOR, linewidths=1.5)
    _apply_ticks(ax.xaxis, xs)
    _apply_ticks(ax.yaxis, ys)
    return points


# ------------------------------------------------------------------------------------------ slices
def slice_figure(trials: pd.DataFrame, param: str, metric: str, maximize: bool, log: bool = False,
                 best_id: str | None = None) -> Figure | None:
    """The metric of every trial against one hyperparameter; the best trial starred.

    Trials sharing a value are spread a little sideways. A line joins the best score at each
    value (for discrete values). Trials without a score are crosses along the bottom.
    """
    if trials.empty or param not in trials:
        return None
    scale = Scale.of(param, trials[param], log)
    fig = _figure(5.6, 4.0)
    ax = fig.subplots()
    scored = _scored(trials, metric)
    x = pd.Series(scale.jitter(trials[param]), index=trials.index)
    if not scored.empty:
        ax.scatter(x[scored.index], scored[metric].astype(float), s=22, alpha=0.75, color=_OK_COLOR,
                   edgecolors="none", label="trial", zorder=3)
    if scale.discrete and not scored.empty:
        values = scored[metric].astype(float)
        groups = values.groupby(scale.data(scored[param]))
        best_rows = (groups.idxmax() if maximize else groups.idxmin()).sort_index()
        ax.plot(x[best_rows.to_numpy()], values[best_rows.to_numpy()], color=_OK_COLOR, linewidth=1, alpha=0.6,
                zorder=2, label="best at each value")
    labelled: set = set()
    _unscored_marks(ax, x[trials.index], trials["status"], labelled)
    if best_id is not None and (scored["trial_id"] == best_id).any():
        row = scored.index[scored["trial_id"] == best_id][0]
        ax.scatter([x[row]], [float(scored.at[row, metric])], marker="*", s=240, color=_BEST_COLOR,
                   edgecolors="white", linewidths=0.8, zorder=5, label="best trial")
    _apply_ticks(ax.xaxis, scale)
    ax.set_xlim(*scale.padded_limits())
    ax.set_xlabel(param_label(param))
    ax.set_ylabel(metric_label(metric))
    ax.grid(True, alpha=0.3)
    _metric_ylim(ax, scored[metric], metric)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8, frameon=False,
               handletextpad=0.3, columnspacing=1.2)
    return fig


def _metric_ylim(ax, values, metric) -> None:
    values = pd.Series(values, dtype=float).dropna()
    if values.empty:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "no trial has a score", transform=ax.transAxes, ha="center", va="center",
                color=_FAILED_COLOR)
        return
    lo, hi = float(values.min()), float(values.max())
    if not metric.endswith("acc") and lo > 0 and hi / lo >= LOG_SPAN:
        ax.set_yscale("log")
        ax.set_ylim(lo / 1.5, hi * 1.5)
        _plain_log_axis(ax.yaxis)
        return
    pad = (hi - lo) * 0.08 or 0.02 * max(abs(hi), 1e-3)
    bottom = lo - 2 * pad  # room for the crosses of unscored trials
    if metric.endswith("acc"):
        bottom = max(bottom, -0.02)
    ax.set_ylim(bottom, hi + pad)


def slice_figures(trials: pd.DataFrame, metric: str, maximize: bool, params, log_params=(),
                  best_id: str | None = None) -> dict[str, Figure]:
    """One :func:`slice_figure` per parameter in ``params``: ``{param: Figure}``."""
    out = {}
    for param in params:
        fig = slice_figure(trials, param, metric, maximize, log=param in log_params, best_id=best_id)
        if fig is not None:
            out[param] = fig
    return out


# ------------------------------------------------------------------------------------------ curves
def top_trials(trials: pd.DataFrame, metric: str, maximize: bool, top_k: int = 5) -> pd.DataFrame:
    """The ``top_k`` best scored trials, one per training run.

    Trials that differ only in ``epochs`` share a training run (their histories are prefixes of
    one another), so only the best of them is kept, and the next run takes the freed place.
    """
    scored = rank(_scored(trials, metric), metric, maximize)
    if scored.empty:
        return scored
    run_key = [p for p in PARAMETER_NAMES if p != "epochs" and p in scored] + ["seed"]
    keys = scored[run_key].astype(str).agg("|".join, axis=1)
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
    fig = _figure(11, 4.6)
    loss_ax, right_ax = fig.subplots(1, 2)
    colors = colormaps["tab10"].colors
    for i, trial in top.iterrows():
        own = rows[rows["trial_id"] == trial["trial_id"]].sort_values("epoch")
        color = colors[i % len(colors)]
        label = f"#{i + 1} " + (_short_params(trial, params) if params else trial["trial_id"])
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
        _plain_log_axis(loss_ax.yaxis)
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


# ------------------------------------------------------------------------------------------ weights
def weight_grid(W1: np.ndarray, image_shape, max_units: int = 64, padding: int = 1) -> np.ndarray | None:
    """Columns of ``W1`` (D, H) as one mosaic image, each scaled to [0, 1] on its own (CS231n's visualize_grid).

    Returns an (rows, cols) gray or (rows, cols, 3) colour array with white padding, or None
    when D does not match ``image_shape``.
    """
    shape = tuple(int(s) for s in image_shape)
    W1 = np.asarray(W1, dtype=np.float64)
    if W1.ndim != 2 or int(np.prod(shape)) != W1.shape[0] or len(shape) not in (2, 3):
        return None
    if len(shape) == 3 and shape[2] not in (1, 3):
        return None
    units = min(W1.shape[1], max_units)
    images = W1[:, :units].T.reshape((units,) + shape)
    if len(shape) == 3 and shape[2] == 1:
        images = images[..., 0]
        shape = shape[:2]
    lo = images.reshape(units, -1).min(axis=1)
    hi = images.reshape(units, -1).max(axis=1)
    span = np.where(hi > lo, hi - lo, 1.0)
    expand = (slice(None),) + (None,) * (images.ndim - 1)
    images = (images - lo[expand]) / span[expand]
    images[hi == lo] = 0.5
    side = math.ceil(math.sqrt(units))
    side = next((c for c in range(side, side + 4) if units % c == 0), side)  # 50 units: 10 x 5, no ragged row
    rows = math.ceil(units / side)
    h, w = shape[0], shape[1]
    grid = np.ones((rows * (h + padding) - padding, side * (w + padding) - padding) + shape[2:], dtype=np.float64)
    for k in range(units):
        r, c = divmod(k, side)
        grid[r * (h + padding):r * (h + padding) + h, c * (w + padding):c * (w + padding) + w] = images[k]
    return grid


def weights_figure(W1: np.ndarray, image_shape, max_units: int = 64, title: str | None = None) -> Figure | None:
    """The first-layer weights as a grid of images (gray colormap for gray inputs). None if not images."""
    if image_shape is None:
        return None
    grid = weight_grid(W1, image_shape, max_units)
    if grid is None:
        return None
    units = min(W1.shape[1], max_units)
    rows, cols = grid.shape[:2]
    per_row = (cols + 1) // (int(image_shape[1]) + 1)  # tiles in a row (1 pixel of padding between)
    width = min(max(0.8 * per_row + 0.4, 5.0), 10.0)
    fig = _figure(width, min(width * rows / cols, 9.0) + 0.5)
    ax = fig.subplots()
    if grid.ndim == 2:
        ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    shape = "x".join(str(s) for s in image_shape)
    shown = f"all {units}" if units == W1.shape[1] else f"first {units} of {W1.shape[1]}"
    ax.set_title(title or f"First-layer weights ({shown} hidden units, {shape} inputs)", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------ parallel
def parallel_coordinates_figure(trials: pd.DataFrame, metric: str, maximize: bool, params,
                                log_params=()) -> Figure | None:
    """Every trial as a line across one vertical axis per parameter and a last one for the metric.

    Scored trials are coloured by the metric (best drawn on top); trials without a score are grey
    dashed lines that end at "no score" below the metric axis. None without parameters.
    """
    params = [p for p in params if p in trials]
    if trials.empty or not params:
        return None
    scales = [Scale.of(p, trials[p], p in log_params) for p in params]
    scored = _scored(trials, metric)
    norm, cmap = _metric_norm(scored[metric], maximize)
    columns = []
    for scale in scales:
        lo, hi = scale.unit_range()
        u = scale.unit(trials[scale.name])
        columns.append(np.full(len(u), 0.5) if hi == lo else (u - lo) / (hi - lo))
    metric_values = pd.to_numeric(trials[metric], errors="coerce").to_numpy(dtype=float)
    is_scored = trials.index.isin(scored.index)
    if is_scored.any():
        m = np.asarray(norm(np.where(is_scored, metric_values, np.nan)), dtype=float)
        lo, hi = norm.vmin, norm.vmax
    else:
        m = np.full(len(trials), np.nan)
        lo = hi = None
    NO_SCORE = -0.12
    columns.append(np.where(is_scored, m, NO_SCORE))
    points = np.column_stack(columns)
    n_axes = points.shape[1]
    fig = _figure(max(6.0, 1.7 * n_axes + 1.5), 4.6)
    ax = fig.subplots()
    xs = np.arange(n_axes)
    # the norm puts good values at the bright end (viridis_r for minimised metrics): draw the best
    # last, on top: a high normalised value is good when maximising, a low one when minimising.
    good = np.where(is_scored, m if maximize else 1 - m, -np.inf)
    order = np.argsort(good, kind="stable")
    bad_segments = [np.column_stack([xs, points[i]]) for i in order if not is_scored[i]]
    ok_segments = [np.column_stack([xs, points[i]]) for i in order if is_scored[i]]
    if bad_segments:
        ax.add_collection(LineCollection(bad_segments, colors="#aaaaaa", linestyles="--", linewidths=0.9,
                                         label="no score"))
    if ok_segments:
        colors = [cmap(m[i]) for i in order if is_scored[i]]
        lines = LineCollection(ok_segments, colors=colors, linewidths=1.4, alpha=0.9)
        ax.add_collection(lines)
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
    return fig


# ------------------------------------------------------------------------------------------ history
def history_figure(trials: pd.DataFrame, metric: str, maximize: bool) -> Figure | None:
    """The metric of each trial in completion order (dots) and the best so far (a step line)."""
    if trials.empty:
        return None
    order = trials["order"] if "order" in trials else pd.Series(np.arange(1, len(trials) + 1), index=trials.index)
    scored = _scored(trials, metric)
    fig = _figure(7.5, 3.8)
    ax = fig.subplots()
    values = pd.Series(np.nan, index=trials.index)
    values[scored.index] = scored[metric].astype(float)
    best_so_far = (values.cummax() if maximize else values.cummin()).ffill()
    if not scored.empty:
        ax.scatter(order[scored.index], values[scored.index], s=20, color=_OK_COLOR, alpha=0.75,
                   edgecolors="none", label="trial", zorder=3)
        ax.step(order, best_so_far, where="post", color=_BEST_COLOR, linewidth=1.6, label="best so far", zorder=4)
    _unscored_marks(ax, order, trials["status"], set())
    ax.set_xlabel("trial (completion order)")
    ax.set_ylabel(metric_label(metric))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.5, len(trials) + 0.5)
    ax.grid(True, alpha=0.3)
    _metric_ylim(ax, scored[metric], metric)
    ax.legend(fontsize=8, loc="lower right" if maximize else "upper right", framealpha=0.8)
    return fig


# ------------------------------------------------------------------------------------------ fit
def fit_figure(trials: pd.DataFrame, metric: str = "val_acc", maximize: bool = True, color_by: str | None = None,
               log_color: bool = False, best_id: str | None = None) -> Figure | None:
    """Final training against validation accuracy of every ``ok`` trial, with the y = x diagonal.

    Points are coloured by ``color_by`` (e.g. reg): a legend for a few values, a colour bar
    otherwise. Without accuracies (regression) the axes are training and validation loss.
    None when no trial has both values.
    """
    if trials.empty:
        return None
    ok = trials[trials["status"] == OK]
    use_acc = ok[["train_acc", "val_acc"]].notna().all(axis=1).any()
    xcol, ycol = ("train_acc", "val_acc") if use_acc else ("train_loss", "val_loss")
    ok = ok[np.isfinite(ok[xcol].astype(float)) & np.isfinite(ok[ycol].astype(float))]
    if ok.empty:
        return None
    fig = _figure(5.8, 5.0)
    ax = fig.subplots()
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
    else:
        ax.scatter(x, y, s=26, color=_OK_COLOR, alpha=0.8, edgecolors="none", label="trial")
    if best_id is not None and (ok["trial_id"] == best_id).any():
        row = ok[ok["trial_id"] == best_id].iloc[0]
        ax.scatter([row[xcol]], [row[ycol]], marker="*", s=260, color=_BEST_COLOR, edgecolors="white",
                   linewidths=0.8, zorder=5, label="best trial")
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
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
        _plain_log_axis(ax.xaxis)
        _plain_log_axis(ax.yaxis)
    ax.set_xlabel("training accuracy" if use_acc else "training loss")
    ax.set_ylabel("validation accuracy" if use_acc else "validation loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left" if use_acc else "lower right", framealpha=0.8)
    return fig


# ------------------------------------------------------------------------------------------ run folder
@dataclass
class RunData:
    """Everything the plots and the report read from a run folder, read once."""

    run_dir: Path
    experiment: dict
    trials: pd.DataFrame
    history: pd.DataFrame
    metric: str
    maximize: bool
    params: list[str]
    log_params: set[str]
    summary: dict | None = None
    W1: np.ndarray | None = None
    image_shape: tuple | None = None
    best_id: str | None = None
    notes: list[str] = field(default_factory=list)


def load_run(run_dir) -> RunData:
    """Read a run folder: experiment.yaml, trials.csv, history.csv and best/ (each may be missing).

    What is damaged is read as missing and said in ``notes``; only rows proven to be finished
    trials of the run are used. A trials.csv that is not a trials file at all is a SweepError.
    """
    run_dir = Path(run_dir)
    notes: list[str] = []
    experiment = read_experiment_document(run_dir, notes)
    trials = read_trials(run_dir, notes) if (run_dir / TRIALS_FILE).is_file() else \
        pd.DataFrame(columns=["order", "trial_id", "status"])
    history = pd.DataFrame(columns=list(HISTORY_COLUMNS))
    if (run_dir / HISTORY_FILE).is_file():
        try:
            history = read_history(run_dir, notes)
        except SweepError as exc:
            notes.append(f"{exc}; learning curves left out")
    metric, maximize = run_metric(experiment, notes)
    specs = experiment.get("parameters")
    specs = specs if isinstance(specs, dict) else {}
    # the searched parameters in the order the experiment declares them (all, if it is unreadable),
    # those that took more than one value in this run
    candidates = [p for p in specs if p in PARAMETER_NAMES] if specs else list(PARAMETER_NAMES)
    params = [p for p in candidates if p in trials and trials[p].nunique() > 1]
    log_params = {p for p in params if is_log_param(trials[p], specs.get(p) if isinstance(specs.get(p), dict) else None)}
    try:
        summary = read_summary(run_dir)
    except SweepError as exc:
        notes.append(str(exc))
        summary = None
    W1 = None
    model_path = run_dir / BEST_DIR / MODEL_FILE
    if model_path.is_file():
        try:
            from .nn import TwoLayerNet

            W1 = TwoLayerNet.load(model_path).params["W1"]
        except Exception as exc:  # noqa: BLE001 - a damaged model should not stop the other figures
            notes.append(f"{model_path} unreadable: {exc}")
    image_shape = tuple(summary["image_shape"]) if summary and summary.get("image_shape") else None
    if W1 is not None and image_shape and math.prod(image_shape) != W1.shape[0]:
        notes.append(f"best/summary.json gives image_shape {list(image_shape)}, but the model has {W1.shape[0]} "
                     "inputs; weights not drawn")
        image_shape = None
    best_id = summary.get("trial_id") if summary else None
    if best_id is None and not trials.empty and metric in trials:
        row = best_trial(trials, metric, maximize)
        best_id = None if row is None else row["trial_id"]
    return RunData(run_dir, experiment, trials, history, metric, maximize, params, log_params, summary, W1,
                   image_shape, best_id, notes)


def build_figures(run: RunData, top_k: int = 5) -> list[tuple[str, Figure]]:
    """Every figure that applies to ``run``, as (file name, Figure), in report order."""
    return list(iter_figures(run, top_k))


def iter_figures(run: RunData, top_k: int = 5):
    """Yield (file name, Figure) for every figure that applies to ``run``, one at a time, in report order.

    A figure that fails to build is skipped with a warning on stderr: one broken figure must not
    cost the others (nor the report at the end of a long run).
    """
    trials, metric, maximize = run.trials, run.metric, run.maximize
    if trials.empty or metric not in trials:
        return
    builders = []

    def add(name, build):
        builders.append((name, build))

    add("heatmap.png", lambda: heatmap_figure(trials, metric, maximize, run.log_params))
    add("history.png", lambda: history_figure(trials, metric, maximize))
    for param in run.params:
        add(f"slice_{param}.png", lambda p=param: slice_figure(trials, p, metric, maximize, log=p in run.log_params,
                                                                best_id=run.best_id))
    add("parallel.png", lambda: parallel_coordinates_figure(trials, metric, maximize, run.params, run.log_params))
    add("learning_curves.png", lambda: learning_curves_figure(run.history, trials, metric, maximize, top_k,
                                                               params=run.params))
    color_by = next((p for p in ("reg", "hidden_size", "epochs", "learning_rate") if p in run.params),
                    run.params[0] if run.params else None)
    add("fit.png", lambda: fit_figure(trials, metric, maximize, color_by, color_by in run.log_params, run.best_id))
    if run.W1 is not None and run.image_shape:
        add("weights.png", lambda: weights_figure(run.W1, run.image_shape))
    for name, build in builders:
        try:
            fig = build()
        except Exception as exc:  # noqa: BLE001
            print(f"sweep: warning: could not draw {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        if fig is not None:
            yield name, fig


def draw_all(run_dir, *, run: RunData | None = None, owned: OwnedFiles | None = None) -> list[Path]:
    """Draw every figure that applies to the run in ``run_dir`` into ``run_dir/plots/``; return the PNG paths.

    Plot files of an earlier drawing that no longer apply are removed, so the folder always
    matches the run. Each PNG is written atomically. ``run`` is the folder already read by
    :func:`load_run` (the report passes it so the folder is read once); ``owned`` the record of
    drawn files, already locked (the report passes it to write the page under the same lock).
    """
    run = run if run is not None else load_run(run_dir)
    if owned is not None:
        return save_figures(run, iter_figures(run), owned)
    with OwnedFiles(run.run_dir) as owned:
        return save_figures(run, iter_figures(run), owned)


def save_figures(run: RunData, figures, owned: OwnedFiles) -> list[Path]:
    """Save (file name, Figure) pairs as PNGs in ``run_dir/plots/``; drop our PNGs no longer drawn.

    Only files sweep drew (see :mod:`sweep.owned`) are replaced or removed: a file of the same
    name that someone else put there, or changed, is left as it is, with a warning.
    """
    folder = run.run_dir / PLOTS_DIR
    folder.mkdir(exist_ok=True)
    paths = []
    for name, fig in figures:
        relative = f"{PLOTS_DIR}/{name}"
        if not owned.may_replace(relative):
            print(f"sweep: warning: {folder / name} was not drawn by sweep (or was changed since); left as it is",
                  file=sys.stderr)
            continue
        paths.append(owned.write(relative, lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=DPI,
                                                                            facecolor="white")))
    drawn = {p.name for p in paths}
    for stale in folder.glob("*.png"):
        relative = f"{PLOTS_DIR}/{stale.name}"
        if stale.name not in drawn and owned.may_remove(relative):
            owned.remove(relative)
    return paths

"""The vocabulary every figure shares: labels and number formats (the report uses them too), the
scale of each hyperparameter's axis, colours, and the small helpers of a matplotlib figure.

Figures are made with the object-oriented API on a ``FigureCanvasAgg``: no pyplot state, no
display, nothing to close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

from ..status import CRASHED, DIVERGED, FAILED, OK, STOPPED

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


OK_COLOR, BEST_COLOR, BAD_COLOR, FAILED_COLOR = "#1f77b4", "#d62728", "#d62728", "#555555"
#: How every figure draws a trial stopped before its last epoch (early termination or a time limit):
#: at the score of the last epoch it trained, as an orange downward triangle (dashed line, for lines).
STOPPED_COLOR, STOPPED_MARKER, STOPPED_LABEL = "#ff7f0e", "v", "stopped early (last score)"
#: Statuses of trials with a score: trained to the end, or stopped early at the last epoch it trained.
SCORED_STATUSES = (OK, STOPPED)


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def param_label(param: str) -> str:
    return PARAM_LABELS.get(param, param)




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


def apply_ticks(axis, scale: Scale) -> None:
    """Set the scale and the ticks of a matplotlib x or y axis (``ax.xaxis``) for ``scale``."""
    ax = axis.axes
    if scale.kind == "log":
        (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
    positions, labels = scale.ticks()
    axis.set_ticks(positions, labels)
    if scale.kind == "category" or (scale.kind == "log" and scale.discrete):
        axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def plain_log_axis(axis) -> None:
    """Label a log axis with plain numbers at 1, 2 and 5 times powers of ten (no 3x10^-1 clutter)."""
    lo, hi = sorted(axis.get_view_interval())
    decades = math.log10(hi / lo) if lo > 0 else 99
    axis.set_major_locator(LogLocator(base=10, subs=(1.0,) if decades > 2.5 else (1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt_value(v, log=decades > 4, math_text=decades > 4)))
    axis.set_minor_formatter(NullFormatter())


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def scored_trials(trials: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Trials with a finite metric that finished ``ok`` or were ``stopped`` early (with the metric of the
    last epoch they trained, as the leaderboard ranks them: see :mod:`sweep.results.ranking`)."""
    if trials.empty or metric not in trials:
        return trials.iloc[0:0]
    values = pd.to_numeric(trials[metric], errors="coerce")
    return trials[trials["status"].isin(SCORED_STATUSES) & values.notna() & np.isfinite(values)]


def scored_points(ax, x, y, statuses, *, values=None, cmap=None, norm=None, size: float = 22,
                  color=OK_COLOR, label: str | None = "trial", zorder: float = 3):
    """Scatter scored trials on ``ax``: finished ones as dots, stopped ones as :data:`STOPPED_MARKER`
    triangles edged in :data:`STOPPED_COLOR` and labelled :data:`STOPPED_LABEL` for the legend.

    ``x``, ``y``, ``statuses`` (and ``values``) are aligned sequences, one item per trial. Without
    ``values`` dots are ``color`` and triangles orange; with them both are coloured by ``values``
    through ``cmap`` and ``norm``. Returns the first collection drawn (for a colour bar), or None.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    stopped = pd.Series(statuses).to_numpy() == STOPPED
    first = None
    for is_stopped, mask in ((False, ~stopped), (True, stopped)):
        if not mask.any():
            continue
        style: dict = {}
        if values is not None:
            style.update(c=np.asarray(values, dtype=float)[mask], cmap=cmap, norm=norm)
        if is_stopped:
            style.update(marker=STOPPED_MARKER, s=size * 1.5, edgecolors=STOPPED_COLOR, linewidths=1.0,
                         label=STOPPED_LABEL)
            if values is None:
                style["color"] = STOPPED_COLOR
        else:
            style.update(s=size, edgecolors="white" if values is not None else "none", linewidths=0.5, label=label)
            if values is None:
                style["color"] = color
        points = ax.scatter(x[mask], y[mask], alpha=0.85, zorder=zorder, **style)
        first = first if first is not None else points
    return first


def epoch_axis(axis, epochs) -> None:
    """Whole-number ticks on an epoch (or iteration) axis; a single value is centred with one tick
    (matplotlib would label a range of a tenth of an epoch around it)."""
    epochs = pd.to_numeric(pd.Series(epochs), errors="coerce").dropna()
    if len(epochs) and epochs.min() == epochs.max():
        value = float(epochs.iloc[0])
        (axis.axes.set_xlim if axis is axis.axes.xaxis else axis.axes.set_ylim)(value - 1, value + 1)
        axis.set_ticks([value])
        return
    axis.set_major_locator(MaxNLocator(integer=True))


def figure_legend(fig, ax, ncol: int | None = None) -> None:
    """The legend of ``ax``'s labelled artists in one row (or ``ncol`` columns) under ``fig``; none when
    nothing is labelled."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol or min(len(labels), 4), fontsize=8,
               frameon=False, handletextpad=0.3, columnspacing=1.2)


def metric_norm(values, maximize: bool):
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


def unscored_marks(ax, x, statuses, label_once: set) -> None:
    """Crosses at the bottom of ``ax`` for trials without a score (diverged red, failed grey)."""
    for status, color, label in ((DIVERGED, BAD_COLOR, "diverged (no score)"),
                                 (FAILED, FAILED_COLOR, "failed or crashed")):
        mask = statuses.isin([status] if status == DIVERGED else [FAILED, CRASHED]).to_numpy()
        if mask.any():
            ax.scatter(np.asarray(x)[mask], np.full(mask.sum(), 0.03), marker="x", s=36, color=color,
                       transform=ax.get_xaxis_transform(), clip_on=False, zorder=4,
                       label=None if label in label_once else label)
            label_once.add(label)


def short_params(row, params) -> str:
    return " ".join(f"{SHORT.get(p, p)}={fmt_value(row[p])}" for p in params)



def metric_ylim(ax, values, metric) -> None:
    values = pd.Series(values, dtype=float).dropna()
    if values.empty:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "no trial has a score", transform=ax.transAxes, ha="center", va="center",
                color=FAILED_COLOR)
        return
    lo, hi = float(values.min()), float(values.max())
    if not metric.endswith("acc") and lo > 0 and hi / lo >= LOG_SPAN:
        ax.set_yscale("log")
        ax.set_ylim(lo / 1.5, hi * 1.5)
        plain_log_axis(ax.yaxis)
        return
    pad = (hi - lo) * 0.08 or 0.02 * max(abs(hi), 1e-3)
    bottom = lo - 2 * pad  # room for the crosses of unscored trials
    if metric.endswith("acc"):
        bottom = max(bottom, -0.02)
    ax.set_ylim(bottom, hi + pad)

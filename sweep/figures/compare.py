"""The best so far of several runs in one figure (``sweep compare --html``): one colour per run.

The x axis is the trial number in completion order: a run folder records how long each trial
trained, not when it finished, so there is no wall-clock axis that would be true for parallel runs.
"""

from __future__ import annotations

import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .history import history_data
from .style import metric_label, metric_ylim, new_figure


def compare_history_data(runs, labels: list[str]) -> pd.DataFrame:
    """One row per trial of each run, in completion order: ``run`` (its label), ``run_dir``, ``metric``,
    ``order`` (1, 2, ... within the run), ``value`` and ``best_so_far`` (NaN until a trial has a score),
    as :func:`~sweep.figures.history.history_data` computes them for one run."""
    parts = []
    for label, run in zip(labels, runs):
        if run.trials.empty or run.metric not in run.trials:
            continue
        data = history_data(run.trials, run.metric, run.maximize).reset_index(drop=True)
        data["order"] = range(1, len(data) + 1)  # the trial number in the run, whatever "order" it recorded
        parts.append(data[["order", "value", "best_so_far"]].assign(run=label, run_dir=str(run.run_dir),
                                                                    metric=run.metric))
    columns = ["run", "run_dir", "metric", "order", "value", "best_so_far"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def run_colors(labels: list[str]) -> dict[str, str]:
    """One colour per run (matplotlib's tab10, then tab20 for more than ten runs)."""
    cmap = colormaps["tab10" if len(labels) <= 10 else "tab20"]
    from matplotlib.colors import to_hex

    return {label: to_hex(cmap(i % cmap.N)) for i, label in enumerate(labels)}


def compare_history_figure(data: pd.DataFrame, labels: list[str]) -> Figure | None:
    """The best so far of each run against its trial number, one step line per run, one panel per
    metric (runs that rank by different metrics are not drawn on one axis). None when no trial has a score."""
    scored = data[data["best_so_far"].notna()]
    if scored.empty:
        return None
    metrics = list(dict.fromkeys(scored["metric"]))
    colors = run_colors(labels)
    fig = new_figure(7.5, 3.6 * len(metrics))
    axes = fig.subplots(len(metrics), 1, squeeze=False)[:, 0]
    for ax, metric in zip(axes, metrics):
        for label in labels:
            run = data[(data["run"] == label) & (data["metric"] == metric)]
            if run.empty or run["best_so_far"].isna().all():
                continue
            ax.step(run["order"], run["best_so_far"], where="post", color=colors[label], linewidth=1.8,
                    label=f"{label}: {run['run_dir'].iloc[0]}", zorder=3)
            last = run.iloc[-1]
            ax.plot([last["order"]], [last["best_so_far"]], "o", color=colors[label], markersize=5, zorder=4)
        ax.set_xlabel("trial (completion order)")
        ax.set_ylabel(f"best {metric_label(metric)} so far")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        metric_ylim(ax, data.loc[data["metric"] == metric, "best_so_far"], metric)
        ax.legend(fontsize=8, loc="best", framealpha=0.85)
    return fig

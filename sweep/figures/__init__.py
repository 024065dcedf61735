"""Figures of a run folder: what the sweep found, drawn with matplotlib's Agg renderer.

One module per figure, all on one vocabulary (:mod:`.style`: labels, number formats, axis
scales). Each figure is built by one function from DataFrames or arrays and returned as a
:class:`matplotlib.figure.Figure` (or None when there is nothing to draw), so tests can look at the
axes, lines and images; where a figure's data is worth testing on its own, a ``*_data`` function
computes it apart from the drawing (as Optuna's ``_get_slice_plot_info``). :func:`draw_all` draws
every figure that applies to a run into ``RUN_DIR/plots/``.

Files (see :data:`PLOTS` for their captions)::

    heatmap.png             metric over learning rate x reg, one panel per hidden size
    history.png             metric of each trial in completion order, and the best so far
    slice_<param>.png       metric of every trial against one searched parameter
    parallel.png            parallel coordinates of all trials coloured by the metric
    learning_curves.png     loss and accuracy per epoch of the top trials
    rungs.png               the metric per epoch of every trial, those stopped early marked
    fit.png                 train against validation accuracy of every trial
    weights.png             first-layer weights of the best model as images
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import interrupts
from ..results import Run
from ..results import load_run as results_load_run
from ..results.files import PAUSED_DIR, PLOTS_DIR, own_folder
from ..results.owned import OwnedFiles
from .fit import fit_figure
from .heatmap import heatmap_figure, heatmap_layout
from .history import history_figure
from .learning_curves import learning_curves_figure, metric_curves_figure
from .rungs import rungs_figure
from .parallel import parallel_coordinates_figure
from .slices import slice_figure
from .style import DPI, is_log_param, metric_label, param_label
from .weights import is_filter_bank, weights_figure
from ..status import STOPPED

#: A trial id (see :mod:`sweep.plan`): the name of a paused state.
_TRIAL_ID = re.compile(r"[0-9a-f]{12}")


#: The figures in report order: (file name, or pattern with {param}; title; one-line caption).
#: Captions may use {metric} (the metric's name in words) and {param}; :func:`run_caption` adds what
#: depends on the run (stopped and paused trials, the heatmap's layout).
PLOTS: tuple[tuple[str, str, str], ...] = (
    ("heatmap.png", "Learning rate x regularization",
     "{metric} of the best configuration in each cell, one panel per hidden size when it varies; blank cells "
     "were not run, hatched ones diverged or failed, the outlined cell holds the best trial."),
    ("history.png", "Optimization history",
     "{metric} of each trial in the order the trials finished; the line is the best score so far; "
     "crosses at the bottom are trials without a score."),
    ("slice_{param}.png", "Slice: {param}",
     "{metric} of every trial against {param}, the best trial starred; the line joins the best score at each value."),
    ("parallel.png", "Parallel coordinates",
     "every trial as a line through its hyperparameters to its {metric}, coloured by the {metric}; "
     "grey dotted lines have no score."),
    ("learning_curves.png", "Learning curves of the top trials",
     "training loss per epoch (left) and train (dashed) and validation (solid) accuracy per epoch (right) "
     "of the best trials, one colour per trial; #k is the trial's rank in the leaderboard."),
    ("rungs.png", "Early termination",
     "{metric} per epoch of every trial: blue ones trained to the end, orange ones were stopped at a milestone "
     "(the triangle) by the early-termination rule or a time limit."),
    ("fit.png", "Training against validation",
     "final training against validation accuracy of every trial: far below the diagonal is over-fitting, "
     "low on both axes is under-fitting."),
    ("weights.png", "First-layer weights of the best model",
     "each hidden unit's input weights reshaped to an image and scaled to its own range (dark = low, light = high)."),
)
#: The weights' caption when the best model's first layer is convolutional.
FILTERS_CAPTION = ("each filter of the first convolutional layer as an image, scaled to its own range (dark = low, "
                   "light = high).")
#: The heatmap's caption when it is a scatter (a continuous search: see :func:`.heatmap.heatmap_layout`).
HEATMAP_SCATTER = ("{metric} of every trial (its colour) at its learning rate and regularization, one panel per "
                   "hidden size when it varies; crosses diverged (red) or failed (grey), the hollow star is the "
                   "best trial.")
#: What each figure adds about trials stopped early, when the run has some.
STOPPED_TEXT = {
    "heatmap.png": "A cell whose trials were all stopped early shows their best last score, outlined dashed in orange.",
    "heatmap-scatter": "Triangles are trials stopped early, coloured by the score of the last epoch they trained.",
    "history.png": "Orange triangles are trials stopped early, at the score of the last epoch they trained.",
    "slice_": "Orange triangles are trials stopped early, at the score of the last epoch they trained.",
    "parallel.png": "Dashed lines are trials stopped early, ending at the score of the last epoch they trained.",
    "learning_curves.png": "A trial marked (stopped) was stopped early: its curves end there.",
    "fit.png": "Orange triangles are trials stopped early, at the last epoch they trained.",
}
#: Captions of runs without class accuracies (regression), where the figures show losses.
CAPTIONS_WITHOUT_ACCURACY = {
    "learning_curves.png": "training loss (left) and validation loss (right) per epoch of the best trials, "
                           "one colour per trial; #k is the trial's rank in the leaderboard.",
    "fit.png": "final training against validation loss of every trial: far above the diagonal is over-fitting, "
               "high on both axes is under-fitting.",
}


#: Captions of program sweeps, whose curves are the metric the program logged.
CAPTIONS_OF_PROGRAMS = {
    "learning_curves.png": "{metric} at each iteration (each line the program logged with it) of the best trials, "
                           "one colour per trial; #k is the trial's rank in the leaderboard.",
    "rungs.png": "{metric} per iteration of every trial: blue ones ran to the end, orange ones were stopped at a "
                 "milestone (the triangle) by the early-termination rule or a time limit.",
}


def caption(file_name: str, metric: str = "val_acc", accuracies: bool = True,
            program: bool = False) -> tuple[str, str]:
    """(title, one-line caption) of a plot file written by :func:`draw_all`; ("name", "") if not ours.

    ``accuracies`` is False for runs without class accuracies (regression), whose figures show losses;
    ``program`` is True for a program sweep's.
    """
    name = Path(file_name).name
    for pattern, title, text in PLOTS:
        if program:
            text = CAPTIONS_OF_PROGRAMS.get(pattern, text)
        elif not accuracies:
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


def run_caption(run: Run, file_name: str) -> tuple[str, str]:
    """(title, caption) of a plot file of ``run``: :func:`caption`, with the heatmap's caption of its
    layout (grid or scatter) and a sentence each on trials stopped early and trials paused (not shown)."""
    run = as_plot_run(run)
    name = Path(file_name).name
    program = is_program(run)
    title, text = caption(name, run.metric, accuracies=has_accuracies(run.trials), program=program)
    if name == "weights.png" and run.W1 is not None and np.ndim(run.W1) == 4:
        return "First-layer filters of the best model", FILTERS_CAPTION
    if not text or name == "weights.png":
        return title, text
    key = "slice_" if name.startswith("slice_") else name
    if name == "heatmap.png" and heatmap_layout(run.trials, run.log_params) == "scatter":
        text, key = _sentence(HEATMAP_SCATTER.format(metric=metric_label(run.metric))), "heatmap-scatter"
    extra = []
    if (run.trials["status"] == STOPPED).any() and key in STOPPED_TEXT:
        extra.append(STOPPED_TEXT[key])
    if run.paused:
        n = len(run.paused)
        extra.append(f"{n} trial{'s' * (n > 1)} paused at a milestone of early termination (the run has not "
                     f"finished) {'are' if n > 1 else 'is'} not shown.")
    return title, " ".join([text, *extra])


def has_accuracies(trials) -> bool:
    """Whether any trial has a class accuracy (False for regression runs)."""
    return bool("val_acc" in trials and pd.to_numeric(trials["val_acc"], errors="coerce").notna().any())

@dataclass
class PlotRun(Run):
    """A run as the figures see it: the :class:`~sweep.results.Run`, plus the searched
    hyperparameters that belong on a log axis, the best model's first layer with the image
    shape of its inputs (None when the inputs are not images, or the model cannot be read), and
    the ids of trials ``paused`` at a milestone and not recorded yet (an unfinished run: they
    are in no figure)."""

    log_params: set = field(default_factory=set)
    W1: np.ndarray | None = None
    image_shape: tuple | None = None
    paused: list = field(default_factory=list)

    @property
    def summary(self) -> dict | None:
        """best/summary.json (the same as :attr:`best`)."""
        return self.best


def as_plot_run(run: Run) -> PlotRun:
    """``run`` with what the figures derive from it (see :class:`PlotRun`)."""
    if isinstance(run, PlotRun):
        return run
    W1, image_shape = best_weights(run, run.notes)
    return PlotRun(**{f.name: getattr(run, f.name) for f in fields(Run)}, log_params=log_params(run), W1=W1,
                   image_shape=image_shape, paused=paused_trials(run))


def paused_trials(run: Run) -> list[str]:
    """Ids of the trials with a state in ``paused/`` that trials.csv does not record: trials waiting at
    (or going on from) a milestone of early termination when the run stopped. Only the file names
    are read; whatever else is in the folder is ignored."""
    folder = run.run_dir / PAUSED_DIR
    if not folder.is_dir():
        return []
    recorded = set(run.trials["trial_id"]) if "trial_id" in run.trials else set()
    return sorted(p.stem for p in folder.glob("*.npz") if _TRIAL_ID.fullmatch(p.stem) and p.stem not in recorded)


def load_run(run_dir) -> PlotRun:
    """Read a run folder for drawing (see :func:`sweep.results.load_run`)."""
    return as_plot_run(results_load_run(run_dir))


def log_params(run: Run) -> set[str]:
    """The searched hyperparameters of ``run`` that belong on a log axis."""
    return {p for p in run.params if is_log_param(run.trials[p], run.spec(p))}


def best_weights(run: Run, notes: list[str]):
    """(first-layer weights, image shape) of the best model when they can be drawn as images, else
    (None, None). The first-layer weights are the model's first array (in the order of its params)
    that is either (D, H) with D the image's pixels (``W1`` of the built-in nets) or conv filters
    (F, C, f, f) with the image's channels (a CS231n conv net's ``W1``); a user's model is read without
    running its code."""
    shape = tuple(run.best["image_shape"]) if run.best and run.best.get("image_shape") else None
    if shape is None:
        return None, None
    try:
        arrays = run.best_arrays()
    except Exception as exc:  # noqa: BLE001 - a damaged model should not stop the other figures
        notes.append(f"{run.run_dir / 'best' / 'model.npz'} unreadable: {exc}")
        return None, None
    if arrays is None:
        return None, None
    # In the model's own order: a conv net's second layer may also take as many inputs as the image has pixels.
    first = next((a for a in arrays.values()
                  if (np.ndim(a) == 2 and a.shape[0] == math.prod(shape)) or is_filter_bank(a, shape)), None)
    if first is None:
        inputs = arrays["W1"].shape[0] if "W1" in arrays and np.ndim(arrays["W1"]) == 2 else None
        if inputs is not None:
            notes.append(f"best/summary.json gives image_shape {list(shape)}, but the model has {inputs} inputs; "
                         "weights not drawn")
        return None, None
    return first, shape


def is_program(run: Run) -> bool:
    """Whether ``run`` is a program sweep (its history is the lines the program logged)."""
    return "program_parameters" in run.experiment


def slice_file_name(param: str) -> str:
    """``slice_<param>.png``, a file name of ``plots/`` whatever the parameter's name (a program's may
    hold ``/``, ``..`` or spaces): other characters than letters, digits, ``_`` and ``-`` become
    ``_``, and a name so changed gets a short hash of the real one, so that two names stay two files."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", param) or "_"
    if safe != param:
        safe += "-" + hashlib.sha256(param.encode()).hexdigest()[:8]
    return f"slice_{safe}.png"


def build_figures(run: Run, top_k: int = 5) -> list[tuple[str, Figure]]:
    """Every figure that applies to ``run``, as (file name, Figure), in report order."""
    return list(iter_figures(run, top_k))


def iter_figures(run: Run, top_k: int = 5):
    """Yield (file name, Figure) for every figure that applies to ``run``, one at a time, in report order.

    A figure that fails to build is skipped with a warning on stderr: one broken figure must not
    cost the others (nor the report at the end of a long run).
    """
    run = as_plot_run(run)
    trials, metric, maximize = run.trials, run.metric, run.maximize
    if trials.empty or metric not in trials:
        return
    logs = run.log_params
    builders = []

    def add(name, build):
        builders.append((name, build))

    add("heatmap.png", lambda: heatmap_figure(trials, metric, maximize, logs))
    add("history.png", lambda: history_figure(trials, metric, maximize))
    for param in run.params:
        add(slice_file_name(param), lambda p=param: slice_figure(trials, p, metric, maximize, log=p in logs,
                                                                best_id=run.best_id))
    add("parallel.png", lambda: parallel_coordinates_figure(trials, metric, maximize, run.params, logs))
    if is_program(run):  # curves of the metric it logged, per iteration; no train/validation pair to fit
        by_iteration = run.history.dropna(subset=["iteration"]).assign(epoch=lambda h: h["iteration"])
        add("learning_curves.png", lambda: metric_curves_figure(run.history, trials, metric, maximize, top_k,
                                                                 params=run.params))
        add("rungs.png", lambda: rungs_figure(by_iteration, trials, metric))
    else:
        add("learning_curves.png", lambda: learning_curves_figure(run.history, trials, metric, maximize, top_k,
                                                                   params=run.params))
        add("rungs.png", lambda: rungs_figure(run.history, trials, metric))
        color_by = next((p for p in ("reg", "hidden_size", "epochs", "learning_rate") if p in run.params),
                        run.params[0] if run.params else None)
        add("fit.png", lambda: fit_figure(trials, metric, maximize, color_by, color_by in logs, run.best_id))
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


def draw_all(run_dir, *, run: Run | None = None, owned: OwnedFiles | None = None) -> list[Path]:
    """Draw every figure that applies to the run in ``run_dir`` into ``run_dir/plots/``; return the PNG paths.

    Plot files of an earlier drawing that no longer apply are removed, so the folder always
    matches the run. Each PNG is written atomically. ``run`` is the folder already read by
    :func:`load_run` (the report passes it so the folder is read once); ``owned`` the record of
    drawn files, already locked (the report passes it to write the page under the same lock).
    """
    run = as_plot_run(run if run is not None else load_run(run_dir))
    if owned is not None:
        return save_figures(run, iter_figures(run), owned)
    with OwnedFiles(run.run_dir) as owned:
        return save_figures(run, iter_figures(run), owned)


def save_figures(run: Run, figures, owned: OwnedFiles) -> list[Path]:
    """Save (file name, Figure) pairs as PNGs in ``run_dir/plots/``; drop our PNGs no longer drawn.

    Only files sweep drew (see :mod:`sweep.results.owned`) are replaced or removed: a file of the same
    name that someone else put there, or changed, is left as it is, with a warning.
    """
    folder = own_folder(run.run_dir, PLOTS_DIR)
    paths = []
    for name, fig in figures:
        interrupts.check()  # an interrupt deferred while drawing (see sweep.cli) stops here
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


"""``RUN_DIR/report.html``: one self-contained page about a run.

The page holds the experiment (name, data set, method, trials by status, time), the best trial
(parameters, validation metric, test accuracy), a leaderboard of every trial that sorts on a click
of its header, with the metric's standard error and the configurations tied with the best
(:mod:`sweep.results.uncertainty`), above it interactive parallel coordinates whose brushed ranges
(and a text box) filter the leaderboard, the searched parameters' importance (fANOVA,
:mod:`sweep.results.importance`; or why it could not be computed), and every figure of
:mod:`sweep.figures` with a one-line caption (``parallel.png`` inside ``<noscript>``: the interactive
chart replaces it where scripts run). Images are embedded as ``data:`` URIs, the style and the small
script are inline and the chart's data is one JSON block (:func:`sweep.figures.parallel.parallel_data`,
escaped by Jinja2's ``tojson``): the file needs no network and can be mailed or archived alone.

The page is the template ``templates/report.html`` rendered by Jinja2 with autoescaping: this
module gathers plain values (text and numbers, never markup) and the template escapes every one
of them, so nothing read from a run folder (a shared or archived one included) can become markup
or script in the browser of whoever opens the report.
"""

from __future__ import annotations

import base64
import math
from datetime import datetime
from pathlib import Path

import pandas as pd

from .errors import SweepError
from .figures import PlotRun, draw_all, has_accuracies, is_program, load_run, run_caption  # noqa: F401 - has_accuracies re-exported
from .figures.parallel import parallel_data
from .figures.style import fmt_metric, fmt_value, metric_label, param_label
from .results.analysis import hyperparameter_columns, started_and_wall, status_counts
from .results.analysis import training_seconds  # noqa: F401 - where it was first, tests import it here
from .results.files import PLAN_FILE
from .results.folders import rows_after_header
from .results.owned import OwnedFiles
from .results.uncertainty import describe as describe_uncertainty
from .results.uncertainty import fmt_se
from .status import CRASHED, DIVERGED, FAILED, OK, PAUSED, STOPPED

REPORT_FILE = "report.html"
STATUS_ORDER = (OK, STOPPED, PAUSED, DIVERGED, FAILED, CRASHED)
#: Result columns of the leaderboard after the metric, with their headers.
RESULT_COLUMNS = (("val_acc", "val acc"), ("train_acc", "train acc"), ("val_loss", "val loss"),
                  ("best_val_acc", "best val acc"), ("best_epoch", "best epoch"),
                  ("seconds", "seconds"))


def write_report(run_dir, live: dict | None = None) -> Path:
    """Draw the plots of ``run_dir`` and write ``run_dir/report.html`` (atomically); return its path.

    A ``report.html`` sweep did not write (or that was changed since) is left as it is: the new
    page goes to ``report-N.html`` instead. ``live``: the page of a sweep still running (see
    :mod:`sweep.live`), which says how far it is and reloads itself.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    with OwnedFiles(run_dir) as owned:
        plots = draw_all(run_dir, run=run, owned=owned)
        page = render(run, plots, live=live)
        name, n = REPORT_FILE, 1
        while not owned.may_replace(name):
            n += 1
            name = f"report-{n}.html"
        return owned.write(name, lambda tmp: tmp.write_text(page, encoding="utf-8"))


# ------------------------------------------------------------------------------------------ page
def _template():
    import jinja2

    environment = jinja2.Environment(loader=jinja2.PackageLoader("sweep", "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.get_template(REPORT_FILE)


def render(run: PlotRun, plots: list[Path], live: dict | None = None) -> str:
    """The report page of ``run`` with the PNG files ``plots`` embedded (``live``: see :func:`write_report`)."""
    exp = run.experiment
    provenance = exp.get("provenance") if isinstance(exp.get("provenance"), dict) else {}
    return _template().render(
        name=str(exp.get("name") or run.run_dir.name), run_dir=str(run.run_dir),
        description=str(exp.get("description") or ""), **_experiment_facts(run),
        metric=run.metric, maximize=run.maximize, notes=run.notes,
        command=str(provenance.get("command") or ""),
        best=_best(run), board=_leaderboard(run), importance=_importance(run), figures=_figures(run, plots),
        parallel=_parallel(run),
        written=datetime.now().strftime("%Y-%m-%d %H:%M"), live=live)


def _experiment_facts(run: PlotRun) -> dict:
    exp, trials = run.experiment, run.trials
    dataset = exp.get("dataset") or {}
    if not isinstance(dataset, dict):
        dataset = {"name": dataset}
    options = ", ".join(f"{k}={_plain(v)}" for k, v in dataset.items() if k != "name")
    method = str(exp.get("method", "?"))
    if exp.get("run_cap"):
        method += f" (run_cap {exp['run_cap']})"
    elif method in ("random", "bayes"):
        method += " (open-ended)"
    early = exp.get("early_terminate")
    if isinstance(early, dict):
        rule = ", ".join(f"{k} {_plain(v)}" for k, v in early.items() if k != "type")
        method += f"; early termination: {_plain(early.get('type', '?'))} ({rule})"
    if exp.get("time_limit"):
        method += f"; time limit {_plain(exp['time_limit'])}"
    repeats = exp.get("repeats") or 1
    if isinstance(repeats, int) and repeats > 1:
        method += f", {repeats} seeds per configuration"
    counts = status_counts(trials) if not trials.empty else {}
    if run.paused:  # not recorded yet: waiting at a milestone when the run stopped
        counts[PAUSED] = len(run.paused)
    planned = _planned(run.run_dir)
    total = sum(counts.values())
    fixed = exp.get("fixed") if isinstance(exp.get("fixed"), dict) else {}
    return {
        "dataset": {"name": str(dataset.get("name", "?")), "options": options},
        "method": method,
        "searched": ", ".join(run.params),
        "trials": {"total": total,
                   "text": f"{total - len(run.paused)}" + (f" of {planned} planned" if planned is not None
                                                            and planned != total - len(run.paused) else ""),
                   "badges": [(s, counts[s]) for s in (*STATUS_ORDER, *sorted(set(counts) - set(STATUS_ORDER)))
                              if counts.get(s)]},
        "time": _time_text(run),
        "fixed": ", ".join(f"{k}={_plain(v)}" for k, v in fixed.items()),
    }


def _plain(value) -> str:
    return fmt_value(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _planned(run_dir: Path) -> int | None:
    path = run_dir / PLAN_FILE
    return rows_after_header(path) if path.is_file() else None


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _time_text(run: PlotRun) -> str:
    parts = [f"{_duration(training_seconds(run.trials))} of training"]
    start, wall = started_and_wall(run.experiment, run.run_dir)
    if wall is not None:
        parts.append(f"{_duration(wall)} from start to the last result")
    if start is not None:
        parts.append(f"started {datetime.fromtimestamp(start).strftime('%Y-%m-%d %H:%M')}")
    provenance = run.experiment.get("provenance")
    provenance = provenance if isinstance(provenance, dict) else {}
    cpus = provenance.get("host_cpus")
    if cpus:
        parts.append(f"{cpus} CPUs")
    return ", ".join(parts)


def _best(run: PlotRun) -> dict:
    s = run.best
    if s is None:
        if run.best_id is None:
            return {"none": True}
        row = run.trials[run.trials["trial_id"] == run.best_id].iloc[0]
        params = {p: row[p] for p in hyperparameter_columns(run.trials)}
        facts = [_fact("trial", run.best_id, "code"), _fact(run.metric, fmt_metric(row[run.metric], run.metric))]
        unfinished = True
    else:
        params = s.get("params") or {}
        metric = s["metric"]
        name = metric.get("name", run.metric)
        facts = [_fact("trial", s["trial_id"], "code"),
                 _fact(metric_label(name), fmt_metric(metric.get("value"), name), "bold")]
        if s.get("test_acc") is not None:
            facts.append(_fact("test accuracy", fmt_metric(s["test_acc"], "test_acc"), "bold",
                               f"on {s.get('test_rows', '?')} test rows, measured once"))
        if s.get("test_loss") is not None:
            facts.append(_fact("test loss", f"{s['test_loss']:.4g}"))
        for key, label in (("val_acc", "validation accuracy"), ("train_acc", "training accuracy")):
            if s.get(key) is not None and key != name:
                facts.append(_fact(label, fmt_metric(s[key], key)))
        if s.get("epochs_trained") is not None:
            facts.append(_fact("epochs trained", s["epochs_trained"]))
        if s.get("model_from") in ("trial", "retrain"):
            facts.append(_fact("weights", "the trial's own" if s["model_from"] == "trial" else
                               "retrained from the trial's seed (they were not kept)"))
        if s.get("reproduced") is False:
            facts.append(_fact("reproduced", "no: the retrained model differs from the trial", "warn"))
        unfinished = False
    searched = set(run.params)
    rows = [{"label": param_label(str(p)), "value": _plain(v), "searched": p in searched} for p, v in params.items()]
    return {"none": False, "unfinished": unfinished, "facts": facts, "params": rows,
            "ensemble": None if unfinished else _ensemble(run, s)}


def _ensemble(run: PlotRun, summary: dict) -> dict | None:
    """The ensemble beside the best trial (best/ensemble.json, see :mod:`sweep.ensemble`): its and the single
    best's validation and test accuracy, its members and their weights; None when the run has none."""
    from .ensemble import proven_record

    record, problem = proven_record(run.run_dir)
    if problem:  # damaged, or not this run's: its numbers are not shown as the run's
        return {"problem": f"{run.run_dir / 'best'}: {problem}", "rows": [], "members": []}
    if record is None:
        return None
    single = record.get("single_best") if isinstance(record.get("single_best"), dict) else {}
    rows = [{"label": f"ensemble of {len(record['members'])} trial(s)",
             "val": fmt_metric(record.get("val_acc"), "val_acc"), "test": fmt_metric(record.get("test_acc"), "test_acc")},
            {"label": "best trial alone", "val": fmt_metric(single.get("val_acc", summary.get("val_acc")), "val_acc"),
             "test": fmt_metric(single.get("test_acc", summary.get("test_acc")), "test_acc")}]
    members = [{"trial": str(m.get("trial_id")), "weight": f"{100 * float(m.get('weight') or 0):.0f}%",
                "count": str(m.get("count"))} for m in record["members"] if isinstance(m, dict)]
    return {"problem": None, "rows": rows, "members": members, "size": str(record.get("size"))}


def _fact(label, value, kind: str = "plain", note: str = "") -> dict:
    return {"label": str(label), "value": str(value), "kind": kind, "note": note}


# ------------------------------------------------------------------------------------------ table
def _leaderboard(run: PlotRun) -> dict:
    ranked = run.ranked()
    if ranked.empty:
        return {"columns": [], "rows": []}
    params = run.params or [p for p in ("hidden_size", "learning_rate", "reg") if p in ranked]
    results = [(run.metric, run.metric.replace("_", " "))] + [(c, h) for c, h in RESULT_COLUMNS
                                                               if c != run.metric and c in ranked
                                                               and ranked[c].notna().any()]
    show_repeat = "repeat" in ranked and ranked["repeat"].nunique() > 1
    columns = [("rank", "#", "num"), ("trial_id", "trial", "text"), ("status", "status", "text")]
    columns += [(p, param_label(p) if len(param_label(p)) <= 14 else p.replace("_", " "), "num"
                 if pd.api.types.is_numeric_dtype(ranked[p]) else "text") for p in params]
    if show_repeat:
        columns.append(("repeat", "repeat", "num"))
    columns += [(c, h, "num") for c, h in results]
    uncertainty = _uncertainty(run)
    if uncertainty["known"]:  # the configuration's standard error, and whether it is tied with the best
        at = [key for key, _, _ in columns].index(run.metric) + 1
        extra = [("se", "± s.e.", "num"), ("tied", "≈ best", "text")]
        if uncertainty["repeats"] > 1:
            extra.insert(0, ("seeds", "mean ± std over seeds", "num"))
        columns[at:at] = extra
    if ranked["error"].astype(str).str.strip().ne("").any():
        columns.append(("error", "error", "text"))
    logs = run.log_params
    by_config = uncertainty["by_config"]
    rows = []
    for i, row in ranked.iterrows():
        status = str(row["status"])
        best = row["trial_id"] == run.best_id
        cells = []
        for key, _, kind in columns:
            if key == "rank":
                cells.append({"kind": "num", "text": str(i + 1), "sort": str(i + 1)})
            elif key == "trial_id":
                cells.append({"kind": "code", "text": str(row["trial_id"]), "star": best})
            elif key == "status":
                cells.append({"kind": "badge", "text": status})
            elif key == "error":
                cells.append({"kind": "err", "text": str(row["error"])})
            elif key in ("se", "tied", "seeds"):
                cells.append(_uncertainty_cell(key, by_config.get(str(row["config_id"])), run.metric))
            else:
                cells.append(_cell(row[key], key, kind, log=key in logs))
        tied = bool((by_config.get(str(row["config_id"])) or {}).get("tied"))
        rows.append({"classes": f"st-{status}" + (" best" if best else "") + (" tied" if tied else ""),
                     "cells": cells, "id": str(row["trial_id"])})
    return {"columns": [{"key": key, "label": label, "kind": kind, "metric": key == run.metric}
                        for key, label, kind in columns], "rows": rows, "uncertainty": uncertainty["text"]}


def _uncertainty(run: PlotRun) -> dict:
    """The standard error of each configuration's metric and whether it is tied with the best
    (:mod:`sweep.results.uncertainty`), by config_id; with the sentence that says where they come from."""
    board = run.leaderboard()
    repeats = int(board["runs"].max()) if "runs" in board and len(board) else 1
    text = describe_uncertainty(run.metric, run.val_rows, repeats, program=is_program(run))
    se = f"{run.metric}_se"
    if se not in board:
        return {"known": False, "repeats": repeats, "by_config": {}, "text": text}
    by_config = {str(r["config_id"]): {"se": r[se], "tied": bool(r["tied"]), "mean": r[f"{run.metric}_mean"],
                                       "std": r[f"{run.metric}_std"], "n": int(r["ok"])}
                 for _, r in board.iterrows()}
    return {"known": True, "repeats": repeats, "by_config": by_config, "text": text}


def _uncertainty_cell(key: str, config: dict | None, metric: str) -> dict:
    if not config or not math.isfinite(float(config["se"])):
        return {"kind": "na"}
    if key == "se":
        return {"kind": "num", "text": fmt_se(config["se"]), "sort": repr(float(config["se"]))}
    if key == "tied":
        return {"kind": "tied", "text": "≈" if config["tied"] else "", "sort": "1" if config["tied"] else "0"}
    mean, std = float(config["mean"]), float(config["std"])
    text = f"{mean:.4f}" + (f" ± {std:.4f}" if math.isfinite(std) else "") + f" ({config['n']})"
    return {"kind": "num", "text": text, "sort": repr(mean)}


def _parallel(run: PlotRun) -> dict | None:
    """The interactive parallel coordinates' data (:func:`sweep.figures.parallel.parallel_data`), or None
    when nothing was searched (the PNG is not drawn either)."""
    if run.trials.empty or not run.params or run.metric not in run.trials:
        return None
    return parallel_data(run)


def _cell(value, key: str, kind: str, log: bool = False) -> dict:
    if kind != "num":
        return {"kind": "text", "text": str(value)}
    try:
        number = float(value)
    except (TypeError, ValueError):
        return {"kind": "text", "text": str(value)}
    if math.isnan(number):
        return {"kind": "na"}
    if key in ("best_epoch", "repeat", "hidden_size", "epochs", "batch_size"):
        text = f"{number:.0f}"
    elif key.endswith("acc"):
        text = f"{number:.4f}"
    elif key == "seconds":
        text = f"{number:.2f}"
    elif key.endswith("loss"):
        text = f"{number:.4f}" if 1e-3 <= abs(number) < 1e3 else f"{number:.4g}"
    else:
        text = fmt_value(number, log=log)
    return {"kind": "num", "text": text, "sort": repr(number)}


# ------------------------------------------------------------------------------------------ importance
def _importance(run: PlotRun) -> dict:
    """The parameters' importance as rows (name, percent, bar width in percent of the column), with its
    caption; or why there is none.

    Whatever goes wrong here is said on the page: the report of a run is never lost to its importance."""
    from .results.importance import describe, parameter_importance

    try:
        series = parameter_importance(run)
    except Exception as exc:  # noqa: BLE001 - a SweepError says why; anything else is said too, not raised
        reason = str(exc) if isinstance(exc, SweepError) else f"{type(exc).__name__}: {exc}"
        return {"rows": [], "caption": "", "reason": reason.removeprefix(f"{run.run_dir}: "), "notes": []}
    rows = [{"label": param_label(str(name)), "name": str(name), "percent": f"{100 * share:.1f}%",
             "width": f"{100 * share:.1f}"}
            for name, share in series.items()]
    return {"rows": rows, "caption": describe(series) + "; normalised to sum to 100%.", "reason": "",
            "notes": list(series.attrs.get("notes", []))}


# ------------------------------------------------------------------------------------------ plots
def _figures(run: PlotRun, plots: list[Path]) -> list[dict]:
    """The figures in page order: single ones, and the slices side by side after the first two."""
    figures, slices = [], []
    for path in plots:
        title, text = run_caption(run, path.name)
        figure = {"stem": path.stem, "title": title, "caption": text,
                  "data": base64.b64encode(path.read_bytes()).decode("ascii")}
        (slices if path.name.startswith("slice_") else figures).append((path.name, figure))
    out = []
    placed_slices = False
    for name, figure in figures:
        if not placed_slices and slices and name not in ("heatmap.png", "history.png"):
            out.append({"slices": [f for _, f in slices]})
            placed_slices = True
        out.append({"slices": None, "figure": figure})
    if slices and not placed_slices:
        out.append({"slices": [f for _, f in slices]})
    return out

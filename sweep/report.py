"""``RUN_DIR/report.html``: one self-contained page about a run.

The page holds the experiment (name, data set, method, trials by status, time), the best trial
(parameters, validation metric, test accuracy), a leaderboard of every trial that sorts on a click
of its header, and every plot of :mod:`sweep.plots` with a one-line caption. Images are embedded as
``data:`` URIs and the style and the small sorting script are inline: the file needs no network and
can be mailed or archived alone. Only the standard library (``html``, ``base64``) and pandas.
"""

from __future__ import annotations

import base64
import html
import math
import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from .analysis import rank, status_counts
from .params import PARAMETER_NAMES
from .plots import RunData, caption, draw_all, fmt_metric, fmt_value, load_run, metric_label, param_label
from .store import PLAN_FILE, TRIALS_FILE
from .task import CRASHED, DIVERGED, FAILED, OK

REPORT_FILE = "report.html"
STATUS_ORDER = (OK, DIVERGED, FAILED, CRASHED)
#: Result columns of the leaderboard after the metric, with their headers.
RESULT_COLUMNS = (("val_acc", "val acc"), ("train_acc", "train acc"), ("val_loss", "val loss"),
                  ("best_val_acc", "best val acc"), ("best_epoch", "best epoch"),
                  ("seconds", "seconds"))


def write_report(run_dir) -> Path:
    """Draw the plots of ``run_dir`` and write ``run_dir/report.html`` (atomically); return its path."""
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    plots = draw_all(run_dir, run=run)
    page = render(run, plots)
    path = run_dir / REPORT_FILE
    tmp = path.with_name(f".{REPORT_FILE}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------------------ page
def render(run: RunData, plots: list[Path]) -> str:
    """The report page of ``run`` with the PNG files ``plots`` embedded."""
    exp = run.experiment
    name = str(exp.get("name") or run.run_dir.name)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(name)} \u2014 sweep report</title>",
        f"<style>{CSS}</style></head><body>",
        "<main>",
        f'<header><h1>{_e(name)}</h1><p class="sub">sweep report \u00b7 {_e(str(run.run_dir))}</p>'
        + (f'<p class="desc">{_e(exp["description"])}</p>' if exp.get("description") else "") + "</header>",
        _experiment_section(run),
        _best_section(run),
        _leaderboard_section(run),
        _plots_section(run, plots),
        f'<footer>Written by sweep on {datetime.now().strftime("%Y-%m-%d %H:%M")}; '
        "redraw with <code>sweep report RUN_DIR</code>.</footer>",
        "</main>",
        f"<script>{SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _experiment_section(run: RunData) -> str:
    exp, trials = run.experiment, run.trials
    dataset = exp.get("dataset") or {}
    if isinstance(dataset, str):
        dataset = {"name": dataset}
    options = ", ".join(f"{k}={_plain(v)}" for k, v in dataset.items() if k != "name")
    method = str(exp.get("method", "?"))
    if exp.get("run_cap"):
        method += f" (run_cap {exp['run_cap']})"
    repeats = exp.get("repeats") or 1
    if repeats > 1:
        method += f", {repeats} seeds per configuration"
    counts = status_counts(trials) if not trials.empty else {}
    planned = _planned(run.run_dir)
    badges = " ".join(f'<span class="badge {s}">{counts[s]} {s}</span>'
                      for s in (*STATUS_ORDER, *sorted(set(counts) - set(STATUS_ORDER))) if counts.get(s))
    total = sum(counts.values())
    trials_text = f"{total}" + (f" of {planned} planned" if planned is not None and planned != total else "")
    rows = [
        ("Data set", f"<b>{_e(dataset.get('name', '?'))}</b>" + (f" <span class=muted>({_e(options)})</span>"
                                                                 if options else "")),
        ("Method", _e(method)),
        ("Metric", f"{_e(run.metric)} ({'higher' if run.maximize else 'lower'} is better)"),
        ("Searched", _e(", ".join(run.params)) or '<span class="muted">nothing varies</span>'),
        ("Trials", f"{trials_text} {badges}" if total else "no trial has finished"),
        ("Time", _e(_time_text(run))),
    ]
    fixed = exp.get("fixed") or {}
    if fixed:
        rows.append(("Fixed", _e(", ".join(f"{k}={_plain(v)}" for k, v in fixed.items()))))
    if run.notes:
        rows.append(("Problems", '<span class="warn">' + "<br>".join(_e(n) for n in run.notes) + "</span>"))
    prov = exp.get("provenance") or {}
    if prov.get("command"):
        rows.append(("Command", f"<code>{_e(prov['command'])}</code>"))
    return ('<section id="experiment"><h2>Experiment</h2><dl class="facts">'
            + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl></section>")


def _plain(value) -> str:
    return fmt_value(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _planned(run_dir: Path) -> int | None:
    path = run_dir / PLAN_FILE
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        return max(sum(1 for line in f if line.strip()) - 1, 0)


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


def training_seconds(trials: pd.DataFrame) -> float:
    """Seconds of training the run took, summed over training runs.

    Trials that differ only in ``epochs`` are scored from one training run, and each records the
    time of its own epochs, so each run is counted once, by its longest trial.
    """
    if trials.empty or "seconds" not in trials:
        return 0.0
    key = [p for p in PARAMETER_NAMES if p != "epochs" and p in trials] + [c for c in ("seed",) if c in trials]
    seconds = pd.to_numeric(trials["seconds"], errors="coerce").fillna(0.0)
    if not key:
        return float(seconds.sum())
    return float(seconds.groupby([trials[k].astype(str) for k in key]).max().sum())


def _time_text(run: RunData) -> str:
    parts = [f"{_duration(training_seconds(run.trials))} of training"]
    started = (run.experiment.get("provenance") or {}).get("started")
    trials_file = run.run_dir / TRIALS_FILE
    if started and trials_file.is_file():
        try:
            start = datetime.strptime(str(started), "%Y-%m-%dT%H:%M:%S%z").timestamp()
            wall = trials_file.stat().st_mtime - start
            if wall >= 0:
                parts.append(f"{_duration(wall)} from start to the last result")
            parts.append(f"started {datetime.fromtimestamp(start).strftime('%Y-%m-%d %H:%M')}")
        except ValueError:
            pass
    cpus = (run.experiment.get("provenance") or {}).get("host_cpus")
    if cpus:
        parts.append(f"{cpus} CPUs")
    return ", ".join(parts)


def _best_section(run: RunData) -> str:
    s = run.summary
    head = '<section id="best"><h2>Best trial</h2>'
    if s is None:
        if run.best_id is None:
            return head + '<p class="muted">No trial finished <b>ok</b>, so there is no best model.</p></section>'
        row = run.trials[run.trials["trial_id"] == run.best_id].iloc[0]
        params = {p: row[p] for p in PARAMETER_NAMES if p in row}
        facts = [("trial", f"<code>{_e(run.best_id)}</code>"),
                 (_e(run.metric), _e(fmt_metric(row[run.metric], run.metric)))]
        note = '<p class="muted">The run has not finished: the best model was not saved or tested yet.</p>'
    else:
        params = s.get("params") or {}
        metric = s.get("metric") or {}
        facts = [("trial", f"<code>{_e(s.get('trial_id'))}</code>")]
        facts.append((_e(metric_label(metric.get('name', run.metric))),
                      f"<b>{_e(fmt_metric(metric.get('value'), metric.get('name', run.metric)))}</b>"))
        if s.get("test_acc") is not None:
            facts.append(("test accuracy", f"<b>{_e(fmt_metric(s['test_acc'], 'test_acc'))}</b>"
                          f" <span class=muted>on {s.get('test_rows', '?')} test rows, measured once</span>"))
        if s.get("test_loss") is not None:
            facts.append(("test loss", _e(f"{s['test_loss']:.4g}")))
        for key, label in (("val_acc", "validation accuracy"), ("train_acc", "training accuracy")):
            if s.get(key) is not None and key != metric.get("name"):
                facts.append((label, _e(fmt_metric(s[key], key))))
        if s.get("epochs_trained") is not None:
            facts.append(("epochs trained", _e(s["epochs_trained"])))
        if s.get("reproduced") is False:
            facts.append(("reproduced", '<span class="warn">no: the retrained model differs from the trial</span>'))
        note = ""
    searched = set(run.params)
    cells = "".join(f'<tr{" class=searched" if p in searched else ""}><th>{_e(param_label(p))}</th>'
                    f"<td>{_e(_plain(v))}</td></tr>" for p, v in params.items())
    return (head + note + '<div class="best-grid"><dl class="facts">'
            + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
            + f'<table class="params"><caption>hyperparameters (searched ones in bold)</caption>{cells}</table>'
            + "</div></section>")


# ------------------------------------------------------------------------------------------ table
def leaderboard_rows(run: RunData) -> pd.DataFrame:
    """Every trial, best first (ok by the metric, then diverged, then failed and crashed)."""
    if run.trials.empty:
        return run.trials
    return rank(run.trials, run.metric, run.maximize)


def _leaderboard_section(run: RunData) -> str:
    head = ('<section id="leaderboard"><h2>Leaderboard</h2>')
    ranked = leaderboard_rows(run)
    if ranked.empty:
        return head + '<p class="muted">No trial has finished yet.</p></section>'
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
    has_errors = ranked["error"].astype(str).str.strip().ne("").any()
    if has_errors:
        columns.append(("error", "error", "text"))
    header = "".join(
        f'<th scope="col" class="{kind}{" metric" if key == run.metric else ""}"'
        f'{" aria-sort=ascending" if key == "rank" else ""} title="sort by {_e(label)}">{_e(label)}</th>'
        for key, label, kind in columns)
    body = []
    for i, row in ranked.iterrows():
        status = str(row["status"])
        classes = [f"st-{status}"] + (["best"] if row["trial_id"] == run.best_id else [])
        cells = []
        for key, _, kind in columns:
            if key == "rank":
                cells.append(f'<td class="num" data-sort="{i + 1}">{i + 1}</td>')
            elif key == "trial_id":
                mark = ' <span class="star" title="best trial">\u2605</span>' if "best" in classes else ""
                cells.append(f"<td><code>{_e(row['trial_id'])}</code>{mark}</td>")
            elif key == "status":
                cells.append(f'<td><span class="badge {_e(status)}">{_e(status)}</span></td>')
            elif key == "error":
                text = str(row["error"])
                cells.append(f'<td class="err" title="{_e(text)}">{_e(text)}</td>')
            else:
                cells.append(_cell(row[key], key, kind, log=key in run.log_params))
        body.append(f'<tr class="{" ".join(classes)}">{"".join(cells)}</tr>')
    note = (f'<p class="muted">{len(ranked)} trials, ranked by {_e(run.metric)} '
            f"({'higher' if run.maximize else 'lower'} is better); diverged and failed trials last. "
            "Click a column header to sort by it, again to reverse.</p>")
    return (head + note + '<div class="table-wrap"><table id="leaderboard-table" class="sortable">'
            f"<thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table></div></section>")


def _cell(value, key: str, kind: str, log: bool = False) -> str:
    if kind != "num":
        return f"<td>{_e(value)}</td>"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"<td>{_e(value)}</td>"
    if math.isnan(number):
        return '<td class="num na" data-sort="">\u2013</td>'
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
    return f'<td class="num" data-sort="{number!r}">{_e(text)}</td>'


# ------------------------------------------------------------------------------------------ plots
def has_accuracies(trials: pd.DataFrame) -> bool:
    """Whether any trial has a class accuracy (False for regression runs)."""
    return bool("val_acc" in trials and pd.to_numeric(trials["val_acc"], errors="coerce").notna().any())


def _plots_section(run: RunData, plots: list[Path]) -> str:
    if not plots:
        return '<section id="plots"><h2>Plots</h2><p class="muted">Nothing to plot yet.</p></section>'
    figures = []
    slices = []
    for path in plots:
        title, text = caption(path.name, run.metric, accuracies=has_accuracies(run.trials))
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        figure = (f'<figure id="plot-{_e(path.stem)}"><h3>{_e(title)}</h3>'
                  f'<img src="data:image/png;base64,{data}" alt="{_e(title)}">'
                  f"<figcaption>{_e(text)}</figcaption></figure>")
        (slices if path.name.startswith("slice_") else figures).append((path.name, figure))
    out = []
    placed_slices = False
    for name, figure in figures:
        if not placed_slices and slices and name not in ("heatmap.png", "history.png"):
            out.append('<div class="slices">' + "".join(f for _, f in slices) + "</div>")
            placed_slices = True
        out.append(figure)
    if slices and not placed_slices:
        out.append('<div class="slices">' + "".join(f for _, f in slices) + "</div>")
    return '<section id="plots"><h2>Plots</h2>' + "".join(out) + "</section>"


CSS = """
:root{--fg:#1d2330;--muted:#667085;--line:#d9dee7;--bg:#ffffff;--soft:#f5f7fa;--best:#fff4cc;--accent:#2458b3}
*{box-sizing:border-box}
body{margin:0;background:var(--soft);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 40px;background:var(--bg)}
h1{margin:0;font-size:28px}h2{margin:34px 0 10px;font-size:20px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{margin:0 0 6px;font-size:15px}
.sub{margin:2px 0 0;color:var(--muted);font-size:13px;word-break:break-all}.desc{margin:8px 0 0}
.muted{color:var(--muted)}.warn{color:#b42318;font-weight:600}
code{font:13px/1.3 ui-monospace,"DejaVu Sans Mono",monospace}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:5px 18px;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.best-grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:24px;align-items:start}
table.params{border-collapse:collapse;font-size:14px}
table.params caption{text-align:left;color:var(--muted);font-size:13px;padding-bottom:4px}
table.params th{text-align:left;font-weight:normal;color:var(--muted);padding:2px 16px 2px 0}
table.params td{padding:2px 0;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px}
table.params tr.searched th,table.params tr.searched td{font-weight:700;color:var(--fg)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
background:#e4e7ec;color:#344054}
.badge.ok{background:#dcfae6;color:#067647}.badge.diverged{background:#fef0c7;color:#93370d}
.badge.failed,.badge.crashed{background:#fee4e2;color:#b42318}
.table-wrap{max-height:640px;overflow:auto;border:1px solid var(--line);border-radius:6px}
table.sortable{border-collapse:separate;border-spacing:0;width:100%;font-size:13px}
table.sortable th{position:sticky;top:0;z-index:1;background:#eef1f6;text-align:left;padding:6px 8px;
cursor:pointer;vertical-align:bottom;user-select:none;border-bottom:1px solid var(--line);line-height:1.25}
table.sortable th.num{text-align:right}
table.sortable th:hover{background:#e1e6ef}
table.sortable th::after{content:"\\2195";color:#98a2b3;margin-left:3px;font-size:11px;white-space:nowrap}
table.sortable th[aria-sort=ascending]::after{content:"\\25B2";color:var(--accent)}
table.sortable th[aria-sort=descending]::after{content:"\\25BC";color:var(--accent)}
table.sortable th.metric{color:var(--accent)}
table.sortable td{padding:4px 8px;border-bottom:1px solid #eef0f3;white-space:nowrap}
table.sortable td.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable td.na{color:#98a2b3}
table.sortable tbody tr:hover{background:#f0f4ff}
tr.best{background:var(--best)}tr.best:hover{background:#ffeeaa}
.star{color:#d4a106}
tr.st-diverged td,tr.st-failed td,tr.st-crashed td{color:#667085}
td.err{white-space:normal;min-width:16em;max-width:34em;color:#b42318!important;font-size:12px}
figure{margin:18px 0 26px}
figure img{display:block;max-width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
figcaption{color:var(--muted);font-size:13.5px;margin-top:6px;max-width:60em}
.slices{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:0 22px}
.slices figure{margin:12px 0 18px}
footer{margin-top:30px;color:var(--muted);font-size:12px}
@media (max-width:800px){.best-grid{grid-template-columns:1fr}main{padding:14px}}
"""

SCRIPT = """
(function () {
  function key(cell) {
    var raw = cell.hasAttribute('data-sort') ? cell.getAttribute('data-sort') : cell.textContent.trim();
    if (raw === '') return null;
    var n = Number(raw);
    return isNaN(n) ? raw : n;
  }
  function compare(a, b) {
    if (a === null || b === null) return a === b ? 0 : (a === null ? 1 : -1);
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a).localeCompare(String(b), undefined, {numeric: true, sensitivity: 'base'});
  }
  function sortBy(table, th, col) {
    var ascending = th.getAttribute('aria-sort') !== 'ascending';
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return {row: row, key: key(row.cells[col]), i: i};
    });
    rows.sort(function (a, b) {
      if (a.key === null || b.key === null) {  /* empty cells last, whichever the direction */
        return a.key === b.key ? a.i - b.i : (a.key === null ? 1 : -1);
      }
      var c = compare(a.key, b.key);
      return (ascending ? c : -c) || a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener('click', function () { sortBy(table, th, col); });
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
})();
"""

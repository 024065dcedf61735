"""Two or more runs side by side: what ``sweep compare`` prints and its page shows.

    from sweep.results.compare import compare_runs

    comparison = compare_runs([sweep.load_run(a), sweep.load_run(b)])
    comparison.table()       # pandas: one row per fact (folder, method, metric, trials, best...), one column per run
    comparison.settings      # pandas: the best trials' settings, one row per parameter, ``differs`` marked
    comparison.verdict       # one line: which run's best is better and by how much, or why none is

Runs are named A, B, C... in the order given. Their metrics are compared only when every run
ranks by the same metric with the same goal; otherwise the verdict says they are not comparable
and names no better run (a validation accuracy is not better or worse than a loss).
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..status import CRASHED, DIVERGED, FAILED, OK, STOPPED
from .analysis import started_and_wall, status_counts, training_seconds
from .run import Run


@dataclass
class RunFacts:
    """One run's column: what it is, how its trials ended and its best trial."""

    label: str
    run_dir: Path
    name: str
    method: str
    data: str
    metric: str
    maximize: bool
    counts: dict[str, int]
    searched: list[str]
    best_id: str | None
    best_value: float | None
    best_settings: dict
    test: str | None
    training_seconds: float | None
    wall_seconds: float | None

    @property
    def goal(self) -> str:
        return "maximize" if self.maximize else "minimize"


@dataclass
class Comparison:
    """The runs' facts, the settings of their best trials, and the verdict (see the module docstring).

    ``better`` is the label of the run whose best is better (None when the runs are not comparable,
    tie, or fewer than two have a scored trial); ``margin`` how much better, in the metric's units,
    than the next best run.
    """

    runs: list[RunFacts]
    settings: pd.DataFrame
    comparable: bool
    verdict: str
    better: str | None = None
    margin: float | None = None
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """The side-by-side table as text: one row per fact, one column per run (its label)."""
        rows = {
            "folder": [str(r.run_dir) for r in self.runs],
            "experiment": [r.name for r in self.runs],
            "data": [r.data for r in self.runs],
            "method": [r.method for r in self.runs],
            "metric": [f"{r.metric} ({r.goal})" for r in self.runs],
            "trials": [trials_text(r.counts) for r in self.runs],
            "best trial": [r.best_id or "none scored" for r in self.runs],
            "best metric": [metric_text(r.best_value, r.metric) for r in self.runs],
        }
        if any(r.test for r in self.runs):
            rows["test score"] = [r.test or "-" for r in self.runs]
        rows["seconds"] = [seconds_text(r) for r in self.runs]
        return pd.DataFrame(rows, index=[r.label for r in self.runs]).T


def run_label(i: int) -> str:
    """A, B, ..., Z, then R27, R28...: the name of the i-th run (from 0) in the table and the figure."""
    return string.ascii_uppercase[i] if i < 26 else f"R{i + 1}"


def compare_runs(runs: list[Run]) -> Comparison:
    """Compare runs read by :func:`~sweep.results.load_run` (two or more, in the order to show them)."""
    facts = [run_facts(run_label(i), run) for i, run in enumerate(runs)]
    settings = settings_table(facts, runs)
    notes = []
    same = {(f.metric, f.maximize) for f in facts}
    comparable = len(same) == 1
    better = margin = None
    if not comparable:
        metrics = ", ".join(f"{f.label} {f.metric} ({f.goal})" for f in facts)
        verdict = f"not comparable: the runs rank by different metrics ({metrics}); no run is called better"
    else:
        verdict, better, margin = _verdict(facts)
        datas = {f.data for f in facts}
        if len(datas) > 1:
            notes.append("the runs use different data (" + ", ".join(f"{f.label} {f.data}" for f in facts)
                         + "): the same metric on other data may not mean the same")
    return Comparison(facts, settings, comparable, verdict, better, margin, notes)


def _verdict(facts: list[RunFacts]) -> tuple[str, str | None, float | None]:
    """(one line, label of the better run, its margin) for runs that rank by the same metric."""
    metric, maximize = facts[0].metric, facts[0].maximize
    scored = [f for f in facts if f.best_value is not None and math.isfinite(f.best_value)]
    unscored = [f.label for f in facts if f not in scored]
    missing = f"; {', '.join(unscored)} {'has' if len(unscored) == 1 else 'have'} no scored trial" if unscored else ""
    if len(scored) < 2:
        return f"no comparison: fewer than two runs have a scored trial{missing}", None, None
    ordered = sorted(scored, key=lambda f: -f.best_value if maximize else f.best_value)
    first, second = ordered[0], ordered[1]
    margin = abs(first.best_value - second.best_value)
    if margin == 0:
        tied = [f.label for f in ordered if f.best_value == first.best_value]
        return (f"{' and '.join(tied)} tie: {metric} {metric_text(first.best_value, metric)}{missing}", None, 0.0)
    relative = f" ({100 * margin / abs(second.best_value):.2f}%)" if second.best_value != 0 else ""
    word = "better" if len(scored) == 2 else "best"
    than = f"{second.label}'s" if len(scored) == 2 else f"the next, {second.label}'s"
    return (f"{first.label} ({first.run_dir}) is {word}: {metric} {metric_text(first.best_value, metric)} against "
            f"{than} {metric_text(second.best_value, metric)}, {'higher' if maximize else 'lower'} by "
            f"{margin:.4g}{relative}{missing}", first.label, margin)


def run_facts(label: str, run: Run) -> RunFacts:
    exp = run.experiment
    counts = status_counts(run.trials) if not run.trials.empty else {}
    best_value = None
    settings = {}
    row = None
    if run.best_id is not None and not run.trials.empty:
        rows = run.trials[run.trials["trial_id"] == run.best_id]
        row = rows.iloc[0] if not rows.empty else None
    if row is not None:
        value = pd.to_numeric(pd.Series([row.get(run.metric)]), errors="coerce").iloc[0]
        best_value = None if pd.isna(value) else float(value)
        settings = {name: _plain(row[name]) for name in _parameter_columns(run) if name in row.index}
    _, wall = started_and_wall(exp, run.run_dir)
    seconds = training_seconds(run.trials) if "seconds" in run.trials and not run.trials.empty else None
    return RunFacts(label=label, run_dir=run.run_dir, name=str(exp.get("name") or run.run_dir.name),
                    method=_method(exp), data=_data(exp), metric=run.metric, maximize=run.maximize, counts=counts,
                    searched=searched_parameters(run), best_id=run.best_id, best_value=best_value,
                    best_settings=settings, test=_test(run), training_seconds=seconds, wall_seconds=wall)


def searched_parameters(run: Run) -> list[str]:
    """The parameters the run's experiment searched (its ``parameters`` block without constants), in its
    order; when the block is unreadable, those that took more than one value."""
    from ..space import flat_blocks

    specs = flat_blocks(run.experiment.get("parameters"))  # nested parameters by their columns' names
    if not isinstance(specs, dict) or not specs:
        return list(run.params)
    return [str(name) for name, spec in specs.items()
            if not (isinstance(spec, dict) and (spec.get("distribution") == "constant"
                                                or ("value" in spec and "values" not in spec
                                                    and "distribution" not in spec)))]


def _parameter_columns(run: Run) -> list[str]:
    """Every hyperparameter column of the run's trials (a program's: its parameters)."""
    from .analysis import hyperparameter_columns

    program = run.experiment.get("program_parameters")
    if isinstance(program, dict):
        return [str(p) for p in program]
    return hyperparameter_columns(run.trials)


def settings_table(facts: list[RunFacts], runs: list[Run]) -> pd.DataFrame:
    """The best trials' settings: one row per parameter, one column per run (None where the run has no
    such parameter), ``searched`` (the labels of the runs that searched it, as text) and ``differs``.

    The rows are the parameters any run searched, then the others that every best trial has, with
    values that differ (a fixed optimizer that is not the same says more than any searched one).
    """
    searched = list(dict.fromkeys(p for f in facts for p in f.searched))
    others = list(dict.fromkeys(p for f in facts for p in f.best_settings if p not in searched))
    rows = []
    for name in searched + others:
        values = [f.best_settings.get(name) for f in facts]
        differs = len({_key(v) for v in values}) > 1 and any(f.best_id for f in facts)
        if name in others and (not differs or any(name not in f.best_settings for f in facts if f.best_id)):
            continue  # a fixed parameter is shown when every best trial has it, with different values
        rows.append({"parameter": name, **{f.label: v for f, v in zip(facts, values)},
                     "searched": ",".join(f.label for f in facts if name in f.searched), "differs": differs})
    columns = ["parameter", *(f.label for f in facts), "searched", "differs"]
    return pd.DataFrame(rows, columns=columns, dtype=object).set_index("parameter")


def _key(value):
    """A value as compared between runs: 64 and 64.0 are the same, NaN equals NaN, None is missing."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return "nan" if isinstance(value, float) and math.isnan(value) else float(value)
    return str(value)


def _plain(value):
    """A cell of a trials row as a plain Python value (numpy scalars unwrapped)."""
    return value.item() if hasattr(value, "item") else value


def _method(exp: dict) -> str:
    method = str(exp.get("method", "?"))
    if exp.get("run_cap"):
        method += f" (run_cap {exp['run_cap']})"
    early = exp.get("early_terminate")
    if isinstance(early, dict) and early.get("type"):
        method += f" + {early['type']}"
    repeats = exp.get("repeats")
    if isinstance(repeats, int) and repeats > 1:
        method += f", {repeats} seeds"
    return method


def _data(exp: dict) -> str:
    """The data set's name, or for a program sweep ``program FILE`` (it reads its own data)."""
    if exp.get("program"):
        return f"program {exp['program']}"
    dataset = exp.get("dataset")
    if isinstance(dataset, dict):
        return str(dataset.get("name", "?"))
    return str(dataset) if dataset else "?"


def _test(run: Run) -> str | None:
    s = run.best
    if not s:
        return None
    if s.get("test_acc") is not None:
        return f"test_acc {s['test_acc']:.4f}"
    if s.get("test_loss") is not None:
        return f"test_loss {s['test_loss']:.4g}"
    return None


def trials_text(counts: dict[str, int]) -> str:
    """``4 ok, 1 stopped, 0 failed`` (failed counts crashed too; diverged and unknown statuses added when any)."""
    failed = counts.get(FAILED, 0) + counts.get(CRASHED, 0)
    text = f"{counts.get(OK, 0)} ok, {counts.get(STOPPED, 0)} stopped, {failed} failed"
    others = {s: n for s, n in counts.items() if s not in (OK, STOPPED, FAILED, CRASHED) and n}
    if others.get(DIVERGED):
        text += f", {others.pop(DIVERGED)} diverged"
    return text + "".join(f", {n} {s}" for s, n in sorted(others.items()))


def metric_text(value: float | None, metric: str) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.4f}" if metric.endswith("acc") else f"{value:.4g}"


def seconds_text(facts: RunFacts) -> str:
    """``41.2 wall, 70.3 training``: from the start to the last result, and summed over training runs."""
    parts = []
    if facts.wall_seconds is not None:
        parts.append(f"{facts.wall_seconds:.1f} wall")
    if facts.training_seconds is not None:
        parts.append(f"{facts.training_seconds:.1f} training")
    return ", ".join(parts) or "not recorded"

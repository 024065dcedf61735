"""The CSV records of a run folder, read back trusting only rows that can be proven.

A run folder outlives the process that wrote it: it is killed mid-write, opened in a spreadsheet
and saved again (a UTF-8 byte-order mark, columns moved, the last newline dropped, ``;`` between
fields), shared, archived and edited by hand. :func:`read_table` reads such a file the way a
careful person would:

- the header is found by its names, whatever their order, with or without a byte-order mark; a
  file whose header line was deleted is read in the standard column order when its first line is
  a complete row;
- each row is checked (:func:`trial_row_problem`, :func:`history_row_problem`): a row that cannot
  be proven to be a finished trial of this run (text in a metric column, an unknown status, a trial
  the plan does not know, values other than the plan's) is *rejected*, with its line number;
- a last line without its newline that is not a complete row is a write cut short (``kill -9``,
  a full disk) and is left out; a row given twice, identically, counts once;
- NUL bytes at the end of the file are what a power cut leaves (the file's length was saved, its
  last blocks were not): they are left out too, with the torn line before them.

The result is a :class:`Table`. Whoever reads it decides: resuming refuses a table with rejected
rows and leaves the files as they are; the leaderboard and the report show the proven rows and
warn about the others.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from ..errors import SweepError
from ..params import ADDED_LATER, BUILTIN, ParamTable, recorded_table
from ..status import OK, STATUSES
from .files import (
    BEST_DIR,
    EXPERIMENT_FILE,
    HISTORY_COLUMNS,
    HISTORY_FILE,
    METRIC_COLUMNS,
    MODEL_RESULTS,
    ResultColumns,
    program_results,
    COLUMN_DEFAULTS,
    PLAN_FILE,
    SUMMARY_FILE,
    TRIALS_FILE,
    plan_columns,
    trial_columns,
)

#: Rows quoted in a problem message.
_QUOTED = 3


@dataclass
class Table:
    """A CSV record file read back: its proven rows (as text, by column name) and what was off.

    ``format_changes`` lists differences from the standard format that lose nothing when the file
    is written again in it (a byte-order mark, another column order...); ``rejected`` the rows that
    could not be proven, as (line number, reason). ``line_numbers[i]`` is the line of ``rows[i]``
    in the file as read. ``torn`` is the line number of a last line cut short (0 when there is
    none) and ``torn_id`` its first field as far as it goes (the start of a trial id);
    ``padding`` counts the NUL bytes that ended the file. ``params`` are the run's hyperparameters.
    """

    path: Path
    columns: tuple
    rows: list[dict] = field(default_factory=list)
    params: ParamTable = BUILTIN  # the run's hyperparameters (their columns and how their text reads)
    results: ResultColumns = MODEL_RESULTS  # what the run records of its trials (trials.csv and history.csv)
    line_numbers: list[int] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    format_changes: list[str] = field(default_factory=list)
    torn: int = 0
    torn_id: str = ""
    padding: int = 0
    duplicates: int = 0

    @property
    def standard(self) -> bool:
        """Whether the file is byte for byte what the store writes (nothing to repair)."""
        return not (self.format_changes or self.torn or self.padding or self.duplicates or self.rejected)

    def damage(self) -> str:
        """What a crash left at the end of the file, in a few words (empty when nothing):
        ``4096 NUL bytes at its end and line 9 cut short``."""
        parts = ([f"{self.padding:,} NUL byte{'s' * (self.padding > 1)} at its end"] if self.padding else []) + \
            ([f"line {self.torn} cut short"] if self.torn else [])
        return " and ".join(parts)

    def problem(self) -> str:
        """The rejected rows in a few words: ``line 7: unknown status 'okk' (and 2 more lines)``."""
        parts = [f"line {line}: {why}" for line, why in self.rejected[:_QUOTED]]
        more = len(self.rejected) - _QUOTED
        return "; ".join(parts) + (f" (and {more} more line{'s' * (more > 1)})" if more > 0 else "")

    def to_bytes(self) -> bytes:
        """The proven rows in the standard format: the header, then one line per row."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows([row.get(c, "") for c in self.columns] for row in self.rows)
        return buf.getvalue().encode()


def read_table(path: Path, columns: tuple, key: Callable[[dict], object], *, optional: tuple = (),
               row_problem: Callable[[dict], str | None] = lambda row: None, head_columns: int = 2) -> Table:
    """Read the CSV file ``path`` whose standard header is ``columns``.

    ``key(row)`` identifies a row (a row with the key of an earlier one is a duplicate);
    ``row_problem(row)`` says why a row cannot be trusted, or None; ``optional`` columns may be
    missing from the header. A file that is not a CSV of these columns at all raises a one-line
    :class:`SweepError`.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SweepError(f"{path} is missing") from None
    except OSError as exc:
        raise SweepError(f"cannot read {path}: {exc.strerror or exc}") from None
    table = Table(path, columns)
    if data.startswith(b"\xef\xbb\xbf"):
        table.format_changes.append("a UTF-8 byte-order mark")
        data = data[3:]
    unpadded = data.rstrip(b"\0")
    table.padding = len(data) - len(unpadded)
    data = unpadded
    if b"\0" in data:
        raise SweepError(f"{path} is not a CSV file (it holds binary data)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SweepError(f"{path} is not a CSV file (byte {exc.start} is not UTF-8 text)") from None
    if "\r\n" in text:
        table.format_changes.append("Windows line ends")
    lines = text.split("\n")
    # A write cut short (kill -9, a full disk) leaves a last line without its newline.
    cut_short = bool(lines[-1].strip())
    first_line = next((line for line in lines if line.strip()), "")
    delimiter = ","
    if "," not in first_line:
        delimiter = next((d for d in ";\t" if d in first_line), ",")
        if delimiter != ",":
            table.format_changes.append(f"{'semicolons' if delimiter == ';' else 'tabs'} between fields")
    records = [(number, cells) for number, cells in _records(lines, delimiter) if any(c.strip() for c in cells)]
    if not records:
        raise SweepError(f"{path} is empty (not even its header line); it is not a record of this run")
    header = [c.strip() for c in records[0][1]]
    if set(header) <= set(columns) and set(columns) - set(header) <= set(optional) and len(set(header)) == len(header):
        if tuple(header) != columns:
            missing = [c for c in columns if c not in header]
            table.format_changes.append(f"an earlier version's columns (no {', '.join(missing)})" if missing
                                        else "its columns in another order")
        body = records[1:]
    elif len(records[0][1]) == len(columns) and row_problem(dict(zip(columns, records[0][1]))) is None:
        header = list(columns)
        table.format_changes.append("no header line")
        body = records
    else:
        known = [c for c in header if c in columns]
        raise SweepError(f"{path}: the first line is neither the header ({', '.join(columns[:head_columns])}, ...) "
                         f"nor a row" + (f"; it names {len(known)} of the {len(columns)} columns" if known else ""))
    missing_optional = [c for c in optional if c not in header]
    first_line_of: dict = {}
    for index, (line, cells) in enumerate(body):
        if cut_short and index == len(body) - 1 and (len(cells) < len(header) or cells == _UNREADABLE):
            table.torn = line  # fewer fields than a row, or a quote left open: a write that was cut short
            table.torn_id = lines[line - 1].split(delimiter)[0].strip().strip('"')
            continue
        if len(cells) != len(header):
            table.rejected.append((line, "an unreadable line (an unclosed quote?)" if cells == _UNREADABLE else
                                   f"has {len(cells)} fields, the header {len(header)}"))
            continue
        row = {c: cells[i].strip() for i, c in enumerate(header)}
        for column in missing_optional:  # an earlier version's file: the value that meant "as before"
            row[column] = COLUMN_DEFAULTS.get(column, "")
        problem = row_problem(row)
        if problem is not None:
            table.rejected.append((line, problem))
            continue
        row_key = key(row)
        if row_key in first_line_of:
            earlier = first_line_of[row_key]
            if all(row[c] == earlier[1][c] for c in header):
                table.duplicates += 1
            else:
                table.rejected.append((line, f"gives {_show(row_key)} again with other values (first on line "
                                             f"{earlier[0]})"))
            continue
        first_line_of[row_key] = (line, row)
        table.rows.append(row)
        table.line_numbers.append(line)
    if text and not text.endswith("\n") and not table.torn:
        table.format_changes.append("no newline after the last line")
    return table


_UNREADABLE = ["<unreadable>"]


def _records(lines: list[str], delimiter: str):
    """(1-based line number, cells) of each line. The store never writes a field with a line break,
    so each line is read alone: an unclosed quote spoils one line, not every line after it."""
    for number, line in enumerate(lines, start=1):
        try:
            cells = next(csv.reader([line.rstrip("\r")], delimiter=delimiter, strict=True), [])
        except csv.Error:
            cells = _UNREADABLE
        yield number, cells


def _show(key) -> str:
    return f"trial {key[0]} epoch {key[1]:g}" if isinstance(key, tuple) else f"trial {key}"


def _number_problem(row: dict, names) -> str | None:
    for name in names:
        text = row.get(name, "")
        if text == "":
            continue
        try:
            float(text)
        except ValueError:
            return f"{name} is {text[:40]!r}, not a number"
    return None


def trial_row_problem(planned: Mapping | None = None, params: ParamTable = BUILTIN,
                      results: ResultColumns = MODEL_RESULTS) -> Callable[[dict], str | None]:
    """Why a trials.csv row is not a finished trial of this run (None when it is).

    ``planned`` maps trial ids to their :class:`~sweep.plan.TrialSpec` (or to plan.csv rows): the
    row's trial must be planned and its hyperparameters (``params``), seed and repeat must be the plan's;
    its metric columns (of ``results``) numbers.
    """

    def problem(row: dict) -> str | None:
        trial_id = row.get("trial_id", "")
        if not trial_id:
            return "no trial_id"
        status = row.get("status", "")
        if status not in STATUSES:
            return f"unknown status {status[:40]!r} (a finished trial is {', '.join(STATUSES)})"
        bad = _number_problem(row, results.metrics)
        if bad:
            return bad
        if status == OK and row.get(results.required, "") == "":
            return f"an ok trial without {results.required}"
        if planned is None:
            return None
        spec = planned.get(trial_id)
        if spec is None:
            return f"trial {trial_id[:40]!r} is not in this run's plan"
        return _differs_from_plan(row, spec, params)

    return problem


def _differs_from_plan(row: dict, spec, params: ParamTable) -> str | None:
    difference = plan_difference(row, spec, params)
    if difference is None:
        return None
    name, text, planned = difference
    return f"{name} is {text[:40]!r}, {'the plan says' if hasattr(spec, 'params') else PLAN_FILE + ' says'} {planned!r}"


def plan_difference(row: dict, spec, params: ParamTable = BUILTIN) -> tuple[str, str, object] | None:
    """The first value in which the CSV row ``row`` (text by column) differs from ``spec`` (a
    :class:`~sweep.plan.TrialSpec`, or a plan.csv row as :func:`plan_spec` gives it): (column, the
    row's text, the planned value); None when it agrees on every hyperparameter of ``params``, the
    seed and the repeat."""
    if hasattr(spec, "params"):
        values, seed, repeat = spec.params, spec.seed, spec.repeat
        same = {name: (lambda text, value, kind=params[name]: kind.same(text, value)) for name in params}
    else:  # a plan.csv row: text against text, read as each kind reads it
        values, seed, repeat = spec, spec.get("seed"), spec.get("repeat")
        same = {name: (lambda text, value, kind=params[name]: _same_text(kind, text, value)) for name in params}
    for name in params:
        if name in row and not same[name](row[name], values.get(name)):
            return name, row[name], values.get(name)
    for name, value in (("seed", seed), ("repeat", repeat)):
        if name in row and not _same_number(row[name], value):
            return name, row[name], value
    return None


def _same_text(kind, text: str, planned) -> bool:
    """Whether two CSV fields of a hyperparameter hold the same value."""
    try:
        return planned is not None and kind.same(text, kind.from_text(planned))
    except (TypeError, ValueError):
        return False


def _same_number(text: str, value) -> bool:
    try:
        return math.isclose(float(text), float(value), rel_tol=1e-9, abs_tol=0.0)
    except (TypeError, ValueError):
        return False


def history_row_problem(recorded: set | None = None, results: ResultColumns = MODEL_RESULTS) -> Callable:
    """Why a history.csv row is not an epoch of a recorded trial (None when it is); a program's rows are
    a value of a line it logged (``step`` a whole number >= 1, any value)."""

    def problem(row: dict) -> str | None:
        if not row.get("trial_id"):
            return "no trial_id"
        if results.program:
            step = row.get("step", "")
            if not step.isdigit() or int(step) < 1:
                return f"step is {step[:40]!r}, not a whole number >= 1"
            return None if row.get("name") else "no name"
        try:
            epoch = float(row.get("epoch", ""))
        except ValueError:
            return f"epoch is {row.get('epoch', '')[:40]!r}, not a number"
        if not epoch.is_integer() or epoch < 1:
            return f"epoch is {row['epoch']!r}, not a whole number >= 1"
        return _number_problem(row, HISTORY_COLUMNS[2:])

    return problem


def plan_row_problem(row: dict) -> str | None:
    """Why a plan.csv row is not a planned trial (None when it is)."""
    if not row.get("trial_id"):
        return "no trial_id"
    return _number_problem(row, ("seed", "repeat"))


def read_plan(run_dir: Path, params: ParamTable | None = None) -> Table:
    """plan.csv of ``run_dir``; ``params``, the run's hyperparameters, by default those its
    experiment.yaml records (:func:`run_params`)."""
    params = params or run_params(run_dir)
    table = read_table(Path(run_dir) / PLAN_FILE, plan_columns(params.names), key=lambda r: r["trial_id"],
                       optional=_added_later(params), row_problem=plan_row_problem)
    table.params = params
    return table


def read_trials_table(run_dir: Path, planned: Mapping | None = None, params: ParamTable | None = None) -> Table:
    """trials.csv of ``run_dir``, every row checked against ``planned`` when it is given; ``params`` as
    :func:`read_plan` takes them."""
    params = params or run_params(run_dir)
    results = run_results(run_dir)
    table = read_table(Path(run_dir) / TRIALS_FILE, trial_columns(params.names, results.metrics),
                       key=lambda r: r["trial_id"], optional=("worker", *_added_later(params)),
                       row_problem=trial_row_problem(planned, params, results))
    table.params = params
    table.results = results
    return table


def _added_later(params: ParamTable) -> tuple[str, ...]:
    """Columns of ``params`` a run of an earlier version may lack (read at their neutral value)."""
    return tuple(name for name in ADDED_LATER if name in params)


def read_history_table(run_dir: Path) -> Table:
    """history.csv of ``run_dir`` (of the columns its :func:`run_results` says)."""
    results = run_results(run_dir)
    if results.program:
        table = read_table(Path(run_dir) / HISTORY_FILE, results.history,
                           key=lambda r: (r["trial_id"], int(r["step"]), r["name"]),
                           row_problem=history_row_problem(results=results))
    else:
        table = read_table(Path(run_dir) / HISTORY_FILE, HISTORY_COLUMNS,
                           key=lambda r: (r["trial_id"], float(r["epoch"])), row_problem=history_row_problem())
    table.results = results
    return table


def read_trial_records(run_dir: Path) -> list[dict]:
    """The proven rows of trials.csv, typed (:func:`trial_records`): a run's trials without pandas."""
    params = run_params(run_dir)
    return trial_records(read_trials_table(run_dir, planned_rows(run_dir, params), params))


def trial_records(table: Table) -> list[dict]:
    """The rows of a trials table with their values typed: metrics as floats (NaN when blank),
    hyperparameters as their kind says, ``seed`` and ``repeat`` as ints; ``order`` (1-based, the
    completion order) added. What :mod:`sweep.results.ranking` ranks, without pandas."""
    records = []
    for order, row in enumerate(table.rows, start=1):
        record = dict(row, order=order)
        for name in table.results.metrics:
            record[name] = _float(row.get(name, ""))
        for name in table.params:
            if name in row:
                record[name] = table.params[name].from_text(row[name])
        for name in ("seed", "repeat"):
            record[name] = int(row[name])
        records.append(record)
    return records


def history_records(table: Table) -> dict[str, list[dict]]:
    """trial_id -> the epochs of a history table as dicts of floats (``epoch`` an int), in epoch order;
    a program's: its lines as dicts of values (numbers as floats), ``step`` an int, in step order."""
    by_trial: dict[str, list[dict]] = {}
    if table.results.program:
        lines: dict[tuple, dict] = {}
        for row in table.rows:
            step = int(row["step"])
            lines.setdefault((row["trial_id"], step), {"step": step})[row["name"]] = _value(row["value"])
        for (trial_id, _), line in sorted(lines.items(), key=lambda item: (item[0][0], item[0][1])):
            by_trial.setdefault(trial_id, []).append(line)
        return by_trial
    for row in table.rows:
        record = {name: _float(row[name]) for name in HISTORY_COLUMNS if name != "trial_id"}
        record["epoch"] = int(record["epoch"])
        by_trial.setdefault(row["trial_id"], []).append(record)
    for records in by_trial.values():
        records.sort(key=lambda r: r["epoch"])
    return by_trial


def _float(text: str) -> float:
    return float(text) if text.strip() else math.nan


def _value(text: str):
    """A program's logged value from its history.csv field: a number when it reads as one, else the text."""
    try:
        return float(text)
    except ValueError:
        return text


def planned_rows(run_dir: Path, params: ParamTable | None = None) -> dict | None:
    """trial_id -> plan.csv row (hyperparameters, seed, repeat) of ``run_dir``; None when plan.csv
    is missing or damaged (the rows of trials.csv are then checked without it)."""
    params = params or run_params(run_dir)
    try:
        plan = read_plan(run_dir, params)
    except SweepError:
        return None
    if plan.rejected:
        return None
    return {row["trial_id"]: plan_spec(row, params) for row in plan.rows}


def plan_spec(row: dict, params: ParamTable = BUILTIN) -> dict:
    """A plan.csv row as a trial's values: its hyperparameters (of ``params``), ``seed`` and ``repeat``
    (as text)."""
    spec = {name: row.get(name) for name in params}
    spec.update(seed=row.get("seed"), repeat=row.get("repeat"))
    return spec


_run_params_cache: dict[str, tuple[tuple, ParamTable]] = {}


def run_results(run_dir: Path) -> ResultColumns:
    """What the run in ``run_dir`` records of its trials: a program's metric columns when its
    experiment.yaml runs a program, else a net's."""
    document = read_experiment_document(run_dir)
    if "program_parameters" in document:
        metric = document.get("metric")
        name = metric.get("name") if isinstance(metric, dict) else None
        if isinstance(name, str) and name:
            return program_results(name)
    return MODEL_RESULTS


def run_params(run_dir: Path) -> ParamTable:
    """The hyperparameters of the run in ``run_dir`` (its columns), from the experiment.yaml it recorded:
    the built-in net's when it names no model (or cannot be read). Cached while the file is unchanged."""
    path = Path(run_dir) / EXPERIMENT_FILE
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    except OSError:
        return BUILTIN
    cached = _run_params_cache.get(str(path))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        params = recorded_table(read_experiment_document(run_dir))
    except ValueError as exc:
        raise SweepError(f"{path}: {exc}") from None
    _run_params_cache[str(path)] = (stamp, params)
    return params


# ------------------------------------------------------------------------------ the other files
#: Largest experiment.yaml or summary.json read back (both are a few kilobytes).
_MAX_DOCUMENT_BYTES = 1 << 20
_NUMBER_KEYS = ("val_acc", "val_loss", "train_acc", "train_loss", "test_acc", "test_loss", "retrain_seconds")


def read_experiment_document(run_dir: Path, problems: list | None = None) -> dict:
    """The run's experiment.yaml as plain data; ``{}`` (and a line in ``problems``) when it is
    missing or damaged, so what reads a run can still show the rest."""
    from .. import yamlio

    path = Path(run_dir) / EXPERIMENT_FILE
    if not path.is_file():
        return {}
    try:
        document = yamlio.load_file(path, "run's experiment file").data
    except SweepError as exc:
        if problems is not None:
            problems.append(f"{exc}; read as empty")
        return {}
    if not isinstance(document, dict):
        if problems is not None:
            problems.append(f"{path}: not a mapping of keys; read as empty")
        return {}
    return document


def read_json_document(path: Path, max_bytes: int):
    """The JSON value in ``path``, read up to ``max_bytes``; a one-line SweepError when it cannot be read,
    is larger, or is not JSON (a file the run wrote, damaged or replaced since)."""
    import json

    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ValueError(f"larger than {max_bytes:,} bytes")
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise SweepError(f"{path} is damaged (nested too deep to be a file sweep wrote)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SweepError(f"{path} is damaged ({str(exc).splitlines()[0][:120]})") from None


def read_summary(run_dir: Path) -> dict | None:
    """best/summary.json, checked; None when the run has none yet. A damaged file is a one-line SweepError."""
    path = Path(run_dir) / BEST_DIR / SUMMARY_FILE
    if not path.is_file():
        return None
    summary = read_json_document(path, _MAX_DOCUMENT_BYTES)
    problem = _summary_problem(summary)
    if problem:
        raise SweepError(f"{path} is damaged: {problem}")
    return summary


def _summary_problem(summary) -> str | None:
    if not isinstance(summary, dict):
        return "not a JSON object"
    if not isinstance(summary.get("trial_id"), str):
        return f"trial_id is {summary.get('trial_id')!r}"
    metric = summary.get("metric")
    if not isinstance(metric, dict) or not isinstance(metric.get("name"), str) or not _number_or_none(
            metric.get("value")):
        return f"metric is {metric!r}"
    for key in _NUMBER_KEYS:
        if not _number_or_none(summary.get(key)):
            return f"{key} is {summary.get(key)!r}, not a number"
    for key in ("test_rows", "val_rows", "epochs_trained"):
        value = summary.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            return f"{key} is {value!r}, not a whole number"
    for key in ("params",):
        if summary.get(key) is not None and not isinstance(summary[key], dict):
            return f"{key} is {summary[key]!r}"
    digest = summary.get("model_sha256")
    if digest is not None and not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
        return f"model_sha256 is {str(digest)[:80]!r}, not a SHA-256"
    shape = summary.get("image_shape")
    if shape is not None and not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool)
                                                                 and d > 0 for d in shape)):
        return f"image_shape is {shape!r}"
    return None


def _number_or_none(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))

"""The metric lines a program writes: one JSON object per line, appended to ``$SWEEP_METRICS``.

Any language can write them (``echo '{"epoch": 1, "val_acc": 0.9}' >> "$SWEEP_METRICS"``); from
Python :func:`sweep.log` does. A line may carry ``epoch`` (or W&B's ``_step``); every key is kept.
The sweep's metric is read from the lines that carry it: its last value is the trial's (W&B's
summary), and the number of lines that carry it as a finite number is how far the trial got (W&B's
hyperband counts its iterations so: ``metric_history(filter_invalid=True)`` in wandb/sweeps
``hyperband_stopping.py``). Lines are numbered from 1 in the order written (their ``step``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

#: Largest metrics file read (a program that logs a million lines is a bug, not a sweep).
MAX_BYTES = 64 << 20


class MalformedLine(ValueError):
    """A line that is not a JSON object, or whose metric is not a number."""


@dataclass
class MetricLines:
    """The lines of one metrics file read so far (see :meth:`read_more`)."""

    path: Path
    metric: str
    records: list[dict] = field(default_factory=list)  # each line's object, with ``step`` (1-based)
    values: list[float] = field(default_factory=list)  # the metric, from the lines that carry it finite
    offset: int = 0
    problem: str = ""  # the first malformed line, in words (nothing is read after it)

    def read_more(self, final: bool = False) -> None:
        """Read the complete lines written since the last call (``final``: the program has ended, so a
        last line without its newline counts too)."""
        if self.problem:
            return
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(MAX_BYTES + 1 - self.offset)
        except FileNotFoundError:
            return
        if self.offset + len(data) > MAX_BYTES:
            self.problem = f"the metrics file grew past {MAX_BYTES >> 20} MB"
            return
        end = len(data) if final else data.rfind(b"\n") + 1
        for raw in data[:end].splitlines():
            if raw.strip():
                try:
                    self._take(raw)
                except MalformedLine as exc:
                    self.problem = f"line {len(self.records) + 1} of $SWEEP_METRICS {exc}"
                    return
        self.offset += end

    def _take(self, raw: bytes) -> None:
        try:
            line = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: JSON nested too deep
            raise MalformedLine(f"is not JSON: {raw[:80].decode('utf-8', 'replace')!r}") from None
        if not isinstance(line, dict):
            raise MalformedLine(f"is not a JSON object: {raw[:80].decode('utf-8', 'replace')!r}")
        record = {_own_name(key): value for key, value in line.items()}
        if self.metric in record:
            value = record[self.metric]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise MalformedLine(f"gives {self.metric} {str(value)[:40]!r}, not a number")
            try:
                value = record[self.metric] = float(value)
            except OverflowError:  # a whole number past float's range
                raise MalformedLine(f"gives {self.metric} {str(value)[:40]}, beyond a float's range") from None
            if math.isfinite(value):
                self.values.append(value)
        self.records.append({**record, "step": len(self.records) + 1})

    def cut(self, iterations: int) -> list[dict]:
        """The records up to the line that carries the metric (finite) for the ``iterations``-th time."""
        seen = 0
        for index, record in enumerate(self.records):
            seen += iteration_of(record, self.metric)
            if seen == iterations:
                return self.records[:index + 1]
        return list(self.records)


def _own_name(key: str) -> str:
    """A logged name as the history keeps it: control characters (a newline would break history.csv)
    become spaces, and a name the history gives its own column (``step``, ``trial_id``, ``iteration``)
    is kept as ``logged_<name>``."""
    from .spec import HISTORY_COLUMNS

    key = _without_control_characters(key)
    return f"logged_{key}" if key in HISTORY_COLUMNS else key


def iteration_of(record: dict, metric: str) -> bool:
    """Whether a line counts as an iteration: it carries ``metric`` as a finite number."""
    value = record.get(metric)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def summary(records: list[dict], metric: str, seconds: float) -> dict:
    """The trials.csv metrics of a trial from its records: the metric's last value (NaN when it logged
    none, or a NaN last), its iterations (``steps``), and ``seconds`` of running."""
    values = [float(r[metric]) for r in records if metric in r]
    steps = sum(iteration_of(r, metric) for r in records)
    return {metric: values[-1] if values else math.nan, "steps": steps, "seconds": seconds}


def text_of(value) -> str:
    """A logged value as a history.csv field (one line of its own): numbers as Python writes them, text
    with its control characters (a newline, NUL) as spaces, anything else as JSON."""
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return _without_control_characters(str(value))


def _without_control_characters(text: str) -> str:
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)

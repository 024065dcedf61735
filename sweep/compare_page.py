"""The page of ``sweep compare RUN_A RUN_B ... --html OUT.html``: one self-contained HTML file.

It holds the runs side by side (the table ``sweep compare`` prints, the best trials' settings with
the differing ones marked, the verdict) and one figure of every run's best so far. The figure is a
``data:`` URI and the style is inline: nothing is fetched from the network. As the report, the page
is the template ``templates/compare.html`` rendered by Jinja2 with autoescaping, so nothing read
from a run folder can become markup.

The file is written atomically. An existing file at OUT is replaced only when it is a page this
command wrote (it carries :data:`GENERATOR`): a file of someone else's is left as it is.
"""

from __future__ import annotations

import base64
import io
import os
import shlex
from datetime import datetime
from pathlib import Path

from .errors import SweepError
from .results.compare import Comparison
from .results.files import atomic_write

#: The mark of a page written by ``sweep compare`` (a ``<meta name="generator">``): only such a file is replaced.
GENERATOR = "sweep compare"
#: Bytes of an existing file read to find the mark.
HEAD_BYTES = 4096


def check_page_path(path: Path) -> Path:
    """``path`` if the page may be written there; SweepError (one line) if not: its folder is missing, or
    a file that is not a page of ``sweep compare`` (or a link, a folder) is already there."""
    path = Path(path)
    if not path.parent.is_dir():
        raise SweepError(f"--html {path}: the folder {path.parent} does not exist")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise SweepError(f"--html {path}: not a file (a link or a folder); give another name")
    if path.exists() and not _ours(path):
        raise SweepError(f"--html {path}: that file was not written by sweep compare; give another name, "
                         "or remove it first")
    return path


def _ours(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with open(fd, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}">'.encode() in head


def write_page(comparison: Comparison, runs, path) -> Path:
    """Render the page of ``comparison`` (of the :class:`~sweep.results.Run` objects ``runs``, in the same
    order) and write it to ``path`` atomically; return the path."""
    path = check_page_path(Path(path))
    page = render(comparison, runs)
    try:
        atomic_write(path, page.encode("utf-8"))
    except OSError as exc:
        raise SweepError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def render(comparison: Comparison, runs) -> str:
    import jinja2

    environment = jinja2.Environment(loader=jinja2.PackageLoader("sweep", "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    labels = [r.label for r in comparison.runs]
    table = comparison.table()
    settings = comparison.settings
    rows = [{"name": str(name), "cells": [_setting(row[label], label, row["searched"]) for label in labels],
             "differs": bool(row["differs"])} for name, row in settings.iterrows()]
    return environment.get_template("compare.html").render(
        generator=GENERATOR,
        runs=[{"label": r.label, "folder": str(r.run_dir), "name": r.name} for r in comparison.runs],
        facts=[{"name": str(name), "cells": [str(v) for v in row]} for name, row in table.iterrows()],
        settings=rows, verdict=comparison.verdict, comparable=comparison.comparable, better=comparison.better or "",
        notes=comparison.notes, figure=_figure(runs, labels),
        command="sweep compare " + " ".join(shlex.quote(str(r.run_dir)) for r in comparison.runs) + " --html FILE",
        written=datetime.now().strftime("%Y-%m-%d %H:%M"))


def _setting(value, label: str, searched: str) -> dict:
    if value is None:
        return {"text": "–", "fixed": False}
    from .figures.style import fmt_value

    text = fmt_value(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
    return {"text": text, "fixed": label not in searched.split(",")}


def _figure(runs, labels) -> dict | None:
    from .figures.compare import compare_history_data, compare_history_figure
    from .figures.style import DPI

    fig = compare_history_figure(compare_history_data(runs, labels), labels)
    if fig is None:
        return None
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return {"data": base64.b64encode(buffer.getvalue()).decode("ascii")}


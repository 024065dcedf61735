"""The report: parsed as HTML, and opened in headless Chromium through chromedriver (W3C WebDriver)."""

from __future__ import annotations

import base64
import json
import math
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest_run import FAIL_MESSAGE, make_run

from sweep.report import training_seconds, write_report
from sweep.results.analysis import read_trials

PNG = b"\x89PNG\r\n\x1a\n"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)


@pytest.fixture(scope="session")
def grid_report(tmp_path_factory):
    """The report of the small digits grid (36 trials, some diverged), in a copy of its run folder."""
    folder = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(make_run(tmp_path_factory, "grid"), folder)
    return write_report(folder)


class Page(HTMLParser):
    """What the tests look at in a report: tables, rows, cells, images, links and scripts."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.rows: list[dict] = []  # leaderboard body rows: {"class": ..., "cells": [...]}
        self.headers: list[str] = []
        self.images: list[dict] = []
        self.noscript_images: list[dict] = []  # the fallbacks shown when scripts do not run
        self.urls: list[str] = []  # every src / href value
        self.scripts: list[dict] = []
        self.styles: list[dict] = []
        self.captions: list[str] = []
        self._stack: list[str] = []
        self._in_board = self._in_head = self._in_body = False
        self._noscript = 0
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self.text_parts: list[str] = []
        self.feed(text)
        self.text = " ".join(" ".join(self.text_parts).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            if key in attrs:
                self.urls.append(attrs[key])
        if tag == "table" and attrs.get("id") == "leaderboard-table":
            self._in_board = True
        elif self._in_board and tag == "thead":
            self._in_head = True
        elif self._in_board and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append({"class": attrs.get("class", ""), "cells": []})
        elif self._in_board and tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(attrs)
            if self._noscript:
                self.noscript_images.append(attrs)
        elif tag == "noscript":
            self._noscript += 1
        elif tag == "script":
            self.scripts.append(attrs)
        elif tag in ("style", "link"):
            self.styles.append({"tag": tag, **attrs})
        elif tag == "figcaption":
            self._caption = []

    def handle_endtag(self, tag):
        if tag == "noscript":
            self._noscript -= 1
        if tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if self._in_head:
                self.headers.append(text)
            elif self._in_body:
                self.rows[-1]["cells"].append(text)
            self._cell = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._in_board = False
        elif tag == "figcaption" and self._caption is not None:
            self.captions.append("".join(self._caption).strip())
            self._caption = None

    def handle_data(self, data):
        self.text_parts.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)


def column(page: Page, header: str) -> list[str]:
    index = page.headers.index(header)
    return [row["cells"][index] for row in page.rows]


# ------------------------------------------------------------------------------------------ parsed
def test_report_has_one_row_per_trial_and_every_plot_embedded(grid_report):
    run_dir = grid_report.parent
    page = Page(grid_report.read_text())
    trials = read_trials(run_dir)
    assert len(page.rows) == len(trials) == 36
    assert sorted(c.split()[0] for c in column(page, "trial")) == sorted(trials["trial_id"])
    assert column(page, "#") == [str(i) for i in range(1, 37)]
    plots = sorted((run_dir / "plots").glob("*.png"))
    assert len(plots) == 10 and len(page.images) == len(plots)
    embedded = set()
    for image in page.images:
        src = image["src"]
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data[:8] == PNG
        embedded.add(data)
        assert image.get("alt")
    assert embedded == {p.read_bytes() for p in plots}
    # every figure's caption, and the interactive parallel coordinates', which replace parallel.png
    # (kept inside <noscript>, for a browser that runs no script)
    assert len(page.captions) == len(plots) + 1 and all(len(c) > 30 for c in page.captions)
    assert [base64.b64decode(i["src"].split(",", 1)[1]) for i in page.noscript_images] == [
        (run_dir / "plots" / "parallel.png").read_bytes()]


def test_report_is_self_contained(grid_report):
    text = grid_report.read_text()
    page = Page(text)
    assert all(u.startswith("data:") for u in page.urls)
    assert "http://" not in text and "https://" not in text
    # one inline script, nothing fetched, and the parallel coordinates' data as JSON (not run)
    assert page.scripts == [{"type": "application/json", "id": "parallel-data"}, {}]
    assert [s["tag"] for s in page.styles] == ["style"]
    assert not list(grid_report.parent.glob(".*.tmp"))


def test_report_states_the_experiment_and_the_best_trial(grid_report):
    run_dir = grid_report.parent
    page = Page(grid_report.read_text())
    summary = json.loads((run_dir / "best" / "summary.json").read_text())
    trials = read_trials(run_dir)
    counts = trials["status"].value_counts()
    for fact in ("grid", "digits", "val_acc (higher is better)", f"{counts['ok']} ok", f"{counts['diverged']} diverged",
                 "of training", "test accuracy", f"{summary['test_acc']:.3f}", f"on {summary['test_rows']} test rows"):
        assert fact in page.text, fact
    best_rows = [r for r in page.rows if "best" in r["class"].split()]
    assert len(best_rows) == 1 and best_rows[0]["cells"][1].startswith(summary["trial_id"])
    assert page.rows[0] is best_rows[0]
    # ranked: ok trials by the metric, diverged last
    statuses = column(page, "status")
    assert statuses == sorted(statuses, key=lambda s: s != "ok")
    accuracies = [float(v) for v, s in zip(column(page, "val acc"), statuses) if s == "ok"]
    assert accuracies == sorted(accuracies, reverse=True)
    assert all(v == "\u2013" for v, s in zip(column(page, "val acc"), statuses) if s == "diverged")


def test_report_leaderboard_shows_standard_errors_and_ties_with_the_best(grid_report):
    summary = json.loads((grid_report.parent / "best" / "summary.json").read_text())
    page = Page(grid_report.read_text())
    n = summary["val_rows"]
    assert f"on the n = {n} validation rows" in page.text and "|best − x| ≤ 2·√(se_best² + se_x²)" in page.text
    accuracy = [float(v) if v != "\u2013" else None for v in column(page, "val acc")]
    errors = column(page, "± s.e.")
    ties = column(page, "≈ best")
    assert float(errors[0]) == pytest.approx(math.sqrt(accuracy[0] * (1 - accuracy[0]) / n), abs=1e-4)
    assert ties[0] == "≈" and "tied" in page.rows[0]["class"].split()
    for acc, se, tie in zip(accuracy, errors, ties):
        if acc is None:  # diverged: no score, no standard error, never tied
            assert se == "\u2013" and tie == "\u2013"
            continue
        gap = 2 * math.sqrt(float(errors[0]) ** 2 + float(se) ** 2)
        assert (tie == "≈") == (accuracy[0] - acc <= gap + 1e-3), (acc, se, tie)  # 4-decimal cells
    assert 1 < ties.count("≈") < len(ties)  # the grid has both: ties and clear losers


def test_report_of_failed_trials_shows_their_errors(tmp_path_factory):
    path = write_report(make_run(tmp_path_factory, "failed"))
    text = path.read_text()
    page = Page(text)
    failed = [r for r in page.rows if "st-failed" in r["class"]]
    assert len(failed) == 2 and len(page.rows) == 4
    errors = column(page, "error")
    assert sum(e == f"ValueError: {FAIL_MESSAGE}" for e in errors) == 2
    assert "<b>not bold</b>" not in text and "&lt;b&gt;not bold&lt;/b&gt;" in text  # escaped
    assert "2 failed" in page.text and "2 ok" in page.text


def test_report_when_every_trial_failed(tmp_path_factory):
    page = Page(write_report(make_run(tmp_path_factory, "allfailed")).read_text())
    assert len(page.rows) == 2 and "there is no best model" in page.text
    assert len(page.images) == 3


def test_report_of_one_trial(tmp_path_factory):
    page = Page(write_report(make_run(tmp_path_factory, "one")).read_text())
    assert len(page.rows) == 1 and "best" in page.rows[0]["class"] and len(page.images) == 4
    assert "nothing varies" in page.text


def test_report_of_a_regression_run(tmp_path_factory):
    page = Page(write_report(make_run(tmp_path_factory, "regression")).read_text())
    assert "val_loss (lower is better)" in page.text and "test loss" in page.text
    assert "val acc" not in page.headers  # no accuracies in a regression
    losses = [float(v) for v in column(page, "val loss")]
    assert losses == sorted(losses)
    assert any("validation loss" in c for c in page.captions)


def test_report_of_an_unfinished_run(grid_report, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(grid_report.parent, folder)
    shutil.rmtree(folder / "best")  # as if interrupted before the best model was saved
    page = Page(write_report(folder).read_text())
    assert "has not finished" in page.text and len(page.rows) == 36
    assert len(page.images) == 9  # no weights without a best model


def test_training_time_counts_each_training_run_once(grid_report):
    trials = read_trials(grid_report.parent)
    total = training_seconds(trials)
    # 36 trials in 18 runs: epochs 2 and 3 share a run, whose time is that of its longest trial
    longest = trials[trials["epochs"] == 3]["seconds"].sum()
    assert total == pytest.approx(longest)
    assert total < trials["seconds"].sum()


def test_cli_report_and_plot(grid_report, capsys):
    from sweep.cli import main

    assert main(["plot", str(grid_report.parent)]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 10 and all(p.endswith(".png") for p in printed)
    assert main(["report", str(grid_report.parent)]) == 0
    assert capsys.readouterr().out.strip() == str(grid_report)


# ------------------------------------------------------------------------------------------ browser
class WebDriver:
    """A minimal W3C WebDriver client over HTTP (urllib) for chromedriver on 127.0.0.1."""

    def __init__(self, driver: str, browser: str, profile: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([driver, f"--port={port}", "--allowed-ips=127.0.0.1"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.process.kill()
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.05)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1280,1600", f"--user-data-dir={profile}"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                                                 "goog:chromeOptions": {"binary": browser, "args": args}}}}
        try:
            self.session = self._call("POST", "/session", caps)["sessionId"]
        except Exception:
            self.process.kill()
            raise

    def _call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"WebDriver {method} {path}: {exc.read().decode()[:500]}") from None

    def do(self, method: str, path: str, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self.do("POST", "/url", {"url": url})

    def resize(self, width: int, height: int) -> None:
        self.do("POST", "/window/rect", {"width": width, "height": height})

    def script(self, source: str, *args):
        return self.do("POST", "/execute/sync", {"script": source, "args": list(args)})

    def find(self, css: str) -> str:
        element = self.do("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(element.values()))

    def click(self, element: str) -> None:
        self.do("POST", f"/element/{element}/click", {})

    def type(self, element: str, text: str) -> None:
        self.do("POST", f"/element/{element}/value", {"text": text})

    def mouse(self, *steps) -> None:
        """W3C pointer actions of a mouse (what Selenium's ActionChains sends), at viewport points:
        ("move", x, y), ("down",), ("up",); the input state is released afterwards."""
        actions = []
        for step in steps:
            if step[0] == "move":
                actions.append({"type": "pointerMove", "duration": 50, "origin": "viewport",
                                "x": int(round(step[1])), "y": int(round(step[2]))})
            else:
                actions.append({"type": f"pointer{step[0].capitalize()}", "button": 0})
        self.do("POST", "/actions", {"actions": [{"type": "pointer", "id": "mouse",
                                                  "parameters": {"pointerType": "mouse"}, "actions": actions}]})
        self.do("DELETE", "/actions")

    def quit(self) -> None:
        try:
            self.do("DELETE", "")
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


needs_browser = pytest.mark.skipif(not CHROMIUM, reason="needs Debian's chromium (and chromium-driver) packages")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMEDRIVER:
        pytest.fail("chromium is installed but chromedriver is not: install Debian's chromium-driver package")
    driver = WebDriver(CHROMEDRIVER, CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


ROWS_AND_IMAGES = """
const rows = document.querySelectorAll('#leaderboard-table tbody tr');
const images = Array.from(document.images).map(img => {
  img.scrollIntoView();
  const box = img.getBoundingClientRect();
  return {complete: img.complete, natural: [img.naturalWidth, img.naturalHeight], box: [box.width, box.height]};
});
return {rows: rows.length, ids: Array.from(rows, r => r.cells[1].textContent.trim().slice(0, 12)), images: images,
        title: document.title};
"""

COLUMN = """
const table = document.getElementById('leaderboard-table');
const index = Array.from(table.tHead.rows[0].cells).findIndex(th => th.textContent.trim() === arguments[0]);
const header = table.tHead.rows[0].cells[index];
return {sort: header.getAttribute('aria-sort'),
        values: Array.from(table.tBodies[0].rows, r => r.cells[index].textContent.trim())};
"""


@needs_browser
@pytest.mark.slow
def test_report_renders_in_headless_chromium(grid_report, browser):
    browser.get(grid_report.as_uri())
    seen = browser.script(ROWS_AND_IMAGES)
    trials = read_trials(grid_report.parent)
    assert seen["rows"] == len(trials) and sorted(seen["ids"]) == sorted(trials["trial_id"])
    assert seen["title"].startswith("grid")
    assert len(seen["images"]) == 9  # parallel.png is inside <noscript>: the interactive chart replaces it
    for image in seen["images"]:
        assert image["complete"] and min(image["natural"]) > 100, image
        assert min(image["box"]) > 100, image  # laid out with a real size on the page


OVERFLOW = """
const page = document.scrollingElement;
const wrap = document.querySelector('.table-wrap');
const right = el => el.getBoundingClientRect().right;
const wide = Array.from(document.querySelectorAll('main *')).filter(el => !wrap.contains(el) && right(el) > innerWidth + 0.5)
  .map(el => el.tagName + '.' + el.className + '#' + el.id).slice(0, 10);
return {window: innerWidth, page: page.scrollWidth, wide: wide,
        images: Array.from(document.images, img => img.getBoundingClientRect().width),
        table: {scroll: wrap.scrollWidth, client: wrap.clientWidth, right: right(wrap)}};
"""


@needs_browser
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["grid", "hyperband"])
def test_nothing_overflows_a_420_px_wide_window(kind, browser, tmp_path_factory):
    report = write_report(make_run(tmp_path_factory, kind))
    browser.resize(420, 900)
    try:
        browser.get(report.as_uri())
        seen = browser.script(OVERFLOW)
    finally:
        browser.resize(1280, 1600)
    assert seen["window"] <= 420
    assert seen["page"] <= seen["window"] and not seen["wide"], seen  # no sideways scrolling of the page
    assert seen["images"] and max(seen["images"]) <= seen["window"], seen  # figures shrink to the width
    # the leaderboard scrolls sideways in its own box, which stays inside the window
    assert seen["table"]["scroll"] > seen["table"]["client"] and seen["table"]["right"] <= seen["window"]


@needs_browser
@pytest.mark.slow
def test_clicking_a_header_sorts_the_leaderboard(grid_report, browser):
    browser.get(grid_report.as_uri())
    before = browser.script(COLUMN, "#")
    assert before["sort"] == "ascending" and before["values"] == [str(i) for i in range(1, 37)]

    browser.click(browser.find("#leaderboard-table thead th.metric"))
    up = browser.script(COLUMN, "val acc")
    numbers = [float(v) for v in up["values"] if v != "\u2013"]
    assert up["sort"] == "ascending" and numbers == sorted(numbers)
    assert up["values"][-4:] == ["\u2013"] * 4  # the diverged trials have no score: last either way
    assert browser.script(COLUMN, "#")["sort"] is None

    browser.click(browser.find("#leaderboard-table thead th.metric"))
    down = browser.script(COLUMN, "val acc")
    numbers = [float(v) for v in down["values"] if v != "\u2013"]
    assert down["sort"] == "descending" and numbers == sorted(numbers, reverse=True)
    assert down["values"][-4:] == ["\u2013"] * 4

    # text columns sort as text, numbers inside them as numbers
    header = browser.find("#leaderboard-table thead th:nth-child(3)")  # status
    browser.click(header)
    statuses = browser.script(COLUMN, "status")["values"]
    assert statuses == sorted(statuses)


AXIS = """
document.getElementById('parallel-chart').scrollIntoView({block: 'center'});
const data = JSON.parse(document.getElementById('parallel-data').textContent);
const k = data.axes.findIndex(a => a.key === arguments[0]);
const box = document.querySelector('#pc-plot .hit[data-axis="' + k + '"]').getBoundingClientRect();
return {x: box.left + box.width / 2, top: box.top, height: box.height, range: data.axes[k].range, kind: data.axes[k].kind};
"""
SHOWN = """
const rows = Array.from(document.querySelectorAll('#leaderboard-table tbody tr'));
return {ids: rows.filter(r => r.getClientRects().length > 0).map(r => r.dataset.trial),
        count: document.getElementById('board-count').textContent,
        faded: document.querySelectorAll('#pc-plot polyline.out').length,
        lines: document.querySelectorAll('#pc-plot polyline').length,
        brushes: document.querySelectorAll('#pc-plot rect.brush').length,
        filter: document.getElementById('board-filter').value,
        clear: document.getElementById('board-clear').disabled};
"""


def _axis_y(axis: dict, value: float) -> float:
    """The viewport y of ``value`` on a chart axis read by AXIS (linear or log)."""
    lo, hi = axis["range"]
    if axis["kind"] == "log":
        lo, hi, value = math.log(lo), math.log(hi), math.log(value)
    return axis["top"] + (1 - (value - lo) / (hi - lo)) * axis["height"]


def _drag(browser, axis: dict, start: float, end: float) -> None:
    """Press on the axis at ``start``, release at ``end`` (which may be past the axis' end)."""
    browser.mouse(("move", axis["x"], _axis_y(axis, start)), ("down",), ("move", axis["x"], _axis_y(axis, end)),
                  ("up",))


@needs_browser
@pytest.mark.slow
def test_brushing_the_parallel_coordinates_filters_the_leaderboard(grid_report, browser):
    """Drags on the chart's axes keep the trials inside the ranges (AND), a click clears an axis, the text
    filter adds its own condition, and "clear filters" shows every trial again."""
    trials = read_trials(grid_report.parent).set_index("trial_id")
    everything = set(trials.index)
    browser.get(grid_report.as_uri())
    seen = browser.script(SHOWN)
    assert set(seen["ids"]) == everything and seen["count"] == "36 of 36 shown" and seen["clear"]
    assert seen["lines"] == 36 and seen["faded"] == 0

    rate = browser.script(AXIS, "learning_rate")  # a log axis from 0.01 to 50
    assert rate["kind"] == "log" and rate["range"] == [0.01, 50.0]
    _drag(browser, rate, 0.5, 0.05)  # around 0.1 only, dragged downwards
    inside = set(trials.index[trials["learning_rate"] == 0.1])
    seen = browser.script(SHOWN)
    assert set(seen["ids"]) == inside and seen["count"] == "12 of 36 shown" and seen["faded"] == 24
    assert seen["brushes"] == 1 and not seen["clear"]

    _drag(browser, rate, 0.02, 0.05)  # a second drag replaces the range: nothing is run between 0.02 and 0.05
    assert browser.script(SHOWN)["count"] == "0 of 36 shown"
    _drag(browser, rate, 0.05, 0.5)

    hidden = browser.script(AXIS, "hidden_size")  # linear, 10 to 20: keep the upper half
    _drag(browser, hidden, 15, 25)  # upwards, released above the axis' end
    both = set(trials.index[(trials["learning_rate"] == 0.1) & (trials["hidden_size"] == 20)])
    seen = browser.script(SHOWN)
    assert set(seen["ids"]) == both and len(both) == 6 and seen["brushes"] == 2

    rate = browser.script(AXIS, "learning_rate")
    browser.mouse(("move", rate["x"], _axis_y(rate, 1.0)), ("down",), ("up",))  # a click clears that axis
    wide = set(trials.index[trials["hidden_size"] == 20])
    seen = browser.script(SHOWN)
    assert set(seen["ids"]) == wide and seen["count"] == "18 of 36 shown" and seen["brushes"] == 1

    browser.type(browser.find("#board-filter"), "diverged")  # the text filter combines with the ranges
    diverged = set(trials.index[(trials["hidden_size"] == 20) & (trials["status"] == "diverged")])
    assert set(browser.script(SHOWN)["ids"]) == diverged and len(diverged) == 2

    browser.click(browser.find("#board-clear"))
    seen = browser.script(SHOWN)
    assert set(seen["ids"]) == everything and seen["count"] == "36 of 36 shown" and seen["faded"] == 0
    assert seen["brushes"] == 0 and seen["filter"] == "" and seen["clear"]


# ------------------------------------------------------------------------------------------ hostile run folders
HOSTILE = '<img src=x onerror="window.__pwned=(window.__pwned||[]).concat(1)">'
SCRIPT_TAG = "<script>window.__pwned=(window.__pwned||[]).concat(2)</script>"


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    """The report of a shared run folder in which every string a report shows was replaced by markup.

    Trial ids, choices, statuses' neighbours, errors, workers, experiment fields, provenance and the
    best summary all carry HTML that runs script if it is not escaped; plan.csv and trials.csv
    agree with each other, so the rows are proven trials of the run and reach the page.
    """
    import pandas as pd
    import yaml as pyyaml

    folder = tmp_path_factory.mktemp("hostile") / "run"
    shutil.copytree(make_run(tmp_path_factory, "failed"), folder)
    plan = pd.read_csv(folder / "plan.csv", dtype=str, keep_default_na=False)
    trials = pd.read_csv(folder / "trials.csv", dtype=str, keep_default_na=False)
    history = pd.read_csv(folder / "history.csv", dtype=str, keep_default_na=False)
    ids = {old: f"{HOSTILE}{i}" for i, old in enumerate(plan["trial_id"])}
    for frame in (plan, trials, history):
        frame["trial_id"] = frame["trial_id"].map(ids)
    for frame in (plan, trials):
        frame["optimizer"] = SCRIPT_TAG
        frame["init"] = HOSTILE
    trials["config_id"] = HOSTILE
    trials["worker"] = SCRIPT_TAG
    trials.loc[trials["status"] == "failed", "error"] = SCRIPT_TAG + HOSTILE
    trials.loc[0, "status"] = HOSTILE  # not a status: the row is left out, and said so, as text
    for frame, name in ((plan, "plan.csv"), (trials, "trials.csv"), (history, "history.csv")):
        frame.to_csv(folder / name, index=False)
    experiment = pyyaml.safe_load((folder / "experiment.yaml").read_text())
    experiment.update(name=HOSTILE, description=SCRIPT_TAG, method=HOSTILE, run_cap=SCRIPT_TAG,
                      dataset={"name": HOSTILE, SCRIPT_TAG: HOSTILE}, fixed={HOSTILE: SCRIPT_TAG})
    experiment["provenance"].update(command=SCRIPT_TAG, host_cpus=HOSTILE, started=SCRIPT_TAG)
    (folder / "experiment.yaml").write_text(pyyaml.safe_dump(experiment))
    summary = json.loads((folder / "best" / "summary.json").read_text())
    best = ids[summary["trial_id"]]
    summary.update(trial_id=best, params={HOSTILE: SCRIPT_TAG, "optimizer": SCRIPT_TAG},
                   metric={"name": HOSTILE, "goal": SCRIPT_TAG, "value": 0.5})
    (folder / "best" / "summary.json").write_text(json.dumps(summary))
    return write_report(folder)


def test_a_hostile_run_folder_cannot_put_markup_into_the_report(hostile_report):
    text = hostile_report.read_text()
    page = Page(text)
    assert page.scripts == [{"type": "application/json", "id": "parallel-data"}, {}]
    assert "<img src=x" not in text and "<script>window" not in text
    assert all(image["src"].startswith("data:image/png;base64,") for image in page.images)
    assert len(page.rows) == 3  # every trial reached the page, as text; the one with a hostile status is noted
    assert HOSTILE in page.text and SCRIPT_TAG in page.text and "1 line left out" in page.text


@needs_browser
@pytest.mark.slow
def test_a_hostile_run_folder_runs_no_script_in_the_browser(hostile_report, browser):
    browser.get(hostile_report.as_uri())
    seen = browser.script("""
        const handlers = Array.from(document.querySelectorAll('*')).flatMap(
            el => Array.from(el.attributes).filter(a => a.name.startsWith('on')).map(a => el.tagName + ' ' + a.name));
        return {pwned: window.__pwned || null, scripts: document.scripts.length, handlers: handlers,
                images: Array.from(document.images, img => img.src.slice(0, 22)),
                title: document.title, rows: document.querySelectorAll('#leaderboard-table tbody tr').length,
                ids: JSON.parse(document.getElementById('parallel-data').textContent).rows.map(r => r.id),
                lines: document.querySelectorAll('#pc-plot polyline').length};
    """)
    # two script elements: the inline script and the chart's data (type application/json: never run)
    assert seen["pwned"] is None and seen["scripts"] == 2 and seen["handlers"] == []
    assert len(set(seen["ids"]) & {f"{HOSTILE}{i}" for i in range(4)}) == 3 and seen["lines"] == 3  # intact
    assert set(seen["images"]) == {"data:image/png;base64,"} and seen["rows"] == 3
    assert seen["title"].startswith(HOSTILE)

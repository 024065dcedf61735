"""The live report: report.html written again while a sweep runs, and the open page following it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from conftest import start, write_experiment
from conftest_run import make_run
from test_report import CHROMEDRIVER, WebDriver, needs_browser

from sweep.live import LiveReport
from sweep.observers import SweepStatus
from sweep.report import write_report

STATUS = SweepStatus(done=7, running=2, queued=3, total=12, elapsed=65.0, eta=50.0)


@pytest.fixture
def run_folder(tmp_path_factory, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(make_run(tmp_path_factory, "grid"), folder)
    return folder


def test_a_live_page_says_how_far_the_sweep_is_and_reloads_and_the_final_page_does_not(run_folder):
    live = LiveReport(run_folder, min_seconds=0)
    live.polled(STATUS)
    assert live.thread is None  # nothing recorded since the sweep began: no page
    live.recorded(None, None, [])
    live.polled(STATUS)
    live.finished(interrupted=False)
    page = (run_folder / "report.html").read_text()
    assert live.pages == 1 and not live.problem
    assert "7 of 12 trials recorded" in page and "2 running, 3 queued" in page and "about 00:50 left" in page
    assert "location.reload()" in page
    write_report(run_folder)  # the end of the run
    final = (run_folder / "report.html").read_text()
    assert 'id="live"' not in final and "location.reload()" not in final


def test_a_page_that_cannot_be_drawn_is_one_warning_and_the_sweep_goes_on(tmp_path):
    warnings = []
    live = LiveReport(tmp_path / "not-a-run", warn=warnings.append, min_seconds=0)
    for _ in range(3):
        live.recorded(None, None, [])
        live.polled(STATUS)
        live.thread.join()
    live.finished(interrupted=False)
    assert live.pages == 0 and len(warnings) == 1 and "the live report could not be written" in warnings[0]


def test_pages_are_drawn_no_more_often_than_the_interval(run_folder):
    live = LiveReport(run_folder, min_seconds=3600)
    live.last_start = -float("inf")  # as if the last page were long ago
    live.recorded(None, None, [])
    live.polled(STATUS)
    live.thread.join()
    live.recorded(None, None, [])
    live.polled(STATUS)  # within the hour: waits
    live.finished(interrupted=False)
    assert live.pages == 1 and live.pending


#: A grid long enough (about three seconds a trial on an idle 2-core machine, 20 s in all) for the live page
#: (first drawn after 5 s) to be written while it runs.
LONG = {"name": "long", "dataset": "digits",
        "method": "grid", "parameters": {"hidden_size": {"values": [256, 264, 272, 280, 288, 296, 304, 312,
                                                                    320, 328, 336, 344]}},
        "fixed": {"optimizer": "sgd_momentum", "init": "he", "batch_size": 8, "learning_rate": 0.01,
                  "epochs": 200}}

LIVE_TEXT = "const box = document.getElementById('live'); return box ? box.textContent : 'final';"


@needs_browser
@pytest.mark.slow
def test_the_open_page_follows_a_running_sweep_and_ends_as_the_final_report(tmp_path):
    if not CHROMEDRIVER:
        pytest.fail("chromium is installed but chromedriver is not: install Debian's chromium-driver package")
    # the browser is up before the sweep starts: the page is opened as soon as it is live
    browser = WebDriver(CHROMEDRIVER, shutil.which("chromium") or "/usr/bin/chromium", tmp_path / "profile")
    path = write_experiment(tmp_path / "long.yaml", **LONG)
    proc = start(["run", path, "--out", "run", "--n-jobs", "2"], tmp_path)
    report = tmp_path / "run" / "report.html"
    try:
        deadline = time.monotonic() + 240
        while not (report.exists() and 'id="live"' in report.read_text()):
            assert proc.poll() is None, f"the sweep ended with no live page: {proc.communicate()}"
            assert time.monotonic() < deadline, "no live page"
            time.sleep(0.1)
        browser.get(report.as_uri())
        first = browser.script(LIVE_TEXT)
        assert "Running." in first and "trials recorded" in first, first
        seen = [first]
        deadline = time.monotonic() + 300
        while seen[-1] != "final":  # the page reloads itself: later counts, then the report of the finished run
            assert time.monotonic() < deadline, f"the open page did not follow the sweep: {seen}"
            time.sleep(0.5)
            try:
                text = browser.script(LIVE_TEXT)
            except RuntimeError:  # asked while the page reloads
                continue
            if text != seen[-1]:
                seen.append(text)
        assert proc.wait(timeout=120) == 0, proc.communicate()
    finally:
        browser.quit()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    final = report.read_text()
    assert 'id="live"' not in final and "location.reload()" not in final
    assert len(Path(tmp_path / "run" / "trials.csv").read_text().splitlines()) == 13

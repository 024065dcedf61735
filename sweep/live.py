"""The live report: while ``sweep run`` works, ``report.html`` in the run folder is written again as
results land, and the page open in a browser reloads itself.

A static page, not a server: the report stays one file that opens from disk with no network, the
same file a finished run leaves. The page says how far the sweep is (trials recorded, running and
queued, time left), reloads itself every :data:`RELOAD_SECONDS` keeping its scroll position, and
says so when no update has come for a while (the sweep ended, was killed, or the machine is busy).
The report of a finished run has no reload.

The page is drawn in a thread of its own, so the sweep's loop goes on while it is drawn, and at most
once every :data:`MIN_SECONDS` or five times the time the last drawing took, whichever is longer, so
that drawing takes at most about a fifth of one core from the trials. A page is only
drawn when a trial was recorded since the last one. Each page is written atomically (see
:meth:`~sweep.results.owned.OwnedFiles.write`): a browser never reads half a page.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from .observers import SweepObserver, SweepStatus

#: Seconds between two drawings of the page, at the least.
MIN_SECONDS = 5.0
#: Drawing takes at most this share of the time (the interval grows with the time a drawing takes).
SHARE_OF_TIME = 0.2
#: Seconds between two reloads of the open page.
RELOAD_SECONDS = 5


class LiveReport(SweepObserver):
    """Rewrites ``run_dir/report.html`` while the sweep runs (see the module docstring); ``warn`` says,
    once, why a page could not be written (the sweep goes on)."""

    def __init__(self, run_dir: Path, warn=None, min_seconds: float = MIN_SECONDS):
        self.run_dir, self.warn, self.min_seconds = Path(run_dir), warn, min_seconds
        self.interval = min_seconds
        self.pending = False  # a trial recorded since the last page
        self.last_start = time.monotonic()  # the first page comes once a trial is recorded after min_seconds
        self.thread: threading.Thread | None = None
        self.problem: str | None = None
        self.warned = False
        self.pages = 0

    def resumed(self, trial, result, records):
        self.pending = True

    def recorded(self, trial, result, records):
        self.pending = True

    def polled(self, status: SweepStatus) -> None:
        if self.problem and not self.warned and self.warn is not None:
            self.warned = True
            self.warn(f"warning: the live report could not be written ({self.problem}); the sweep goes on")
        busy = self.thread is not None and self.thread.is_alive()
        if not self.pending or busy or time.monotonic() - self.last_start < self.interval:
            return
        self.pending = False
        self.last_start = time.monotonic()
        self.thread = threading.Thread(target=self._write, args=(status,), name="sweep-live-report", daemon=True)
        self.thread.start()

    def finished(self, interrupted: bool) -> None:
        """Wait for a page being written: the final report (written next) must not be overwritten."""
        if self.thread is not None:
            self.thread.join()

    def _write(self, status: SweepStatus) -> None:
        from .report import write_report

        started = time.monotonic()
        try:
            write_report(self.run_dir, live=live_facts(status))
            self.pages += 1
        except Exception as exc:  # noqa: BLE001 - a page that cannot be drawn must not end the sweep
            self.problem = f"{type(exc).__name__}: {exc}"
        took = time.monotonic() - started
        self.interval = max(self.min_seconds, took / SHARE_OF_TIME)


def live_facts(status: SweepStatus) -> dict:
    """What the live page shows of ``status``, as the template reads it."""
    from .progress import _clock

    return {"done": status.done, "running": status.running, "queued": status.queued,
            "total": status.total, "elapsed": _clock(status.elapsed),
            "eta": _clock(status.eta) if status.eta == status.eta and status.eta != float("inf") else "",
            "updated": time.time(), "updated_text": time.strftime("%H:%M:%S"), "reload": RELOAD_SECONDS}

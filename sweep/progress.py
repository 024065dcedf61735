"""Progress of a sweep on stderr: a live bar on a terminal, plain lines otherwise, nothing if quiet."""

from __future__ import annotations

import math
import sys
import time

from .status import CRASHED, FAILED, OK


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Counts finished trials and shows done/total, elapsed time, ETA and the best metric so far.

    ``already_done`` trials (from a resumed run) count towards done but not towards the ETA rate.
    ``total`` is None for an open-ended search: then there is no bar and no ETA.
    """

    def __init__(self, total: int | None, metric: str, maximize: bool, *, already_done: int = 0,
                 quiet: bool = False, stream=None, width: int = 28):
        self.total, self.metric, self.maximize = total, metric, maximize
        self.done = self._resumed = already_done
        self.best = math.nan
        self.quiet, self.width = quiet, width
        self.stream = stream if stream is not None else sys.stderr
        self.live = (not quiet) and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self.failures = 0
        self.detail = None  # () -> text added to each line (e.g. trials paused at a milestone)

    def update(self, value: float | None, status: str, trial_id: str) -> None:
        """One more trial finished with ``status`` and metric ``value`` (NaN/None if none)."""
        self.done += 1
        if status in (FAILED, CRASHED):
            self.failures += 1
        if value is not None and math.isfinite(value) and status == OK:
            if math.isnan(self.best) or (value > self.best if self.maximize else value < self.best):
                self.best = value
        if self.quiet:
            return
        if self.live:
            self.stream.write("\r" + self._bar() + "\x1b[K")
        else:
            shown = f"{value:.4f}" if value is not None and math.isfinite(value) else "-"
            self.stream.write(f"[{self._count()}] {trial_id} {status} {self.metric}={shown} | "
                              f"{self._summary()}\n")
        self.stream.flush()

    def _summary(self) -> str:
        elapsed = time.monotonic() - self.start
        ran = self.done - self._resumed
        best = f"{self.best:.4f}" if math.isfinite(self.best) else "-"
        failed = f" | {self.failures} failed" if self.failures else ""
        if self.detail is not None:
            failed += f" | {self.detail()}"
        if self.total is None:
            return f"elapsed {_clock(elapsed)} best {self.metric} {best}{failed}"
        eta = elapsed / ran * max(self.total - self.done, 0) if ran else math.inf
        return f"elapsed {_clock(elapsed)} eta {_clock(eta)} best {self.metric} {best}{failed}"

    def _count(self) -> str:
        return f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"

    def _bar(self) -> str:
        if self.total is None:
            return f"{self.done} trials (open-ended) | {self._summary()}"
        filled = min(int(self.width * self.done / self.total), self.width) if self.total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        return f"[{bar}] {self.done}/{self.total} | {self._summary()}"

    def message(self, text: str) -> None:
        """A line of its own (warnings, notices) that does not garble the live bar. With ``quiet`` only
        warnings are written: one about saved state set aside must reach an unattended run's log too."""
        if self.quiet and not text.startswith("warning:"):
            return
        prefix = "\n" if self.live and self.done else ""
        self.stream.write(prefix + text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()

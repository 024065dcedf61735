"""Progress of a sweep: a tqdm bar on a terminal (a notebook's own bar in Jupyter), one plain line per
trial otherwise (pipes, CI logs), nothing but warnings when quiet.

The bar fits the terminal's width as it is now (tqdm's ``dynamic_ncols``), so it never wraps onto a
second line; messages (warnings, notices) are written above it. Its rate and time left are this
call's: trials recorded before a ``--resume`` count towards the total, not the rate.
"""

from __future__ import annotations

import math
import os
import sys
import time

from .status import CRASHED, FAILED, OK


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (whose output is no terminal, but shows a widget bar)."""
    shell = sys.modules.get("IPython")
    try:
        return shell is not None and type(shell.get_ipython()).__name__ == "ZMQInteractiveShell"
    except Exception:  # noqa: BLE001 - an IPython too old or too new to ask
        return False


def _terminal_columns(stream) -> int:
    """The width of the terminal ``stream`` writes to; 0 when it is no terminal, or one that gives no
    size (a pseudo-terminal nobody sized: a bar would be drawn zero characters wide)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else 0
    except (AttributeError, ValueError, OSError):
        return 0


class Progress:
    """Counts finished trials and shows done/total, elapsed time, time left and the best metric so far.

    ``already_done`` trials (from a resumed run) count towards done but not towards the rate.
    ``total`` is None for an open-ended search: then the bar has no end and no time left.
    """

    def __init__(self, total: int | None, metric: str, maximize: bool, *, already_done: int = 0,
                 quiet: bool = False, stream=None):
        self.total, self.metric, self.maximize = total, metric, maximize
        self.done = self._resumed = already_done
        self.best = math.nan
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self.failures = 0
        self.detail = None  # () -> text added to each line (e.g. trials paused at a milestone)
        self.bar = None
        if not quiet and (in_notebook() or _terminal_columns(self.stream) > 0):
            self.bar = self._new_bar()

    def _new_bar(self):
        if in_notebook():
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
        # What matters first (done, time left, best so far) comes first: on a narrow terminal tqdm cuts
        # the end of the line (the failures, the milestones), never wraps it.
        layout = ("{n_fmt}/{total_fmt} trials {bar:12} {elapsed}<{remaining}{postfix}" if self.total is not None
                  else "{n_fmt} trials {elapsed}{postfix}")
        return tqdm(total=self.total, initial=self.done, file=self.stream, dynamic_ncols=True, bar_format=layout,
                    smoothing=0, mininterval=0.5, leave=True)

    @property
    def live(self) -> bool:
        """Whether a bar is shown (a terminal or a notebook)."""
        return self.bar is not None

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
        if self.bar is not None:
            self.bar.set_postfix_str(self._postfix(), refresh=False)
            self.bar.update(1)
            return
        shown = f"{value:.4f}" if value is not None and math.isfinite(value) else "-"
        self.stream.write(f"[{self._count()}] {trial_id} {status} {self.metric}={shown} | {self._summary()}\n")
        self.stream.flush()

    def _postfix(self) -> str:
        best = f"{self.best:.4f}" if math.isfinite(self.best) else "-"
        text = f"best {self.metric} {best}"
        if self.failures:
            text += f", {self.failures} failed"
        if self.detail is not None:
            text += f", {self.detail()}"
        return text

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

    def message(self, text: str) -> None:
        """A line of its own (warnings, notices) above the bar. With ``quiet`` only warnings are written:
        one about saved state set aside must reach an unattended run's log too."""
        if self.quiet and not text.startswith("warning:"):
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
            return
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

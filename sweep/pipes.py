"""Output into a pipe whose reader has gone (``sweep best | head -c 10``): quiet, and exit status 141.

Python ignores SIGPIPE, so a write into a pipe nobody reads any more raises BrokenPipeError, and one
that fails in the interpreter's last flush prints "Exception ignored ... BrokenPipeError" and exits
120. Unix tools die of SIGPIPE instead, quietly, which a shell reports as status 141 (128 + 13).

Within :func:`output_may_be_cut`, a write or flush of ``sys.stdout`` or ``sys.stderr`` that finds its
pipe closed sends that stream to /dev/null (the data is lost, as ``head`` asked) and the command goes
on: a ``sweep run`` piped into ``head`` still records every trial and draws its report. The command
line then exits :data:`EXIT_OUTPUT_CUT` (141, the status a shell shows for a tool SIGPIPE killed)
unless the command failed otherwise. Sweep is not killed by the signal itself: it may be in the
middle of a sweep whose workers it must stop and whose files it must finish.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sys

from .streams import GuardedStream

#: Exit status of a command whose output was cut short by its reader: 128 + SIGPIPE, as a shell reports it.
EXIT_OUTPUT_CUT = 141

_cut: set[str] = set()


def output_was_cut() -> bool:
    """Whether a write of the command line found its stdout or stderr pipe closed."""
    return bool(_cut)


def _cut_off(stream, name: str) -> None:
    """``stream``'s pipe is closed: what follows (and what was buffered) goes to /dev/null."""
    _to_devnull(stream)
    _cut.add(name)


def _to_devnull(stream) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


@contextlib.contextmanager
def output_may_be_cut():
    """Within the block, sys.stdout and sys.stderr (those with a file behind them) survive a closed pipe.

    Both are flushed before the block ends, so that a cut found at the last moment is found here and
    not by the interpreter on its way out.
    """
    _cut.clear()
    saved = sys.stdout, sys.stderr
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        with contextlib.suppress(AttributeError, ValueError, OSError):  # no file behind it (a test's capture)
            stream.fileno()
            setattr(sys, name, GuardedStream(stream, errno.EPIPE, functools.partial(_cut_off, stream, name)))
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.flush()
        sys.stdout, sys.stderr = saved

"""The progress of a sweep: tqdm's bar on a terminal (never wider than it), one line per trial elsewhere."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import termios

from sweep.progress import Progress


def test_a_pipe_gets_one_plain_line_per_trial_and_warnings_in_between():
    stream = io.StringIO()
    progress = Progress(3, "val_acc", True, stream=stream)
    progress.update(0.5, "ok", "a1")
    progress.message("warning: something")
    progress.update(None, "failed", "b2")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/3] a1 ok val_acc=0.5000 | elapsed ") and "best val_acc 0.5000" in lines[0]
    assert lines[1] == "warning: something"
    assert lines[2].startswith("[2/3] b2 failed val_acc=- |") and lines[2].endswith("| 1 failed")
    assert "\r" not in stream.getvalue()


def test_quiet_writes_warnings_only():
    stream = io.StringIO()
    progress = Progress(None, "val_loss", False, quiet=True, stream=stream)
    progress.message("loky: 2 workers")
    progress.update(0.3, "ok", "a1")
    progress.message("warning: kept")
    progress.close()
    assert stream.getvalue() == "warning: kept\n"


def test_on_an_80_column_terminal_the_bar_fits_on_one_line_and_messages_go_above_it():
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    stream = open(follower, "w", encoding="utf-8", closefd=True)
    try:
        progress = Progress(60, "val/accuracy", True, already_done=10, stream=stream)
        assert progress.live
        progress.detail = lambda: "rung 2/4, 17 stopped early"  # what hyperband adds: a long line
        for n in range(50):
            progress.update(0.9 + n / 1000, "ok" if n % 7 else "failed", f"{n:012x}")
            if n == 20:
                progress.message("warning: a message while the bar is shown")
        progress.close()
    finally:
        stream.close()
    output = b""
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # the follower is closed: everything was read
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    text = output.decode("utf-8")
    frames = [f for f in re.split(r"[\r\n]+", re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)) if f.strip()]
    assert frames and all(len(frame) <= 80 for frame in frames), max(frames, key=len)
    last = frames[-1]
    assert last.startswith("60/60 trials") and "best val/accuracy 0.9480" in last
    assert "warning: a message while the bar is shown" in frames


def test_a_terminal_that_gives_no_size_gets_plain_lines():
    leader, follower = pty.openpty()  # never sized: 0 columns
    stream = open(follower, "w", encoding="utf-8", closefd=True)
    try:
        progress = Progress(2, "val_acc", True, stream=stream)
        assert not progress.live
        progress.update(0.5, "ok", "a1")
        progress.close()
    finally:
        stream.close()
    assert os.read(leader, 4096).decode().startswith("[1/2] a1 ok val_acc=0.5000")
    os.close(leader)

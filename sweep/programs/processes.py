"""The programs a sweep started, as process groups it can stop: from the worker that runs one, and
from the runner (Ctrl-C, a resume after ``kill -9``) through the pid files in the run's ``logs/``.

Each program runs in a session (and so a process group) of its own, so that stopping it stops the
children it started too, and so that a worker killed by the runner does not take the program's
group with it silently. A pid file holds the group's id and its leader's start time
(``/proc/<pid>/stat``), so a pid the system has since given to another process is never signalled.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

#: Seconds between checks while waiting for a signalled group to go.
POLL_SECONDS = 0.05


def start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks after boot, as ``/proc`` gives it), None when it
    is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def write_pid_file(path: Path, pid: int) -> None:
    """Record the group of ``pid`` (its leader) in ``path`` (replaced atomically)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(f"{pid} {start_time(pid) or ''}\n")
    os.replace(temporary, path)


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is left (zombies of this process's own children count
    until they are reaped)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pgid: int, grace: float, leader=None) -> None:
    """SIGTERM to the group ``pgid``, SIGKILL after ``grace`` seconds for what is left, as W&B's agent
    stops a run. ``leader``: the group's leader as a ``subprocess.Popen`` of this process (it is reaped
    here; a group whose leader is reaped may still hold its children)."""
    _signal(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if leader is not None:
            leader.poll()
        if not group_alive(pgid):
            return
        time.sleep(POLL_SECONDS)
    _signal(pgid, signal.SIGKILL)
    if leader is not None:
        leader.wait()


def _signal(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def stop_recorded(folder: Path, grace: float) -> list[str]:
    """Stop every program whose pid file is in ``folder`` and whose leader is still the process that
    was started (its start time matches); remove the pid files. Returns the trial ids stopped."""
    stopped = []
    if not folder.is_dir() or folder.is_symlink():
        return stopped
    for path in sorted(folder.glob("*.pid")):
        try:
            pid_text, _, started = path.read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            pid, started = 0, ""
        if pid > 1 and started and start_time(pid) == started:
            stop_group(pid, grace)
            stopped.append(path.stem)
        path.unlink(missing_ok=True)
    return stopped

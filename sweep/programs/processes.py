"""The programs a sweep started, as process groups it can stop: from the worker that runs one, and
from the runner (Ctrl-C, a resume after ``kill -9``) through the pid files in the run's ``logs/``.

Each program runs in a session (and so a process group) of its own, so that stopping it stops the
children it started too, and so that a worker killed by the runner does not take the program's
group with it silently. A pid file holds the group's id and its leader's start time
(``/proc/<pid>/stat``). A pid file is not trusted (a run folder is shared and edited): the runner
signals a process only when it is still the leader of its own session and its environment names
the metrics file this run gave that trial, so no other process is ever signalled.
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
    """Record the group of ``pid`` (its leader) in ``path`` (a link or file at that name is replaced,
    never written through)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    with open(fd, "w") as f:
        f.write(f"{pid} {start_time(pid) or ''}\n")


def is_program_of(pid: int, started: str, variable: str, value: str) -> bool:
    """Whether ``pid`` is the process a worker started as a program: the same start time, the leader
    of its own session, and ``variable=value`` in the environment it was started with."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    session_leader = fields[2] == str(pid) and fields[3] == str(pid)  # its group and session are its own
    return fields[19] == started and session_leader and f"{variable}={value}".encode() in environ


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


def stop_recorded(folder: Path, grace: float, proof) -> list[str]:
    """Stop every program whose pid file is in ``folder`` and that proves to be the program started
    for that trial (:func:`is_program_of` with ``proof(trial_id)``, a (variable, value) pair of its
    environment); remove the pid files. Returns the trial ids stopped."""
    stopped = []
    if not folder.is_dir() or folder.is_symlink():
        return stopped
    for path in sorted(folder.glob("*.pid")):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            pid_text, _, started = path.read_text()[:100].strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError, UnicodeDecodeError):
            pid, started = 0, ""
        if pid > 1 and started and is_program_of(pid, started, *proof(path.stem)):
            stop_group(pid, grace)
            stopped.append(path.stem)
        path.unlink(missing_ok=True)
    return stopped

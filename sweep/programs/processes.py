"""The programs a sweep started, as sessions it can stop: from the worker that runs one, and from the
runner (Ctrl-C, a resume after ``kill -9``) through the pid files in the run's ``logs/``.

Each program runs in a session (and so a process group) of its own, so that stopping it stops the
children it started too, and so that a worker killed by the runner does not take the program with
it silently. A pid file holds the session's id (the program's pid) and its start time. A pid file
is not trusted (a run folder is shared and edited): the runner signals only the processes of that
session whose environment names the metrics file this run gave that trial, so no other process is
ever signalled; and it finds them even when the program itself has ended and left children behind.
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


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (index 0 is the state, 3 the session,
    19 the start time); None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _has_in_environment(pid: int, variable: str, value: str) -> bool:
    try:
        return f"{variable}={value}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def session_members(session: int, variable: str, value: str) -> dict[int, str]:
    """pid -> start time of every live process in session ``session`` whose environment holds
    ``variable=value``: a program started for one trial, and whatever it started that still runs,
    even once the program itself has ended (its children keep its session)."""
    members = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and fields[3] == str(session) and fields[0] != "Z" and \
                _has_in_environment(int(entry.name), variable, value):
            members[int(entry.name)] = fields[19]
    return members


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
    """Stop every program whose pid file is in ``folder``: the processes of the session it started
    that prove to belong to that trial (``proof(trial_id)``, a (variable, value) pair of their
    environment, see :func:`session_members`); SIGTERM, then SIGKILL after ``grace`` seconds. The pid
    files are removed. Returns the trial ids whose programs were stopped."""
    if not folder.is_dir() or folder.is_symlink():
        return []
    members: dict[tuple[int, str], str] = {}  # (pid, start time) -> trial id
    for path in sorted(folder.glob("*.pid")):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            session = int(path.read_text()[:100].split()[0])
        except (OSError, ValueError, UnicodeDecodeError, IndexError):
            session = 0
        if session > 1:
            for pid, started in session_members(session, *proof(path.stem)).items():
                members[(pid, started)] = path.stem
        path.unlink(missing_ok=True)
    stopped = sorted(set(members.values()))
    left = list(members)
    _signal_each(left, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        left = [key for key in left if _same_process(*key)]
    _signal_each([key for key in left if _same_process(*key)], signal.SIGKILL)
    return stopped


def _same_process(pid: int, started: str) -> bool:
    """Whether ``pid`` is still the process that started at ``started`` (not a zombie, not a new one)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[19] == started and fields[0] != "Z"


def _signal_each(processes, signum: int) -> None:
    for pid, _ in processes:
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass



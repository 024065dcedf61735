"""A hung-up terminal is an interrupt like SIGTERM, and an address that is not a Dask scheduler is refused in time.

- SIGHUP (a closed terminal hangs up the whole job) takes the interrupt path: the resume line, exit
  status 130, ``.scratch`` removed, and no worker or resource tracker left behind. Each run starts
  in a session of its own, so whatever it started, and whatever outlived it, is found by session.
- ``--scheduler`` (or a scheduler file, or ``backend: dask`` in the file) at a port that accepts and
  never answers, or at an HTTP server, ends in one error line within the handshake's deadline: no
  hang, no traceback at exit, no run folder. The servers are started here, on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.server
import json
import os
import pty
import signal
import socketserver
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import start, sweep_cli, wait_for_rows, write_experiment
from test_hostile import LONG, in_process, one_error_line  # LONG: 60 quick trials, to interrupt after a few

#: One quick trial: what a run would train, were the scheduler a scheduler.
ONE = {"name": "one", "dataset": "digits", "fixed": {"hidden_size": 16, "epochs": 1}}
#: Seconds the processes of an interrupted run get to be gone (loky's own idle timeout is 300 s).
GONE_WITHIN = 60


def session_processes(session: int) -> list[str]:
    """The live processes (zombies excluded) of ``session``, as ``pid state command`` lines read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended while we looked
            continue
        state, _ppid, _group, sid = text.rpartition(")")[2].split()[:4]
        if int(sid) == session and state != "Z":
            found.append(f"{stat.parent.name} {state} {command.strip()}")
    return found


def wait_until_gone(session: int) -> list[str]:
    """Poll until no process of ``session`` is alive, for at most :data:`GONE_WITHIN` s; what is left."""
    deadline = time.monotonic() + GONE_WITHIN
    while (left := session_processes(session)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@contextlib.contextmanager
def job_cleaned_up(proc: subprocess.Popen):
    """Whatever happens in the block, no process of ``proc``'s job (its process group) outlives the test."""
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _on_a_terminal_of_its_own():
    """In the child, after setsid: the pty on stdin becomes the controlling terminal; Ctrl-C as a terminal delivers it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def interrupt_on_a_terminal(args, cwd: Path, rows_file: Path) -> subprocess.Popen:
    """``sweep ARGS`` on a pseudo-terminal, which is closed once ``rows_file`` has 4 rows (a closed terminal
    window). The terminal is read meanwhile, so the progress bar never blocks on a full one."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sweep", *map(str, args)], cwd=cwd, stdin=terminal,
                            stdout=terminal, stderr=terminal, start_new_session=True,
                            preexec_fn=_on_a_terminal_of_its_own)
    os.close(terminal)
    os.set_blocking(controller, False)
    try:
        deadline = time.monotonic() + 60
        while not (rows_file.is_file() and len(rows_file.read_text().splitlines()) > 4):
            assert proc.poll() is None and time.monotonic() < deadline, "the sweep ended before 4 trials"
            with contextlib.suppress(BlockingIOError):
                os.read(controller, 65536)
            time.sleep(0.05)
    finally:
        os.close(controller)  # the terminal hangs up
    return proc


@pytest.mark.parametrize("how", ["SIGHUP", "SIGHUP-to-the-job", "terminal-closed", "SIGTERM"])
def test_a_hang_up_stops_the_sweep_as_sigterm_does_and_leaves_no_process_behind(tmp_path, how):
    path = write_experiment(tmp_path / "long.yaml", **LONG)
    out = tmp_path / "run"
    args = ["run", path, "--no-plots", "--out", out]
    if how == "terminal-closed":
        proc = interrupt_on_a_terminal(args, tmp_path, out / "trials.csv")
    else:
        proc = start(args, tmp_path)
    with job_cleaned_up(proc):
        if how != "terminal-closed":
            wait_for_rows(out / "trials.csv", 4, proc)
            if how == "SIGHUP-to-the-job":
                os.killpg(proc.pid, signal.SIGHUP)  # a shell whose terminal closed hangs up each of its jobs
            else:
                os.kill(proc.pid, getattr(signal, how))
        status = proc.wait(timeout=60)
        left = wait_until_gone(proc.pid)  # start_new_session: the pid is the session's id
        assert not left, f"processes of the run outlived it by {GONE_WITHIN} s:\n" + "\n".join(left)
        stderr = proc.stderr.read() if proc.stderr else ""
    assert status == 130, stderr
    if proc.stderr:  # on a closed terminal nothing can be read, but the status says the same
        assert f"resume with: sweep run {path} --resume {out}" in stderr and "Traceback" not in stderr
        assert stderr.count("interrupted:") == 1, stderr
    assert not (out / ".scratch").exists(), "the interrupt path removes the workers' scratch folder"
    kept = pd.read_csv(out / "trials.csv")
    assert 4 <= len(kept) < 60 and not (out / "best").exists()


#: A command line's output on a terminal that hangs up while SIGHUP is held back (as it is while
#: workers may start): it writes once the terminal is gone, before the signal can act.
WRITES_AFTER_THE_HANG_UP = """
import os, signal, sys
from sweep import interrupts
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
with interrupts.output_outlives_the_terminal():
    print("ready", flush=True)
    try:
        os.read(0, 1)  # returns, or fails, once the terminal hangs up
    except OSError:
        pass
    print("a progress line after the hang-up", flush=True)
    print("the resume line", file=sys.stderr)
"""


def test_writes_to_a_terminal_that_hung_up_go_nowhere_instead_of_failing():
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", WRITES_AFTER_THE_HANG_UP], stdin=terminal, stdout=terminal,
                            stderr=terminal)
    os.close(terminal)
    try:
        seen = b""
        while b"ready" not in seen:
            seen += os.read(controller, 1024)
    finally:
        os.close(controller)  # the terminal hangs up
    assert proc.wait(timeout=60) == 0, "a write to the hung-up terminal failed (EIO) and ended the command"


def test_a_hang_up_ignored_at_start_stays_ignored():
    """Under nohup SIGHUP is ignored when the command starts, and stays ignored; otherwise it interrupts."""
    from sweep import interrupts

    def hang_up():  # delivered to this thread, whose Python handler then runs before the next line
        signal.pthread_kill(threading.main_thread().ident, signal.SIGHUP)

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with interrupts.handled():
            hang_up()
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN and not interrupts.requested()
        signal.signal(signal.SIGHUP, lambda signum, frame: None)  # not ignored (and no threat to pytest)
        with interrupts.handled(), pytest.raises(KeyboardInterrupt):
            hang_up()
        interrupts.acknowledge()
    finally:
        signal.signal(signal.SIGHUP, previous)


class _Silent(socketserver.BaseRequestHandler):
    """Accepts, reads whatever comes, never answers (a port held by something that is not Dask)."""

    def handle(self):
        while self.request.recv(65536):
            pass


@contextlib.contextmanager
def serving(handler) -> str:
    """A threaded TCP server on a free port of 127.0.0.1 with ``handler``; yields its ``tcp://`` address."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fast_handshake(monkeypatch):
    """The deadline of the handshake, 1 s instead of 5 for the in-process variants (the first case runs the real 5 s)."""
    pytest.importorskip("distributed")
    import sweep.pools.dask

    monkeypatch.setattr(sweep.pools.dask, "CONNECT_TIMEOUT", 1)
    return 1


@pytest.mark.timeout(90)
def test_a_port_that_accepts_and_never_answers_is_refused_in_one_line(tmp_path):
    pytest.importorskip("distributed")
    path = write_experiment(tmp_path / "one.yaml", **ONE)
    with serving(_Silent) as address:
        result = sweep_cli("run", path, "--scheduler", address, "--no-plots", cwd=tmp_path, timeout=60)
    one_error_line(result, f"{address} does not answer as a Dask scheduler",
                   "did not answer Dask's handshake within 5 s", "give the address `dask scheduler` printed")
    assert result.stderr.count("\n") == 1 and result.stdout == "", "nothing else, not even at exit: " + result.stderr
    assert not (tmp_path / "results").exists(), "the scheduler is checked before a run folder is made"


@pytest.mark.timeout(60)
def test_an_http_server_is_no_dask_scheduler_however_its_address_is_given(tmp_path, monkeypatch, capsys,
                                                                         fast_handshake):
    with serving(http.server.SimpleHTTPRequestHandler) as address:
        (tmp_path / "scheduler.json").write_text(json.dumps({"address": address}))
        write_experiment(tmp_path / "one.yaml", **ONE)
        write_experiment(tmp_path / "in-file.yaml", **ONE, backend="dask", scheduler=address)
        for args in (["one.yaml", "--scheduler", address], ["one.yaml", "--scheduler-file", "scheduler.json"],
                     ["in-file.yaml"]):
            result = in_process(monkeypatch, capsys, tmp_path, "run", *args)
            one_error_line(result, f"{address} does not answer as a Dask scheduler",
                           f"did not answer Dask's handshake within {fast_handshake} s")
    assert not (tmp_path / "results").exists()


@pytest.mark.timeout(60)
def test_a_dask_pool_does_not_wait_forever_for_a_scheduler_that_stopped_answering(tmp_path, fast_handshake):
    """The pool connects again after the check (a scheduler may have died, or hung, in between)."""
    from sweep.backend import Backend
    from sweep.errors import SweepError
    from sweep.pools.dask import DaskPool

    with serving(_Silent) as address, pytest.raises(SweepError, match="does not answer as a Dask scheduler"):
        DaskPool(Backend("dask", scheduler=address), n_jobs=1, scratch=tmp_path)

"""Ctrl-C, SIGTERM and SIGHUP: one interrupt, one line, exit status 130, and no worker tracebacks.

- :func:`handled` makes SIGINT, SIGTERM and SIGHUP (the terminal was closed) raise KeyboardInterrupt
  once in the main thread; a second signal while the first is being handled (workers being
  stopped) is only counted, so the clean-up is not cut short with a traceback. Whether an
  interrupt arrived is remembered (:func:`requested`) even when a library swallows the
  KeyboardInterrupt (one raised inside a finalizer is printed and dropped by Python): the dispatch
  loop and the command line check it.
- :func:`deferred` holds the KeyboardInterrupt back while the main thread is inside a pool
  library: raised at an arbitrary bytecode of loky's ``submit`` or of Dask's client, it can leave
  their threads in a state that ends in a traceback from a background thread. Inside the block a
  signal is only recorded, and the dispatch loop raises it at a safe point (:func:`check`, at most
  one poll interval later).
- :func:`shielded_children` starts worker processes (and resource trackers) with SIGINT and SIGHUP
  blocked. Ctrl-C on a terminal signals the whole foreground process group, and a closed terminal
  hangs up every process of the job; without the shield every loky or Dask worker would print its
  own KeyboardInterrupt traceback or die of the hang-up under the parent, and a loky worker caught
  before its initializer runs would die. The parent decides what an interrupt does and stops the
  workers itself (SIGTERM stays deliverable to workers: Dask's nanny stops its worker with it).
- :func:`output_outlives_the_terminal` keeps the command line's writes to a terminal that hung up
  from failing (they go to /dev/null), so that a closed terminal ends in the interrupt's clean-up.

A signal that is ignored when the command starts (SIGINT in a job started with ``&`` by a script,
SIGHUP under ``nohup``) stays ignored, as Unix intends.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading

from .streams import GuardedStream

_state = {"count": 0, "acknowledged": 0, "deferred": 0}
#: The signals that interrupt a command: Ctrl-C, ``kill``, and the terminal hanging up.
INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: The signals a worker process starts with blocked: those a terminal sends to the whole job.
FROM_THE_TERMINAL = {signal.SIGINT, signal.SIGHUP}
#: stdout and stderr, by file descriptor, when they were a terminal as :func:`output_outlives_the_terminal` began.
_terminals: set[int] = set()


def requested() -> bool:
    """Whether an interrupt arrived that nothing has acted on yet."""
    return _state["count"] > _state["acknowledged"]


def acknowledge() -> None:
    """The interrupt is being acted on (workers stopped, the resume hint printed)."""
    _state["acknowledged"] = _state["count"]


def check() -> None:
    """Raise KeyboardInterrupt if an interrupt arrived and its KeyboardInterrupt was swallowed."""
    if requested():
        raise KeyboardInterrupt


def _leave_a_hung_up_terminal() -> None:
    """Point stdout and stderr at /dev/null if they were a terminal that has hung up.

    Every write to a hung-up terminal fails (EIO): the next progress line or the resume hint would
    turn the interrupt into an OSError, and that into another exit status with the workers waited
    for instead of stopped. A terminal that is still there (``kill -HUP`` from another shell) keeps
    the output.
    """
    for fd in sorted(_terminals):
        if not os.isatty(fd):  # a hung-up terminal answers no terminal request
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)


@contextlib.contextmanager
def output_outlives_the_terminal():
    """Within the block, sys.stdout and sys.stderr, when they are a terminal, go to /dev/null once it hangs up.

    For the command line, which owns its output; a library call leaves its caller's streams alone.
    """
    saved = sys.stdout, sys.stderr
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        with contextlib.suppress(AttributeError, ValueError, OSError):  # no file behind it (a test's capture)
            if os.isatty(stream.fileno()):
                _terminals.add(stream.fileno())
                # A write to the terminal that hung up (EIO) goes to /dev/null instead of failing: the
                # SIGHUP comes too late to redirect every write itself (the kernel fails writes to the
                # terminal before it signals, and the main thread holds SIGHUP back while it may start
                # workers, where results are reported and the progress bar written).
                setattr(sys, name, GuardedStream(stream, errno.EIO, _leave_a_hung_up_terminal))
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _handler(signum, frame):
    if signum == signal.SIGHUP:
        _leave_a_hung_up_terminal()
    pending = requested()
    _state["count"] += 1
    if not pending and not _state["deferred"]:  # a second signal during the clean-up of the first is only counted
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred():
    """Within the block a signal is only recorded; :func:`check` raises it where it is safe."""
    _state["deferred"] += 1
    try:
        yield
    finally:
        _state["deferred"] -= 1


@contextlib.contextmanager
def handled():
    """Within the block, each of :data:`INTERRUPTS` raises one KeyboardInterrupt (main thread only; nests)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in INTERRUPTS:
        if signal.getsignal(signum) == signal.SIG_IGN:
            continue  # ignored by whoever started us (`&`, nohup): leave it ignored
        previous[signum] = signal.signal(signum, _handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def shielded_children():
    """Processes (and threads) started in the block begin with :data:`FROM_THE_TERMINAL` blocked.

    The signal mask is inherited through fork and exec, and threads inherit the mask of the
    thread that starts them. In this thread the signals are only held back for the duration of
    the block, then delivered.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from multiprocessing import resource_tracker

    previous = signal.pthread_sigmask(signal.SIG_BLOCK, FROM_THE_TERMINAL - {signal.SIGINT})
    try:
        # multiprocessing's resource tracker, launched by the first worker of loky or Dask, ignores
        # SIGINT and SIGTERM but not SIGHUP, and unblocks SIGINT in the thread that launches it
        # (SIG_UNBLOCK, not a restore): launch it with SIGHUP blocked, then block SIGINT too.
        # (loky's own tracker restores the mask it found: it inherits the block like a worker.)
        resource_tracker.ensure_running()
        signal.pthread_sigmask(signal.SIG_BLOCK, FROM_THE_TERMINAL)
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

"""Ctrl-C and SIGTERM: one interrupt, one line, exit status 130, and no worker tracebacks.

- :func:`handled` makes SIGINT and SIGTERM raise KeyboardInterrupt once in the main thread; a
  second signal while the first is being handled (workers being stopped) is only counted, so the
  clean-up is not cut short with a traceback. Whether an interrupt arrived is remembered
  (:func:`requested`) even when a library swallows the KeyboardInterrupt (one raised inside a
  finalizer is printed and dropped by Python): the dispatch loop and the command line check it.
- :func:`deferred` holds the KeyboardInterrupt back while the main thread is inside a pool
  library: raised at an arbitrary bytecode of loky's ``submit`` or of Dask's client, it can leave
  their threads in a state that ends in a traceback from a background thread. Inside the block a
  signal is only recorded, and the dispatch loop raises it at a safe point (:func:`check`, at most
  one poll interval later).
- :func:`shielded_children` starts worker processes with SIGINT blocked. Ctrl-C on a terminal
  signals the whole foreground process group; without the shield every loky or Dask worker would
  print its own KeyboardInterrupt traceback, and a loky worker caught before its initializer runs
  would die. The parent decides what an interrupt does and stops the workers itself.

A SIGINT that is ignored when the command starts (a job started with ``&`` by a script, or under
``nohup``) stays ignored, as Unix intends.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_state = {"count": 0, "acknowledged": 0, "deferred": 0}


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


def _handler(signum, frame):
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
    """Within the block, SIGINT and SIGTERM raise one KeyboardInterrupt (main thread only; nests)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if signum == signal.SIGINT and current == signal.SIG_IGN:
            continue  # started in the background: leave Ctrl-C ignored
        previous[signum] = signal.signal(signum, _handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def shielded_children():
    """Processes (and threads) started in the block begin with SIGINT blocked.

    The signal mask is inherited through fork and exec, and threads inherit the mask of the
    thread that starts them. In this thread SIGINT is only held back for the duration of the
    block, then delivered.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # multiprocessing's resource tracker, launched by the first worker of loky or Dask, unblocks
    # SIGINT in the thread that launches it (SIG_UNBLOCK, not a restore): launch it before the block.
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

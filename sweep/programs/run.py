"""One trial of a program sweep, run in a worker: the user's script as a subprocess, never a shell.

The program runs from the experiment file's folder with the trial's parameters as arguments (see
:mod:`.command`) and these in its environment:

- ``SWEEP_METRICS``: the file it appends its metric lines to (``logs/<trial_id>.metrics.jsonl``);
- ``SWEEP_SEED``, ``SWEEP_TRIAL_ID``: the trial's seed and id;
- ``SWEEP_TRIAL_DIR``: a folder of its own for files it wants kept (``trials/<trial_id>/``);
- ``OMP_NUM_THREADS`` and its kin: 1 unless set (programs run side by side, as trials do).

Its stdout and stderr go to ``logs/<trial_id>.log``. It ends ``ok`` when it exits 0 having logged the
metric; ``failed`` (with the last lines of its stderr) when it exits otherwise, logs no metric, writes
a line that is not a JSON object, or runs past ``timeout``; ``stopped`` when the runner asks (a
milestone, see :mod:`.milestones`) or the sweep's time limit passes. A stop is SIGTERM to its process
group, then SIGKILL after the grace period.
"""

from __future__ import annotations

import math
import os
import select
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

from ..results.files import own_folder
from ..status import DIVERGED, FAILED, OK, STOPPED
from .command import args_json_text, build_argv
from .metrics import MetricLines, summary
from .processes import stop_group, write_pid_file

#: Sub-folders of the run folder: the programs' logs, metric lines and pid files; their own folders.
LOGS_DIR, TRIALS_DIR = "logs", "trials"
#: Seconds between looks at a running program (its end, its time, a stop request).
POLL_SECONDS = 0.1
#: Lines of stderr a failed trial's error quotes, and the bytes kept of each (the end of the line).
STDERR_LINES, LINE_BYTES = 5, 4096
#: Seconds the program's stderr is still copied once it has ended or been stopped.
DRAIN_SECONDS = 2
#: Thread-count variables set to 1 for a program unless the environment sets them.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS")


def trial_paths(run_dir: Path, trial_id: str) -> dict[str, Path]:
    """Where trial ``trial_id`` of the program sweep in ``run_dir`` keeps its files."""
    logs = Path(run_dir) / LOGS_DIR
    return {"log": logs / f"{trial_id}.log", "metrics": logs / f"{trial_id}.metrics.jsonl",
            "pid": logs / f"{trial_id}.pid", "stop": logs / f"{trial_id}.stop",
            "params": logs / f"{trial_id}.params.json", "folder": Path(run_dir) / TRIALS_DIR / trial_id}


def run_program(task, data=None) -> list:
    """Run the one trial of ``task`` (a :class:`~sweep.plan.TaskSpec` with ``program`` and ``run_dir``)
    and return its :class:`~sweep.task.TrialResult`, whose ``history`` is every line it logged."""
    from ..trial_result import TrialResult, failed_result, worker_name

    [trial] = task.trials
    spec = task.program
    try:
        outcome = _run(task, trial, spec)
    except Exception as exc:  # noqa: BLE001 - a trial that cannot start is failed, never the runner's end
        result = failed_result(trial, exc)
    else:
        result = TrialResult(trial.trial_id, *outcome)
    result.worker = worker_name()
    return [result]


def _run(task, trial, spec) -> tuple:
    """(status, metrics, history, error) of one run of the program."""
    run_dir = Path(task.run_dir)
    own_folder(run_dir, LOGS_DIR)
    own_folder(run_dir, TRIALS_DIR)
    paths = trial_paths(run_dir, trial.trial_id)
    if paths["folder"].is_symlink():  # a link put there: replaced by a folder, never written through
        paths["folder"].unlink()
    paths["folder"].mkdir(exist_ok=True)
    for name in ("metrics", "stop"):
        paths[name].unlink(missing_ok=True)  # an earlier attempt's (a resume runs a trial from its start)
    arguments = spec.arguments(trial.params)  # nested parameters in their dicts, as W&B's agent passes them
    _write_new(paths["params"], args_json_text(arguments).encode())
    _write_new(paths["metrics"], b"")
    argv = build_argv(spec.program, list(spec.command) if spec.command else None, arguments,
                      json_file=str(paths["params"]))
    env = {**{name: "1" for name in THREAD_VARIABLES}, **os.environ,
           "SWEEP_METRICS": str(paths["metrics"]), "SWEEP_SEED": str(trial.seed),
           "SWEEP_TRIAL_ID": trial.trial_id, "SWEEP_TRIAL_DIR": str(paths["folder"])}
    lines = MetricLines(paths["metrics"], spec.metric)
    paths["log"].unlink(missing_ok=True)  # an earlier attempt's; a link or another name of a file is not written
    log_fd = os.open(paths["log"], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    started = time.monotonic()
    try:
        try:
            process = subprocess.Popen(argv, cwd=spec.folder, env=env, stdin=subprocess.DEVNULL, stdout=log_fd,
                                       stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            return FAILED, {}, [], f"cannot run {' '.join(argv)[:200]}: {exc.strerror or exc}"
        tail: deque[str] = deque(maxlen=STDERR_LINES)
        done = threading.Event()
        copier = threading.Thread(target=_copy_stderr, args=(process.stderr.fileno(), log_fd, tail, done),
                                  daemon=True)
        copier.start()
        why_stopped = None
        try:
            write_pid_file(paths["pid"], process.pid)
            why_stopped = _watch(process, task, spec, paths, lines, started)
        finally:  # whatever happened here, nothing the program started is left running
            stop_group(process.pid, 0 if why_stopped is None else spec.grace, process)
            done.set()
            copier.join()  # it ends soon after `done`, even when a process that left the group holds stderr
            process.stderr.close()
            paths["pid"].unlink(missing_ok=True)
    finally:
        os.close(log_fd)
    seconds = time.monotonic() - started
    lines.read_more(final=why_stopped is None)  # a stopped program's unfinished last line is not read
    metrics = summary(lines.records, spec.metric, seconds)
    stderr = " | ".join(line.strip() for line in tail if line.strip())
    if lines.problem:
        return FAILED, metrics, lines.records, lines.problem
    if why_stopped == "timeout":
        return FAILED, metrics, lines.records, f"ran past its timeout of {spec.timeout:g} s" + _quoted(stderr)
    if why_stopped is not None:
        return STOPPED, metrics, lines.records, why_stopped
    if process.returncode != 0:
        how = (f"was killed by signal {-process.returncode}" if process.returncode < 0 else
               f"exited with status {process.returncode}")
        return FAILED, metrics, lines.records, f"the program {how}" + _quoted(stderr)
    if not any(spec.metric in record for record in lines.records):
        return FAILED, metrics, lines.records, (f"the program logged no {spec.metric} (append JSON lines to "
                                                "$SWEEP_METRICS, or call sweep.log)" + _quoted(stderr))
    if not math.isfinite(metrics[spec.metric]):
        return DIVERGED, metrics, lines.records, f"the program's last {spec.metric} is {metrics[spec.metric]}"
    return OK, metrics, lines.records, ""


def _watch(process, task, spec, paths, lines: MetricLines, started: float) -> str | None:
    """Wait for the program to end; None when it ended by itself, else why it is to be stopped."""
    while True:
        try:
            process.wait(timeout=POLL_SECONDS)
            return None
        except subprocess.TimeoutExpired:
            pass
        lines.read_more()
        if lines.problem:
            return lines.problem
        if spec.timeout is not None and time.monotonic() - started > spec.timeout:
            return "timeout"
        if paths["stop"].exists():
            return "stopped by the runner"
        if task.deadline is not None and time.time() >= task.deadline:
            return "stopped by the time limit"


def _copy_stderr(fd: int, log_fd: int, tail: deque, done: threading.Event) -> None:
    """Copy the program's stderr (``fd``) into its log, keeping its last lines (each cut to its last
    :data:`LINE_BYTES`) in ``tail``, until the pipe closes, or until ``done`` is set and nothing more
    comes for :data:`POLL_SECONDS` (or :data:`DRAIN_SECONDS` in all: a daemon the program left behind
    may hold the pipe open forever)."""
    partial, drain_until = b"", None
    while True:
        if done.is_set() and drain_until is None:
            drain_until = time.monotonic() + DRAIN_SECONDS
        if drain_until is not None and time.monotonic() > drain_until:
            break
        ready, _, _ = select.select([fd], [], [], POLL_SECONDS)
        if not ready:
            if done.is_set():
                break
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        os.write(log_fd, chunk)
        *complete, partial = (partial + chunk).split(b"\n")
        partial = partial[-LINE_BYTES:]
        tail.extend(line[-LINE_BYTES:].decode("utf-8", "replace") for line in complete)
    if partial:
        tail.append(partial.decode("utf-8", "replace"))


def _quoted(stderr: str) -> str:
    return f"; stderr: {stderr[-400:]}" if stderr else ""


def _write_new(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``, never writing through a link at that name."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    with open(fd, "wb") as f:
        f.write(data)

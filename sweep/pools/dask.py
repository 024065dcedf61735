"""Trials on a Dask cluster: an existing one (``backend: dask``) or one started here (``dask-local``).

What this module makes sure of, because each was seen to go wrong:

- **The data set is not sent with each task.** It becomes one Dask future (see
  :meth:`DaskPool.share`) passed to each task as a top-level argument; an array inside a task's
  arguments would be pickled into every task instead. On one machine the future holds only the
  handle of files the workers memory-map, as loky's workers do.
- **A cluster that cannot run our tasks is refused before the first trial.** A Dask scheduler must
  answer at the address within :data:`CONNECT_TIMEOUT` in all (:func:`require_scheduler`: Dask's
  own client waits forever for a port that accepts and says nothing, an HTTP server say), and a
  probe run on the scheduler and on every worker must
  import this very version of ``sweep`` (the scheduler unpickles tasks too; without the package a
  task would wait forever). Either failure is a one-line :class:`~sweep.errors.SweepError`.
- **No wait is unbounded.** Tasks are Dask futures whose states are polled, and fetching a
  result has a timeout (Dask's ``concurrent.futures`` adapter was seen to leave a future
  unresolved forever when Dask cancelled its task). A worker that dies is retried by Dask; a task
  that keeps killing workers fails with ``KilledWorker`` after Dask's ``allowed-failures`` and is
  recorded ``crashed``. A task Dask loses otherwise (a result that died with its worker) is
  submitted again, up to a limit. A cluster left without workers for :data:`NO_WORKERS_TIMEOUT`,
  or a lost scheduler, ends the sweep with an error (finished trials stay on disk for ``--resume``).
- **Training runs at a plain process's speed in a nanny's worker:** each task sets glibc's malloc
  thresholds for itself (:mod:`.malloc`), which the nanny's ``MALLOC_TRIM_THRESHOLD_`` made 2x slower.
- **Ctrl-C cancels this sweep's futures and leaves an existing cluster running.**
- Whatever the project starts (``dask-local``) listens on 127.0.0.1 only, dashboard included, and
  its workers keep their files in the run's scratch folder. Its scheduler does not retry a task
  whose worker died (``allowed-failures: 0``): on this machine a worker dies of its own task, and
  the dispatcher runs every task that was on it again alone to find that one, so Dask's retries
  would only kill more workers (each restart of a worker was seen to hang a loaded machine's nanny).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import importlib.util
import json
import logging
import shutil
import sys
import threading
import time
import warnings
from pathlib import Path

from ..errors import SweepError
from ..task import process_identity
from .base import Outcome, Pool, single_thread_env
from .malloc import training_malloc
from .shared import SharedDataset, share, token_of

#: Seconds for a Dask scheduler to answer at its address: connection, Dask's handshake and a first reply.
CONNECT_TIMEOUT = 5
#: Seconds between two attempts to connect to an address that refuses (a scheduler still starting).
_RECONNECT_SECONDS = 0.1
#: Seconds the check of an address may take beyond its timeout to close its event loop (a name lookup
#: still running in that loop's thread pool is then abandoned with the thread).
_LOOP_CLOSE_SECONDS = 1
#: Preloaded into each ``dask-local`` worker: the cluster's own shutdown is not logged as an error.
QUIET_SHUTDOWN = "sweep.pools.dask_worker_setup"
#: Seconds to wait for a first worker to join the scheduler.
WORKERS_TIMEOUT = 30
#: Seconds for the probe to come back from the scheduler and every worker.
PROBE_TIMEOUT = 30
#: Seconds the cluster may have no worker at all in the middle of a sweep before it is given up.
NO_WORKERS_TIMEOUT = 120
#: Seconds to fetch a finished task's result from its worker.
RESULT_TIMEOUT = 120
#: Seconds a dask-local cluster gets to stop, once more after a first CONNECT_TIMEOUT ran out (seen on
#: a loaded machine: a nanny still restarting the worker a trial killed held up the close).
LOCAL_CLOSE_TIMEOUT = 60
#: States of a Dask future that will not change any more.
_SETTLED = ("finished", "error", "cancelled")
_STATE_POLL_SECONDS = 0.02
#: Where dask-local serves its dashboard (Dask moves to a free port if this one is taken).
LOCAL_DASHBOARD = "127.0.0.1:8787"


def _hold(data):
    """The task whose result is the data set, or its files' handle, on a worker (see :meth:`DaskPool.share`)."""
    return data


def _open_then_call(fn, *args):
    """``fn(*args)`` on a worker, with a shared data set's handle opened (mapped once per process),
    under :func:`~.malloc.training_malloc` (Dask's nanny sets a malloc trim threshold that doubles
    the time of a NumPy training step)."""
    with training_malloc():
        return fn(*(arg.open() if isinstance(arg, SharedDataset) else arg for arg in args))


class ResultLost(Exception):
    """A task finished, but its result could not be fetched from its worker."""


def _dask_modules():
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the installation
        raise SweepError("the dask backends need the dask extra: pip install 'sweep[dask]'") from None
    return distributed


def check_cluster(backend) -> None:
    """Connect to an existing cluster and probe it, then disconnect: SweepError if it cannot run sweeps."""
    client = connect(scheduler_address(backend))
    try:
        probe_cluster(client, client.scheduler.address)
    finally:
        client.close(timeout=CONNECT_TIMEOUT)


class DaskPool(Pool):
    """Tasks as futures on a Dask cluster, behind the pool interface (see :mod:`sweep.pools.base`)."""

    #: Dask finds the task that kills its workers itself (``KilledWorker``), so a task it lost
    #: otherwise is simply submitted again, alongside the others.
    finds_culprits = True

    def __init__(self, backend, n_jobs: int, scratch: Path | None = None):
        _dask_modules()
        self._cluster = None
        self.client = None
        self._scratch = Path(scratch) / "data" if scratch is not None else None
        try:
            if backend.name == "dask-local":
                self._cluster = start_local_cluster(n_jobs, scratch)
                self.address = self._cluster.scheduler_address
            else:
                self.address = scheduler_address(backend)
            self.client = connect(self.address)
            self.workers = probe_cluster(self.client, self.address)
        except BaseException:
            self.shutdown()
            raise
        self.warnings = tuple(worker_warnings(self.workers))
        # The client, and its batched stream to the scheduler (seen once: "Error in batched write"), log
        # tracebacks when they lose the scheduler; the runner reports that in one line.
        for name in ("distributed.client", "distributed.batched"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self._in_flight: set = set()  # distributed.Future
        self._workerless_since: float | None = None

    def _threads(self) -> int:
        """Worker threads in the cluster now; SweepError once the scheduler is gone."""
        try:
            if self.client.status == "running":
                return sum(self.client.nthreads().values())
        except (OSError, AttributeError):  # the scheduler went away during the call
            pass
        raise _scheduler_lost(self.address)

    def describe(self) -> str:
        kind = "dask-local cluster" if self._cluster is not None else "dask cluster"
        threads = self._threads()
        return f"{kind} at {self.address}: {threads} worker thread(s); dashboard {self.client.dashboard_link}"

    def slots(self) -> int:
        """Tasks to keep submitted: two per worker thread in the cluster now (workers come and go).

        The second task per thread waits on the scheduler, ready for the worker to start without a
        round trip to the client. It also keeps the data set wanted on the workers: Dask's active
        memory manager drops replicas that fewer tasks wait for than there are copies, and a worker
        whose copy was dropped fetches the data set again with its next task. Near the end of a
        sweep, or when the scheduler has placed every waiting task on one worker, that can still
        happen (a second transfer to that worker, never one per task).

        Called on every pass of the runner's loop, it is also the liveness check: SweepError when
        the scheduler is gone or the cluster has had no worker for :data:`NO_WORKERS_TIMEOUT`.
        """
        threads = self._threads()
        if threads:
            self._workerless_since = None
        elif self._workerless_since is None:
            self._workerless_since = time.monotonic()
        elif time.monotonic() - self._workerless_since > NO_WORKERS_TIMEOUT:
            raise SweepError(f"the Dask cluster at {self.address} has had no workers for {NO_WORKERS_TIMEOUT} s; "
                             "finished trials are saved: start workers and resume with --resume")
        return 2 * threads

    def share(self, data):
        """The data set as a future, to pass to tasks as a top-level argument.

        It is a task that returns the data set, not scattered data: Dask keeps a task's inputs and
        can compute it again when the last worker holding its result dies, whereas scattered data
        is then lost and Dask cancels every task that needs it (seen with one worker, and with two
        when a trial kills both).

        When every worker reads the files this process writes (one machine, as dask-local always
        is; checked with a token), the large arrays go to the scratch folder as for loky and the
        future holds only a small handle (:mod:`.shared`): nothing large passes through the
        scheduler or between workers, and the workers map the same pages. Otherwise the data set
        itself goes to the scheduler once and from there to one worker; each other worker fetches
        it from a peer with its first task. A worker that joins later on another machine cannot
        open the files: its trials fail with that error, and the others go on.
        """
        payload = self._as_files(data) or data
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sending large graph")  # sent once, on purpose
            return self.client.submit(_hold, payload, pure=False)

    def _as_files(self, data) -> SharedDataset | None:
        """``data`` written to the scratch folder, if every worker now sees that folder; else None."""
        if self._scratch is None:
            return None
        try:
            handle = share(data, self._scratch, open_on_arrival=False)
        except OSError:  # e.g. a full disk (share leaves no folder): the data set itself goes
            return None
        expected = token_of(handle.folder)
        try:
            seen = self.client.run(token_of, handle.folder, on_error="return", callback_timeout=PROBE_TIMEOUT)
        except Exception:  # noqa: BLE001 - a timeout or a lost scheduler: send the data itself, as before
            seen = {}
        if expected is not None and seen and all(token == expected for token in seen.values()):
            return handle
        shutil.rmtree(handle.folder, ignore_errors=True)
        return None

    def submit(self, fn, *args):
        """``fn(*args)`` as a Dask future (``pure=False``: a task run again is not a cached result)."""
        future = self.client.submit(_open_then_call, fn, *args, pure=False)
        self._in_flight.add(future)
        return future

    def wait(self, futures, timeout: float | None = None):
        """The futures that finished, failed or were cancelled (at least one, unless ``timeout`` ran out).

        Polls the futures' states rather than waiting through Dask's executor adapter, which can
        leave its future unresolved forever when Dask cancels the task it wraps.
        """
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            done = {f for f in futures if f.status in _SETTLED}
            if done or time.monotonic() >= deadline:
                self._in_flight.difference_update(done)
                return done, set(futures) - done
            time.sleep(_STATE_POLL_SECONDS)

    def result(self, future):
        """The task's result; raises what the task raised, or why Dask could not deliver it."""
        from distributed.comm.core import CommClosedError

        try:
            return future.result(timeout=RESULT_TIMEOUT)
        except TimeoutError:
            raise ResultLost(f"the result did not arrive within {RESULT_TIMEOUT} s") from None
        except CommClosedError as exc:
            # The connection carrying the result closed (seen when the scheduler was killed while a
            # result was being fetched): the trial did not fail, its result is lost in transit.
            raise ResultLost(f"the connection closed while the result was fetched ({exc})") from None

    def classify(self, exc: BaseException) -> Outcome:
        from distributed import KilledWorker

        if isinstance(exc, KilledWorker):
            return Outcome.KILLED_ITS_WORKER  # Dask retried it on allowed-failures + 1 workers, and each died
        if isinstance(exc, (cf.CancelledError, ResultLost)):
            if self.client.status != "running":
                raise _scheduler_lost(self.address) from None
            return Outcome.LOST  # e.g. a finished result died with its worker before it reached us: run it again
        return Outcome.RAISED

    def restart(self) -> None:
        pass  # a lost task does not break the cluster; Dask replaces dead workers itself

    def shutdown(self, kill: bool = False, keep: bool = False) -> None:
        """Cancel this sweep's futures and disconnect; a cluster started here is stopped too (``keep``
        is for local pools: a cluster's workers stay up anyway).

        Each step runs even when the one before failed (a second Ctrl-C, a close timeout)."""
        client, cluster, self.client, self._cluster = self.client, self._cluster, None, None
        try:
            if client is not None:
                try:
                    pending = [f for f in getattr(self, "_in_flight", ()) if f.status not in _SETTLED]
                    if pending and client.status == "running":
                        client.cancel(pending)
                finally:
                    client.close(timeout=CONNECT_TIMEOUT)
        finally:
            if cluster is not None:
                _close_local_cluster(cluster)


def _close_local_cluster(cluster) -> None:
    """Stop a cluster started here: a slow close is waited for once more, and one that still does
    not end is a warning (its processes end with this one), never an error once the trials are saved."""
    for timeout in (CONNECT_TIMEOUT, LOCAL_CLOSE_TIMEOUT):
        try:
            cluster.close(timeout=timeout)
            return
        except TimeoutError:
            continue
    print(f"sweep: warning: the dask-local cluster did not stop within {CONNECT_TIMEOUT + LOCAL_CLOSE_TIMEOUT} s; "
          "its processes end with this command", file=sys.stderr)


def scheduler_address(backend) -> str:
    """The scheduler's address, from the backend or from its scheduler file (read here, not by Dask,
    whose client would wait forever for a file that does not exist)."""
    if not backend.scheduler_file:
        return backend.scheduler
    path = Path(backend.scheduler_file)
    if path.is_dir():
        raise SweepError(f"scheduler file {path} is a folder; give the file `dask scheduler --scheduler-file` wrote")
    if not path.is_file():
        raise SweepError(f"scheduler file {path} not found; `dask scheduler --scheduler-file {path}` writes it")
    try:
        address = json.loads(path.read_text())["address"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise SweepError(f"{path} is not a Dask scheduler file (a JSON object with an `address`)") from None
    if not isinstance(address, str):
        raise SweepError(f"{path} is not a Dask scheduler file (its `address` is not a string)")
    return address


class _Unreachable(Exception):
    """Nothing accepted a connection at the address before the deadline (the first error is the cause)."""


def require_scheduler(address: str) -> None:
    """SweepError unless a Dask scheduler answers at ``address`` within :data:`CONNECT_TIMEOUT` s in all.

    Dask's client bounds only the connection: its handshake then waits for an answer forever, so a
    port that accepts and never answers (or answers in HTTP, which waits for a line Dask never
    sends) held the command until it was killed, and the half-made client printed a traceback at
    exit. Here the connection, the handshake and a first request (``identity``) share one deadline,
    and no client exists until a scheduler has answered.
    """
    identity, error = _identity_in_a_thread(address)
    if isinstance(error, _Unreachable):
        raise SweepError(f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT} s: is `dask "
                         f"scheduler` running there? ({_one_line(error.__cause__ or error)})") from None
    reason = _not_a_scheduler(identity, error)
    if reason:
        raise SweepError(f"{address} does not answer as a Dask scheduler ({reason}); give the address `dask "
                         "scheduler` printed (port 8786 unless it was started with another --port)")


def _not_a_scheduler(identity, error: BaseException | None) -> str | None:
    """Why a server that accepted a connection is not a Dask scheduler, from its reply to ``identity``
    or the error that came instead; None if it is one."""
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return f"it accepted a connection but did not answer Dask's handshake within {CONNECT_TIMEOUT} s"
    if error is not None:
        return _one_line(error)
    kind = identity.get("type") if isinstance(identity, dict) else None
    if kind == "Scheduler":
        return None
    return f"it is a Dask {kind}" if isinstance(kind, str) else "it answered something else"


def _identity_in_a_thread(address: str) -> tuple[object, BaseException | None]:
    """(the reply to ``identity`` at ``address``, None), or (None, why there is none): :func:`_identity`
    on an event loop of its own in a thread of its own (the caller may be running a loop already: a
    notebook), given up a little after its deadline (TimeoutError)."""
    answer: dict = {}

    def ask() -> None:
        try:
            answer["identity"] = asyncio.run(_identity(address, CONNECT_TIMEOUT))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            answer["error"] = exc

    thread = threading.Thread(target=ask, name="sweep-scheduler-check", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT + _LOOP_CLOSE_SECONDS)
    if "identity" in answer:
        return answer["identity"], None
    return None, answer.get("error", TimeoutError())


async def _identity(address: str, timeout: float):
    """What the Dask server at ``address`` says it is (its reply to ``identity``), all within ``timeout`` s.

    _Unreachable when no connection was accepted in time; TimeoutError, or the comm's error, when
    something accepted a connection but did not answer as Dask does.
    """
    from distributed.comm import connect

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await _accepting(address, deadline)

    async def ask():
        comm = await connect(address, timeout=deadline - loop.time())
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    return await asyncio.wait_for(ask(), max(deadline - loop.time(), 0))


async def _accepting(address: str, deadline: float) -> None:
    """Return once ``address`` accepts a connection (the connection is closed at once); _Unreachable if it
    has not by ``deadline`` (loop time). A refusal is tried again: a scheduler just started may refuse at first."""
    from distributed.comm import parse_address
    from distributed.comm.registry import get_backend

    loop = asyncio.get_running_loop()
    try:
        scheme, location = parse_address(address)
        connector = get_backend(scheme).get_connector()
    except ValueError as exc:
        raise _Unreachable() from exc
    while True:
        try:
            comm = await asyncio.wait_for(connector.connect(location, deserialize=False),
                                          max(deadline - loop.time(), 0))
        except (OSError, asyncio.TimeoutError) as exc:
            if loop.time() + _RECONNECT_SECONDS >= deadline:
                while exc.__cause__ is not None:  # Dask's CommClosedError names its connector, then the reason
                    exc = exc.__cause__
                raise _Unreachable() from exc
            await asyncio.sleep(_RECONNECT_SECONDS)
        else:
            comm.abort()
            return


def connect(address: str):
    """A client of the Dask scheduler at ``address``; SweepError unless one answers there in time
    (:func:`require_scheduler`)."""
    from distributed import Client

    require_scheduler(address)
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError/TimeoutError mostly; any failure to connect is one line
        raise SweepError(f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT} s: is `dask "
                         f"scheduler` running there? ({_one_line(exc)})") from None


def probe_cluster(client, address: str) -> dict[str, dict]:
    """Check that the scheduler and every worker import this version of sweep; return each worker's
    :func:`~sweep.task.process_identity` by worker address."""
    here = process_identity()
    install = f"install this package (sweep {here['sweep']}) there"
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except TimeoutError:
        raise SweepError(f"the Dask scheduler at {address} has no workers (waited {WORKERS_TIMEOUT} s); start "
                         f"some with `dask worker {address}`") from None
    try:
        scheduler = client.run_on_scheduler(process_identity, callback_timeout=PROBE_TIMEOUT)
    except TimeoutError:
        raise SweepError(f"the Dask scheduler at {address} did not answer the probe within {PROBE_TIMEOUT} s") \
            from None
    except OSError as exc:
        raise SweepError(f"lost the Dask scheduler at {address} during the probe ({_one_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - whatever the scheduler raised when it unpickled the probe
        raise SweepError(f"the Dask scheduler at {address} cannot import sweep ({_one_line(exc)}); {install}") \
            from None
    if scheduler["sweep"] != here["sweep"]:
        raise SweepError(f"the Dask scheduler at {address} has sweep {scheduler['sweep']}, this machine "
                         f"{here['sweep']}; {install}")
    try:
        workers = client.run(process_identity, on_error="return", callback_timeout=PROBE_TIMEOUT)
    except TimeoutError:
        raise SweepError(f"the workers of {address} did not answer the probe within {PROBE_TIMEOUT} s") from None
    except Exception as exc:  # noqa: BLE001 - e.g. the scheduler went away
        raise SweepError(f"the probe of the workers of {address} failed ({_one_line(exc)})") from None
    problems = []
    for worker, identity in sorted(workers.items()):
        if isinstance(identity, BaseException):
            problems.append(f"worker {worker} cannot import sweep ({_one_line(identity)})")
        elif identity["sweep"] != here["sweep"]:
            problems.append(f"worker {worker} has sweep {identity['sweep']}, this machine {here['sweep']}")
    if problems:
        more = f" (and {len(problems) - 2} more)" if len(problems) > 2 else ""
        raise SweepError("; ".join(problems[:2]) + more + f"; {install}")
    return workers


def worker_warnings(workers: dict[str, dict]) -> list[str]:
    """Warnings about workers: another NumPy (numbers may differ in the last digits), Dask's
    statistical profiler on (training about 15% slower, see :func:`start_local_cluster`).

    (Dask's nanny also sets ``MALLOC_TRIM_THRESHOLD_`` in its workers, which once slowed training
    by half; each task now sets glibc's thresholds for itself, see :mod:`.malloc`.)
    """
    here = process_identity()["numpy"]
    warnings = []
    others = sorted({identity["numpy"] for identity in workers.values()} - {here})
    if others:
        warnings.append(f"workers run NumPy {', '.join(others)} and this machine {here}: results may differ "
                        "in the last digits from a local run")
    profiling = sum(bool(identity.get("dask_profiler")) for identity in workers.values())
    if profiling:
        warnings.append(f"{profiling} of {len(workers)} Dask workers run Dask's statistical profiler, which "
                        "slows training by about 15%; start them with "
                        "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False")
    return warnings


def start_local_cluster(n_workers: int, scratch: Path | None):
    """A ``LocalCluster`` of ``n_workers`` single-threaded processes bound to 127.0.0.1."""
    import dask
    from distributed import LocalCluster

    has_dashboard = importlib.util.find_spec("bokeh") is not None  # Dask's dashboard needs bokeh
    # No MALLOC_TRIM_THRESHOLD_ in the workers (see .malloc): freed memory goes back to the system
    # as glibc decides, as in loky's workers. No statistical profiler: sampling every thread's stack
    # 100 times a second made the minute-long sweep of bench/backends.py 1.26x loky's time, against
    # 1.07x without it (its only use is the dashboard's Profile page).
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                              "distributed.scheduler.allowed-failures": 0,
                              "distributed.worker.profile.enabled": False,
                              "distributed.worker.preload": [QUIET_SHUTDOWN]}):
            return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                dashboard_address=LOCAL_DASHBOARD if has_dashboard else None,
                                local_directory=str(scratch) if scratch else None, silence_logs=logging.WARNING,
                                env=single_thread_env())
    except Exception as exc:  # noqa: BLE001 - e.g. workers that fail to start (a script without a __main__ guard)
        raise SweepError(f"could not start the dask-local cluster ({_one_line(exc)}); see the messages above") \
            from None


def _scheduler_lost(address: str) -> SweepError:
    return SweepError(f"lost the connection to the Dask scheduler at {address}; finished trials are saved: "
                      "resume with --resume")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if type(exc) is Exception and text:  # Dask's stand-in for an exception it could not send back: repr(exc)
        return text.splitlines()[0]
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__

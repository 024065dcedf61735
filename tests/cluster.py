"""A real Dask cluster of subprocesses on 127.0.0.1, as a user would start one with the `dask` command.

The scheduler listens on a free port (``--port 0``) and writes a scheduler file; each worker is a
``dask worker`` process (with its nanny, which restarts it when it dies) started with ``cwd="/"``,
so ``sweep`` is imported as an installed package, never from the current folder. Everything is
stopped by PID (and process group) at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DASK = str(Path(sys.executable).with_name("dask"))
TESTS_DIR = str(Path(__file__).resolve().parent)


class SubprocessCluster:
    """``dask scheduler`` plus ``n_workers`` ``dask worker`` processes, one thread each.

    ``worker_pythonpath`` is put first on the workers' PYTHONPATH and ``scheduler_pythonpath`` on the
    scheduler's (default for both: this tests folder, so they can unpickle the fault-injection task
    functions of ``faults.py``; the scheduler unpickles tasks too). ``worker_env`` adds environment
    variables to the workers. ``nanny=False`` starts workers without a nanny (one process each
    instead of two, for tests that never need a worker restarted).
    """

    def __init__(self, folder: Path, n_workers: int = 2, worker_pythonpath: str = TESTS_DIR,
                 scheduler_pythonpath: str = TESTS_DIR, worker_env: dict | None = None, nanny: bool = True):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scheduler_file = self.folder / "scheduler.json"
        self.n_workers = n_workers
        self.worker_pythonpath = worker_pythonpath
        self.scheduler_pythonpath = scheduler_pythonpath
        self.worker_env = worker_env or {}
        self.nanny = nanny
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> "SubprocessCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _spawn(self, args: list[str], name: str, pythonpath: str | None, extra_env: dict | None = None):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **(extra_env or {})}
        env.pop("PYTHONPATH", None)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        log = open(self.folder / f"{name}.log", "wb")
        process = subprocess.Popen([DASK, *args], cwd="/", env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def start(self) -> None:
        """The scheduler and the workers start together (a worker waits for the scheduler file to appear),
        so their imports overlap; then wait for the address and for every worker."""
        self.scheduler_file.unlink(missing_ok=True)
        self._spawn(["scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
                     "--scheduler-file", str(self.scheduler_file)], "scheduler", self.scheduler_pythonpath)
        for i in range(self.n_workers):
            self._spawn(["worker", "--scheduler-file", str(self.scheduler_file), "--host", "127.0.0.1",
                         "--nthreads", "1", "--dashboard-address", "127.0.0.1:0", "--name", f"w{i}",
                         "--local-directory", str(self.folder / f"w{i}"), *([] if self.nanny else ["--no-nanny"])],
                        f"worker{i}", self.worker_pythonpath, self.worker_env)
        deadline = time.monotonic() + 60
        while not self._address_written():
            if time.monotonic() > deadline or self.processes[0].poll() is not None:
                raise RuntimeError(f"dask scheduler did not start: {self.log('scheduler')}")
            time.sleep(0.1)
        if self.n_workers:
            self.wait_for_workers(self.n_workers)

    def _address_written(self) -> bool:
        try:
            return bool(json.loads(self.scheduler_file.read_text())["address"])
        except (OSError, ValueError, KeyError):
            return False

    @property
    def address(self) -> str:
        return json.loads(self.scheduler_file.read_text())["address"]

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=10, set_as_default=False)

    def wait_for_workers(self, n: int, timeout: float = 60) -> None:
        with self.client() as client:
            client.wait_for_workers(n, timeout=timeout)

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> PID of the worker process (the nanny's child that runs tasks)."""
        with self.client() as client:
            return client.run(os.getpid)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """Kill every process group (a test's cluster has nothing to save; a graceful close costs
        seconds per cluster), workers first, then reap them."""
        for process in self.processes[1:] + self.processes[:1]:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the process and, for a nanny, its worker
            except (ProcessLookupError, PermissionError):
                pass
        for process in self.processes:
            process.wait()
        self.processes.clear()

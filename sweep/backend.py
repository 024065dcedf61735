"""Where trials run: the ``backend``, ``scheduler`` and ``scheduler_file`` keys of an experiment file."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import did_you_mean, shown

BACKENDS = ("loky", "dask", "dask-local")
#: A Dask scheduler address: an optional protocol, a host (name, IPv4 or [IPv6]) and a port.
_SCHEDULER_ADDRESS = re.compile(r"^(?:([a-z][a-z0-9+]*)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
#: Protocols that Dask's `distributed` speaks without extra packages.
SCHEDULER_PROTOCOLS = ("tcp", "tls", "ws", "wss")


@dataclass(frozen=True)
class Backend:
    """Where trials run.

    - ``loky``: ``n_jobs`` worker processes on this machine (joblib);
    - ``dask``: an existing Dask cluster, reached at ``scheduler`` (``tcp://10.0.0.5:8786``) or
      through the JSON file ``dask scheduler --scheduler-file`` wrote (``scheduler_file``);
    - ``dask-local``: a Dask ``LocalCluster`` of ``n_jobs`` single-threaded workers started for the
      sweep, everything bound to 127.0.0.1.
    """

    name: str = "loky"
    scheduler: str | None = None
    scheduler_file: str | None = None

    def to_dict(self) -> dict:
        """The keys this backend takes in an experiment file."""
        out = {"backend": self.name}
        if self.scheduler:
            out["scheduler"] = self.scheduler
        if self.scheduler_file:
            out["scheduler_file"] = self.scheduler_file
        return out


def parse_backend(p, name, scheduler, scheduler_file) -> Backend:
    """``backend``, ``scheduler`` and ``scheduler_file``: a scheduler alone means ``backend: dask``.

    ``p`` is the config's problem formatter (``p.error(key path, message)`` -> ConfigError).
    """
    for key, value in (("scheduler", scheduler), ("scheduler_file", scheduler_file)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise p.error((key,), f"must be a non-empty string, got {shown(value)}")
    if scheduler is not None and scheduler_file is not None:
        raise p.error(("scheduler_file",), "give either scheduler (an address) or scheduler_file, not both")
    if name is None:
        name = "dask" if scheduler or scheduler_file else "loky"
    if not isinstance(name, str) or name not in BACKENDS:
        raise p.error(("backend",), f"{shown(name)} is not allowed{did_you_mean(str(name), BACKENDS)}; allowed: "
                                    "loky, dask, dask-local")
    if name != "dask" and (scheduler or scheduler_file):
        key = "scheduler" if scheduler else "scheduler_file"
        raise p.error((key,), f"a scheduler is only for backend: dask, not {name}")
    if name == "dask" and not (scheduler or scheduler_file):
        raise p.error(("backend",), "dask needs the cluster's scheduler: `scheduler: tcp://HOST:8786` or "
                                    "`scheduler_file: FILE` (--scheduler / --scheduler-file); use dask-local "
                                    "to start a cluster on this machine")
    if scheduler is not None:
        match = _SCHEDULER_ADDRESS.match(scheduler.strip())
        if not match:
            raise p.error(("scheduler",), f"{shown(scheduler)} is not a scheduler address; expected tcp://HOST:PORT, "
                                          "e.g. tcp://10.0.0.5:8786")
        protocol, port = match.group(1), int(match.group(2))
        if protocol and protocol not in SCHEDULER_PROTOCOLS:
            raise p.error(("scheduler",), f"protocol {protocol}:// is not supported; use one of "
                                          f"{', '.join(SCHEDULER_PROTOCOLS)}")
        if not 1 <= port <= 65535:
            raise p.error(("scheduler",), f"port {port} is out of range (1 to 65535)")
    return Backend(name, scheduler.strip() if scheduler else None, scheduler_file)

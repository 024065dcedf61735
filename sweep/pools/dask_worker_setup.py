"""Preloaded into each worker of a ``dask-local`` cluster: its own shutdown is not reported as an error.

When the sweep ends or is interrupted, the cluster is closed while a worker may still be running
a trial or sending its heartbeat. The worker then logs two records meant for a scheduler that
vanished unexpectedly: "Failed to communicate with scheduler during heartbeat" (with a traceback)
and "Async instruction ... ended with CancelledError" (which Dask says happens only in
``Worker.close``). A ``dask-local`` scheduler lives in the sweep's own process, so neither can
mean anything else than that shutdown, and the user's terminal would show a page of tracebacks
under the one-line interrupt message. Only these two records are dropped; every other warning of
the worker (memory, a task that failed) still reaches the terminal.
"""

from __future__ import annotations

import logging

#: (logger name, start of the message, end of the message) of each record dropped.
SHUTDOWN_RECORDS = (
    ("distributed.worker", "Failed to communicate with scheduler during heartbeat", ""),
    ("distributed.worker.state_machine", "Async instruction for", "ended with CancelledError"),
)


class _DropShutdownRecord(logging.Filter):
    def __init__(self, start: str, end: str):
        super().__init__()
        self.start, self.end = start, end

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (message.startswith(self.start) and message.endswith(self.end))


def dask_setup(worker=None) -> None:
    """Dask's preload hook, run once in each worker process as it starts."""
    for name, start, end in SHUTDOWN_RECORDS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropShutdownRecord) and f.start == start for f in logger.filters):
            logger.addFilter(_DropShutdownRecord(start, end))

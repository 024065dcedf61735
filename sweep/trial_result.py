"""What a worker sends back for each trial it ran (:class:`TrialResult`), and the result of a trial
that raised."""

from __future__ import annotations

import os
import socket
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .status import FAILED

if TYPE_CHECKING:
    from .plan import TrialSpec
    from .trainer import TrainState


@dataclass
class TrialResult:
    """The outcome of one trial: its status, final metrics, per-epoch history and error text."""

    trial_id: str
    status: str
    metrics: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    error: str = ""
    traceback: str = ""
    worker: str = ""  # host:pid of the process that ran it (empty when no worker reported back)
    checkpoint: TrainState | None = None  # status paused: the state to go on from
    model: dict | None = None  # the weights the trial is judged by, when its task was to send them back
    model_epoch: int = 0  # the epoch after which ``model`` was taken


def worker_name() -> str:
    """``host:pid`` of this process, recorded with each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def failed_result(trial: TrialSpec, exc: BaseException, status: str = FAILED, model=None) -> TrialResult:
    """A ``failed`` (or ``crashed``) result carrying the one-line error and the traceback; an error in a
    user's ``model`` names its file and line."""
    message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0] if str(exc) else type(exc).__name__
    if model is not None and model.path is not None:
        from .models import user_location

        where = user_location(exc, model.path)
        if where and where not in message:
            message = f"{where}: {message}"
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return TrialResult(trial.trial_id, status, {}, [], message, tb)

"""A sweep of a user's training script: the ``program:`` and ``command:`` keys of a W&B sweep file.

W&B's agent runs ``command`` (by default ``${env} ${interpreter} ${program} ${args}``) once per
trial, from the folder of the sweep file, with the trial's parameters as arguments. The program owns
its parameters, so they are not checked against any table of ours: each is a column of trials.csv,
its kind (``int``, ``float``, ``bool``, ``text`` or ``json``) read from the values the sweep file gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..params import ParamTable, program_parameter
from ..space import SpaceError, parse_distribution

#: Seconds a stopped program has between SIGTERM and SIGKILL (W&B agent's KILL_DELAY).
GRACE_SECONDS = 30.0
#: Columns of trials.csv and of the leaderboard that are not parameters: a program's parameter or metric
#: may not take their names.
RESERVED_COLUMNS = ("trial_id", "status", "seed", "repeat", "config_id", "steps", "seconds", "worker", "error",
                    "rank", "order", "runs", "ok")
#: Columns of a program's history (:func:`sweep.results.analysis.program_history`) that are not logged
#: names: the metric may not take their names (a logged key that does is kept as ``logged_<key>``).
HISTORY_COLUMNS = ("trial_id", "step", "iteration")


@dataclass(frozen=True)
class ProgramSpec:
    """How to run one trial of a program sweep (picklable: it travels with each task to the workers).

    ``program``: the script as the sweep file names it (may be None when ``command`` does not use
    ``${program}``); ``command``: the ``command:`` list, or None for W&B's default; ``folder``: the
    absolute folder the program runs in (the experiment file's); ``timeout``: seconds a trial may run
    (None: no limit); ``grace``: seconds between SIGTERM and SIGKILL when a trial is stopped;
    ``metric``: the name of the metric the lines carry.
    """

    program: str | None
    command: tuple[str, ...] | None
    folder: str
    metric: str
    timeout: float | None = None
    grace: float = GRACE_SECONDS
    #: W&B's nested parameters: (flat name, path of names) pairs, e.g. ("optimizer.lr", ("optimizer", "lr"))
    nested: tuple = ()

    def arguments(self, params: Mapping) -> dict:
        """A trial's parameters as W&B's agent passes them: nested ones in a dict under their top name
        (``{"optimizer": {"lr": 0.1}}``, written ``--optimizer={'lr': 0.1}``), the rest as they are."""
        from ..space import nest_values

        return nest_values(params, dict(self.nested)) if self.nested else dict(params)

    def missing_program(self) -> str | None:
        """Why the program cannot run, in one line, when the command runs ``${program}`` and no such file
        is in its folder (nor, for a bare name, on the PATH); else None."""
        import shutil

        from .command import DEFAULT_COMMAND

        command = self.command if self.command is not None else DEFAULT_COMMAND
        if self.program is None or not any("${program}" in str(item) for item in command):
            return None
        if (Path(self.folder) / self.program).exists() or ("/" not in self.program and shutil.which(self.program)):
            return None
        return (f"program {self.program} not found in {self.folder} (the folder of the experiment file, where each "
                "trial runs)")

    def source_sha256(self) -> str | None:
        """The SHA-256 of the program's file (None when ``program`` names no file in its folder): a
        resume refuses a changed script, whose trials would not be comparable with those recorded."""
        import hashlib

        if self.program is None:
            return None
        path = Path(self.folder) / self.program
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        except OSError:
            return None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {}
        if self.program is not None:
            out["program"] = self.program
        if self.command is not None:
            out["command"] = list(self.command)
        if self.timeout is not None:
            out["timeout"] = self.timeout
        return out


def parameter_kind(block: Any) -> str:
    """The kind of a program's parameter from its W&B block (``{values: [...]}``, ``{value: x}``,
    ``{distribution: ..., min: ..., max: ...}``) or from a fixed value: ``int`` or ``float`` when every
    value is such a number (``int_uniform``, a quantized draw with whole ``q`` and bounds, and the
    continuous distributions), ``bool``, ``text`` when every value is one, ``json`` otherwise (lists,
    mixed values, null)."""
    if not isinstance(block, Mapping):
        return _kind_of_values([block])
    try:
        dist = parse_distribution(block)
    except SpaceError:
        return "json"  # the block's own error is raised where the parameters are read
    if dist.kind in ("constant", "categorical"):
        return _kind_of_values(dist.values)
    if dist.kind == "int_uniform":
        return "int"
    if dist.is_quantized and all(float(getattr(dist, k, 1) or 1).is_integer() for k in ("q", "min", "max")):
        return "int"  # a draw is rounded to a multiple of q: a whole number when q and the bounds are
    return "float"


def _kind_of_values(values) -> str:
    values = list(values)
    if values and all(isinstance(v, bool) for v in values):
        return "bool"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    if values and all(isinstance(v, float) and math.isfinite(v) for v in values):
        return "float"
    if values and all(isinstance(v, str) for v in values):
        return "text"
    return "json"


def program_table(parameters: Any, fixed: Any) -> ParamTable:
    """The hyperparameters of a program sweep, in the order the file gives them (``parameters``,
    then ``fixed``): every name the file names, with the kind its values have."""
    specs = []
    for blocks, fixed_values in ((parameters, False), (fixed, True)):
        if not isinstance(blocks, Mapping):
            continue
        for name, block in blocks.items():
            kind = _kind_of_values([block]) if fixed_values else parameter_kind(block)
            specs.append(program_parameter(str(name), kind))
    return ParamTable(specs)


def kill_delay() -> float:
    """Seconds between SIGTERM and SIGKILL: ``$SWEEP_KILL_DELAY`` when set (W&B's agent reads
    ``$WANDB_AGENT_KILL_DELAY``), else :data:`GRACE_SECONDS`."""
    import os

    try:
        seconds = float(os.environ.get("SWEEP_KILL_DELAY", GRACE_SECONDS))
    except ValueError:
        return GRACE_SECONDS
    return seconds if 0 <= seconds < math.inf else GRACE_SECONDS


def resolve_folder(source: str | None) -> str:
    """The folder a program runs in: the experiment file's (the working directory without a file)."""
    if source and source != "<experiment>" and Path(source).exists():
        return str(Path(source).resolve().parent)
    return str(Path.cwd())

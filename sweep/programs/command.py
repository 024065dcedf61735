"""The argv of a trial's subprocess, built from a sweep's ``program:`` and ``command:`` exactly as
``wandb agent`` builds it (wandb/wandb @ b6e2950: ``wandb/wandb_agent.py`` ``Agent.run`` and
``Agent._command_run``; ``wandb/sdk/launch/sweeps/utils.py`` ``create_sweep_command`` and
``create_sweep_command_args``).

Examples with ``program="train.py"`` and ``params={"lr": 0.001, "deep": False, "layers": [64, 32]}``:

============================ =============================================================
``${env}``                   ``/usr/bin/env`` (nothing on Windows)
``${interpreter}``           ``sys.executable`` (W&B: ``python``; see :func:`build_argv`)
``${program}``               ``train.py``
``${args}``                  ``--lr=0.001 --deep=False --layers=[64, 32]``
``${args_no_equals}``        ``--lr 0.001 --deep False --layers [64, 32]`` (6 items)
``${args_no_hyphens}``       ``lr=0.001 deep=False layers=[64, 32]``
``${args_no_boolean_flags}`` ``--lr=0.001 --layers=[64, 32]`` (``deep=True`` gives ``--deep``)
``${args_append_hydra}``     ``+lr=0.001 +deep=False +layers=[64, 32]``
``${args_override_hydra}``   ``++lr=0.001 ++deep=False ++layers=[64, 32]``
``${args_json}``             one item: ``{"lr": 0.001, "deep": false, "layers": [64, 32]}``
``${args_json_file}``        one item: the ``json_file`` path (the caller writes
                             :func:`args_json_text` there)
``${args_dict}``             ``lr deep layers`` (W&B's ``list += dict`` adds the keys)
============================ =============================================================

No shell is involved: every item is one argv string, so a value ``; touch /tmp/x`` arrives verbatim.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from collections.abc import Mapping

# utils.py DEFAULT_SWEEP_COMMAND (also Agent.DEFAULT_SWEEP_COMMAND)
DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")
# every key of Agent._command_run's sweep_vars, i.e. every macro the agent expands
MACROS = (
    "${env}", "${interpreter}", "${program}", "${args}", "${args_no_equals}", "${args_no_hyphens}",
    "${args_no_boolean_flags}", "${args_json}", "${args_json_file}", "${args_dict}",
    "${args_append_hydra}", "${args_override_hydra}",
)  # fmt: skip
# utils.py SWEEP_COMMAND_ENV_VAR_REGEX: ``${envvar:NAME}`` anywhere inside an item, NAME in [A-Z0-9_]
_ENVVAR = re.compile(r"\$\{envvar\:([A-Z0-9_]*)\}")


def format_value(value) -> str:
    """``value`` as W&B writes it after ``--name=``: ``f"{value}"``, i.e. ``str()``, not JSON.

    utils.py ``create_sweep_command_args``: ``_flag: str = f"{param}={_value}"``. So ``0.001`` ->
    ``0.001``, ``1e-05`` -> ``1e-05``, ``True`` -> ``True``, ``None`` -> ``None``, ``[1, 2]`` ->
    ``[1, 2]``, ``{"a": "b"}`` -> ``{'a': 'b'}``, ``"adam w"`` -> ``adam w`` (no quotes).
    """
    return f"{value}"


def args_json_text(params: Mapping) -> str:
    """The ``${args_json}`` item, which is also the text of ``${args_json_file}``'s file.

    utils.py ``create_sweep_command_args``: ``"args_json": [json.dumps(flags_dict)]`` (default
    separators, ASCII-escaped, ``NaN`` allowed); ``Agent._command_run`` writes that string to the file.
    """
    return json.dumps(dict(params))


def _items(command) -> list[str]:
    # Agent.run keeps `command:` only `if sweep_command and isinstance(sweep_command, list)` (else the
    # default, silently: here a non-list is an error) and create_sweep_command does `command or DEFAULT`.
    if command is None or (isinstance(command, list) and not command):
        return list(DEFAULT_COMMAND)
    if not isinstance(command, list):
        raise ValueError(f"`command:` must be a list of strings, not {type(command).__name__}")  # noqa: TRY004
    for c in command:
        # Agent._command_run does `c = str(c)`, so W&B runs `[..., --epochs, 5]`; a None, list or dict
        # item (an empty or nested YAML item) is surely a mistake.
        if not isinstance(c, (str, int, float)):
            raise ValueError(f"`command:` must be a list of strings; item {c!r} is not")  # noqa: TRY004
    # create_sweep_command: each ${envvar:NAME} becomes os.environ[NAME], or NAME when unset; before
    # the macros are expanded (so an envvar holding "${args}" is expanded as a macro).
    return [_ENVVAR.sub(lambda m: os.environ.get(m.group(1), m.group(1)), str(c)) for c in command]


def build_argv(
    program: str | None,
    command: list[str] | None,
    params: Mapping,
    *,
    json_file: str | None = None,
    interpreter: str | None = None,
) -> list[str]:
    """The argv of one trial: ``command`` (default ``${env} ${interpreter} ${program} ${args}``) with
    its macros expanded for ``params`` (``{name: value}``, in order).

    As ``Agent._command_run``: an item is a macro only when it is one whole item (``c.startswith("${")
    and c.endswith("}")``); it becomes zero or more items. ``--config=${args_json_file}`` is kept
    literally, and an unknown whole-item macro (``${foo}``, ``${env}`` on Windows, ``${args}`` with
    no params) becomes nothing (``command_list += sweep_vars.get(c[2:-1]) or []``).

    ``interpreter=None``: W&B's agent always puts ``python`` (``sweep_vars["interpreter"] =
    ["python"]``), whichever ``python`` ``/usr/bin/env`` finds in the PATH. For a ``.py`` program, or
    none, we put ``sys.executable`` instead: the runner's own Python, with the packages the sweep was
    planned with, so a trial does not depend on the PATH of the machine it runs on. For any other
    program we keep W&B's ``python``, as W&B does (it never looks at the extension).

    ``json_file`` is the path ``${args_json_file}`` stands for; nothing is written here (W&B writes
    ``$WANDB_DIR/wandb/sweep-<id>/config-<run>.json``; the caller writes :func:`args_json_text`).
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"the parameters must be a mapping, not {type(params).__name__}")  # noqa: TRY004
    items = _items(command)
    flags = [f"{name}={format_value(value)}" for name, value in params.items()]
    pairs = list(zip(params.items(), flags))
    if interpreter is None:
        interpreter = sys.executable if program is None or program.endswith(".py") else "python"
    sweep_vars = {  # create_sweep_command_args, then the four Agent._command_run adds
        "args": ["--" + f for f in flags],
        "args_no_equals": [s for n, v in params.items() for s in (f"--{n}", str(v))],
        "args_no_hyphens": flags,
        # a bool is `--name` when True, left out when False
        "args_no_boolean_flags": [f"--{n}" if v is True else "--" + f for (n, v), f in pairs if v is not False],
        "args_dict": [f"{n}" for n in params],
        "args_append_hydra": ["+" + f for f in flags],
        "args_override_hydra": ["++" + f for f in flags],
        "interpreter": [interpreter],
    }
    if platform.system() != "Windows":
        sweep_vars["env"] = ["/usr/bin/env"]
    argv: list[str] = []
    for c in items:
        if not (c.startswith("${") and c.endswith("}")):
            argv.append(c)
        elif c == "${program}" and program is None:
            raise ValueError("`command:` uses ${program} but the sweep has no `program:`")
        elif c == "${program}":
            argv.append(program)
        elif c == "${args_json_file}" and json_file is None:
            raise ValueError("`command:` uses ${args_json_file} but no JSON file path was given")
        elif c == "${args_json_file}":
            argv.append(json_file)
        elif c == "${args_json}":
            argv.append(args_json_text(params))
        else:
            argv += sweep_vars.get(c[2:-1]) or []
    return argv

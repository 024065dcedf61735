"""sweep.programs.command builds a trial's argv exactly as `wandb agent` does.

The expected strings follow W&B's source, wandb/wandb @ b6e2950 (unchanged in substance since 2023):
wandb/sdk/launch/sweeps/utils.py `create_sweep_command` / `create_sweep_command_args`, and
wandb/wandb_agent.py `Agent._command_run`. `_wandb_args` below is the loop of
`create_sweep_command_args` copied verbatim (MIT licence, (c) Weights & Biases), and `_wandb_expand`
the expansion loop of `Agent._command_run`; the tests compare build_argv with them on many inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sweep.programs.command import (
    DEFAULT_COMMAND,
    MACROS,
    args_json_text,
    build_argv,
    format_value,
)

PY = sys.executable
ENV = "/usr/bin/env"
PARAMS = {"lr": 0.001, "deep": False, "layers": [64, 32]}


def _wandb_args(command: dict) -> dict:
    """utils.py create_sweep_command_args, verbatim but for the type annotations."""
    flags, flags_no_hyphens, flags_no_booleans, flags_dict = [], [], [], {}
    args_no_equals, flags_append_hydra, flags_override_hydra = [], [], []
    for param, config in command["args"].items():
        _value = config["value"]
        _flag = f"{param}={_value}"
        flags.append("--" + _flag)
        flags_no_hyphens.append(_flag)
        args_no_equals += [f"--{param}", str(_value)]
        flags_append_hydra.append("+" + _flag)
        flags_override_hydra.append("++" + _flag)
        if isinstance(_value, bool):
            # omit flags if they are boolean and false
            if _value:
                flags_no_booleans.append("--" + param)
        else:
            flags_no_booleans.append("--" + _flag)
        flags_dict[param] = _value
    return {
        "args": flags,
        "args_no_equals": args_no_equals,
        "args_no_hyphens": flags_no_hyphens,
        "args_no_boolean_flags": flags_no_booleans,
        "args_json": [json.dumps(flags_dict)],
        "args_dict": flags_dict,
        "args_append_hydra": flags_append_hydra,
        "args_override_hydra": flags_override_hydra,
    }


def _wandb_expand(sweep_command, sweep_vars):
    """wandb_agent.py Agent._command_run, the POSIX branch, with interpreter = sys.executable."""
    sweep_vars["interpreter"] = [PY]  # W&B: ["python"]
    sweep_vars["env"] = ["/usr/bin/env"]
    command_list = []
    for c in sweep_command:
        c = str(c)
        if c.startswith("${") and c.endswith("}"):
            replace_list = sweep_vars.get(c[2:-1])
            command_list += replace_list or []
        else:
            command_list += [c]
    return command_list


PARAM_SETS = [
    {},
    PARAMS,
    {"lr": 1e-05, "n": 3, "big": 1e20, "tiny": 0.1 + 0.2, "neg": -0.5, "zero": 0, "zf": 0.0},
    {"on": True, "off": False, "none": None, "nan": float("nan"), "inf": float("-inf")},
    {"opt": {"name": "adam", "betas": [0.9, 0.999]}, "tags": ["a b", "c"], "t": (1, 2), "e": []},
    {"s": "adam w", "q": 'it\'s "quoted"', "u": "café", "eq": "a=b", "nl": "x\ny", "empty": ""},
]


ALL_MACROS = ["${program}", *MACROS, "${args_json_file}", "${unknown}", "x=${args}", "${envvar:HOME}"]


@pytest.mark.parametrize("params", PARAM_SETS, ids=range(len(PARAM_SETS)))
def test_every_macro_as_wandb_expands_it(params, monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    sweep_vars = _wandb_args({"args": {k: {"value": v} for k, v in params.items()}})
    command = [c.replace("${envvar:HOME}", "/home/someone") for c in ALL_MACROS]
    expected = _wandb_expand(command, dict(sweep_vars, program=["t.py"], args_json_file=["c.json"]))
    assert build_argv("t.py", ALL_MACROS, params, json_file="c.json") == expected


def test_against_the_installed_wandb_if_any():
    utils = pytest.importorskip("wandb.sdk.launch.sweeps.utils")  # not installed in the venv
    for params in PARAM_SETS:
        sweep_vars = utils.create_sweep_command_args({"args": {k: {"value": v} for k, v in params.items()}})
        sweep_vars.update(program=["t.py"], args_json_file=["c.json"])
        expected = _wandb_expand(utils.create_sweep_command(list(ALL_MACROS)), sweep_vars)
        assert build_argv("t.py", ALL_MACROS, params, json_file="c.json") == expected


def test_default_command():
    # utils.py DEFAULT_SWEEP_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]
    assert DEFAULT_COMMAND == ("${env}", "${interpreter}", "${program}", "${args}")
    want = [ENV, PY, "train.py", "--lr=0.001", "--deep=False", "--layers=[64, 32]"]
    assert build_argv("train.py", None, PARAMS) == want
    # create_sweep_command: `command = command or DEFAULT_SWEEP_COMMAND`
    assert build_argv("train.py", [], PARAMS) == want


@pytest.mark.parametrize(
    "macro, expected",
    [
        ("${env}", [ENV]),
        ("${interpreter}", [PY]),
        ("${program}", ["train.py"]),
        ("${args}", ["--lr=0.001", "--deep=False", "--layers=[64, 32]"]),
        ("${args_no_equals}", ["--lr", "0.001", "--deep", "False", "--layers", "[64, 32]"]),
        ("${args_no_hyphens}", ["lr=0.001", "deep=False", "layers=[64, 32]"]),
        ("${args_no_boolean_flags}", ["--lr=0.001", "--layers=[64, 32]"]),
        ("${args_json}", ['{"lr": 0.001, "deep": false, "layers": [64, 32]}']),
        ("${args_json_file}", ["/trial/7/params.json"]),
        ("${args_dict}", ["lr", "deep", "layers"]),  # `command_list += flags_dict`: the keys
        ("${args_append_hydra}", ["+lr=0.001", "+deep=False", "+layers=[64, 32]"]),
        ("${args_override_hydra}", ["++lr=0.001", "++deep=False", "++layers=[64, 32]"]),
    ],
)
def test_each_macro(macro, expected):
    assert macro in MACROS
    command = ["a", macro, "b"]
    got = build_argv("train.py", command, PARAMS, json_file="/trial/7/params.json")
    assert got == ["a", *expected, "b"]


@pytest.mark.parametrize(
    "value, text",
    [  # utils.py create_sweep_command_args: `_flag: str = f"{param}={_value}"`, str() not JSON
        (0.001, "0.001"),
        (1e-05, "1e-05"),
        (1e20, "1e+20"),
        (0.1 + 0.2, "0.30000000000000004"),
        (2.0, "2.0"),
        (3, "3"),
        (True, "True"),
        (False, "False"),
        (None, "None"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        ([1, 2.5, "a"], "[1, 2.5, 'a']"),
        ((1, 2), "(1, 2)"),
        ({"name": "adam", "beta": 0.9}, "{'name': 'adam', 'beta': 0.9}"),
        ("adam w", "adam w"),
        ("", ""),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text
    assert build_argv(None, ["${args}"], {"x": value}) == [f"--x={text}"]


def test_boolean_flags():
    # create_sweep_command_args: a bool True is `--name`, False is left out; anything else `--name=value`
    params = {"a": True, "b": False, "c": None, "d": 0, "e": "False"}
    got = build_argv(None, ["${args_no_boolean_flags}"], params)
    assert got == ["--a", "--c=None", "--d=0", "--e=False"]


def test_args_json_text():
    # create_sweep_command_args: `"args_json": [json.dumps(flags_dict)]`, json.dumps' defaults
    params = {"a": None, "b": True, "s": "café", "n": float("nan"), "l": (1, 2)}
    text = '{"a": null, "b": true, "s": "caf\\u00e9", "n": NaN, "l": [1, 2]}'
    assert args_json_text(params) == text
    assert build_argv(None, ["${args_json}"], params) == [text]


def test_macros_only_as_whole_items():
    # Agent._command_run: `if c.startswith("${") and c.endswith("}")`, else the item is kept as it is,
    # and `command_list += sweep_vars.get(c[2:-1]) or []` drops an unknown macro
    command = ["--config=${args_json_file}", "${args", "$args", "${unknown}", "${}", "${a} ${b}"]
    assert build_argv(None, command, PARAMS, json_file="p.json") == command[:3]
    assert build_argv("t.py", ["${program}", "${args}", "end"], {}) == ["t.py", "end"]


def test_environment_variable_macro(monkeypatch):
    # utils.py create_sweep_command: ${envvar:NAME} anywhere in an item, NAME matching [A-Z0-9_]*,
    # becomes os.environ.get(NAME, NAME); it runs before the macros are expanded. An unmatched
    # ${envvar:lower} is kept inside text, but as a whole item it is an unknown macro: dropped.
    monkeypatch.setenv("DATA_DIR", "/data")
    monkeypatch.setenv("EXTRA", "${args}")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    command = ["--d=${envvar:DATA_DIR}/${envvar:DATA_DIR}", "${envvar:NOT_SET_ANYWHERE}",
               "-${envvar:lower}", "${envvar:lower}", "${envvar:EXTRA}"]  # fmt: skip
    got = build_argv(None, command, {"x": 1})
    assert got == ["--d=/data//data", "NOT_SET_ANYWHERE", "-${envvar:lower}", "--x=1"]


def test_interpreter():
    # Agent._command_run: `sweep_vars["interpreter"] = ["python"]` whatever the program; here the runner's
    # own Python for a .py program (or none), W&B's `python` otherwise, or the one given
    assert build_argv("a/train.py", ["${interpreter}"], {}) == [PY]
    assert build_argv(None, ["${interpreter}", "-m", "pkg.train"], {}) == [PY, "-m", "pkg.train"]
    assert build_argv("train.sh", ["${interpreter}"], {}) == ["python"]
    assert build_argv("train.sh", ["${interpreter}"], {}, interpreter="bash") == ["bash"]


def test_env_macro_is_dropped_on_windows(monkeypatch):
    # Agent._command_run sets sweep_vars["env"] only `if platform.system() != "Windows"`
    monkeypatch.setattr("platform.system", lambda: "Windows")
    assert build_argv("t.py", None, {"x": 1}) == [PY, "t.py", "--x=1"]


def test_numbers_in_command_are_strings():
    # Agent._command_run: `c = str(c)`, so `command: [..., --epochs, 5]` runs under W&B
    assert build_argv(None, ["--epochs", 5, 0.5], {}) == ["--epochs", "5", "0.5"]


@pytest.mark.parametrize(
    "program, command, json_file, message",
    [
        ("t.py", "python t.py ${args}", None, "must be a list of strings, not str"),
        ("t.py", {"cmd": "x"}, None, "must be a list of strings, not dict"),
        ("t.py", ["python", None], None, "item None is not"),
        ("t.py", ["python", ["a"]], None, "item ['a'] is not"),
        (None, None, None, "uses ${program} but the sweep has no `program:`"),
        (None, ["x", "${program}"], None, "uses ${program}"),
        ("t.py", ["${args_json_file}"], None, "uses ${args_json_file} but no JSON file"),
    ],
)
def test_errors(program, command, json_file, message):
    with pytest.raises(ValueError) as raised:
        build_argv(program, command, {"x": 1}, json_file=json_file)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_params_must_be_a_mapping():
    with pytest.raises(ValueError, match="must be a mapping, not list"):
        build_argv("t.py", None, [("x", 1)])


def test_shell_injection_stays_literal(tmp_path):
    marker = Path("/tmp") / f"sweep-injection-{uuid.uuid4().hex}"
    evil = [f"$(touch {marker})", f"; touch {marker}", f"`touch {marker}`", f"| touch {marker}",
            f"&& touch {marker} #", "a b\tc\nd", "'\"\\", "${args}", "${envvar:HOME}", "*", "~"]  # fmt: skip
    params = {f"p{i}": value for i, value in enumerate(evil)}
    program = tmp_path / "echo_args.py"
    program.write_text("import sys, json\nprint(json.dumps(sys.argv[1:]))\n")
    argv = build_argv(str(program), None, params)
    assert argv[:3] == [ENV, PY, str(program)]
    assert argv[3:] == [f"--p{i}={value}" for i, value in enumerate(evil)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(done.stdout) == argv[3:]
    # the JSON form arrives whole too, and reads back as the parameters
    code = "import sys, json; print(json.dumps(sys.argv[1:]))"
    argv = build_argv(None, ["${interpreter}", "-c", code, "${args_json}"], params)
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    assert [json.loads(item) for item in json.loads(done.stdout)] == [params]
    assert not marker.exists()

"""Program sweeps under careless and hostile use: what a user's script writes, names it is given, and
processes it leaves behind must never break the run folder, escape it, or leave programs running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import sweep_cli
from test_program_sweeps import alive, experiment, rows, wait_until, write

pytestmark = pytest.mark.slow


# ------------------------------------------------------------------------------ what a program writes
def lines_of(tmp_path, *texts: str, metric: str = "score", final: bool = True):
    from sweep.programs.metrics import MetricLines

    path = tmp_path / "m.jsonl"
    path.write_bytes(b"".join(t.encode() + b"\n" for t in texts))
    lines = MetricLines(path, metric)
    lines.read_more(final=final)
    return lines


def test_json_nested_past_pythons_recursion_limit_is_a_malformed_line_not_a_crash(tmp_path):
    lines = lines_of(tmp_path, '{"score": 1}', '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert lines.values == [1.0] and lines.problem.startswith("line 2 of $SWEEP_METRICS is not JSON")


def test_a_metric_past_a_floats_range_is_a_malformed_line(tmp_path):
    lines = lines_of(tmp_path, '{"score": 1' + "0" * 400 + "}")
    assert "beyond a float's range" in lines.problem


def test_logged_names_the_history_uses_itself_are_kept_apart_and_control_characters_become_spaces(tmp_path):
    from sweep.programs.metrics import text_of

    lines = lines_of(tmp_path, json.dumps({"step": 7, "trial_id": "x", "iteration": 3, "a\nb": 1, "score": 2}))
    assert lines.records == [{"logged_step": 7, "logged_trial_id": "x", "logged_iteration": 3, "a b": 1,
                              "score": 2.0, "step": 1}]
    assert text_of("one\ntwo\x00three") == "one two three"


def test_an_unfinished_last_line_is_read_only_once_the_program_has_ended(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"score": 1}\n{"sco')
    from sweep.programs.metrics import MetricLines

    lines = MetricLines(path, "score")
    lines.read_more()
    assert lines.values == [1.0] and not lines.problem


# ------------------------------------------------------------------------------ names in the file
def parse(tmp_path, **doc):
    from sweep.config import parse_experiment

    write(tmp_path / "t.py", "")
    base = {"name": "t", "program": "t.py", "metric": {"name": "score"}, "method": "grid",
            "parameters": {"x": {"value": 1}}}
    return parse_experiment({**base, **doc}, source=str(tmp_path / "sweep.yaml"))


@pytest.mark.parametrize("doc, expected", [
    ({"parameters": {"a\nb": {"value": 1}}}, "is not allowed as a parameter's name"),
    ({"parameters": {"x": {"values": ["ok", "new\nline"]}}}, "a value with a control character"),
    ({"parameters": {"x": {"value": 1}}, "fixed": {"y": {"nested": "nul\x00"}}}, "a value with a control character"),
    ({"parameters": {"rank": {"value": 1}}}, "`rank` is a column of trials.csv or of the leaderboard"),
    ({"parameters": {"ok": {"value": 1}}}, "`ok` is a column of trials.csv or of the leaderboard"),
    ({"metric": {"name": "iteration"}}, "`iteration` is a column of trials.csv or of the history"),
    ({"metric": {"name": "val\nacc"}}, "is not allowed; name the metric the program logs"),
    ({"metric": {"name": "score", "impute": "best"}}, "'best' is not supported"),
])
def test_names_and_values_that_would_garble_the_run_folder_are_refused_in_one_line(tmp_path, doc, expected):
    from sweep.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        parse(tmp_path, **doc)
    assert expected in str(info.value)


def test_what_wandb_accepts_is_accepted_numbers_in_command_and_metric_target_with_a_warning(tmp_path):
    experiment_ = parse(tmp_path, command=["${interpreter}", "${program}", "--epochs", 5, "${args}"],
                        metric={"name": "score", "goal": "maximize", "target": 0.99})
    assert experiment_.program.command[3] == 5
    assert any("metric.target" in w for w in experiment_.warnings)


def test_set_on_the_command_line_fixes_a_programs_parameter(tmp_path):
    from sweep.config import load_experiment

    write(tmp_path / "t.py", "")
    path = experiment(tmp_path, program="t.py", metric={"name": "score"},
                      method="grid", parameters={"width": {"values": [1, 2]}, "depth": {"value": 3}})
    loaded = load_experiment(path, ["width=7"])
    assert "width" not in loaded.parameters and loaded.fixed["width"] == 7


def test_slice_figure_file_names_stay_in_plots_whatever_a_parameter_is_called():
    from sweep.figures import slice_file_name

    names = [slice_file_name(p) for p in ("lr", "../../escape", "a/b", "a_b", ".hidden", "x y")]
    assert names[0] == "slice_lr.png" and names[3] == "slice_a_b.png"
    assert len(set(names)) == len(names)
    assert all("/" not in n and ".." not in n and " " not in n for n in names)


OWN_NAMES = """\
import json, os, sys
with open(os.environ["SWEEP_METRICS"], "a") as f:
    f.write(json.dumps({"score": float(len(sys.argv))}) + "\\n")
"""


def test_parameters_named_like_paths_draw_their_figures_inside_the_run_folder(tmp_path):
    work = tmp_path / "a" / "b" / "c"  # where a name climbing out of plots/ would land, inside tmp_path
    work.mkdir(parents=True)
    write(work / "own.py", OWN_NAMES)
    experiment(work, program="own.py", method="grid", metric={"name": "score", "goal": "maximize"},
               parameters={"../../../escape": {"values": [1, 2]}, "a/b": {"values": [1, 2]}})
    result = sweep_cli("run", "sweep.yaml", "--out", "run", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "could not draw" not in result.stderr
    slices = sorted(p.name for p in (work / "run" / "plots").glob("slice_*.png"))
    assert len(slices) == 2, slices
    outside = [p for p in tmp_path.rglob("*.png") if work / "run" / "plots" not in p.parents]
    assert outside == []


# ------------------------------------------------------------------------------ a run with nothing to compare
# (without `parameters` nor `fixed` a program sweep is refused, as W&B refuses it: tests/test_wandb_fidelity.py)
@pytest.mark.parametrize("given", [{"parameters": {"x": {"value": 1}}}, {"fixed": {"x": 1}}],
                         ids=["one-value", "fixed-only"])
def test_a_program_sweep_where_no_parameter_varies_ends_with_its_leaderboard(tmp_path, given):
    write(tmp_path / "own.py", OWN_NAMES)
    doc = dict(program="own.py", method="grid", metric={"name": "score", "goal": "maximize"})
    experiment(tmp_path, **doc, **given)
    result = sweep_cli("run", "sweep.yaml", "--out", "run", "--no-plots", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "1 of 1 configurations" in result.stdout
    shown = sweep_cli("show", "run", cwd=tmp_path)
    assert shown.returncode == 0 and "score_mean" in shown.stdout, shown.stderr


def test_a_missing_program_is_refused_before_the_run_folder_is_made(tmp_path):
    experiment(tmp_path, program="trian.py", metric={"name": "score"}, method="grid", parameters={"x": {"value": 1}})
    result = sweep_cli("run", "sweep.yaml", "--out", "run", "--no-plots", cwd=tmp_path)
    assert result.returncode == 2 and f"program trian.py not found in {tmp_path}" in result.stderr, result.stderr
    assert not (tmp_path / "run").exists()


def test_resume_refuses_a_program_whose_file_changed(tmp_path):
    write(tmp_path / "own.py", OWN_NAMES)
    experiment(tmp_path, program="own.py", method="grid", metric={"name": "score", "goal": "maximize"},
               parameters={"x": {"values": [1, 2]}})
    first = sweep_cli("run", "sweep.yaml", "--out", "run", "--max-trials", "1", "--no-plots", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    write(tmp_path / "own.py", OWN_NAMES + "# changed\n")
    resumed = sweep_cli("run", "sweep.yaml", "--resume", "run", "--no-plots", cwd=tmp_path)
    assert resumed.returncode != 0 and "the program's file" in resumed.stderr and "changed since" in resumed.stderr
    assert len(rows(tmp_path / "run" / "trials.csv")) == 1


# ------------------------------------------------------------------------------ processes it leaves
LEAVES_A_DAEMON = """\
import json, os, sys, time
if os.fork() == 0:  # a daemon: a session of its own, and the program's stderr still open
    os.setsid()
    with open(os.path.join(os.environ["SWEEP_TRIAL_DIR"], "daemon"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(600)
    os._exit(0)
with open(os.environ["SWEEP_METRICS"], "a") as f:
    f.write(json.dumps({"score": 1.0}) + "\\n")
print("done", file=sys.stderr)
"""


def test_a_daemon_that_keeps_the_programs_stderr_open_does_not_hold_the_sweep(tmp_path):
    write(tmp_path / "daemon.py", LEAVES_A_DAEMON)
    experiment(tmp_path, program="daemon.py", method="grid", metric={"name": "score"}, parameters={"x": {"value": 1}})
    daemons = []
    try:
        result = sweep_cli("run", "sweep.yaml", "--out", "run", "--no-plots", cwd=tmp_path, timeout=120)
        daemons = [int(p.read_text()) for p in (tmp_path / "run" / "trials").glob("*/daemon")]
        assert result.returncode == 0, result.stderr
        [trial] = rows(tmp_path / "run" / "trials.csv")
        assert trial["status"] == "ok"
        assert "done" in (tmp_path / "run" / "logs" / f"{trial['trial_id']}.log").read_text()
    finally:
        for pid in daemons:
            os.kill(pid, signal.SIGKILL)


def test_the_children_a_program_left_behind_are_stopped_even_once_the_program_has_ended(tmp_path):
    from sweep.programs.processes import stop_recorded, write_pid_file

    logs = tmp_path / "logs"
    logs.mkdir()
    metrics = str(logs / "t1.metrics.jsonl")
    child_file = tmp_path / "child"
    program = subprocess.Popen(["sh", "-c", f"sleep 60 & echo $! > {child_file}; read line"],
                               stdin=subprocess.PIPE, start_new_session=True, env={**os.environ, "SWEEP_METRICS": metrics})
    write_pid_file(logs / "t1.pid", program.pid)
    wait_until(lambda: child_file.exists() and child_file.read_text().strip(), what="the child to start")
    child = int(child_file.read_text())
    program.communicate(b"\n", timeout=10)  # the program ends; its child runs on in its session
    assert alive(child)
    stopped = stop_recorded(logs, 5.0, lambda trial_id: ("SWEEP_METRICS", metrics))
    assert stopped == ["t1"]
    wait_until(lambda: not alive(child), timeout=10, what="the child to be stopped")


STOPPED_MID_LINE = """\
import json, os, sys, time
with open(os.environ["SWEEP_METRICS"], "a") as f:
    f.write(json.dumps({"score": 1.0}) + "\\n" + '{"sco')
    f.flush()
    time.sleep(600)
"""

DEEP_JSON = """\
import os, time
with open(os.environ["SWEEP_METRICS"], "a") as f:
    f.write('{"a": ' + "[" * 100000 + "]" * 100000 + "}\\n")
with open(os.path.join(os.environ["SWEEP_TRIAL_DIR"], "pid"), "w") as f:
    f.write(str(os.getpid()))
time.sleep(600)
"""


def test_a_program_stopped_mid_line_is_stopped_and_one_writing_deep_json_fails_and_is_not_left_running(
        tmp_path, monkeypatch):
    write(tmp_path / "mid.py", STOPPED_MID_LINE)
    write(tmp_path / "deep.py", DEEP_JSON)
    monkeypatch.setenv("SWEEP_KILL_DELAY", "1")
    experiment(tmp_path, program="deep.py", method="grid", metric={"name": "score"}, parameters={"x": {"value": 1}})
    deep = sweep_cli("run", "sweep.yaml", "--out", "deep", "--no-plots", cwd=tmp_path)
    [trial] = rows(tmp_path / "deep" / "trials.csv")
    assert trial["status"] == "failed" and "line 1 of $SWEEP_METRICS is not JSON" in trial["error"], deep.stderr
    assert not alive(int((tmp_path / "deep" / "trials" / trial["trial_id"] / "pid").read_text()))

    experiment(tmp_path, program="mid.py", method="grid", metric={"name": "score"}, parameters={"x": {"value": 1}})
    mid = sweep_cli("run", "sweep.yaml", "--out", "mid", "--time-limit", "2s", "--no-plots", cwd=tmp_path)
    [trial] = rows(tmp_path / "mid" / "trials.csv")
    assert trial["status"] == "stopped" and trial["score"] == "1.0", (trial, mid.stderr)


def test_two_trials_making_a_run_sub_folder_at_once_both_get_it(tmp_path, monkeypatch):
    import sweep.results.files as files

    made, real_mkdir = [], os.mkdir

    def made_meanwhile(path, *args):  # another process of the run made it between the look and the mkdir
        real_mkdir(path)
        made.append(path)
        raise FileExistsError(path)

    monkeypatch.setattr(files.os, "mkdir", made_meanwhile)
    assert files.own_folder(tmp_path, "logs") == tmp_path / "logs" and made

"""Program sweeps: a user's training script run per trial as W&B's agent runs it (``program:``,
``command:``), through the command line, with real subprocesses, files and signals."""

from __future__ import annotations

import csv
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, start, sweep_cli

pytestmark = pytest.mark.slow

#: A deterministic program: its metric is a function of its parameters and seed, one line per step,
#: ``delay`` seconds apart. It records its pid (for the tests that look for leftover processes).
STEPPER = """\
import argparse, json, os, sys, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=1.0)
p.add_argument("--epochs", type=int, default=6)
p.add_argument("--delay", type=float, default=0.0)
a = p.parse_args()
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pids.txt"), "a") as f:
    f.write(f"{os.getpid()}\\n")
seed = int(os.environ["SWEEP_SEED"])
for step in range(1, a.epochs + 1):
    time.sleep(a.delay)
    with open(os.environ["SWEEP_METRICS"], "a") as f:
        f.write(json.dumps({"epoch": step, "score": a.x * step + (seed % 1000) / 1e4, "other": "text"}) + "\\n")
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def experiment(folder: Path, **doc) -> Path:
    return write(folder / "sweep.yaml", yaml.safe_dump(doc, sort_keys=False))


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def comparable(run: Path) -> tuple:
    """trials.csv and history.csv of a run, without what depends on timing (seconds, worker)."""
    trials = sorted(({k: v for k, v in r.items() if k not in ("seconds", "worker")} for r in rows(run / "trials.csv")),
                    key=lambda r: r["trial_id"])
    history = sorted(tuple(r.values()) for r in rows(run / "history.csv"))
    return trials, history


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def program_pids(folder: Path) -> list[int]:
    path = folder / "pids.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def wait_until(condition, proc=None, timeout=60.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the sweep ended before {what}: {proc.communicate()}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# ------------------------------------------------------------------------------ the example
def test_a_wandb_file_with_program_runs_its_numpy_script_offline(tmp_path):
    """The shipped NumPy training script, from a W&B-style file: every trial ok, its per-epoch lines in
    history.csv, its output in logs/, and load_run, show and the report read the run."""
    script = ROOT / "experiments" / "programs" / "train.py"
    experiment(tmp_path, program=str(script), method="grid", project="mnist",
               metric={"name": "val/accuracy", "goal": "maximize"},
               parameters={"learning_rate": {"values": [0.3, 0.01]}, "hidden_size": {"value": 32},
                           "epochs": {"value": 3}})
    result = sweep_cli("run", "sweep.yaml", "--out", "run", "--n-jobs", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = tmp_path / "run"
    trials = rows(run / "trials.csv")
    assert [r["status"] for r in trials] == ["ok", "ok"] and all(r["steps"] == "3" for r in trials)
    assert all(0 < float(r["val/accuracy"]) <= 1 for r in trials)
    names = {(r["trial_id"], r["name"]) for r in rows(run / "history.csv")}
    assert {name for _, name in names} == {"epoch", "train/loss", "val/loss", "val/accuracy"}
    for trial in trials:
        log = (run / "logs" / f"{trial['trial_id']}.log").read_text()
        assert log.count('"val/accuracy"') == 3  # the script's own stdout, kept
        assert (run / "trials" / trial["trial_id"]).is_dir()

    import sweep

    loaded = sweep.load_run(run)
    assert loaded.metric == "val/accuracy" and loaded.maximize and not loaded.notes
    best = max(trials, key=lambda r: float(r["val/accuracy"]))
    assert loaded.best_id == best["trial_id"] and loaded.best_model() is None
    assert list(loaded.history.groupby("trial_id")["iteration"].max()) == [3, 3]
    assert float(loaded.leaderboard().iloc[0]["val/accuracy_mean"]) == pytest.approx(float(best["val/accuracy"]))
    shown = sweep_cli("show", "run", cwd=tmp_path)
    assert shown.returncode == 0 and "ranked by val/accuracy" in shown.stdout
    assert f"best trial {best['trial_id']}" in shown.stdout
    printed = sweep_cli("best", "run", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["params"] == {"learning_rate": float(best["learning_rate"]), "hidden_size": 32,
                                                    "epochs": 3}
    report = sweep_cli("report", "run", cwd=tmp_path)
    assert report.returncode == 0 and "warning" not in report.stderr, report.stderr
    assert (run / "plots" / "learning_curves.png").is_file() and (run / "report.html").is_file()


# ------------------------------------------------------------------------------ the command
ECHO = """\
import json, os, sys
folder = os.environ["SWEEP_TRIAL_DIR"]
with open(os.path.join(folder, "seen.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(), "seed": os.environ["SWEEP_SEED"],
               "trial_id": os.environ["SWEEP_TRIAL_ID"], "threads": os.environ.get("OMP_NUM_THREADS")}, f)
import sweep
sweep.log({"score": 1.0})
"""


def test_each_command_macro_reaches_the_program_as_w_and_b_formats_it_and_no_value_reaches_a_shell(tmp_path):
    marker = tmp_path / "pwned"
    write(tmp_path / "echo.py", ECHO)
    command = ["${env}", "${interpreter}", "${program}", "${args}", "--", "${args_no_hyphens}", "--",
               "${args_no_boolean_flags}", "--", "${args_json}", "${args_json_file}"]
    experiment(tmp_path, program="echo.py", command=command, method="grid", metric={"name": "score"},
               parameters={"lr": {"value": 0.001}, "flag": {"values": [True, False]},
                           "layers": {"value": [64, 32]},
                           "name": {"values": [f"$(touch {marker})", f"; touch {marker}"]}})
    result = sweep_cli("run", "sweep.yaml", "--out", "run", "--no-plots", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = tmp_path / "run"
    trials = rows(run / "trials.csv")
    assert len(trials) == 4 and {r["status"] for r in trials} == {"ok"}
    assert not marker.exists()
    for trial in trials:
        seen = json.loads((run / "trials" / trial["trial_id"] / "seen.json").read_text())
        flag, name = trial["flag"] == "True", trial["name"]
        args = ["--lr=0.001", f"--flag={flag}", "--layers=[64, 32]", f"--name={name}"]
        params = {"lr": 0.001, "flag": flag, "layers": [64, 32], "name": name}
        expected = [*args, "--", *(a[2:] for a in args), "--",
                    *(a if not a.startswith("--flag") else "--flag" for a in args if a != "--flag=False"), "--",
                    json.dumps(params), str(run / "logs" / f"{trial['trial_id']}.params.json")]
        assert seen["argv"] == expected
        assert json.loads(Path(expected[-1]).read_text()) == params
        assert seen["cwd"] == str(tmp_path) and seen["trial_id"] == trial["trial_id"]
        assert seen["seed"] == trial["seed"] and seen["threads"] == "1"


# ------------------------------------------------------------------------------ failures
FAULTY = """\
import json, os, sys, time, signal
mode = sys.argv[1].split("=", 1)[1]
def line(text):
    with open(os.environ["SWEEP_METRICS"], "a") as f:
        f.write(text + "\\n")
if mode == "crash":
    line(json.dumps({"score": 0.5}))
    raise ValueError("boom in the user's script")
if mode == "silent":
    print("trained, but forgot to log")
if mode == "malformed":
    line("score: 0.5")
if mode == "stubborn":  # ignores SIGTERM: only SIGKILL ends it
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(os.path.join(os.environ["SWEEP_TRIAL_DIR"], "pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(600)
if mode == "ok":
    line(json.dumps({"score": 1.0}))
"""


def test_a_crashing_a_silent_a_malformed_and_a_hanging_program_each_fail_their_trial_and_the_sweep_goes_on(
        tmp_path, monkeypatch):
    write(tmp_path / "faulty.py", FAULTY)
    experiment(tmp_path, program="faulty.py", method="grid", metric={"name": "score", "goal": "maximize"},
               timeout=2, parameters={"mode": {"values": ["crash", "silent", "malformed", "stubborn", "ok"]}})
    monkeypatch.setenv("SWEEP_KILL_DELAY", "1")
    result = sweep_cli("run", "sweep.yaml", "--out", "run", "--n-jobs", "2", "--no-plots", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # some trials failed
    run = tmp_path / "run"
    by_mode = {r["mode"]: r for r in rows(run / "trials.csv")}
    assert {mode: r["status"] for mode, r in by_mode.items()} == {
        "crash": "failed", "silent": "failed", "malformed": "failed", "stubborn": "failed", "ok": "ok"}
    assert "exited with status 1" in by_mode["crash"]["error"]
    assert "ValueError: boom in the user's script" in by_mode["crash"]["error"]
    assert "logged no score" in by_mode["silent"]["error"]
    assert "line 1 of $SWEEP_METRICS is not JSON" in by_mode["malformed"]["error"]
    assert "ran past its timeout of 2 s" in by_mode["stubborn"]["error"]
    crash_log = (run / "logs" / f"{by_mode['crash']['trial_id']}.log").read_text()
    assert "Traceback" in crash_log and "boom" in crash_log
    assert "forgot to log" in (run / "logs" / f"{by_mode['silent']['trial_id']}.log").read_text()
    stubborn = int((run / "trials" / by_mode["stubborn"]["trial_id"] / "pid").read_text())
    assert not alive(stubborn)  # SIGKILL after the grace period


# ------------------------------------------------------------------------------ searches
def stepper_experiment(folder: Path, **doc) -> Path:
    write(folder / "stepper.py", STEPPER)
    base = dict(program="stepper.py", metric={"name": "score", "goal": "maximize"})
    return experiment(folder, **{**base, **doc})


@pytest.mark.parametrize("method", ["bayes", "hyperband"])
def test_bayes_and_hyperband_run_the_same_trials_with_one_and_two_workers(tmp_path, method):
    doc = dict(method="bayes" if method == "bayes" else "grid",
               parameters={"x": {"distribution": "uniform", "min": 0.0, "max": 1.0} if method == "bayes"
                           else {"values": [0.9, 0.1, 0.5, 0.3, 0.7, 0.2]},
                           "epochs": {"value": 6}, "delay": {"value": 0.05 if method == "hyperband" else 0.0}})
    if method == "bayes":
        doc["run_cap"] = 6
    else:
        doc["early_terminate"] = {"type": "hyperband", "min_iter": 2, "eta": 2}
    runs = []
    for jobs in (1, 2):
        folder = tmp_path / f"jobs{jobs}"
        folder.mkdir()
        stepper_experiment(folder, **doc)
        result = sweep_cli("run", "sweep.yaml", "--out", "run", "--n-jobs", jobs, "--no-plots", cwd=folder)
        assert result.returncode == 0, result.stderr
        runs.append(comparable(folder / "run"))
    assert runs[0] == runs[1]
    trials, history = runs[0]
    assert len(trials) == 6
    if method == "hyperband":
        stopped = [t for t in trials if t["status"] == "stopped"]
        assert stopped and all("stopped by hyperband at step" in t["error"] for t in stopped)
        assert all(int(t["steps"]) < 6 for t in stopped)  # recorded as far as the milestone
        steps = {t["trial_id"]: int(t["steps"]) for t in trials}
        for trial_id, step, name, _ in history:
            assert name != "score" or int(step) <= steps[trial_id]


# ------------------------------------------------------------------------------ interruptions
def test_kill_9_of_the_runner_then_resume_loses_and_repeats_nothing_and_stops_what_it_left(tmp_path):
    doc = dict(method="grid", parameters={"x": {"values": [0.1, 0.2, 0.3, 0.4, 0.5]}, "epochs": {"value": 5},
                                          "delay": {"value": 0.2}})
    reference = tmp_path / "reference"
    reference.mkdir()
    stepper_experiment(reference, **doc)
    assert sweep_cli("run", "sweep.yaml", "--out", "run", "--n-jobs", "2", "--no-plots", cwd=reference).returncode == 0

    stepper_experiment(tmp_path, **doc)
    run = tmp_path / "run"
    proc = start(["run", "sweep.yaml", "--out", "run", "--n-jobs", "2"], tmp_path)
    wait_until(lambda: (run / "trials.csv").exists() and len(rows(run / "trials.csv")) >= 1
               and len(program_pids(tmp_path)) >= 3, proc, what="a trial recorded and two programs running")
    proc.send_signal(signal.SIGKILL)  # the runner only: its programs run on in their own sessions
    proc.wait(timeout=30)
    resumed = sweep_cli("run", "sweep.yaml", "--resume", "run", "--no-plots", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert comparable(run) == comparable(reference / "run")
    assert len({r["trial_id"] for r in rows(run / "trials.csv")}) == 5 == len(rows(run / "trials.csv"))
    wait_until(lambda: not any(alive(pid) for pid in program_pids(tmp_path)), timeout=30,
               what="every program to be gone")
    assert not list((run / "logs").glob("*.pid"))


def test_ctrl_c_stops_the_programs_it_started_and_resume_completes_the_run(tmp_path):
    stepper_experiment(tmp_path, method="grid",
                       parameters={"x": {"values": [0.1, 0.2, 0.3]}, "epochs": {"value": 12},
                                   "delay": {"value": 0.2}})
    run = tmp_path / "run"
    proc = start(["run", "sweep.yaml", "--out", "run", "--n-jobs", "2"], tmp_path)
    wait_until(lambda: len(list((run / "logs").glob("*.pid"))) == 2 if (run / "logs").is_dir() else False, proc,
               what="two programs running")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err
    wait_until(lambda: not any(alive(pid) for pid in program_pids(tmp_path)), timeout=15,
               what="the programs to be stopped")
    resumed = sweep_cli("run", "sweep.yaml", "--resume", "run", "--no-plots", cwd=tmp_path, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(r["status"] for r in rows(run / "trials.csv")) == ["ok", "ok", "ok"]


# ------------------------------------------------------------------------------ the file
@pytest.mark.parametrize("doc, expected", [
    ({"program": "t.py", "method": "grid", "parameters": {"seed": {"values": [1, 2]}}, "metric": {"name": "m"}},
     "parameters.seed: `seed` is a column of trials.csv"),
    ({"program": "t.py", "method": "grid", "parameters": {"x": {"values": [1]}}},
     "metric: missing; name the metric the program logs"),
    ({"program": "t.py", "command": "python t.py", "metric": {"name": "m"}, "method": "grid",
      "parameters": {"x": {"value": 1}}},
     "command: 'python t.py' is not allowed; give a list of words"),
    ({"program": "t.py", "fuse": 2, "metric": {"name": "m"}, "method": "grid", "parameters": {"x": {"value": 1}}},
     "fuse: fuse 2 trains the built-in nets only"),
    ({"dataset": "digits", "timeout": 5}, "timeout: timeout (seconds a program's trial may run) needs `program:`"),
])
def test_a_program_sweep_file_with_a_mistake_is_refused_in_one_line(tmp_path, doc, expected):
    experiment(tmp_path, **doc)
    result = sweep_cli("list", "sweep.yaml", cwd=tmp_path)
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_sweep_log_writes_one_json_line_and_nothing_outside_a_sweep(tmp_path, monkeypatch):
    import numpy as np

    import sweep

    monkeypatch.delenv("SWEEP_METRICS", raising=False)
    sweep.log({"a": 1})  # no file named: nothing happens
    path = tmp_path / "m.jsonl"
    monkeypatch.setenv("SWEEP_METRICS", str(path))
    sweep.log({"val/acc": np.float32(0.5), "epoch": np.int64(2)}, note="x")
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"val/acc": 0.5, "epoch": 2, "note": "x"}]
    assert sys.modules["sweep"].log is sweep.log


def test_a_program_sweep_on_dask_workers_records_what_it_records_on_loky(tmp_path):
    doc = dict(method="grid", parameters={"x": {"values": [0.1, 0.2, 0.3, 0.4]}, "epochs": {"value": 3}})
    runs = []
    for backend in ("loky", "dask-local"):
        folder = tmp_path / backend
        folder.mkdir()
        stepper_experiment(folder, **doc)
        result = sweep_cli("run", "sweep.yaml", "--out", "run", "--n-jobs", "2", "--backend", backend, "--quiet",
                           "--no-plots",
                           cwd=folder, timeout=180)
        assert result.returncode == 0, result.stderr
        runs.append(comparable(folder / "run"))
    assert runs[0] == runs[1] and len(runs[0][0]) == 4


def test_an_open_ended_program_search_stops_at_max_trials_and_its_time_limit_stops_the_programs(tmp_path):
    stepper_experiment(tmp_path, method="random",
                       parameters={"x": {"min": 0.0, "max": 1.0}, "epochs": {"value": 3}})
    capped = sweep_cli("run", "sweep.yaml", "--out", "capped", "--max-trials", "3", "--quiet", "--no-plots",
                       cwd=tmp_path)
    assert capped.returncode == 0, capped.stderr
    assert [r["status"] for r in rows(tmp_path / "capped" / "trials.csv")] == ["ok"] * 3
    stepper_experiment(tmp_path, method="random",
                       parameters={"x": {"min": 0.0, "max": 1.0}, "epochs": {"value": 200}, "delay": {"value": 0.1}})
    timed = sweep_cli("run", "sweep.yaml", "--out", "timed", "--n-jobs", "2", "--time-limit", "3s", "--quiet",
                      "--no-plots",
                      cwd=tmp_path)
    trials = rows(tmp_path / "timed" / "trials.csv")
    assert trials and all(r["status"] == "stopped" and int(r["steps"]) < 200 for r in trials), timed.stderr
    assert all(r["error"] == "stopped by the time limit" for r in trials)
    wait_until(lambda: not any(alive(pid) for pid in program_pids(tmp_path)), timeout=15,
               what="the programs to be stopped")


def test_a_pid_file_is_not_trusted_only_the_program_started_for_its_trial_is_stopped(tmp_path):
    """A run folder is shared and edited: a pid file naming another process (with its true start
    time) must not get that process signalled on --resume or Ctrl-C."""
    import subprocess

    from sweep.programs.processes import stop_recorded, write_pid_file

    logs = tmp_path / "logs"
    logs.mkdir()
    metrics = {t: str(logs / f"{t}.metrics.jsonl") for t in ("innocent", "program", "other")}
    innocent = subprocess.Popen(["sleep", "60"], start_new_session=True)
    program = subprocess.Popen(["sleep", "60"], start_new_session=True,
                               env={**os.environ, "SWEEP_METRICS": metrics["program"]})
    other = subprocess.Popen(["sleep", "60"], start_new_session=True,  # a program, but of another trial
                             env={**os.environ, "SWEEP_METRICS": metrics["program"]})
    try:
        for name, proc in (("innocent", innocent), ("program", program), ("other", other)):
            wait_until(lambda p=proc: Path(f"/proc/{p.pid}/environ").read_bytes() != b"" and
                       b"sleep" in Path(f"/proc/{p.pid}/cmdline").read_bytes(), what="sleep to start")
            write_pid_file(logs / f"{name}.pid", proc.pid)
        stopped = stop_recorded(logs, 1.0, lambda trial_id: ("SWEEP_METRICS", metrics[trial_id]))
        assert stopped == ["program"]
        assert program.wait(timeout=10) == -signal.SIGTERM
        assert innocent.poll() is None and other.poll() is None
        assert not list(logs.glob("*.pid"))
    finally:
        for proc in (innocent, program, other):
            proc.kill()
            proc.wait()

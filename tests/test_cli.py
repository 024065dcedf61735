"""The command line in subprocesses: a full run, progress, exit codes, kill -9, Ctrl-C and resume."""

import fcntl
import json
import os
import pty
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import faults
import pandas as pd
import pytest
from conftest import start, sweep_cli, sweep_cli_with_task, wait_for_rows, write_experiment


@pytest.fixture
def long_grid(tmp_path):
    """60 quick trials (60 training runs): long enough to interrupt in the middle."""
    return write_experiment(
        tmp_path / "long.yaml", name="long", dataset="digits", method="grid",
        parameters={"hidden_size": {"values": [8, 12, 16, 20, 24, 28]},
                    "learning_rate": {"values": [0.2, 0.1, 0.05, 0.02, 0.01]},
                    "reg": {"values": [0.0, 1e-3]}},
        fixed={"epochs": 3, "batch_size": 16, "optimizer": "sgd_momentum", "init": "he"}, n_jobs=2)


def run_dirs(tmp_path, name):
    """The run folders of experiment ``name`` (not the hidden folder a run is made in)."""
    folder = tmp_path / "results" / name
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def test_run_show_best_list(tmp_path, small_grid):
    write_experiment(tmp_path / "exp.yaml", **small_grid)
    result = sweep_cli("run", "exp.yaml", "--no-plots", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [run_dir] = run_dirs(tmp_path, "small")
    assert "run folder: results/small/" in result.stdout and "best trial" in result.stdout
    assert "rank" in result.stdout.splitlines()[0] and "(10 of 12 configurations, 12 trials" in result.stdout
    progress = [ln for ln in result.stderr.splitlines() if ln.startswith("[")]
    assert len(progress) == 12 and progress[-1].startswith("[12/12]") and "eta" in progress[-1]
    assert "best val_acc" in progress[-1]

    shown = sweep_cli("show", run_dir, "--top", "3", "--sort", "seconds", cwd=tmp_path)
    # header, 3 rows, the count, where the standard errors come from and the tie rule, the best trial, the ensemble
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 1 + 3 + 3 + 1, shown.stdout
    assert "val_acc_se" in shown.stdout.splitlines()[0] and "tied" in shown.stdout.splitlines()[0]
    assert json.loads((run_dir / "best" / "summary.json").read_text())["val_rows"] == 144  # the digits validation rows
    assert "on the n = 144 validation rows" in shown.stdout and "|best - x| <= 2*sqrt(" in shown.stdout
    assert shown.stdout.splitlines()[-1].startswith("ensemble of ")
    latest = sweep_cli("show", cwd=tmp_path).stdout.splitlines()
    assert latest[:-2] == sweep_cli("show", run_dir, cwd=tmp_path).stdout.splitlines()[:-2]  # the last two name files
    bad_sort = sweep_cli("show", "--sort", "nope", cwd=tmp_path)
    assert bad_sort.returncode == 2 and "--sort nope: no such column" in bad_sort.stderr

    best = sweep_cli("best", cwd=tmp_path)
    assert best.returncode == 0 and json.loads(best.stdout)["test_rows"] == 360

    listed = sweep_cli("list", "exp.yaml", cwd=tmp_path)
    assert listed.returncode == 0 and "12 trials (grid, 12 configurations x 1 seed(s)) in 4 training runs" in listed.stdout
    trial_ids = set(pd.read_csv(run_dir / "trials.csv")["trial_id"])
    assert all(trial_id in listed.stdout for trial_id in trial_ids)


def test_quiet_out_and_console_script(tmp_path, small_grid):
    write_experiment(tmp_path / "exp.yaml", **small_grid)
    script = shutil.which("sweep", path=str(Path(sys.executable).parent))
    assert script, "the console script `sweep` is installed next to python"
    result = subprocess.run([script, "run", "exp.yaml", "--quiet", "--no-plots", "--out", "here"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""
    assert len(pd.read_csv(tmp_path / "here" / "trials.csv")) == 12
    again = sweep_cli("run", "exp.yaml", "--out", "here", cwd=tmp_path)
    assert again.returncode == 2 and "already holds a run; resume it with --resume here" in again.stderr


def test_progress_is_a_live_bar_on_a_terminal(tmp_path, small_grid):
    write_experiment(tmp_path / "exp.yaml", **small_grid)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal's size
    proc = subprocess.Popen([sys.executable, "-m", "sweep", "run", "exp.yaml", "--no-plots"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(leader)
    screen = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert screen.count("\r") >= 2 and "12/12 trials" in screen and "best val_acc" in screen
    assert "[1/12]" not in screen  # no plain lines on a terminal


def test_kill_9_then_resume_runs_every_trial_exactly_once(tmp_path, long_grid):
    proc = start(["run", long_grid, "--no-plots"], tmp_path)
    deadline = time.monotonic() + 60
    while not run_dirs(tmp_path, "long"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [run_dir] = run_dirs(tmp_path, "long")
    wait_for_rows(run_dir / "trials.csv", 8, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    trials = pd.read_csv(run_dir / "trials.csv")
    history = pd.read_csv(run_dir / "history.csv")
    assert 8 <= len(trials) < 60, "the kill must land in the middle of the sweep"
    assert set(history["trial_id"]) <= set(trials["trial_id"]) | set(history["trial_id"])

    resumed = sweep_cli("run", long_grid, "--resume", "--no-plots", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    trials = pd.read_csv(run_dir / "trials.csv")
    history = pd.read_csv(run_dir / "history.csv")
    assert len(trials) == 60 and trials["trial_id"].is_unique and (trials["status"] == "ok").all()
    assert len(history) == 180 and not history.duplicated(["trial_id", "epoch"]).any()
    assert (run_dir / "best" / "summary.json").is_file()

    before = (run_dir / "trials.csv").read_bytes()
    second = sweep_cli("run", long_grid, "--resume", "--no-plots", cwd=tmp_path)
    assert second.returncode == 0 and "nothing to do: all 60 trials" in second.stderr
    assert (run_dir / "trials.csv").read_bytes() == before


@pytest.mark.parametrize("signum, group", [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["SIGINT", "SIGTERM", "ctrl-c-on-a-terminal"])
def test_interrupt_keeps_finished_trials_and_says_how_to_resume(tmp_path, long_grid, signum, group):
    out = tmp_path / "run"
    proc = start(["run", long_grid, "--no-plots", "--out", out], tmp_path)
    wait_for_rows(out / "trials.csv", 4, proc)
    (os.killpg if group else os.kill)(proc.pid, signum)  # a terminal signals the workers too
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert f"resume with: sweep run {long_grid} --resume {out}" in stderr and "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr and stderr.count("interrupted:") == 1
    kept = pd.read_csv(out / "trials.csv")
    assert 4 <= len(kept) < 60 and not (out / "best").exists()
    if signum != signal.SIGINT or group:
        return  # the folder is left the same way by each signal: resuming it is checked once
    resumed = sweep_cli("run", long_grid, "--resume", out, "--no-plots", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    final = pd.read_csv(out / "trials.csv")
    assert len(final) == 60 and final["trial_id"].is_unique
    pd.testing.assert_frame_equal(final.head(len(kept)), kept)  # finished rows are never rewritten


@pytest.fixture
def slow_one(tmp_path):
    """One trial that trains for a few seconds, in the worker and again when its model is saved."""
    return write_experiment(
        tmp_path / "slow.yaml", name="slow", dataset={"name": "synthetic", "kind": "blobs", "n_samples": 20000,
                                                      "n_features": 100, "n_classes": 5},
        fixed={"hidden_size": 256, "epochs": 8, "batch_size": 32, "optimizer": "sgd_momentum", "init": "he",
               "learning_rate": 0.01}, n_jobs=1)


def read_until(proc, text: str) -> str:
    """stderr of ``proc`` up to and including the first line holding ``text``."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"sweep ended before printing {text!r}: {''.join(seen)}")


@pytest.mark.slow
def test_ctrl_c_while_the_best_model_is_saved_says_how_to_resume(tmp_path, slow_one):
    proc = start(["run", slow_one, "--no-plots", "--out", "run", "--check-best"], tmp_path)
    before = read_until(proc, "[1/1]")  # the one trial is recorded: the best model is being retrained (--check-best)
    os.kill(proc.pid, signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    stderr = before + rest
    assert proc.returncode == 130, stderr
    assert "interrupted: all 1 trials are recorded, the best model is not saved yet in run" in stderr
    assert f"resume with: sweep run {slow_one} --resume run" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "run" / "best").exists()
    resumed = sweep_cli("run", slow_one, "--resume", "run", "--no-plots", "--check-best", cwd=tmp_path)
    assert resumed.returncode == 0 and (tmp_path / "run" / "best" / "summary.json").is_file()
    summary = json.loads((tmp_path / "run" / "best" / "summary.json").read_text())
    assert summary["model_from"] == "trial" and summary["reproduced"] is True


@pytest.mark.slow
def test_ctrl_c_while_drawing_the_report_is_one_interrupt(tmp_path, small_grid):
    small_grid["parameters"]["reg"] = {"values": [0.0, 1e-4, 1e-3]}  # more figures to draw
    write_experiment(tmp_path / "exp.yaml", **small_grid)
    proc = start(["run", "exp.yaml", "--out", "run"], tmp_path)
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "plots").exists():  # the best model is saved, the figures are being drawn
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted while writing the report; the run is complete in run" in stderr
    assert (tmp_path / "run" / "best" / "summary.json").is_file()


def test_resume_refuses_an_edited_experiment(tmp_path, small_grid):
    path = write_experiment(tmp_path / "exp.yaml", **small_grid)
    assert sweep_cli("run", path, "--quiet", "--no-plots", cwd=tmp_path).returncode == 0
    small_grid["parameters"]["hidden_size"]["values"] = [16, 64]
    write_experiment(path, **small_grid)
    result = sweep_cli("run", path, "--resume", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the experiment no longer matches that run (6 trial(s) planned now are not in it, 6 of its" in result.stderr
    small_grid["parameters"]["hidden_size"]["values"] = [16, 32]
    small_grid["dataset"] = {"name": "digits", "val_size": 0.5}
    write_experiment(path, **small_grid)
    other_data = sweep_cli("run", path, "--resume", cwd=tmp_path)
    assert other_data.returncode == 2 and "it was made with data set {name: digits}, the experiment now says " \
        "{name: digits, val_size: 0.5}" in other_data.stderr
    other = write_experiment(tmp_path / "other.yaml", **{**small_grid, "name": "other", "dataset": "digits"})
    [run_dir] = run_dirs(tmp_path, "small")
    foreign = sweep_cli("run", other, "--resume", run_dir, cwd=tmp_path)
    assert foreign.returncode == 2 and "it was made with experiment 'small'" in foreign.stderr
    nothing = sweep_cli("run", tmp_path / "exp.yaml", "--resume", tmp_path / "nowhere", cwd=tmp_path)
    assert nothing.returncode == 2 and "is not a run folder" in nothing.stderr


def test_exit_status_1_when_a_trial_fails(tmp_path, small_grid):
    small_grid["parameters"] = {"hidden_size": {"values": [16, faults.RAISE_HIDDEN_SIZE]}}
    small_grid["fixed"]["epochs"] = 1
    write_experiment(tmp_path / "exp.yaml", **small_grid)
    result = sweep_cli_with_task("fail_in_training", "run", "exp.yaml", "--no-plots", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    [run_dir] = run_dirs(tmp_path, "small")
    assert f"sweep: 1 of 2 trials failed or crashed; their tracebacks are in {run_dir.relative_to(tmp_path)}/errors/" \
        in result.stderr and "Traceback" not in result.stderr


def test_quiet_still_says_when_every_trial_failed(tmp_path, small_grid):
    small_grid["parameters"] = {"hidden_size": {"values": [faults.RAISE_HIDDEN_SIZE]},
                                "learning_rate": {"values": [0.1, 0.01]}}
    small_grid["fixed"]["epochs"] = 1
    write_experiment(tmp_path / "exp.yaml", **small_grid)
    result = sweep_cli_with_task("fail_in_training", "run", "exp.yaml", "--quiet", "--out", "run", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == ["sweep: 2 of 2 trials failed or crashed; their tracebacks are in run/errors/"]
    assert len(list((tmp_path / "run" / "errors").glob("*.txt"))) == 2


def test_user_errors_at_run_time_are_one_line(tmp_path):
    write_experiment(tmp_path / "exp.yaml", name="m", dataset={"name": "mnist", "data_dir": str(tmp_path / "none")},
                     method="grid", parameters={"hidden_size": {"values": [10]}})
    result = sweep_cli("run", "exp.yaml", "--no-plots", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "sweep data fetch mnist" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()  # a data error leaves no empty run folder behind
    shown = sweep_cli("show", cwd=tmp_path / "..")
    assert shown.returncode == 2 and "no run folder under results/" in shown.stderr


def _piped(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """``command`` in bash with pipefail (its status is the first failing one's), sweep's stderr in err.txt."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=cwd, env=env, capture_output=True,
                          timeout=120)


def test_commands_piped_into_head_end_quietly_with_status_141(finished, tmp_path):
    sweep = f"{shlex.quote(sys.executable)} -m sweep"
    run = shlex.quote(str(finished))
    head = _piped(f"{sweep} best {run} 2>err.txt | head -c 10", tmp_path)
    assert head.stdout == b'{\n  "trial' and (tmp_path / "err.txt").read_text() == ""
    assert head.returncode in (0, 141)  # 0 when head read before it left: nothing was cut
    # a reader gone before sweep writes a byte (`true` exits at once; Python takes far longer to start):
    for command in (f"best {run}", f"show {run}", "list exp.yaml", f"show {run} --top 1"):
        write_experiment(tmp_path / "exp.yaml", name="x", dataset="digits", fixed={"epochs": 1})
        cut = _piped(f"{sweep} {command} 2>err.txt | true", tmp_path)
        assert cut.returncode == 141 and (tmp_path / "err.txt").read_text() == "", command
    # still a user error when there is one, said on stderr
    error = _piped(f"{sweep} best {shlex.quote(str(tmp_path / 'nowhere'))} 2>err.txt | true", tmp_path)
    assert error.returncode == 2 and "sweep: error:" in (tmp_path / "err.txt").read_text()

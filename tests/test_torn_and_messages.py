"""Issue 22, classes 11-13: torn and padded run files, lines that say what is true, file modes.

11. What a crash, a power cut or a hand edit leaves in plan.csv, trials.csv and history.csv ends
    in a line that is true and a run that can go on: NUL padding is dropped, a planned search's
    plan is rebuilt from the experiment, an edit is refused naming the line, and no refusal writes.
12. Messages: CSV labels and short rows, a long --set value, a full disk at the start, load_run on a
    folder that is not a run.
13. The files sweep draws (report.html, plots/*.png, .drawn.json) follow the umask like the rest.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest
from conftest import sweep_cli, write_experiment
from test_hostile import fill, half_done, in_process, one_error_line, snapshot, tmpfs

import sweep
from sweep.data.registry import load_dataset
from sweep.errors import DataError, SweepError

FIXED = {"optimizer": "sgd_momentum", "init": "he", "batch_size": 64}
GRID = {"name": "torn", "dataset": {"name": "digits"}, "method": "grid",
        "parameters": {"hidden_size": {"values": [16, 32]}, "epochs": {"values": [1, 2]}},
        "fixed": {**FIXED, "learning_rate": 0.1}, "n_jobs": 1}
BAYES = {"name": "torn-bayes", "dataset": {"name": "digits"}, "method": "bayes",
         "metric": {"name": "val_acc", "goal": "maximize"},
         "parameters": {"hidden_size": {"values": [16, 32]}, "learning_rate": {"min": 0.01, "max": 0.2}},
         "fixed": {**FIXED, "epochs": 1}, "run_cap": 4, "n_jobs": 1}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 4-trial grid run and a finished 4-trial bayes run, made through the command line."""
    root = tmp_path_factory.mktemp("torn")
    for name, doc in (("grid", GRID), ("bayes", BAYES)):
        write_experiment(root / f"{name}.yaml", **doc)
        result = sweep_cli("run", f"{name}.yaml", "--quiet", "--no-plots", "--out", name, cwd=root)
        assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def workdir(tmp_path, finished):
    """A copy of both finished runs (``grid``, ``bayes``) with their experiment files."""
    for name in ("grid", "bayes"):
        shutil.copy(finished / f"{name}.yaml", tmp_path)
        shutil.copytree(finished / name, tmp_path / name)
    return tmp_path


def _cut_last_line(path: Path, keep: int = 20) -> bytes:
    """Cut the last line of ``path`` after ``keep`` bytes (a write cut short); returns the whole file as it was."""
    whole = path.read_bytes()
    last = whole.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(whole[:last + keep])
    return whole


def _line(path: Path, number: int) -> str:
    return path.read_text().splitlines()[number - 1]


def _replace_in_line(path: Path, number: int, old: str, new: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    assert old in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    path.write_text("".join(lines))


def _resume(workdir: Path, name: str):
    return sweep_cli("run", f"{name}.yaml", "--resume", name, "--no-plots", cwd=workdir)


def _resume_in_process(monkeypatch, capsys, workdir: Path, name: str):
    return in_process(monkeypatch, capsys, workdir, "run", f"{name}.yaml", "--resume", name, "--no-plots")


# ------------------------------------------------------------------------------------------ 11. torn and padded
def test_nul_bytes_a_power_cut_leaves_are_dropped_with_a_notice_and_the_run_goes_on(workdir, monkeypatch, capsys):
    run = workdir / "grid"
    half_done(run, keep=2)
    with open(run / "trials.csv", "ab") as f:
        f.write(b"\0" * 4096)
    with open(run / "history.csv", "ab") as f:
        f.write(b"0123456789ab,1,0.5" + b"\0" * 4096)  # a torn line, then the padding
    shown = in_process(monkeypatch, capsys, workdir, "show", "grid")
    assert shown.returncode == 0 and "2 trials" in shown.stdout, shown.stderr
    resumed = _resume(workdir, "grid")
    assert resumed.returncode == 0, resumed.stderr
    assert "note: grid/trials.csv had 4,096 NUL bytes at its end, what a power cut leaves" in resumed.stderr
    assert "note: grid/history.csv had 4,096 NUL bytes at its end and line" in resumed.stderr
    assert b"\0" not in (run / "trials.csv").read_bytes() + (run / "history.csv").read_bytes()
    assert len(pd.read_csv(run / "trials.csv")) == 4 and (run / "best" / "summary.json").is_file()


def test_a_torn_plan_row_of_a_planned_search_is_rebuilt_and_a_refused_resume_writes_nothing(workdir, monkeypatch,
                                                                                            capsys):
    run = workdir / "grid"
    whole = _cut_last_line(run / "plan.csv")
    write_experiment(workdir / "grid.yaml", **{**GRID, "parameters": {**GRID["parameters"],
                                                                      "hidden_size": {"values": [16, 32, 64]}}})
    before = snapshot(run)
    one_error_line(_resume(workdir, "grid"), "cannot resume grid: plan.csv line 5 is cut short, and it cannot be "
                   "rebuilt from the experiment: its `parameters:` differs from the run's")
    assert snapshot(run) == before
    write_experiment(workdir / "grid.yaml", **GRID)
    resumed = _resume_in_process(monkeypatch, capsys, workdir, "grid")
    assert resumed.returncode == 0, resumed.stderr
    assert "note: grid/plan.csv line 5 is cut short; rebuilt it from the experiment" in resumed.stderr
    assert (run / "plan.csv").read_bytes() == whole


def test_a_torn_plan_row_of_a_search_that_chooses_as_it_goes_is_not_rewritten_by_a_refused_resume(
        workdir, monkeypatch, capsys):
    run = workdir / "bayes"
    whole = _cut_last_line(run / "plan.csv")
    trials = (run / "trials.csv").read_bytes()
    _replace_in_line(run / "trials.csv", 2, ",ok,", ",okk,")
    before = snapshot(run)
    one_error_line(_resume(workdir, "bayes"), "cannot resume bayes: trials.csv line 2: unknown status 'okk'")
    assert snapshot(run) == before
    (run / "trials.csv").write_bytes(trials)  # the line corrected: the torn plan row's trial is recorded
    resumed = _resume_in_process(monkeypatch, capsys, workdir, "bayes")
    assert resumed.returncode == 0, resumed.stderr
    assert (run / "plan.csv").read_bytes() == whole


def test_an_edited_plan_row_is_refused_naming_it_and_undoing_the_edit_resumes(workdir, monkeypatch, capsys):
    run = workdir / "grid"
    plan = (run / "plan.csv").read_bytes()
    trial = _line(run / "plan.csv", 2).split(",")[0]
    _replace_in_line(run / "plan.csv", 2, ",16,", ",17,")
    before = snapshot(run)
    one_error_line(_resume(workdir, "grid"), f"plan.csv line 2 gives trial {trial} hidden_size '17'",
                   "put back hidden_size 16 on it, or delete plan.csv")
    assert snapshot(run) == before
    frame = pd.read_csv(run / "trials.csv", dtype=str, keep_default_na=False)
    frame[frame["trial_id"] != trial].to_csv(run / "trials.csv", index=False)  # what the old advice said
    one_error_line(_resume_in_process(monkeypatch, capsys, workdir, "grid"), "plan.csv line 2 gives trial")
    (run / "plan.csv").write_bytes(plan)  # the edit undone
    resumed = _resume_in_process(monkeypatch, capsys, workdir, "grid")
    assert resumed.returncode == 0, resumed.stderr
    assert len(pd.read_csv(run / "trials.csv")) == 4
    _replace_in_line(run / "plan.csv", 3, _line(run / "plan.csv", 3)[:12], "0123456789ab")  # another trial id
    one_error_line(_resume_in_process(monkeypatch, capsys, workdir, "grid"),
                   "plan.csv line 3 holds trial 0123456789ab, which the experiment does not plan",
                   "or delete plan.csv (--resume rebuilds it from the experiment)")
    (run / "plan.csv").unlink()  # the other way out it gives
    resumed = _resume_in_process(monkeypatch, capsys, workdir, "grid")
    assert resumed.returncode == 0, resumed.stderr
    assert (run / "plan.csv").read_bytes() == plan


def test_an_edited_plan_row_of_a_search_that_chooses_as_it_goes_never_ends_in_a_silent_failure(
        workdir, monkeypatch, capsys):
    run = workdir / "bayes"
    plan = (run / "plan.csv").read_bytes()
    trial, _, _, _, hidden = _line(run / "plan.csv", 3).split(",")[:5]
    other = "32" if hidden == "16" else "16"
    _replace_in_line(run / "plan.csv", 3, f",{hidden},", f",{other},")
    one_error_line(_resume(workdir, "bayes"), f"and plan.csv line 3 give trial {trial} different values",
                   "one of the two lines was edited; undo that edit")
    frame = pd.read_csv(run / "trials.csv", dtype=str, keep_default_na=False)
    frame[frame["trial_id"] != trial].to_csv(run / "trials.csv", index=False)  # the trials.csv line deleted
    one_error_line(_resume_in_process(monkeypatch, capsys, workdir, "bayes"),
                   f"plan.csv line 3 gives trial {trial} hidden_size '{other}'", f"put back hidden_size {hidden}")
    (run / "plan.csv").write_bytes(plan)
    resumed = _resume_in_process(monkeypatch, capsys, workdir, "bayes")
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(pd.read_csv(run / "trials.csv", dtype=str)["trial_id"]) == sorted(
        pd.read_csv(run / "plan.csv", dtype=str)["trial_id"])


def test_a_deleted_plan_is_rebuilt_for_a_planned_search_and_refused_truthfully_otherwise(workdir, monkeypatch,
                                                                                          capsys):
    plan = (workdir / "grid" / "plan.csv").read_bytes()
    (workdir / "grid" / "plan.csv").unlink()
    resumed = _resume(workdir, "grid")
    assert resumed.returncode == 0, resumed.stderr
    assert "note: grid/plan.csv is missing; rebuilt it from the experiment" in resumed.stderr
    assert (workdir / "grid" / "plan.csv").read_bytes() == plan
    (workdir / "bayes" / "plan.csv").unlink()
    refused = one_error_line(_resume_in_process(monkeypatch, capsys, workdir, "bayes"),
                             "cannot resume bayes: plan.csv is missing, and trials.csv records 4 trial(s)",
                             "restore plan.csv, or start a new run")
    assert "no trial ran" not in refused


# ------------------------------------------------------------------------------------------ 12. messages
@pytest.mark.parametrize("body, said", [
    ("0,1,2\n1e300,1,3\n0,2,2\n1,1,1\n", "label 1e300 at line 2 is more than 99,999"),
    ("0,1,2\n0,2,2\n\ninf,1,3\n1,1,1\n", "label inf at line 4 is not an integer class label"),
    ("0,1,2,3\n1,1,3\n0,2,2,2\n1,1,1,1\n", "line 2 has 3 fields, where 4 are expected"),
    ("label,a,b\n0,1,2\n\n1,2\n0,1,1\n", "line 4 has 2 fields, where 3 are expected"),
], ids=["huge label", "inf label", "short row", "short row after a blank line"])
def test_csv_labels_and_short_rows_are_one_line_naming_the_file_line_and_value(tmp_path, body, said):
    path = tmp_path / "data.csv"
    path.write_text(body)
    with pytest.raises(DataError) as caught:  # a RuntimeWarning from sweep would fail the test (pyproject)
        load_dataset(f"csv:{path}")
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and said in message and "np." not in message, message


def test_a_long_set_value_is_cut_in_the_error(tmp_path, monkeypatch, capsys):
    write_experiment(tmp_path / "grid.yaml", **GRID)
    for key in ("name", "learning_rate", "dataset.name"):
        line = one_error_line(in_process(monkeypatch, capsys, tmp_path, "list", "grid.yaml", "--set",
                                         f"{key}={'x' * 100_000}"))
        assert f"... ({len(key) + 100_001:,} characters)" in line and len(line) < 500, line[:1000]


def test_a_full_disk_at_the_start_names_the_file_and_what_to_do(tmp_path):
    write_experiment(tmp_path / "grid.yaml", **GRID)
    with tmpfs(tmp_path / "disk", "1m") as mount:
        fill(mount, leave=2048)
        one_error_line(sweep_cli("run", "grid.yaml", "--out", "disk/new", "--no-plots", cwd=tmp_path),
                       "cannot create a run folder in disk: No space left on device (writing its ",
                       "; free space on that disk, or give --out a folder on another disk")
        assert [p.name for p in mount.iterdir()] == ["ballast"]


def test_load_run_on_a_folder_that_is_not_a_run_says_what_show_says(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "experiment.yaml").write_text("name: mine\n")
    with pytest.raises(SweepError) as caught:
        sweep.load_run(folder)
    assert str(caught.value) == f"{folder} is not a run folder (no trials.csv)"
    shown = in_process(monkeypatch, capsys, tmp_path, "show", folder)
    assert one_error_line(shown) == f"sweep: error: {caught.value}"


# ------------------------------------------------------------------------------------------ 13. file modes
def _modes(run: Path) -> dict[str, int]:
    drawn = [run / "report.html", run / ".drawn.json", *sorted((run / "plots").glob("*.png"))]
    assert len(drawn) > 3
    return {str(p.relative_to(run)): stat.S_IMODE(p.stat().st_mode) for p in drawn}


def test_drawn_files_follow_the_umask_like_the_rest_of_the_run(workdir, monkeypatch, capsys):
    run = workdir / "grid"
    shared = sweep_cli("report", "grid", cwd=workdir, preexec_fn=lambda: os.umask(0o022))
    assert shared.returncode == 0, shared.stderr
    assert set(_modes(run).values()) == {0o644}
    shutil.rmtree(run / "plots")
    for name in ("report.html", ".drawn.json"):
        (run / name).unlink()
    previous = os.umask(0o077)
    try:
        private = in_process(monkeypatch, capsys, workdir, "report", "grid")
    finally:
        os.umask(previous)
    assert private.returncode == 0, private.stderr
    assert set(_modes(run).values()) == {0o600}

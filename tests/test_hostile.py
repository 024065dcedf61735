"""What a careless or hostile user does to a run folder, through the real command line.

Each class of problem has its test: nothing the user made is deleted or rewritten, a damaged or
foreign file gives one clear line (exit 2) or a warning, never a traceback, and what was recorded
stays recorded.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import GRID, ROOT, start, sweep_cli, wait_for_rows, write_experiment

LONG = {**GRID, "name": "long",
        "parameters": {"hidden_size": {"values": [8, 12, 16, 20, 24, 28]},
                       "learning_rate": {"values": [0.2, 0.1, 0.05, 0.02, 0.01]}, "reg": {"values": [0.0, 1e-3]}},
        "fixed": {"epochs": 3, "batch_size": 16, "optimizer": "sgd_momentum", "init": "he"}}


def one_error_line(result, *expected: str) -> str:
    """The single ``sweep: error:`` line of a failed command (exit 2, no traceback), checked to hold ``expected``."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("sweep: error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def in_process(monkeypatch, capsys, cwd: Path, *args) -> subprocess.CompletedProcess:
    """``sweep ARGS`` through the command line's own ``main`` in this process (no interpreter start-up):
    for the variants of a case whose first variant ran in a subprocess."""
    from sweep.cli import main

    monkeypatch.chdir(cwd)
    capsys.readouterr()
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out, err)


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` (hidden ones included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def half_done(run: Path, keep: int = 6) -> pd.DataFrame:
    """Make ``run`` a run interrupted after ``keep`` trials: fewer rows, no best model. Returns the kept rows."""
    trials = pd.read_csv(run / "trials.csv", dtype=str, keep_default_na=False)
    history = pd.read_csv(run / "history.csv", dtype=str, keep_default_na=False)
    kept = trials.head(keep)
    kept.to_csv(run / "trials.csv", index=False)
    history[history["trial_id"].isin(kept["trial_id"])].to_csv(run / "history.csv", index=False)
    shutil.rmtree(run / "best")
    return kept


# ------------------------------------------------------------------------------------------ --out
def test_out_into_a_folder_that_is_not_empty_changes_nothing_in_it(tmp_path):
    write_experiment(tmp_path / "exp.yaml", **GRID)
    mine = tmp_path / "mine"
    for name, text in {".git/config": "[core]\n", "experiment.yaml": "my notes\n", "plan.csv": "a,b\n1,2\n",
                       "report.html": "<p>my report</p>\n", "plots/heatmap.png": "not a png"}.items():
        (mine / name).parent.mkdir(parents=True, exist_ok=True)
        (mine / name).write_text(text)
    before = snapshot(mine)
    one_error_line(sweep_cli("run", "exp.yaml", "--out", "mine", cwd=tmp_path),
                   "--out mine is not empty (5 entries: .git, experiment.yaml, plan.csv, ...); a run is written only "
                   "into a new or empty folder")
    one_error_line(sweep_cli("run", "exp.yaml", "--out", "mine/plan.csv", cwd=tmp_path),
                   "--out mine/plan.csv: exists and is not a folder")
    assert snapshot(mine) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no hidden folder left behind
    (tmp_path / "empty").mkdir()  # an empty folder (a mount point, the current folder) is filled in place
    (tmp_path / "empty").chmod(0o2770)
    ok = sweep_cli("run", "../exp.yaml", "--out", ".", "--quiet", "--no-plots", cwd=tmp_path / "empty")
    assert ok.returncode == 0, ok.stderr
    assert len(pd.read_csv(tmp_path / "empty" / "trials.csv")) == 12
    assert (tmp_path / "empty").stat().st_mode & 0o7777 == 0o2770  # its owner and mode are the user's still


def test_two_reports_at_once_take_turns(workdir):
    procs = [start(["report", "run"], workdir) for _ in range(2)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["run/report.html"] * 2
    drawn = json.loads((workdir / "run" / ".drawn.json").read_text())
    assert "report.html" in drawn and not list((workdir / "run").glob("*.tmp"))


def test_plots_and_report_replace_only_what_sweep_drew(workdir):
    run = workdir / "run"
    assert (run / ".drawn.json").is_file() and (run / "plots" / "history.png").is_file()
    (run / "plots" / "history.png").write_bytes(b"my own history")  # a user's file under sweep's name
    (run / "plots" / "slice_momentum.png").write_bytes(b"my slice")  # a name sweep would clean up as stale
    (run / "plots" / "notes.txt").write_text("mine")
    (run / "report.html").write_text("<p>edited by hand</p>")
    drawn = json.loads((run / ".drawn.json").read_text())
    (run / "plots" / "slice_reg.png").write_bytes(b"drawn by sweep once")  # sweep's own, no longer drawn
    drawn["plots/slice_reg.png"] = __import__("hashlib").sha256(b"drawn by sweep once").hexdigest()
    (run / ".drawn.json").write_text(json.dumps(drawn))

    result = sweep_cli("report", "run", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "run/report-2.html"
    assert (run / "report.html").read_text() == "<p>edited by hand</p>"
    assert (run / "plots" / "history.png").read_bytes() == b"my own history"
    assert "plots/history.png was not drawn by sweep (or was changed since); left as it is" in result.stderr
    assert (run / "plots" / "slice_momentum.png").read_bytes() == b"my slice"
    assert (run / "plots" / "notes.txt").read_text() == "mine"
    assert not (run / "plots" / "slice_reg.png").exists()  # sweep's own stale file is cleaned up
    again = sweep_cli("report", "run", cwd=workdir)  # report-2.html is sweep's now: replaced, not report-3
    assert again.returncode == 0 and again.stdout.strip() == "run/report-2.html"


# ------------------------------------------------------------------------------------------ resume
def _bom(path: Path):
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def _no_header(path: Path):
    path.write_bytes(path.read_bytes().split(b"\n", 1)[1])


def _reordered(path: Path):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame[list(reversed(frame.columns))].to_csv(path, index=False)


def _spreadsheet(path: Path):  # a European spreadsheet: semicolons, CRLF, no newline at the end
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    path.write_bytes(frame.to_csv(index=False, sep=";", lineterminator="\r\n").encode().rstrip(b"\r\n"))


@pytest.mark.parametrize("damage, said, keep", [
    (_bom, "a UTF-8 byte-order mark", 12), (_no_header, "no header line", 12),
    (_reordered, "its columns in another order", 12),
    (_spreadsheet, "semicolons between fields", 6),  # with trials still to run: the new rows line up
])
def test_resume_reads_every_row_of_a_trials_file_saved_in_another_format(workdir, damage, said, keep):
    """All trials recorded and the best model not saved yet (resume only saves it), or half of them."""
    run = workdir / "run"
    kept = half_done(run, keep)
    original = (run / "trials.csv").read_bytes()
    damage(run / "trials.csv")
    damaged = (run / "trials.csv").read_bytes()
    assert damaged != original
    result = sweep_cli("run", "exp.yaml", "--resume", "run", "--no-plots", cwd=workdir)
    assert result.returncode == 0, result.stderr
    [note] = [line for line in result.stderr.splitlines() if line.startswith("note: run/trials.csv had ")]
    assert said in note and f"rewrote it in the standard format with all {keep} rows" in note
    final = pd.read_csv(run / "trials.csv", dtype=str, keep_default_na=False)
    assert len(final) == 12 and final["trial_id"].is_unique and (run / "best" / "summary.json").is_file()
    pd.testing.assert_frame_equal(final.head(keep).reset_index(drop=True), kept.reset_index(drop=True))
    [backup] = run.glob("trials.csv.before-resume-*")
    assert backup.read_bytes() == damaged  # the user's file, as it was
    assert len(pd.read_csv(run / "history.csv")) == sum(final["epochs"].astype(int))


def _unknown_status(path: Path):
    path.write_bytes(path.read_bytes().replace(b",ok,", b",okk,", 1))


def _text_in_a_metric(path: Path):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[2, "val_acc"] = "#NUM!"
    frame.to_csv(path, index=False)


def _foreign_row(path: Path):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    row = frame.iloc[[0]].copy()
    row["trial_id"] = "0123456789ab"
    pd.concat([frame, row]).to_csv(path, index=False)


def _conflicting_duplicate(path: Path):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    row = frame.iloc[[1]].copy()
    row["val_acc"] = "0.99"
    pd.concat([frame, row]).to_csv(path, index=False)


def _garbage(path: Path):
    path.write_bytes(path.read_bytes() + os.urandom(300).replace(b"\0", b"x") + b"\n")


def _bad_last_row_without_newline(path: Path):  # a complete row that is not a trial, not a torn write
    path.write_bytes(path.read_bytes().rstrip(b"\n")[::-1].replace(b",ko,", b",KO,", 1)[::-1])


def _unclosed_quote(path: Path):
    lines = path.read_bytes().split(b"\n")
    lines[1] += b'"checked by hand'
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("damage, said", [
    (_unknown_status, "line 2: unknown status 'okk'"), (_text_in_a_metric, "line 4: val_acc is '#NUM!', not a number"),
    (_bad_last_row_without_newline, "line 7: unknown status 'OK'"),
    (_unclosed_quote, "line 2: an unreadable line (an unclosed quote?)"),
    (_foreign_row, "line 8: trial '0123456789ab' is not in this run's plan"),
    (_conflicting_duplicate, "gives trial"), (_garbage, "run/trials.csv is not a CSV file (byte"),
])
def test_resume_refuses_rows_it_cannot_prove_and_leaves_the_files_as_they_were(workdir, damage, said):
    run = workdir / "run"
    half_done(run)
    damage(run / "trials.csv")
    before = snapshot(run)
    result = sweep_cli("run", "exp.yaml", "--resume", "run", "--no-plots", cwd=workdir)
    one_error_line(result, "cannot resume run: ", said, "the files are left as they were")
    assert snapshot(run) == before


def test_a_torn_last_line_from_a_kill_is_dropped_and_the_trial_runs_again(workdir):
    run = workdir / "run"
    half_done(run)
    with open(run / "trials.csv", "ab") as f:
        f.write(b"deadbeef0000,ok,16,0.1")  # a write cut short: not a complete row
    result = sweep_cli("run", "exp.yaml", "--resume", "run", "--no-plots", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "note:" not in result.stderr and not list(run.glob("*.before-resume-*"))  # routine repair, no backup
    assert len(pd.read_csv(run / "trials.csv")) == 12


# ------------------------------------------------------------------------------------------ half-made folders
def test_a_half_made_run_folder_does_not_block_resuming_the_real_run(workdir):
    real = workdir / "results" / "small" / "20240101-000000"
    real.parent.mkdir(parents=True)
    shutil.move(workdir / "run", real)
    half_done(real)
    newer = real.parent / "20991231-235959"  # an older version killed while creating it
    newer.mkdir()
    (newer / "experiment.yaml").write_text((real / "experiment.yaml").read_text())
    staging = real.parent / ".creating-12345-abcd"  # this version killed while creating it
    staging.mkdir()
    (staging / "experiment.yaml").write_text("name: small\n")
    explicit = sweep_cli("run", "exp.yaml", "--resume", newer, cwd=workdir)
    one_error_line(explicit, "is not a run folder (plan.csv is missing; its start was interrupted before any "
                             "trial ran: start a new run)")
    shown = sweep_cli("show", cwd=workdir)
    assert shown.returncode == 0 and "12 configurations" not in shown.stdout and "6 trials" in shown.stdout
    resumed = sweep_cli("run", "exp.yaml", "--resume", "--no-plots", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    assert f"skipped results/small/{newer.name}: not a complete run folder" in resumed.stderr
    assert len(pd.read_csv(real / "trials.csv")) == 12 and (real / "best" / "summary.json").is_file()


def test_runs_started_at_once_each_get_their_own_folder(tmp_path):
    write_experiment(tmp_path / "exp.yaml", **{**GRID, "parameters": {"hidden_size": {"values": [8, 12]}},
                                               "fixed": {**GRID["fixed"], "epochs": 1}, "n_jobs": 1})
    procs = [start(["run", "exp.yaml", "--no-plots", "--quiet"], tmp_path) for _ in range(3)]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    runs = [p for p in (tmp_path / "results" / "small").iterdir() if not p.name.startswith(".")]
    assert len(runs) == 3 and len(list((tmp_path / "results" / "small").iterdir())) == 3
    for run in runs:
        assert len(pd.read_csv(run / "trials.csv")) == 2 and (run / "best" / "summary.json").is_file()


# ------------------------------------------------------------------------------------------ damaged files
def _edit_trials(run: Path, edit):
    frame = pd.read_csv(run / "trials.csv", dtype=str, keep_default_na=False)
    edit(frame).to_csv(run / "trials.csv", index=False)


@pytest.mark.parametrize("edit, said", [
    (lambda f: f.assign(status=f["status"].where(f.index != 0, "<b>ok</b>")), "unknown status '<b>ok</b>'"),
    (lambda f: f.assign(val_acc=f["val_acc"].where(f.index != 0, "high")), "val_acc is 'high', not a number"),
    (lambda f: pd.concat([f, f.iloc[[0]].assign(trial_id="ffffffffffff")]), "is not in this run's plan"),
    (lambda f: pd.concat([f, f.iloc[[0]].assign(val_acc="0.01")]), "again with other values"),
], ids=["unknown status", "text in a metric", "foreign row", "conflicting duplicate"])
def test_show_and_report_leave_out_rows_that_are_not_trials_of_the_run_with_a_warning(workdir, edit, said,
                                                                                      monkeypatch, capsys):
    run = workdir / "run"
    _edit_trials(run, edit)
    first = said.startswith("unknown status")
    shown = sweep_cli("show", "run", cwd=workdir) if first else in_process(monkeypatch, capsys, workdir, "show", "run")
    assert shown.returncode == 0 and "Traceback" not in shown.stderr
    assert "sweep: warning: run/trials.csv: 1 line left out, not finished trials of this run" in shown.stderr
    assert said in shown.stderr and "trials, ranked by val_acc" in shown.stdout
    if first:
        report = sweep_cli("report", "run", cwd=workdir)
        assert report.returncode == 0, report.stderr
        page = (run / "report.html").read_text()
        assert "1 line left out" in page and "<b>ok</b>" not in page


@pytest.mark.parametrize("command", ["show", "report", "plot"])
def test_a_trials_file_of_binary_garbage_is_one_line(workdir, command):
    (workdir / "run" / "trials.csv").write_bytes(bytes(range(256)) * 8)
    one_error_line(sweep_cli(command, "run", cwd=workdir), "run/trials.csv is not a CSV file (it holds binary data)")


@pytest.mark.parametrize("content, said", [
    ('{"trial_id": "x", "metric": ', "is damaged (Expecting value"),
    ('{"trial_id": "x", "metric": {"name": "val_acc", "value": 0.9}, "test_acc": "<script>"}',
     "is damaged: test_acc is '<script>', not a number"),
    ("[1, 2]", "is damaged: not a JSON object"),
])
def test_a_damaged_best_summary(workdir, content, said, monkeypatch, capsys):
    (workdir / "run" / "best" / "summary.json").write_text(content)
    one_error_line(sweep_cli("best", "run", cwd=workdir), "run/best/summary.json", said)
    shown = in_process(monkeypatch, capsys, workdir, "show", "run")
    assert shown.returncode == 0 and f"sweep: warning: run/best/summary.json {said}"[:60] in shown.stderr
    if content.startswith("{") and "script" in content:
        report = sweep_cli("report", "run", cwd=workdir)
        assert report.returncode == 0, report.stderr
        page = (workdir / "run" / "report.html").read_text()
        assert "summary.json is damaged" in page and "<script>" not in page.split("<script>", 1)[0]


@pytest.mark.parametrize("content, said", [
    ("name: [unclosed\n", "not valid YAML"), ("- a list\n", "not a mapping of keys"),
    ("metric: {name: val_acc}\nmetric: {name: val_loss}\n", "duplicate key `metric`"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{k}: &{k} [{', '.join(['*' + p] * 10)}]\n" for p, k in zip("abcdefgh", "bcdefghi")),
     "its aliases expand it to more than 100,000 values"),
])
def test_a_damaged_experiment_yaml_in_a_run_folder(workdir, content, said, monkeypatch, capsys):
    (workdir / "run" / "experiment.yaml").write_text(content)
    one_error_line(sweep_cli("run", "exp.yaml", "--resume", "run", cwd=workdir), "cannot resume run", said)
    shown = in_process(monkeypatch, capsys, workdir, "show", "run")
    assert shown.returncode == 0 and said in shown.stderr and "read as empty" in shown.stderr
    if "aliases" in said:  # the report of a folder holding a "billion laughs"
        report = sweep_cli("report", "run", cwd=workdir)
        assert report.returncode == 0 and said in (workdir / "run" / "report.html").read_text()


def test_a_forged_model_in_a_run_folder_is_not_allocated(workdir, monkeypatch, capsys):
    """A best/model.npz whose array header claims 10^11 hidden units, in a few hundred bytes."""
    import numpy as np

    model = workdir / "run" / "best" / "model.npz"
    with np.load(model) as f:
        arrays = dict(f)
    header = json.loads(str(arrays["__header__"]))
    header["hyperparameters"]["hidden_dim"] = 10**11
    arrays["__header__"] = np.array(json.dumps(header))
    np.savez_compressed(model, **arrays)
    shown = in_process(monkeypatch, capsys, workdir, "report", "run")
    assert shown.returncode == 0, shown.stderr
    assert "is not the model this run saved" in (workdir / "run" / "report.html").read_text()
    summary = json.loads((workdir / "run" / "best" / "summary.json").read_text())

    def forged_as_saved():  # a forger who also writes the forged file's SHA-256 into the summary
        summary["model_sha256"] = __import__("hashlib").sha256(model.read_bytes()).hexdigest()
        (workdir / "run" / "best" / "summary.json").write_text(json.dumps(summary))

    forged_as_saved()
    shown = in_process(monkeypatch, capsys, workdir, "report", "run")
    assert shown.returncode == 0, shown.stderr
    assert "model.npz unreadable" in (workdir / "run" / "report.html").read_text()
    import zipfile

    with zipfile.ZipFile(model, "a") as archive:  # an array whose header claims 8 TB
        archive.writestr("W9.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, "
                                   b"'shape': (1000000, 1000000), }" + b" " * 60 + b"\n")
    forged_as_saved()
    shown = in_process(monkeypatch, capsys, workdir, "report", "run")
    assert shown.returncode == 0 and "would need 8.0 TB of memory" in (workdir / "run" / "report.html").read_text()


@pytest.mark.parametrize("metric", ["error", "optimizer", "<b>x</b>"])
def test_a_run_folder_naming_a_metric_we_do_not_rank_by(workdir, metric, monkeypatch, capsys):
    document = yaml.safe_load((workdir / "run" / "experiment.yaml").read_text())
    document["metric"] = {"name": metric, "goal": "maximize"}
    (workdir / "run" / "experiment.yaml").write_text(yaml.safe_dump(document))
    shown = in_process(monkeypatch, capsys, workdir, "show", "run")
    assert shown.returncode == 0 and f"names the metric {metric!r}, which is not one of" in shown.stderr
    assert "ranked by val_acc" in shown.stdout
    if metric == "optimizer":
        report = in_process(monkeypatch, capsys, workdir, "report", "run")
        assert report.returncode == 0 and "which is not one of" in (workdir / "run" / "report.html").read_text()


# ------------------------------------------------------------------------------------------ YAML bombs
BOMB = ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        + "".join(f"{k}: &{k} [{', '.join(['*' + p] * 10)}]\n" for p, k in zip("abcdefgh", "bcdefghi"))
        + "name: bomb\ndataset: digits\nparameters: {hidden_size: {values: *i}}\n")
LOOP = "name: loop\ndataset: digits\nfixed: &x {optimizer: sgd, more: [*x]}\n"


@pytest.mark.parametrize("text, said", [(BOMB, "exp.yaml:5: its aliases expand it to more than 100,000 values"),
                                        (LOOP, "exp.yaml:3: an alias refers to a list or mapping that contains it")])
@pytest.mark.parametrize("command", ["run", "list"])
def test_alias_bombs_are_refused_up_front_with_bounded_memory(tmp_path, text, said, command):
    """Run in 1 GiB of address space (a normal `sweep run` fits): expanding the bomb would need far more."""
    import resource

    (tmp_path / "exp.yaml").write_text(text)
    result = subprocess.run([sys.executable, "-m", "sweep", command, "exp.yaml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)))
    one_error_line(result, said)
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------------------------------ memory
@pytest.mark.parametrize("change, said", [
    ({"parameters": {"hidden_size": {"values": [16, 10**11]}}}, "hidden_size 100,000,000,000"),
    ({"dataset": {"name": "synthetic", "kind": "blobs", "n_samples": 10**11, "n_features": 50}},
     "synthetic blobs data of 100,000,000,000 rows x 50 features would need"),
])
def test_what_cannot_fit_in_memory_is_refused_before_the_run_folder_exists(tmp_path, change, said):
    write_experiment(tmp_path / "exp.yaml", **{**GRID, **change})
    one_error_line(sweep_cli("run", "exp.yaml", "--no-plots", cwd=tmp_path), said, "of memory; this machine has")
    assert not (tmp_path / "results").exists()


@contextlib.contextmanager
def memory_cgroup(limit: int):
    """A cgroup (v1 or v2) with a memory limit, for child processes started with ``preexec_fn=join``."""
    v1 = Path("/sys/fs/cgroup/memory")
    folder = (v1 if v1.is_dir() else Path("/sys/fs/cgroup")) / f"sweep-test-{os.getpid()}"
    try:
        folder.mkdir()
        (folder / ("memory.limit_in_bytes" if v1.is_dir() else "memory.max")).write_text(str(limit))
    except OSError as exc:
        pytest.skip(f"cannot make a memory cgroup here ({exc.strerror})")
    try:
        yield lambda: (folder / "cgroup.procs").write_text(str(os.getpid()))
    finally:
        for _ in range(100):
            try:
                folder.rmdir()
                break
            except OSError:
                time.sleep(0.05)


def test_a_gzip_file_that_would_inflate_past_memory_is_refused_before_it_is_read(tmp_path):
    """An IDX image file whose 2.2 KB of gzip stand for 300 MB, run in a cgroup of 1 GB."""
    data = tmp_path / "data"
    data.mkdir()
    rows = 400_000
    compressor, chunks = zlib.compressobj(1, zlib.DEFLATED, 31), []
    chunks.append(compressor.compress(struct.pack(">IIII", 0x803, rows, 28, 28)))
    zeros = bytes(1 << 24)
    for _ in range(rows * 784 // len(zeros)):
        chunks.append(compressor.compress(zeros))
    chunks.append(compressor.compress(bytes(rows * 784 % len(zeros))) + compressor.flush())
    (data / "train-images-idx3-ubyte.gz").write_bytes(b"".join(chunks))
    labels = gzip.compress(struct.pack(">II", 0x801, rows) + bytes(rows))
    (data / "train-labels-idx1-ubyte.gz").write_bytes(labels)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data / name.replace("t10k", "train"), data / name)
    write_experiment(tmp_path / "exp.yaml", **{**GRID, "dataset": {"name": "mnist", "data_dir": str(data)}})
    with memory_cgroup(1 << 30) as join:
        result = subprocess.run([sys.executable, "-m", "sweep", "run", "exp.yaml"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120, preexec_fn=join)
    one_error_line(result, "train-images-idx3-ubyte.gz (an IDX array of shape (400000, 28, 28), then as float32) "
                           "would need 1.6 GB of memory; this machine has")
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------------------------------ disks
@contextlib.contextmanager
def tmpfs(folder: Path, size: str):
    """A small tmpfs mounted on ``folder`` (needs root), unmounted at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the file system of ``folder`` up to ``leave`` free bytes; returns the ballast file."""
    ballast, n = folder / "ballast", 1
    while ballast.exists():
        n += 1
        ballast = folder / f"ballast-{n}"
    stat = os.statvfs(folder)
    # Unbuffered: a sweep writing at the same time may take the last blocks first, and a buffered file
    # would then raise "No space left on device" again when it is closed.
    with open(ballast, "wb", buffering=0) as f:
        remaining = stat.f_bavail * stat.f_frsize - leave
        block = bytes(1 << 16)
        with contextlib.suppress(OSError):
            while remaining > 0:
                remaining -= f.write(block[:min(len(block), remaining)])
    return ballast


def test_a_read_only_run_folder_is_one_line_for_resume_report_and_plot(workdir):
    with tmpfs(workdir / "ro", "16m") as mount:
        shutil.copytree(workdir / "run", mount / "run")
        half_done(mount / "run")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        before = snapshot(mount / "run")
        one_error_line(sweep_cli("run", "exp.yaml", "--resume", "ro/run", cwd=workdir),
                       "cannot resume ro/run: its folder is not writable: Read-only file system")
        one_error_line(sweep_cli("report", "ro/run", cwd=workdir), "cannot write the report of ro/run: Read-only")
        one_error_line(sweep_cli("plot", "ro/run", cwd=workdir), "cannot write the plots of ro/run: Read-only")
        shown = sweep_cli("show", "ro/run", cwd=workdir)
        assert shown.returncode == 0 and "6 trials" in shown.stdout
        assert snapshot(mount / "run") == before


def test_a_full_disk_while_finishing_keeps_every_trial_and_resume_finishes(workdir):
    with tmpfs(workdir / "disk", "8m") as mount:
        shutil.copytree(workdir / "run", mount / "run")
        shutil.rmtree(mount / "run" / "best")  # every trial recorded, the best model not saved yet
        trials = (mount / "run" / "trials.csv").read_bytes()
        ballast = fill(mount, leave=4096)
        result = sweep_cli("run", "exp.yaml", "--resume", "disk/run", cwd=workdir)
        one_error_line(result, "cannot save the best model in disk/run/best", "No space left on device")
        assert (mount / "run" / "trials.csv").read_bytes() == trials
        report = sweep_cli("report", "disk/run", cwd=workdir)
        one_error_line(report, "No space left on device")
        fill(mount)  # not even room for a new run folder: one line, and nothing half-made left behind
        one_error_line(sweep_cli("run", "exp.yaml", "--out", "disk/new", cwd=workdir),
                       "cannot create a run folder in disk", "No space left on device")
        assert sorted(p.name for p in mount.iterdir()) == ["ballast", "ballast-2", "run"]
        (mount / "ballast-2").unlink()
        ballast.unlink()
        resumed = sweep_cli("run", "exp.yaml", "--resume", "disk/run", cwd=workdir)
        assert resumed.returncode == 0, resumed.stderr
        assert (mount / "run" / "best" / "summary.json").is_file() and (mount / "run" / "report.html").is_file()
        fill(mount)
        again = sweep_cli("run", "exp.yaml", "--resume", "disk/run", cwd=workdir)  # plots at the end: a warning
        assert again.returncode == 0 and "Traceback" not in again.stderr
        assert "sweep: warning: could not write the plots and the report: No space left on device" in again.stderr


@pytest.mark.slow
def test_a_disk_that_fills_up_during_the_sweep_stops_it_in_one_line_and_resume_finishes(tmp_path):
    write_experiment(tmp_path / "long.yaml", **LONG)
    with tmpfs(tmp_path / "disk", "16m") as mount:
        proc = start(["run", "long.yaml", "--no-plots", "--out", "disk/run"], tmp_path)
        wait_for_rows(mount / "run" / "trials.csv", 3, proc)
        ballast = fill(mount)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 2, stderr
        assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith(
            "sweep: error: cannot record trial ")
        assert "No space left on device" in stderr
        recorded = len(pd.read_csv(mount / "run" / "trials.csv"))
        assert 3 <= recorded < 60
        ballast.unlink()
        resumed = sweep_cli("run", "long.yaml", "--resume", "disk/run", "--no-plots", cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        final = pd.read_csv(mount / "run" / "trials.csv")
        assert len(final) == 60 and final["trial_id"].is_unique


# ------------------------------------------------------------------------------------------ names and flags
def test_names_with_spaces_get_a_safe_folder_and_bad_names_one_line(tmp_path):
    write_experiment(tmp_path / "exp.yaml", **{**GRID, "name": "My sweep #2 (digits)",
                                               "parameters": {"hidden_size": {"values": [8, 12]}},
                                               "fixed": {**GRID["fixed"], "epochs": 1}})
    listed = sweep_cli("list", "exp.yaml", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    result = sweep_cli("run", "exp.yaml", "--quiet", "--no-plots", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [run] = (tmp_path / "results" / "My-sweep-2-digits").iterdir()
    assert yaml.safe_load((run / "experiment.yaml").read_text())["name"] == "My sweep #2 (digits)"
    resumed = sweep_cli("run", "exp.yaml", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0 and "nothing to do" in resumed.stderr
    for name, said in (("x" * 300, "the name is 300 characters long"), ("two\nlines", "control character '\\n'")):
        write_experiment(tmp_path / "bad.yaml", **{**GRID, "name": name})
        one_error_line(sweep_cli("run", "bad.yaml", cwd=tmp_path), "bad.yaml:1: name:", said)


def test_n_jobs_minus_one_on_the_command_line_means_one_per_core(tmp_path):
    write_experiment(tmp_path / "exp.yaml", **{**GRID, "parameters": {"hidden_size": {"values": [8, 12]}},
                                               "fixed": {**GRID["fixed"], "epochs": 1}})
    result = sweep_cli("run", "exp.yaml", "--n-jobs", "-1", "--no-plots", "--out", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"loky: {min(os.cpu_count(), len(os.sched_getaffinity(0)))} worker process(es)" in result.stderr
    one_error_line(sweep_cli("run", "exp.yaml", "--n-jobs", "0", cwd=tmp_path), "--n-jobs 0: must be >= 1, or -1")


# ------------------------------------------------------------------------------------------ data
@pytest.mark.parametrize("arrays, said", [
    ({"X": "complex", "y": "two"}, "features are complex numbers (complex128)"),
    ({"X": "huge", "y": "two"}, "features overflow float32"),
    ({"X": "plain", "y": "one"}, "the training split holds a single class (label 0)"),
])
def test_data_a_network_cannot_learn_from_is_refused_in_one_line(tmp_path, arrays, said):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    X = {"complex": X + 1j, "huge": X * 1e39, "plain": X}[arrays["X"]]
    y = np.zeros(200, dtype=int) if arrays["y"] == "one" else np.arange(200) % 2
    np.savez(tmp_path / "d.npz", X=X, y=y)
    write_experiment(tmp_path / "exp.yaml", **{**GRID, "dataset": f"npz:{tmp_path / 'd.npz'}"})
    one_error_line(sweep_cli("run", "exp.yaml", "--no-plots", cwd=tmp_path), said)
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------------------------------ the package
def test_the_report_template_ships_with_the_package():
    assert (ROOT / "sweep" / "templates" / "report.html").is_file()
    assert 'sweep = ["templates/*.html"]' in (ROOT / "pyproject.toml").read_text()

"""``sweep compare``: runs side by side, the better best named, the differing settings marked, and a page.

The run folders are real: written by the run folder's own store (:class:`RunStore`) with chosen
metrics, so the better run and the margin are known, plus one run of the real command on digits.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import sweep_cli, write_experiment

import sweep
from sweep.config import parse_experiment
from sweep.figures.compare import compare_history_data, compare_history_figure
from sweep.results.compare import compare_runs
from sweep.results.store import RunStore
from sweep.strategies import make_strategy
from sweep.task import TrialResult

GRID = {"hidden_size": {"values": [16, 64]}, "learning_rate": {"values": [0.1, 0.01]}}


def net_run(run_dir: Path, name: str, score, optimizer: str = "sgd", metric: str = "val_acc",
            order=lambda trials: trials) -> Path:
    """A grid run of the built-in net whose trials scored ``score(params)`` (as val_acc, and val_loss = 1 - it)."""
    goal = "maximize" if metric.endswith("acc") else "minimize"
    doc = {"name": name, "dataset": {"name": "digits"}, "method": "grid", "metric": {"name": metric, "goal": goal},
           "parameters": GRID, "fixed": {"epochs": 1, "optimizer": optimizer}}
    experiment = parse_experiment(doc)
    trials = make_strategy(experiment).plan()
    with RunStore.create(run_dir, experiment, trials) as store:
        for trial in order(trials):
            acc = score(trial.params)
            record = {"epoch": 1, "train_loss": 1.0, "train_acc": acc, "val_loss": 1 - acc, "val_acc": acc,
                      "lr": 0.1, "seconds": 0.01}
            metrics = {"train_loss": 1.0, "train_acc": acc, "val_loss": 1 - acc, "val_acc": acc, "best_val_acc": acc,
                       "best_epoch": 1, "seconds": 0.01}
            store.append(trial, TrialResult(trial.trial_id, "ok", metrics, [record]))
    return run_dir


def program_run(folder: Path, name: str, score) -> Path:
    """A program sweep's grid run (metric ``score``, maximized) whose trials scored ``score(params)``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text("")
    doc = {"name": name, "program": "train.py", "method": "grid", "metric": {"name": "score", "goal": "maximize"},
           "parameters": {"lr": {"values": [0.1, 0.01, 0.001]}, "layers": {"values": [1, 2]}}}
    experiment = parse_experiment(doc, source=str(folder / "sweep.yaml"))
    trials = make_strategy(experiment).plan()
    with RunStore.create(folder / "run", experiment, trials) as store:
        for trial in trials:
            value = score(trial.params)
            store.append(trial, TrialResult(trial.trial_id, "ok", {"score": value, "steps": 1, "seconds": 0.01},
                                            [{"step": 1, "score": value}]))
    return folder / "run"


# A's best is 0.8 at (64, 0.1) with sgd; B's best 0.9 at (64, 0.01) with adam: learning_rate and the
# fixed optimizer differ between the best trials, hidden_size does not.
def score_a(p):
    return {(16, 0.1): 0.6, (64, 0.1): 0.8, (16, 0.01): 0.5, (64, 0.01): 0.7}[(p["hidden_size"], p["learning_rate"])]


def score_b(p):
    return {(16, 0.1): 0.4, (64, 0.1): 0.6, (16, 0.01): 0.85, (64, 0.01): 0.9}[(p["hidden_size"], p["learning_rate"])]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    return {"a": net_run(root / "run-a", "alpha", score_a),
            "b": net_run(root / "run-b", "beta", score_b, optimizer="adam"),
            "loss": net_run(root / "run-loss", "gamma", score_b, metric="val_loss")}


def test_the_command_prints_both_runs_and_names_the_better_one(runs, tmp_path):
    done = sweep_cli("compare", runs["a"], runs["b"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for text in (str(runs["a"]), str(runs["b"]), "alpha", "beta", "val_acc (maximize)", "4 ok, 0 stopped, 0 failed",
                 "0.8000", "0.9000"):
        assert text in out, (text, out)
    verdict = out.strip().splitlines()[-1]
    assert verdict.startswith(f"B ({runs['b']}) is better: val_acc 0.9000 against A's 0.8000, higher by 0.1 (12.50%)")
    best_ids = {key: sweep.load_run(runs[key]).best_id for key in ("a", "b")}
    assert best_ids["a"] in out and best_ids["b"] in out


def test_the_parameters_that_differ_between_the_best_trials_are_marked(runs, tmp_path):
    out = sweep_cli("compare", runs["a"], runs["b"], cwd=tmp_path).stdout
    lines = {line[2:].split()[0]: line for line in out.splitlines() if re.match(r"[* ] \w", line)}
    assert lines["learning_rate"].split() == ["*", "learning_rate", "0.1", "0.01"]
    assert lines["optimizer"].split() == ["*", "optimizer", "sgd", "(fixed)", "adam", "(fixed)"]
    assert lines["hidden_size"].split() == ["hidden_size", "64", "64"]  # the same in both: not marked
    assert "momentum" not in lines  # fixed and the same: not shown


def test_runs_that_rank_by_different_metrics_are_printed_but_not_comparable(runs, tmp_path):
    done = sweep_cli("compare", runs["a"], runs["loss"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "val_acc (maximize)" in done.stdout and "val_loss (minimize)" in done.stdout
    assert str(runs["a"]) in done.stdout and str(runs["loss"]) in done.stdout
    verdict = done.stdout.strip().splitlines()[-1]
    assert verdict.startswith("not comparable: the runs rank by different metrics")
    assert "is better" not in done.stdout and "is best" not in done.stdout


@pytest.mark.parametrize("which", ["one run", "not a run", "missing", "twice", "none"])
def test_fewer_than_two_runs_or_a_folder_that_is_not_a_run_is_one_line_and_status_2(runs, tmp_path, which):
    (tmp_path / "empty").mkdir()
    args = {"one run": [runs["a"]], "not a run": [runs["a"], tmp_path / "empty"],
            "missing": [tmp_path / "nowhere", runs["a"]], "twice": [runs["a"], runs["a"]], "none": []}[which]
    done = sweep_cli("compare", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("sweep: error: ")


def test_the_page_is_self_contained_and_names_both_runs(runs, tmp_path):
    page = tmp_path / "cmp.html"
    done = sweep_cli("compare", runs["a"], runs["b"], "--html", page, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"comparison page: {page}" in done.stderr
    assert "is better" in done.stdout  # the table is printed as without --html
    html = page.read_text()
    for text in ("alpha", "beta", str(runs["a"]), str(runs["b"]), "is better", "learning_rate"):
        assert text in html, text
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html
    assert html.count('src="data:image/png;base64,') == 1
    assert re.search(r'<tr class="differs"><th scope="row">\* learning_rate', html)
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary file left
    again = sweep_cli("compare", runs["b"], runs["a"], "--html", page, cwd=tmp_path)  # its own page: replaced
    assert again.returncode == 0, again.stderr


def test_a_file_the_command_did_not_write_is_left_as_it_is(runs, tmp_path):
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>")
    done = sweep_cli("compare", runs["a"], runs["b"], "--html", mine, cwd=tmp_path)
    assert done.returncode == 2 and "not written by sweep compare" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
    assert mine.read_text() == "<p>my notes</p>"


def test_text_from_a_run_folder_is_escaped_on_the_page(tmp_path):
    from sweep.compare_page import render

    a = net_run(tmp_path / "a", "<script>alert(1)</script>", score_a)
    b = net_run(tmp_path / "b", "b & <b>", score_b)
    runs = [sweep.load_run(a), sweep.load_run(b)]
    html = render(compare_runs(runs), runs)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "b &amp; &lt;b&gt;" in html


def test_the_comparison_data(runs):
    loaded = [sweep.load_run(runs["a"]), sweep.load_run(runs["b"])]
    comparison = compare_runs(loaded)
    assert comparison.comparable and comparison.better == "B"
    assert comparison.margin == pytest.approx(0.1)
    assert [r.best_value for r in comparison.runs] == [pytest.approx(0.8), pytest.approx(0.9)]
    settings = comparison.settings
    assert list(settings.index) == ["hidden_size", "learning_rate", "optimizer"]
    assert settings["differs"].to_dict() == {"hidden_size": False, "learning_rate": True, "optimizer": True}
    assert settings.loc["learning_rate", "A"] == 0.1 and settings.loc["learning_rate", "B"] == 0.01
    assert settings.loc["optimizer", "searched"] == ""
    table = comparison.table()
    assert list(table.columns) == ["A", "B"]
    assert table.loc["folder", "A"] == str(runs["a"]) and table.loc["experiment", "B"] == "beta"
    assert table.loc["seconds", "A"].endswith("0.0 training")  # four training runs of 0.01 s


def test_a_tie_names_no_better_run(tmp_path):
    a = net_run(tmp_path / "a", "a", score_a)
    b = net_run(tmp_path / "b", "b", score_a)
    comparison = compare_runs([sweep.load_run(a), sweep.load_run(b)])
    assert comparison.better is None and comparison.verdict.startswith("A and B tie: val_acc 0.8000")


def test_the_best_so_far_of_each_run_apart_from_pixels(runs, tmp_path):
    # B recorded its trials in the reverse order: its best so far follows its own completion order.
    b = net_run(tmp_path / "b-reversed", "beta", score_b, optimizer="adam", order=lambda t: list(reversed(t)))
    loaded = [sweep.load_run(runs["a"]), sweep.load_run(b)]
    data = compare_history_data(loaded, ["A", "B"])
    assert list(data.columns) == ["run", "run_dir", "metric", "order", "value", "best_so_far"]
    for label, run in zip("AB", loaded):
        mine = data[data["run"] == label]
        values = [float(v) for v in run.trials["val_acc"]]
        assert list(mine["order"]) == [1, 2, 3, 4]
        assert list(mine["value"]) == pytest.approx(values)
        assert list(mine["best_so_far"]) == pytest.approx(pd.Series(values).cummax().tolist())
        assert set(mine["run_dir"]) == {str(run.run_dir)} and set(mine["metric"]) == {"val_acc"}
    # the grid's order: (16, 0.1), (16, 0.01), (64, 0.1), (64, 0.01)
    assert data[data["run"] == "A"]["best_so_far"].tolist() == pytest.approx([0.6, 0.6, 0.8, 0.8])
    assert data[data["run"] == "B"]["best_so_far"].tolist() == pytest.approx([0.9, 0.9, 0.9, 0.9])

    fig = compare_history_figure(data, ["A", "B"])
    (ax,) = fig.axes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [f"A: {runs['a']}", f"B: {b}"]
    steps = [line for line in ax.get_lines() if line.get_label().startswith(("A:", "B:"))]
    assert len({line.get_color() for line in steps}) == 2  # one colour per run


def test_different_metrics_are_drawn_in_panels_of_their_own(runs):
    loaded = [sweep.load_run(runs["a"]), sweep.load_run(runs["loss"])]
    data = compare_history_data(loaded, ["A", "B"])
    assert data[data["run"] == "B"]["best_so_far"].tolist() == pytest.approx([0.6, 0.15, 0.15, 0.1])  # minimized
    fig = compare_history_figure(data, ["A", "B"])
    assert len(fig.axes) == 2
    assert [a.get_ylabel() for a in fig.axes] == ["best validation accuracy so far", "best validation loss so far"]


def test_program_sweeps_compare_too(tmp_path):
    a = program_run(tmp_path / "pa", "prog-a", lambda p: -abs(math.log10(p["lr"]) + 2) + p["layers"])
    b = program_run(tmp_path / "pb", "prog-b", lambda p: -abs(math.log10(p["lr"]) + 1) + 0.5 * p["layers"])
    done = sweep_cli("compare", a, b, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "program train.py" in out and "score (maximize)" in out and "6 ok, 0 stopped, 0 failed" in out
    assert out.strip().splitlines()[-1].startswith(f"A ({a}) is better: score 2 against B's 1, higher by 1 (100.00%)")
    marked = [line.split()[1] for line in out.splitlines() if line.startswith("* ")]
    assert marked == ["lr"]  # A's best has lr 0.01, B's 0.1; both best with 2 layers


def test_a_real_sweep_against_a_written_run(runs, tmp_path):
    """A run of the real command (best/summary.json, a test score, provenance) against a written one."""
    exp = write_experiment(tmp_path / "real.yaml", name="real", dataset={"name": "digits"}, method="grid",
                           parameters={"hidden_size": {"values": [16, 32]}},
                           fixed={"epochs": 1, "learning_rate": 0.1, "init": "he"}, n_jobs=1)
    ran = sweep_cli("run", exp, "--out", tmp_path / "real", "--quiet", "--no-plots", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    done = sweep_cli("compare", tmp_path / "real", runs["a"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    facts = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("  ")}
    assert "test_acc" in done.stdout and " wall, " in done.stdout
    assert "2 ok, 0 stopped, 0 failed" in done.stdout
    assert re.search(r"^[AB] \(.*\) is better: val_acc", done.stdout.strip().splitlines()[-1])
    assert "real" in facts["experiment"] and "alpha" in facts["experiment"]

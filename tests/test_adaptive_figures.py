"""Figures and the report of adaptive searches: trials stopped early (Hyperband), runs killed with trials
paused at a milestone, one searched parameter, no finished trial. Figure data is checked apart from the
pixels; the drawn marks by their labels."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from conftest_run import make_paused_run, make_run
from matplotlib.collections import LineCollection, PathCollection

from sweep.figures import build_figures, load_run, run_caption
from sweep.figures.fit import fit_figure
from sweep.figures.heatmap import heatmap_cells, heatmap_figure, heatmap_layout
from sweep.figures.history import history_data, history_figure
from sweep.figures.learning_curves import learning_curves_figure, top_trials
from sweep.figures.parallel import parallel_coordinates_figure
from sweep.figures.slices import slice_data, slice_figure
from sweep.figures.style import STOPPED_LABEL, Scale
from sweep.report import write_report


@pytest.fixture(scope="module")
def hb(tmp_path_factory):
    run = load_run(make_run(tmp_path_factory, "hyperband"))
    statuses = set(run.trials["status"])
    assert statuses == {"ok", "stopped"} and (run.trials["status"] == "stopped").sum() >= 8
    return run


def labelled(fig, label: str) -> list:
    """The scatter collections of ``fig`` that carry ``label`` in the legend."""
    return [c for ax in fig.axes for c in ax.collections if isinstance(c, PathCollection) and c.get_label() == label]


def all_texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def stopped_of(run):
    return run.trials[run.trials["status"] == "stopped"]


# ------------------------------------------------------------------------------------------ stopped trials
def test_history_scores_stopped_trials_with_their_last_score(hb):
    data = history_data(hb.trials, hb.metric, hb.maximize)
    assert data["value"].notna().all()  # every trial, stopped or not, has a score
    stopped = data["status"] == "stopped"
    np.testing.assert_allclose(data.loc[stopped, "value"], stopped_of(hb)["val_acc"])
    assert data["best_so_far"].iloc[-1] == pytest.approx(hb.trials["val_acc"].max())
    fig = history_figure(hb.trials, hb.metric, hb.maximize)
    (triangles,) = labelled(fig, STOPPED_LABEL)
    assert len(triangles.get_offsets()) == stopped.sum()
    assert not labelled(fig, "failed or crashed") and not labelled(fig, "diverged (no score)")
    assert "no trial has a score" not in all_texts(fig)
    assert STOPPED_LABEL in [t.get_text() for t in fig.legends[0].get_texts()]


def test_slices_draw_stopped_trials_as_triangles_at_their_last_score(hb):
    data = slice_data(hb.trials, "learning_rate", hb.metric, hb.maximize, log=True, best_id=hb.best_id)
    assert data.points["value"].notna().all()
    assert len(data.best_line) == hb.trials["learning_rate"].nunique()
    # the best score at each value, stopped trials included
    best = hb.trials.groupby("learning_rate")["val_acc"].max().sort_index().to_numpy()
    np.testing.assert_allclose(data.best_line["value"], best)
    fig = slice_figure(hb.trials, "learning_rate", hb.metric, hb.maximize, log=True, best_id=hb.best_id)
    (triangles,) = labelled(fig, STOPPED_LABEL)
    assert len(triangles.get_offsets()) == len(stopped_of(hb))
    (dots,) = labelled(fig, "finished trial")
    assert len(dots.get_offsets()) == (hb.trials["status"] == "ok").sum()


def test_heatmap_cells_of_stopped_trials_show_their_last_score_not_a_failure(hb):
    assert heatmap_layout(hb.trials, hb.log_params) == "grid"
    part = hb.trials[hb.trials["hidden_size"] == 8]
    xs, ys = (Scale.of(p, hb.trials[p], p in hb.log_params) for p in ("learning_rate", "reg"))
    cells = heatmap_cells(part, hb.metric, hb.maximize, xs, ys)
    assert cells["value"].notna().all() and (cells["failed"] == 0).all() and (cells["diverged"] == 0).all()
    for cell in cells.itertuples():
        own = part[(xs.index(part["learning_rate"]) == cell.xi) & (ys.index(part["reg"]) == cell.yi)]
        ok = own[own["status"] == "ok"]
        assert cell.from_stopped == ok.empty and cell.stopped == (own["status"] == "stopped").sum()
        assert cell.value == pytest.approx((ok if len(ok) else own)["val_acc"].max())
    assert cells["from_stopped"].any()
    fig = heatmap_figure(hb.trials, hb.metric, hb.maximize, hb.log_params)
    assert "failed" not in all_texts(fig) and "diverged" not in all_texts(fig)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["stopped early (its last score)"]


def test_heatmap_scatter_of_a_continuous_search_marks_stopped_trials(hb):
    trials = hb.trials.copy()
    trials["learning_rate"] = np.geomspace(1e-3, 0.3, len(trials))  # more values than a grid shows
    assert heatmap_layout(trials, hb.log_params) == "scatter"
    fig = heatmap_figure(trials, hb.metric, hb.maximize, hb.log_params)
    assert sum(len(c.get_offsets()) for c in labelled(fig, STOPPED_LABEL)) == len(stopped_of(hb))
    assert not labelled(fig, "diverged (no score)") and not labelled(fig, "failed or crashed")
    title, text = run_caption(dataclasses.replace(hb, trials=trials), "heatmap.png")
    assert text.startswith("Validation accuracy of every trial (its colour)") and "grid" not in text
    assert "Triangles are trials stopped early" in text


def test_parallel_coordinates_dash_stopped_trials(hb):
    fig = parallel_coordinates_figure(hb.trials, hb.metric, hb.maximize, hb.params, hb.log_params)
    ax = fig.axes[0]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection) and len(c.get_segments()[0]) > 2]
    dashed = [style for style in lines.get_linestyles() if style[1] is not None]
    assert len(lines.get_segments()) == len(hb.trials) and len(dashed) == len(stopped_of(hb))
    assert "no score" not in [t.get_text() for t in ax.texts]
    assert STOPPED_LABEL in [t.get_text() for t in fig.legends[0].get_texts()]


def test_learning_curves_are_labelled_with_the_leaderboards_ranks(hb):
    ranked = list(hb.ranked()["trial_id"])  # the report's leaderboard, best first
    top = top_trials(hb.trials, hb.metric, hb.maximize, top_k=5)
    assert [ranked.index(t) + 1 for t in top["trial_id"]] == list(top["rank"])
    assert list(top["status"]) == sorted(top["status"], key=lambda s: s != "ok")  # finished ones first
    fig = learning_curves_figure(hb.history, hb.trials, hb.metric, hb.maximize, top_k=5, params=hb.params)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    ranks = sorted(int(re.match(r"#(\d+) ", label).group(1)) for label in labels)
    assert ranks == sorted(top["rank"])
    assert all(label.endswith("(stopped)") == (row.status == "stopped")
               for label, row in zip(sorted(labels, key=lambda s: int(s[1:].split()[0])), top.itertuples()))


def test_learning_curve_ranks_skip_trials_sharing_a_training_run(tmp_path_factory):
    grid = load_run(make_run(tmp_path_factory, "grid"))  # epochs 2 and 3: two trials per training run
    top = top_trials(grid.trials, grid.metric, grid.maximize, top_k=5)
    ranked = list(grid.ranked()["trial_id"])
    assert [ranked.index(t) + 1 for t in top["trial_id"]] == list(top["rank"])


def test_fit_shows_stopped_trials_at_their_last_epoch(hb):
    fig = fit_figure(hb.trials, hb.metric, hb.maximize, color_by="reg", log_color=True, best_id=hb.best_id)
    (triangles,) = labelled(fig, STOPPED_LABEL)
    assert len(triangles.get_offsets()) == len(stopped_of(hb))


def test_captions_of_a_hyperband_run_say_what_is_drawn(hb, tmp_path_factory):
    names = [name for name, _ in build_figures(hb)]
    assert {"heatmap.png", "history.png", "parallel.png", "learning_curves.png", "rungs.png", "fit.png"} <= set(names)
    for name in names:
        title, text = run_caption(hb, name)
        assert text, name
        if name not in ("weights.png", "rungs.png"):
            assert "stopped early" in text or "(stopped)" in text, (name, text)
        assert "paused" not in text
    assert "#k is the trial's rank in the leaderboard" in run_caption(hb, "learning_curves.png")[1]
    grid = load_run(make_run(tmp_path_factory, "grid"))  # nothing stopped: nothing said about it
    assert "stopped" not in run_caption(grid, "history.png")[1]
    assert "blank cells were not run" in run_caption(grid, "heatmap.png")[1]


def test_report_of_a_hyperband_run(hb, capsys):
    page = write_report(hb.run_dir).read_text()
    assert "sweep: warning" not in capsys.readouterr().err
    assert "no trial has a score" not in page
    for name in ("heatmap", "history", "parallel", "learning_curves", "rungs", "fit"):
        assert f'id="plot-{name}"' in page
    assert "Orange triangles are trials stopped early" in page


# ------------------------------------------------------------------------------------------ unfinished runs
def test_report_of_a_run_killed_with_trials_paused(tmp_path_factory, capsys):
    run = load_run(make_paused_run(tmp_path_factory, rows=2))
    assert run.paused and not set(run.paused) & set(run.trials["trial_id"])
    assert len(run.trials) >= 2
    figures = dict(build_figures(run))
    assert "sweep: warning" not in capsys.readouterr().err  # every figure was drawn
    assert [n for n in figures if n.startswith("slice_")] == [f"slice_{p}.png" for p in run.params]
    for name, fig in figures.items():
        assert "no trial has a score" not in all_texts(fig), name
    n = len(run.paused)
    title, text = run_caption(run, "history.png")
    assert f"{n} trial{'s' * (n > 1)} paused at a milestone" in text and "not shown" in text
    page = write_report(run.run_dir).read_text()
    assert "sweep: warning" not in capsys.readouterr().err
    assert f'<span class="badge paused">{n} paused</span>' in page


def test_report_of_a_run_killed_before_any_trial_was_recorded(tmp_path_factory, capsys):
    run = load_run(make_paused_run(tmp_path_factory, rows=0))
    assert run.paused
    page = write_report(run.run_dir).read_text()
    assert "sweep: warning" not in capsys.readouterr().err
    assert f'<span class="badge paused">{len(run.paused)} paused</span>' in page


# ------------------------------------------------------------------------------------------ small runs
def test_report_of_a_search_of_one_parameter(tmp_path_factory, capsys):
    run = load_run(make_run(tmp_path_factory, "hyperband1"))
    assert run.params == ["learning_rate"]
    names = [name for name, _ in build_figures(run)]
    assert "heatmap.png" not in names and "slice_learning_rate.png" in names and "parallel.png" in names
    write_report(run.run_dir)
    assert "sweep: warning" not in capsys.readouterr().err


def test_report_of_a_single_trial(tmp_path_factory, capsys):
    run = load_run(make_run(tmp_path_factory, "one"))
    assert len(run.trials) == 1 and run.params == []
    page = write_report(run.run_dir).read_text()
    assert "sweep: warning" not in capsys.readouterr().err
    assert 'id="plot-learning_curves"' in page

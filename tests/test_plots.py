"""The plots: each figure built from a small real run folder, checked on its matplotlib objects."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct

import numpy as np
import pandas as pd
import pytest
from conftest_run import FAIL_HIDDEN, make_run
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import LogNorm
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from sweep import figures as plots
from sweep.figures import draw_all, load_run
from sweep.figures.fit import fit_figure
from sweep.figures.heatmap import heatmap_figure
from sweep.figures.history import history_figure
from sweep.figures.learning_curves import learning_curves_figure, top_trials
from sweep.figures.parallel import parallel_coordinates_figure
from sweep.figures.slices import slice_figure, slice_figures
from sweep.figures.style import Scale, is_log_param, metric_norm
from sweep.figures.weights import weight_grid, weights_figure
from sweep.nn import TwoLayerNet
from sweep.results.analysis import read_history, read_trials

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def grid_run(tmp_path_factory):
    return make_run(tmp_path_factory, "grid")


@pytest.fixture(scope="session")
def run(grid_run):
    return load_run(grid_run)


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG
    return struct.unpack(">II", data[16:24])


def scatter_points(ax) -> int:
    return sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


# ------------------------------------------------------------------------------------------ the run
def test_load_run_reads_the_folder(run):
    assert run.metric == "val_acc" and run.maximize
    assert run.params == ["hidden_size", "learning_rate", "reg", "epochs"]
    # learning rate spans 0.01..50 and reg 1e-3..0.1 (zero aside): log; hidden 10..20, epochs 2..3: linear
    assert run.log_params == {"learning_rate", "reg"}
    assert len(run.trials) == 36 and set(run.trials["status"]) == {"ok", "diverged"}
    assert run.image_shape == (8, 8) and run.W1.shape[0] == 64
    assert run.best_id == run.summary["trial_id"]


def test_is_log_param_from_distribution_or_span():
    assert is_log_param([0.5, 0.6], {"distribution": "log_uniform_values", "min": 1e-4, "max": 1})
    assert is_log_param([1e-4, 1e-3, 1e-2], {"distribution": "categorical", "values": [1e-4, 1e-3, 1e-2]})
    assert is_log_param([0.0, 1e-3, 1e-1])  # zero ignored, positive values span 100x
    assert not is_log_param([1e-2, 1e-1])  # one order of magnitude: linear
    assert not is_log_param([10, 20, 50], {"distribution": "int_uniform", "min": 10, "max": 50})
    assert not is_log_param(["sgd", "adam"])


def test_scale_puts_zero_one_decade_below_on_log_axes():
    scale = Scale.of("reg", [0.0, 1e-3, 1e-1, 1e-3], log=True)
    assert scale.kind == "log" and scale.zero_at == pytest.approx(1e-4)
    assert list(scale.data([0.0, 1e-1])) == pytest.approx([1e-4, 1e-1])
    positions, labels = scale.ticks()
    assert labels == ["0", "$10^{-3}$", "$10^{-1}$"] and positions[0] == pytest.approx(1e-4)
    assert Scale.of("optimizer", ["sgd", "adam", "sgd"]).ticks() == ([0, 1], ["adam", "sgd"])


# ------------------------------------------------------------------------------------------ heatmap
def test_heatmap_one_panel_per_hidden_size(run):
    fig = heatmap_figure(run.trials, run.metric, run.maximize, run.log_params)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2 and len(fig.axes) == 3  # two panels and the colour bar
    assert [ax.get_title() for ax in panels] == ["hidden size = 10", "hidden size = 20"]
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["0", "$10^{-3}$", "$10^{-1}$"]
    assert panels[0].get_ylabel() == "L2 regularization (reg)" and panels[1].get_xlabel() == "learning rate"
    for ax in panels:
        (image,) = ax.images
        values = image.get_array()
        assert values.shape == (3, 3)  # reg x learning rate
        assert [t.get_text() for t in ax.get_xticklabels()] == ["$10^{-2}$", "$10^{-1}$", "50"]
        # lr 50 with reg 0.1 diverged in every trial: no value, hatched and labelled
        assert np.ma.is_masked(values[2, 2]) and values.mask.sum() == 1
        assert "diverged" in texts(ax)
        assert any(isinstance(p, Rectangle) and p.get_hatch() == "///" for p in ax.patches)
        assert float(values.max()) > float(values.min())
    # the best trial's cell is outlined, in one panel only
    outlined = [ax for ax in panels for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
    assert len(outlined) == 1


def test_heatmap_leaves_cells_not_run_blank(run):
    trials = run.trials
    keep = ~((trials["learning_rate"] == 0.01) & (trials["reg"] == 0.0))
    fig = heatmap_figure(trials[keep], run.metric, run.maximize, run.log_params)
    for ax in [a for a in fig.axes if a.images]:
        values = ax.images[0].get_array()
        assert np.ma.is_masked(values[0, 0]) and values.mask.sum() == 2
        # no label on the blank cell (row 0, column 0)
        assert not [t for t in ax.texts if t.get_position() == (0, 0)]


def test_heatmap_needs_both_axes_to_vary(run):
    fixed_reg = run.trials[run.trials["reg"] == 0.0]
    assert heatmap_figure(fixed_reg, run.metric, run.maximize, run.log_params) is None


def test_heatmap_of_a_continuous_search_is_a_scatter_on_log_axes():
    rng = np.random.default_rng(0)
    n = 30
    trials = pd.DataFrame({
        "order": np.arange(1, n + 1), "trial_id": [f"t{i}" for i in range(n)], "config_id": [f"c{i}" for i in range(n)],
        "status": ["ok"] * (n - 2) + ["diverged", "failed"], "hidden_size": rng.choice([10, 30], n),
        "learning_rate": 10 ** rng.uniform(-4, 0, n), "reg": 10 ** rng.uniform(-6, -1, n),
        "val_acc": np.r_[rng.uniform(0.1, 0.9, n - 2), np.nan, np.nan]})
    trials["val_loss"] = 1 - trials["val_acc"]
    fig = heatmap_figure(trials, "val_acc", True, {"learning_rate", "reg"})
    panels = fig.axes[:-1]
    assert len(panels) == 2 and all(ax.get_xscale() == "log" and ax.get_yscale() == "log" for ax in panels)
    assert sum(len(ax.collections[0].get_offsets()) for ax in panels) == n - 2


# ------------------------------------------------------------------------------------------ slices
def test_slice_per_searched_parameter(run):
    figures = slice_figures(run.trials, run.metric, run.maximize, run.params, run.log_params, run.best_id)
    assert list(figures) == run.params
    scales = {p: fig.axes[0].get_xscale() for p, fig in figures.items()}
    assert scales == {"hidden_size": "linear", "learning_rate": "log", "reg": "log", "epochs": "linear"}
    ok = (run.trials["status"] == "ok").sum()
    diverged = (run.trials["status"] == "diverged").sum()
    for param, fig in figures.items():
        (ax,) = fig.axes
        trial_dots, *rest = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert len(trial_dots.get_offsets()) == ok
        crosses = [c for c in rest if c.get_label().startswith("diverged")]
        assert len(crosses) == 1 and len(crosses[0].get_offsets()) == diverged
        best = [c for c in rest if c.get_label() == "best trial"]
        assert len(best) == 1 and len(best[0].get_offsets()) == 1
        (envelope,) = ax.get_lines()  # the best score at each value
        assert len(envelope.get_xdata()) == run.trials[param].nunique()
        assert ax.get_ylabel() == "validation accuracy"
    labels = [t.get_text() for t in figures["reg"].axes[0].get_xticklabels()]
    assert labels == ["0", "$10^{-3}$", "$10^{-1}$"]


def test_slice_of_a_categorical_parameter(run):
    trials = run.trials.copy()
    trials["optimizer"] = np.where(np.arange(len(trials)) % 2, "adam", "sgd")
    fig = slice_figure(trials, "optimizer", run.metric, run.maximize)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["adam", "sgd"]
    assert ax.get_xscale() == "linear" and ax.get_xlim() == pytest.approx((-0.6, 1.6))


# ------------------------------------------------------------------------------------------ curves
def test_learning_curves_of_the_top_trials(run):
    fig = learning_curves_figure(run.history, run.trials, run.metric, run.maximize, top_k=4, params=run.params)
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.get_lines()) == 4  # training loss, one line per trial
    assert len(acc_ax.get_lines()) == 8  # train (dashed) and validation (solid) accuracy per trial
    assert sorted(line.get_linestyle() for line in acc_ax.get_lines()) == ["-"] * 4 + ["--"] * 4
    assert loss_ax.get_title() == "Training loss" and acc_ax.get_title() == "Classification accuracy"
    assert all(len(line.get_xdata()) in (2, 3) for line in loss_ax.get_lines())
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0].startswith("#1 h=") and "lr=" in legend[0]
    # trials that share a training run (they differ in epochs only) appear once
    top = top_trials(run.trials, run.metric, run.maximize, 4)
    per_trial = ["rank", "trial_id", "config_id", "epochs", "order", "train_loss", "train_acc", "val_loss", "val_acc",
                 "best_val_acc", "best_epoch", "seconds", "worker", "error"]
    assert len(top) == 4 and not top.drop(columns=per_trial).duplicated().any()


def test_learning_curves_with_fewer_trials_than_k(tmp_path_factory):
    one = load_run(make_run(tmp_path_factory, "one"))
    fig = learning_curves_figure(one.history, one.trials, one.metric, one.maximize, top_k=5)
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 2]


def test_learning_curves_of_a_regression_show_losses(tmp_path_factory):
    reg = load_run(make_run(tmp_path_factory, "regression"))
    assert reg.metric == "val_loss" and not reg.maximize
    fig = learning_curves_figure(reg.history, reg.trials, reg.metric, reg.maximize, top_k=3)
    loss_ax, right = fig.axes
    assert right.get_title() == "Validation loss" and len(right.get_lines()) == 3 and len(loss_ax.get_lines()) == 3


# ------------------------------------------------------------------------------------------ weights
def test_weights_of_the_best_digits_model(grid_run, run):
    net = TwoLayerNet.load(grid_run / "best" / "model.npz")
    hidden = net.params["W1"].shape[1]
    fig = weights_figure(net.params["W1"], (8, 8))
    (ax,) = fig.axes
    (image,) = ax.images
    side = int(np.ceil(np.sqrt(hidden)))
    side = next((c for c in range(side, side + 4) if hidden % c == 0), side)
    rows = -(-hidden // side)
    assert image.get_array().shape == (rows * 9 - 1, side * 9 - 1)  # 8x8 tiles, 1 pixel of padding
    assert image.get_cmap().name == "gray"
    assert not ax.axison


def test_weight_grid_gray_colour_and_limits():
    rng = np.random.default_rng(0)
    gray = weight_grid(rng.standard_normal((784, 100)), (28, 28), max_units=64)
    assert gray.shape == (8 * 29 - 1, 8 * 29 - 1)
    tile = gray[:28, :28]
    assert tile.min() == 0.0 and tile.max() == 1.0  # each image scaled to its own range
    colour = weight_grid(rng.standard_normal((32 * 32 * 3, 10)), (32, 32, 3))
    assert colour.shape == (2 * 33 - 1, 5 * 33 - 1, 3) and 0 <= colour.min() and colour.max() <= 1
    fig = weights_figure(rng.standard_normal((32 * 32 * 3, 10)), [32, 32, 3])
    assert fig.axes[0].images[0].get_array().shape[-1] == 3
    assert weight_grid(rng.standard_normal((50, 4)), (8, 8)) is None  # inputs are not 8x8 images
    assert weights_figure(rng.standard_normal((50, 4)), None) is None
    flat = weight_grid(np.ones((64, 1)), (8, 8))
    assert np.all(flat == 0.5)  # a constant unit does not divide by zero


def test_conv_filters_are_drawn_one_tile_each_in_their_own_colours():
    rng = np.random.default_rng(1)
    gray = rng.standard_normal((6, 1, 3, 3))  # CS231n's (F, C, f, f)
    fig = weights_figure(gray, (8, 8))
    (ax,) = fig.axes
    tiles = ax.images[0].get_array()
    assert tiles.shape == (2 * 4 - 1, 3 * 4 - 1)  # 6 filters of 3x3: 3 a row, 1 pixel of padding
    for k in range(6):
        r, c = divmod(k, 3)
        f = gray[k, 0]
        assert np.allclose(tiles[r * 4:r * 4 + 3, c * 4:c * 4 + 3], (f - f.min()) / (f.max() - f.min()))
    assert ax.get_title() == "First-layer weights (all 6 3x3 filters, 8x8 inputs)"
    colour = rng.standard_normal((10, 3, 5, 5))
    tiles = weights_figure(colour, (32, 32, 3)).axes[0].images[0].get_array()
    f = colour[7].transpose(1, 2, 0)  # the 8th filter as an image: channels last
    r, c = divmod(7, 5)
    assert np.allclose(tiles[r * 6:r * 6 + 5, c * 6:c * 6 + 5], (f - f.min()) / (f.max() - f.min()))
    assert weights_figure(rng.standard_normal((4, 3, 3, 3)), (8, 8)) is None  # 3 channels for gray images
    assert weights_figure(rng.standard_normal((4, 1, 9, 9)), (8, 8)) is None  # filters larger than the image


# ------------------------------------------------------------------------------------------ parallel
def test_parallel_coordinates_one_line_per_trial(run):
    fig = parallel_coordinates_figure(run.trials, run.metric, run.maximize, run.params, run.log_params)
    ax, bar = fig.axes
    collections = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_segments()
                   and len(c.get_segments()[0]) > 2]
    segments = [s for c in collections for s in c.get_segments()]
    assert len(segments) == len(run.trials)
    assert all(len(s) == len(run.params) + 1 for s in segments)  # one vertex per parameter and the metric
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hidden size", "learning rate",
                                                            "L2 regularization (reg)", "epochs",
                                                            "validation accuracy"]
    assert bar.get_ylabel() == "validation accuracy"
    assert "no score" in texts(ax)  # the diverged trials
    assert parallel_coordinates_figure(run.trials, run.metric, run.maximize, []) is None


# ------------------------------------------------------------------------------------------ history
def test_history_in_completion_order_with_best_so_far(run):
    fig = history_figure(run.trials, run.metric, run.maximize)
    (ax,) = fig.axes
    (best,) = ax.get_lines()
    y = np.asarray(best.get_ydata(), dtype=float)
    y = y[np.isfinite(y)]
    assert np.all(np.diff(y) >= 0) and y[-1] == pytest.approx(run.trials["val_acc"].max())
    dots = ax.collections[0]
    assert len(dots.get_offsets()) == (run.trials["status"] == "ok").sum()
    assert ax.get_xlabel() == "trial (completion order)"


# ------------------------------------------------------------------------------------------ fit
def test_fit_train_against_validation(run):
    fig = fit_figure(run.trials, run.metric, run.maximize, color_by="reg", log_color=True, best_id=run.best_id)
    (ax,) = fig.axes
    ok = run.trials[run.trials["status"] == "ok"]
    assert scatter_points(ax) == len(ok) + 1  # every ok trial, and the best starred again
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["reg = 0", "reg = 1e-3", "reg = 0.1"] and "best trial" in legend
    diagonal = [line for line in ax.get_lines() if line.get_label() == "train = validation"]
    assert len(diagonal) == 1
    assert ax.get_xlabel() == "training accuracy" and ax.get_ylabel() == "validation accuracy"


def test_fit_of_a_regression_uses_losses_on_log_axes(tmp_path_factory):
    reg = load_run(make_run(tmp_path_factory, "regression"))
    fig = fit_figure(reg.trials, reg.metric, reg.maximize, color_by="learning_rate", log_color=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log" and ax.get_xlabel() == "training loss"


# ------------------------------------------------------------------------------------------ draw_all
def expected_files(params):
    return {"heatmap.png", "history.png", "parallel.png", "learning_curves.png", "fit.png", "weights.png",
            *(f"slice_{p}.png" for p in params)}


def test_draw_all_writes_every_plot(grid_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(grid_run, folder)
    (folder / "plots").mkdir(exist_ok=True)
    (folder / "plots" / "slice_momentum.png").write_bytes(PNG)  # from an older drawing by sweep: removed
    drawn = json.loads((folder / ".drawn.json").read_text())
    drawn["plots/slice_momentum.png"] = hashlib.sha256(PNG).hexdigest()
    (folder / ".drawn.json").write_text(json.dumps(drawn))
    (folder / "plots" / "slice_lr_decay.png").write_bytes(PNG + b"mine")  # a name of sweep's, not drawn by it: kept
    (folder / "plots" / "mine.png").write_bytes(PNG)  # not ours: kept
    paths = draw_all(folder)
    assert {p.name for p in paths} == expected_files(["hidden_size", "learning_rate", "reg", "epochs"])
    assert all(p.parent == folder / "plots" for p in paths)
    for path in paths:
        width, height = png_size(path)
        assert 400 <= width <= 1900 and 300 <= height <= 1000, (path.name, width, height)
    assert sorted(p.name for p in (folder / "plots").glob("*.png")) == sorted([p.name for p in paths] +
                                                                              ["mine.png", "slice_lr_decay.png"])
    assert not list((folder / "plots").glob(".*tmp"))
    assert [p.name for p in draw_all(folder)] == [p.name for p in paths]  # redrawn the same


def test_draw_all_makes_no_pyplot_figures(run, tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    figures = plots.build_figures(run)
    assert len(figures) == 10 and plt.get_fignums() == before


def test_draw_all_copes_with_one_trial(tmp_path_factory):
    paths = draw_all(make_run(tmp_path_factory, "one"))
    # nothing was searched: no heatmap, slices or parallel coordinates
    assert {p.name for p in paths} == {"history.png", "learning_curves.png", "fit.png", "weights.png"}


def test_draw_all_copes_with_failures(tmp_path_factory):
    folder = make_run(tmp_path_factory, "failed")
    trials = read_trials(folder)
    assert set(trials["status"]) == {"ok", "failed"}
    paths = {p.name for p in draw_all(folder)}
    assert paths == {"history.png", "slice_hidden_size.png", "slice_learning_rate.png", "parallel.png",
                     "learning_curves.png", "fit.png", "weights.png"}
    fig = history_figure(trials, "val_acc", True)
    crosses = [c for c in fig.axes[0].collections if c.get_label() == "failed or crashed"]
    assert len(crosses[0].get_offsets()) == (trials["hidden_size"] == FAIL_HIDDEN).sum()


def test_draw_all_copes_with_every_trial_failed(tmp_path_factory):
    folder = make_run(tmp_path_factory, "allfailed")
    assert set(read_trials(folder)["status"]) == {"failed"} and read_history(folder).empty
    assert not (folder / "best").exists()
    paths = {p.name for p in draw_all(folder)}
    assert paths == {"history.png", "slice_learning_rate.png", "parallel.png"}


def test_draw_all_of_a_regression_run(tmp_path_factory):
    folder = make_run(tmp_path_factory, "regression")
    paths = {p.name for p in draw_all(folder)}
    # synthetic regression inputs are not images: no weights; the metric is a loss (lower is better)
    assert paths == {"heatmap.png", "history.png", "slice_learning_rate.png", "slice_reg.png", "parallel.png",
                     "learning_curves.png", "fit.png"}
    reg = load_run(folder)
    fig = heatmap_figure(reg.trials, reg.metric, reg.maximize, reg.log_params)
    image = fig.axes[0].images[0]
    assert image.get_cmap().name == "viridis_r"  # low loss is the bright end, as high accuracy is


def test_draw_all_of_an_empty_run(tmp_path):
    from sweep.results.files import TRIAL_COLUMNS

    (tmp_path / "trials.csv").write_text(",".join(TRIAL_COLUMNS) + "\n")
    assert draw_all(tmp_path) == []


def test_metric_norm_is_logarithmic_for_losses_spanning_decades():
    norm, cmap = metric_norm([0.01, 0.1, 5.0], maximize=False)
    assert isinstance(norm, LogNorm) and cmap.name == "viridis_r"


def test_captions_cover_every_file():
    for name in expected_files(["learning_rate"]):
        title, text = plots.caption(name, "val_acc")
        assert title and text and "\n" not in text, name
    assert plots.caption("slice_learning_rate.png")[0] == "Slice: learning rate"
    assert "validation loss" in plots.caption("fit.png", "val_loss", accuracies=False)[1]
    assert plots.caption("other.png") == ("other.png", "")


def test_images_are_axes_images(run):
    fig = weights_figure(run.W1, run.image_shape)
    assert isinstance(fig.axes[0].images[0], AxesImage)


def test_a_damaged_model_or_a_failing_figure_costs_only_that_figure(grid_run, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "run"
    shutil.copytree(grid_run, folder)
    (folder / "best" / "model.npz").write_bytes(b"not a model")
    run = load_run(folder)
    assert run.W1 is None and run.notes and "model.npz" in run.notes[0]

    def broken(*args, **kwargs):
        raise ValueError("drawing went wrong")

    monkeypatch.setattr(plots, "history_figure", broken)
    names = {p.name for p in draw_all(folder)}
    assert names == expected_files(run.params) - {"weights.png", "history.png"}
    assert "could not draw history.png: ValueError: drawing went wrong" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ data without pixels
def test_heatmap_cells_are_the_best_configuration_of_each_cell(run):
    from sweep.figures.heatmap import heatmap_cells

    trials = run.trials[run.trials["hidden_size"] == 10]
    xs, ys = Scale.of("learning_rate", trials["learning_rate"], True), Scale.of("reg", trials["reg"], True)
    cells = heatmap_cells(trials, run.metric, run.maximize, xs, ys, run.best_id)
    assert len(cells) == 9 and cells[["yi", "xi"]].drop_duplicates().shape[0] == 9  # 3 x 3 grid, all run
    diverged = cells[(cells["xi"] == xs.uniques.index(50.0)) & (cells["yi"] == ys.uniques.index(0.1))].iloc[0]
    assert np.isnan(diverged["value"]) and diverged["diverged"] == 2  # lr 50, reg 0.1: both epochs diverged
    for cell in cells.itertuples():
        inside = trials[(trials["learning_rate"] == xs.uniques[cell.xi]) & (trials["reg"] == ys.uniques[cell.yi])
                        & (trials["status"] == "ok")]
        if len(inside):
            assert cell.value == pytest.approx(inside.groupby("config_id")["val_acc"].mean().max())
    assert cells["best"].sum() == (run.trials.loc[run.trials["trial_id"] == run.best_id, "hidden_size"] == 10).sum()


def test_slice_data_joins_the_best_score_at_each_value(run):
    from sweep.figures.slices import slice_data

    data = slice_data(run.trials, "learning_rate", run.metric, run.maximize, log=True, best_id=run.best_id)
    assert len(data.points) == len(run.trials) and len(data.best_line) == 3
    scored = run.trials[run.trials["status"] == "ok"]
    best_at = scored.groupby("learning_rate")["val_acc"].max().sort_index()
    assert data.best_line["value"].tolist() == best_at.tolist()
    assert data.best == (pytest.approx(data.points.loc[run.trials["trial_id"] == run.best_id, "x"].iloc[0]),
                         run.trials.loc[run.trials["trial_id"] == run.best_id, "val_acc"].iloc[0])


def test_history_data_is_the_best_so_far_in_completion_order(run):
    from sweep.figures.history import history_data

    data = history_data(run.trials, run.metric, run.maximize)
    assert data["order"].tolist() == list(range(1, len(run.trials) + 1))
    running = float("nan")
    for value, best in zip(data["value"], data["best_so_far"]):
        if not np.isnan(value):
            running = value if np.isnan(running) else max(running, value)
        assert (np.isnan(best) and np.isnan(running)) or best == running

"""Ensemble selection over a sweep's top trials, and models that predict on raw inputs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import sweep
from sweep.config import ConfigError, load_experiment
from sweep.ensemble import combine, score, select
from sweep.errors import SweepError
from sweep.modelfile import Model, load_saved_model
from tests.conftest import ROOT, sweep_cli, write_experiment


def probabilities(rows):
    """(N, 2) probabilities from the probability of class 1 of each row."""
    p1 = np.asarray(rows, dtype=np.float64)
    return np.stack([1 - p1, p1], axis=1)


# ------------------------------------------------------------------------------------------- selection
def test_selection_on_synthetic_probabilities_gives_the_known_answer():
    y = np.array([0, 1, 0, 1])
    a = probabilities([0.1, 0.9, 0.1, 0.45])  # right on rows 0-2, wrong on row 3: accuracy 0.75, the best start
    b = probabilities([0.1, 0.9, 0.6, 0.9])  # right on rows 0, 1, 3, wrong on row 2: 0.75, a higher log-loss
    c = probabilities([0.55, 0.45, 0.1, 0.9])  # right on rows 2, 3 only: 0.5
    # a starts. Adding b gives 4/4 with log-loss 0.259, adding c also 4/4 but with 0.321: b is picked.
    chosen = select([c, b, a], y, rounds=1, names=["c", "b", "a"])
    assert chosen.order == (2, 1) and chosen.val_acc == 1.0
    assert chosen.val_loss == pytest.approx(-(2 * np.log(0.9) + np.log(0.65) + np.log(0.675)) / 4)
    assert select([a, a.copy()], y, rounds=2, names=["b", "a"]).order == (1,)  # ties go to the lower trial id
    longer = select([c, b, a], y, rounds=6, names=["c", "b", "a"])
    assert longer.val_acc == 1.0 and len(longer.history) == 7 and longer.order[:2] == (2, 1)
    assert score(combine([c, b, a], longer.order), y) == (longer.val_acc, longer.val_loss)  # bitwise what it scored


def test_an_ensemble_never_scores_below_its_best_member_on_validation():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n, classes, members = int(rng.integers(5, 60)), int(rng.integers(2, 5)), int(rng.integers(1, 8))
        y = rng.integers(0, classes, n)
        pool = [rng.dirichlet(np.ones(classes), size=n) for _ in range(members)]
        chosen = select(pool, y, rounds=int(rng.integers(0, 12)), names=[f"{i:02d}" for i in range(members)])
        best_member = max(score(p, y)[0] for p in pool)
        assert chosen.val_acc >= best_member
        assert score(combine(pool, chosen.order), y)[0] == chosen.val_acc


# ------------------------------------------------------------------------------------------- runs
GRID = {
    "name": "ens",
    "dataset": {"name": "digits", "center": "mean_image"},
    "method": "grid",
    "parameters": {"hidden_size": {"values": [16, 32]}, "learning_rate": {"values": [0.1, 0.02]},
                   "epochs": {"values": [1, 3, 4]}},
    "fixed": {"optimizer": "sgd_momentum", "init": "he", "batch_size": 64},
    "ensemble": {"top_k": 5, "rounds": 6},
    "n_jobs": 2,
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One run uninterrupted on two workers, the same run stopped after 5 trials and resumed on one."""
    folder = tmp_path_factory.mktemp("ensemble")
    write_experiment(folder / "exp.yaml", **GRID)
    whole = sweep_cli("run", "exp.yaml", "--out", "whole", "--no-plots", "--quiet", cwd=folder)
    assert whole.returncode == 0, whole.stderr
    part = sweep_cli("run", "exp.yaml", "--out", "part", "--no-plots", "--quiet", "--max-trials", "5", cwd=folder)
    assert part.returncode == 0, part.stderr
    resumed = sweep_cli("run", "exp.yaml", "--resume", "part", "--n-jobs", "1", "--no-plots", "--quiet", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    return folder


def raw_digits():
    """The digits' raw rows (gray levels 0..16), in the splits the runs drew."""
    return sweep.load_dataset("digits", scale=False, center="none", dtype="float64")


def test_raw_inputs_give_the_run_its_own_test_accuracy(runs):
    run = sweep.load_run(runs / "whole")
    raw = raw_digits()
    assert raw.X_test.max() == 16.0
    model = run.best_model()
    assert isinstance(model, Model) and model.preprocessing.center == "mean_image"
    assert model.accuracy(raw.X_test, raw.y_test) == run.best["test_acc"]
    assert model.accuracy(raw.X_test.reshape(-1, 8, 8), raw.y_test) == run.best["test_acc"]  # images too
    np.testing.assert_allclose(model.predict_proba(raw.X_test).sum(axis=1), 1.0)
    record = json.loads((runs / "whole" / "best" / "ensemble.json").read_text())
    ensemble = run.ensemble()
    assert ensemble.accuracy(raw.X_test, raw.y_test) == record["test_acc"]
    assert ensemble.accuracy(raw.X_val, raw.y_val) == record["val_acc"]
    assert ensemble.predict_proba(raw.X_test).shape == (len(raw.X_test), 10)
    with pytest.raises(ValueError, match=r"takes raw rows of shape \(N, 64\) or \(N, 8, 8\)"):
        model.predict(raw.X_test[:, :10])


def test_the_ensemble_record_beside_the_single_best(runs):
    record = json.loads((runs / "whole" / "best" / "ensemble.json").read_text())
    summary = json.loads((runs / "whole" / "best" / "summary.json").read_text())
    assert record["single_best"] == {"trial_id": summary["trial_id"], "val_acc": summary["val_acc"],
                                     "test_acc": summary["test_acc"]}
    assert record["val_acc"] >= max(m["val_acc"] for m in record["members"]) >= summary["val_acc"]
    assert sum(m["count"] for m in record["members"]) == record["size"] == len(record["order"])
    assert sum(m["weight"] for m in record["members"]) == pytest.approx(1.0)
    assert record["pool"] == 5 and record["top_k"] == 5 and record["retrained"] == []  # all weights were kept
    assert not (runs / "whole" / "candidates").exists()  # removed once the run is complete
    best = sweep_cli("best", "whole", cwd=runs)
    assert best.returncode == 0 and json.loads(best.stdout)["ensemble"]["test_acc"] == record["test_acc"]
    shown = sweep_cli("show", "whole", cwd=runs)
    assert f"ensemble of {len(record['members'])} trial(s): val_acc {record['val_acc']:.4f}" in shown.stdout
    report = sweep_cli("report", "whole", cwd=runs)
    assert report.returncode == 0, report.stderr
    assert "Ensemble of the top trials" in (runs / "whole" / "report.html").read_text()


def test_a_resumed_run_gives_the_ensemble_of_the_uninterrupted_one(runs):
    def record(name):
        data = json.loads((runs / name / "best" / "ensemble.json").read_text())
        return {k: v for k, v in data.items() if k not in ("seconds", "selection_seconds", "retrained", "seal")}

    assert record("part") == record("whole")  # the same members, order and file (its SHA-256)
    assert (runs / "part" / "best" / "ensemble.npz").read_bytes() == (runs / "whole" / "best" / "ensemble.npz").read_bytes()


def test_a_tampered_ensemble_is_refused_and_a_resume_makes_it_again(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs / "whole", run)
    path = run / "best" / "ensemble.npz"
    original = path.read_bytes()
    with np.load(path) as f:
        arrays = {name: f[name] for name in f.files}
    arrays["member0/W1"] = arrays["member0/W1"] * 2
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(SweepError, match="ensemble.npz is not the ensemble this run saved"):
        sweep.load_run(run).ensemble()
    shutil.copy(runs / "exp.yaml", tmp_path / "exp.yaml")
    again = sweep_cli("run", "exp.yaml", "--resume", "run", "--no-plots", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "the best model and the ensemble are made again" in again.stderr
    assert path.read_bytes() == original  # made again from the trials (members retrained from their seeds)



@pytest.mark.parametrize("edit, said", [
    (lambda record: record.update(val_acc="0.9"), "val_acc is '0.9', not a number"),
    (lambda record: record["members"][0].update(weight="half"), "a member is"),
    (lambda record: record["members"][0].update(trial_id={"a": 1}), "not a trial id with its count and weight"),
])
def test_a_hand_edited_ensemble_record_is_a_warning_for_show_best_and_report(runs, tmp_path, edit, said):
    run = tmp_path / "run"
    shutil.copytree(runs / "whole", run)
    path = run / "best" / "ensemble.json"
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    for command in ("show", "best", "report"):
        result = sweep_cli(command, "run", cwd=tmp_path)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        if command != "report":
            assert "run/best/ensemble.json is damaged: " in result.stderr and said in result.stderr, result.stderr
    assert said in (run / "report.html").read_text().replace("&#39;", "'")
    with pytest.raises(SweepError, match=said):
        sweep.load_run(run).ensemble()


def test_records_nested_too_deep_for_json_are_damaged_not_a_recursion_error(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs / "whole", run)
    for name in ("ensemble.json", "summary.json"):
        (run / "best" / name).write_text("[" * 100_000)
        for command in ("show", "best"):
            result = sweep_cli(command, "run", cwd=tmp_path)
            assert "Traceback" not in result.stderr and f"{name} is damaged (nested too deep" in result.stderr, \
                result.stderr


def test_another_runs_ensemble_copied_in_is_not_shown_as_this_runs_and_a_resume_makes_its_own(runs, tmp_path):
    shutil.copy(runs / "exp.yaml", tmp_path / "exp.yaml")
    write_experiment(tmp_path / "other.yaml", **{**GRID, "name": "other", "parameters": {
        "hidden_size": {"values": [24, 40]}, "learning_rate": {"values": [0.1]}, "epochs": {"values": [2]}}})
    other = sweep_cli("run", "other.yaml", "--out", "other", "--no-plots", "--quiet", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    run = tmp_path / "run"
    shutil.copytree(runs / "whole", run)
    for file in ("ensemble.json", "ensemble.npz"):
        shutil.copy(tmp_path / "other" / "best" / file, run / "best" / file)
    said = "not a scored trial of this run (the ensemble of another run?)"
    shown = sweep_cli("show", "run", cwd=tmp_path)
    assert shown.returncode == 0 and said in shown.stderr and "ensemble of" not in shown.stdout, shown.stderr
    assert "ensemble" not in json.loads(sweep_cli("best", "run", cwd=tmp_path).stdout)
    assert sweep_cli("report", "run", cwd=tmp_path).returncode == 0
    page = (run / "report.html").read_text()
    assert said in page and "greedy selection with replacement" not in page  # no table of its numbers
    with pytest.raises(SweepError, match="not a scored trial of this run"):
        sweep.load_run(run).ensemble()
    again = sweep_cli("run", "exp.yaml", "--resume", "run", "--no-plots", cwd=tmp_path)
    assert again.returncode == 0 and "the best model and the ensemble are made again" in again.stderr, again.stderr
    assert (run / "best" / "ensemble.npz").read_bytes() == (runs / "whole" / "best" / "ensemble.npz").read_bytes()


def test_resumed_with_ensemble_false_the_earlier_ensemble_is_removed_and_a_foreign_one_kept(runs, tmp_path):
    """Left there, an earlier call's ensemble would stand beside a best model it was not made with; but
    only a pair this run provably wrote is removed: a user's file, another run's pair copied in and links
    stay, with a warning."""
    shutil.copy(runs / "exp.yaml", tmp_path / "exp.yaml")
    names = ("ours", "foreign", "copied", "linked")
    for name in ("ours", "copied"):  # 5 of 12 trials and their ensemble; the resumes below run the other 7
        part = sweep_cli("run", "exp.yaml", "--out", name, "--max-trials", "5", "--no-plots", "--quiet", cwd=tmp_path)
        assert part.returncode == 0 and (tmp_path / name / "best" / "ensemble.npz").is_file(), part.stderr
    for name in ("foreign", "linked"):  # the run moved elsewhere: still this run, then a file of the user's put in
        shutil.copytree(tmp_path / "ours", tmp_path / name, symlinks=True)
    foreign = tmp_path / "foreign" / "best" / "ensemble.json"
    foreign.write_text('{"notes": "the user\'s own file"}\n')
    for file in ("ensemble.json", "ensemble.npz"):  # the same trials, but the pair another run wrote
        shutil.copy(tmp_path / "ours" / "best" / file, tmp_path / "copied" / "best" / file)
    copied = {f: (tmp_path / "copied" / "best" / f).read_bytes() for f in ("ensemble.json", "ensemble.npz")}
    users = tmp_path / "users.npz"
    users.write_bytes(b"the user's file")
    linked = tmp_path / "linked" / "best" / "ensemble.npz"
    linked.unlink()
    linked.symlink_to(users)

    ours = sweep_cli("run", "exp.yaml", "--resume", "ours", "--set", "ensemble=false", "--no-plots", cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    assert "the ensemble of an earlier call is removed (ensemble: false)" in ours.stderr
    assert sorted(p.name for p in (tmp_path / "ours" / "best").iterdir()) == ["model.npz", "summary.json"]
    assert "ensemble" not in json.loads(sweep_cli("best", "ours", cwd=tmp_path).stdout)
    for name in names[1:]:
        kept = sweep_cli("run", "exp.yaml", "--resume", name, "--set", "ensemble=false", "--no-plots", cwd=tmp_path)
        assert kept.returncode == 0, kept.stderr
        assert "are left as they are" in kept.stderr and "not an ensemble this run saved" in kept.stderr, name
        assert "is removed" not in kept.stderr
    assert foreign.read_text() == '{"notes": "the user\'s own file"}\n'
    assert (tmp_path / "foreign" / "best" / "ensemble.npz").is_file()
    assert {f: (tmp_path / "copied" / "best" / f).read_bytes() for f in copied} == copied
    assert linked.is_symlink() and users.read_bytes() == b"the user's file"
    assert (tmp_path / "linked" / "best" / "ensemble.json").is_file()


def test_a_record_whose_npz_is_gone_is_removed_but_not_past_a_dangling_link(runs, tmp_path):
    """A kill between the two writes leaves the sealed record alone: removed. A dangling link in the npz's
    place is an entry the sweep did not make: it and the record stay."""
    shutil.copy(runs / "exp.yaml", tmp_path / "exp.yaml")
    part = sweep_cli("run", "exp.yaml", "--out", "gone", "--max-trials", "5", "--no-plots", "--quiet", cwd=tmp_path)
    assert part.returncode == 0, part.stderr
    shutil.copytree(tmp_path / "gone", tmp_path / "dangling", symlinks=True)
    (tmp_path / "gone" / "best" / "ensemble.npz").unlink()
    dangling = tmp_path / "dangling" / "best" / "ensemble.npz"
    dangling.unlink()
    dangling.symlink_to(tmp_path / "nothing-here.npz")
    gone = sweep_cli("run", "exp.yaml", "--resume", "gone", "--set", "ensemble=false", "--no-plots", cwd=tmp_path)
    assert gone.returncode == 0 and "is removed" in gone.stderr, gone.stderr
    assert sorted(p.name for p in (tmp_path / "gone" / "best").iterdir()) == ["model.npz", "summary.json"]
    kept = sweep_cli("run", "exp.yaml", "--resume", "dangling", "--set", "ensemble=false", "--no-plots", cwd=tmp_path)
    assert kept.returncode == 0 and "left as they are" in kept.stderr, kept.stderr
    assert dangling.is_symlink() and (tmp_path / "dangling" / "best" / "ensemble.json").is_file()


def test_trials_hyperband_stopped_are_members_from_their_paused_weights_never_retrained(tmp_path):
    """Every scored trial in the pool (top_k above the trial count): the stopped ones come with the weights
    they had when Hyperband stopped them, kept while the sweep ran."""
    write_experiment(tmp_path / "exp.yaml", name="hb", dataset="digits", method="grid",
                     parameters={"hidden_size": {"values": [8, 16, 32]},
                                 "learning_rate": {"values": [0.3, 0.1, 0.03, 0.01, 0.003, 0.001]}},
                     fixed={"epochs": 9, "optimizer": "sgd_momentum", "init": "he", "batch_size": 64},
                     early_terminate={"type": "hyperband", "min_iter": 1, "eta": 3}, n_jobs=2,
                     ensemble={"top_k": 100, "rounds": 50})
    result = sweep_cli("run", "exp.yaml", "--out", "run", "--no-plots", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trials = sweep.load_run(tmp_path / "run").trials
    stopped = set(trials.trial_id[trials.status == "stopped"])
    record = json.loads((tmp_path / "run" / "best" / "ensemble.json").read_text())
    assert len(stopped) >= 9 and record["pool"] == len(trials) and record["retrained"] == []

def test_ensemble_false_writes_nothing(tmp_path):
    write_experiment(tmp_path / "exp.yaml", **{**GRID, "ensemble": False})
    result = sweep_cli("run", "exp.yaml", "--out", "run", "--no-plots", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    best = sorted(p.name for p in (tmp_path / "run" / "best").iterdir())
    assert best == ["model.npz", "summary.json"] and sweep.load_run(tmp_path / "run").ensemble() is None
    assert "ensemble" not in json.loads(sweep_cli("best", "run", cwd=tmp_path).stdout)


def test_a_model_file_of_an_older_run_loads_with_a_warning(tmp_path):
    from sweep.nn import TwoLayerNet

    net = TwoLayerNet(64, 8, 10, seed=1)
    net.save(tmp_path / "model.npz", trial_id="x")  # as a run of an older version saved it: weights only
    with pytest.warns(UserWarning, match="records no preprocessing .* takes preprocessed inputs"):
        model = load_saved_model(tmp_path / "model.npz")
    X = np.random.default_rng(0).standard_normal((5, 64)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(X), net.predict(X))


@pytest.mark.parametrize("value, message", [
    ({"top_k": 0}, "ensemble.top_k: 0 is not allowed; top_k"),
    ({"rounds": -1}, "ensemble.rounds: -1 is not allowed"),
    ({"max_disk": "lots"}, "ensemble.max_disk: 'lots' is not allowed; give a size such as 200MB"),
    ({"top_kk": 3}, "ensemble.top_kk: unknown key (did you mean `top_k`?)"),
    ("yes", "ensemble: 'yes' is not allowed"),
])
def test_ensemble_key_errors_name_the_file_and_line(tmp_path, value, message):
    path = write_experiment(tmp_path / "exp.yaml", name="e", dataset="digits", ensemble=value)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    line = 3 if isinstance(value, str) else 4  # the key's own line: `ensemble:` is line 3, its keys below it
    assert str(info.value).startswith(f"{path}:{line}: ") and message in str(info.value)


def test_ensemble_settings_and_where_it_is_off(tmp_path):
    on = load_experiment(write_experiment(tmp_path / "a.yaml", name="a", dataset="digits",
                                          ensemble={"top_k": 4, "max_disk": "200MB"}))
    assert (on.ensemble.top_k, on.ensemble.rounds, on.ensemble.max_disk) == (4, 10, 200_000_000)
    assert load_experiment(write_experiment(tmp_path / "b.yaml", name="b", dataset="digits")).ensemble.top_k == 10
    program = load_experiment(write_experiment(tmp_path / "c.yaml", name="c", program="train.py", ensemble=True,
                                               metric={"name": "acc", "goal": "maximize"}, fixed={"x": 1}))
    assert program.ensemble is None and any("ensemble is off" in w for w in program.warnings)
    shutil.copy(ROOT / "experiments" / "models" / "two_layer.py", tmp_path)
    user_model = load_experiment(write_experiment(tmp_path / "e.yaml", name="e", dataset="digits",
                                                  model="two_layer.py:TwoLayerNet"))
    assert user_model.ensemble.top_k == 10 and not any("ensemble" in w for w in user_model.warnings)
    quiet = load_experiment(write_experiment(tmp_path / "d.yaml", name="d", program="train.py",
                                             metric={"name": "acc", "goal": "maximize"}, fixed={"x": 1}))
    assert quiet.ensemble is None and not any("ensemble" in w for w in quiet.warnings)

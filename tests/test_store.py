"""The run folder: append-only records, repair after a torn write, one sweep at a time."""

import pandas as pd
import pytest

from sweep.config import parse_experiment
from sweep.errors import SweepError
from sweep.results.files import TRIAL_COLUMNS
from sweep.results.store import RunStore, latest_run_dir, new_run_dir
from sweep.strategies import plan_trials
from sweep.task import TrialResult

EXPERIMENT = parse_experiment({"name": "s", "dataset": "digits", "method": "grid",
                               "parameters": {"hidden_size": {"values": [1, 2, 3]}}})
TRIALS = plan_trials(EXPERIMENT)


def result(trial, status="ok"):
    record = {"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1, "val_acc": 0.4, "lr": 0.1,
              "seconds": 0.01}
    metrics = {"train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1, "val_acc": 0.4, "best_val_acc": 0.4,
               "best_epoch": 1, "seconds": 0.01}
    return TrialResult(trial.trial_id, status, metrics, [record])


def test_rows_are_on_disk_as_soon_as_appended(tmp_path):
    store = RunStore.create(tmp_path / "run", EXPERIMENT, TRIALS)
    store.append(TRIALS[0], result(TRIALS[0]))
    # Read by another reader while the store is still open: nothing is buffered.
    assert pd.read_csv(tmp_path / "run" / "trials.csv")["trial_id"].tolist() == [TRIALS[0].trial_id]
    assert len(pd.read_csv(tmp_path / "run" / "history.csv")) == 1
    plan = pd.read_csv(tmp_path / "run" / "plan.csv")
    assert plan["trial_id"].tolist() == [t.trial_id for t in TRIALS]
    store.close()


def test_one_sweep_at_a_time(tmp_path):
    with RunStore.create(tmp_path / "run", EXPERIMENT, TRIALS):
        with pytest.raises(SweepError, match="in use by another running sweep"):
            RunStore.open(tmp_path / "run", EXPERIMENT, TRIALS)
    RunStore.open(tmp_path / "run", EXPERIMENT, TRIALS).close()


def test_open_repairs_a_torn_line_and_orphan_history(tmp_path):
    run = tmp_path / "run"
    with RunStore.create(run, EXPERIMENT, TRIALS) as store:
        store.append(TRIALS[0], result(TRIALS[0]))
        store.append(TRIALS[1], result(TRIALS[1]))
    # A kill -9 between the history write and the trials.csv write of trial 2, in the middle of a row:
    with open(run / "history.csv", "a") as f:
        f.write(f"{TRIALS[2].trial_id},1,0.9,0.5,1.0,0.5,0.1,0.01\n")
    with open(run / "trials.csv", "a") as f:
        f.write(f"{TRIALS[2].trial_id},ok,3,0.001")
    with RunStore.open(run, EXPERIMENT, TRIALS) as store:
        assert set(store.finished()) == {TRIALS[0].trial_id, TRIALS[1].trial_id}
        store.append(TRIALS[2], result(TRIALS[2]))
    trials = pd.read_csv(run / "trials.csv")
    history = pd.read_csv(run / "history.csv")
    assert trials["trial_id"].tolist() == [t.trial_id for t in TRIALS]
    assert history["trial_id"].tolist() == [t.trial_id for t in TRIALS]


def test_run_folder_names(tmp_path):
    first = new_run_dir(tmp_path, "s")
    first.mkdir(parents=True)
    second = new_run_dir(tmp_path, "s")
    assert first.parent == second.parent == tmp_path / "s" and first != second
    with pytest.raises(SweepError, match="no run of experiment 's' to resume"):
        latest_run_dir(tmp_path, EXPERIMENT)
    RunStore.create(second, EXPERIMENT, TRIALS).close()
    assert latest_run_dir(tmp_path, EXPERIMENT) == second


def test_leaderboard_ranks_steady_configurations_above_lucky_ones():
    from sweep.results.analysis import best_trial, leaderboard

    rows = [("a0", "A", "ok", 0.95), ("a1", "A", "diverged", float("nan")), ("a2", "A", "diverged", float("nan")),
            ("b0", "B", "ok", 0.94), ("b1", "B", "ok", 0.94), ("b2", "B", "ok", 0.93),
            ("c0", "C", "failed", float("nan"))]
    trials = pd.DataFrame(rows, columns=["trial_id", "config_id", "status", "val_acc"])
    trials["val_loss"] = 0.1
    trials["hidden_size"] = [1, 1, 1, 2, 2, 2, 3]
    trials["order"] = range(1, 8)
    board = leaderboard(trials, "val_acc", maximize=True)
    assert board["config_id"].tolist() == ["B", "A", "C"]
    assert board["runs"].tolist() == [3, 3, 1] and board["ok"].tolist() == [3, 1, 0]
    assert best_trial(trials, "val_acc", maximize=True)["trial_id"] in ("b0", "b1")
    by_std = leaderboard(trials, "val_acc", maximize=True, sort="val_acc_std")
    assert by_std["config_id"].tolist() == ["B", "A", "C"]  # a spread is better small; no spread (NaN) last


def test_the_ranking_on_plain_rows_is_the_leaderboard_s():
    """sweep run chooses its best model from plain rows (no pandas): the same rule, the same choice."""
    from sweep.results.ranking import best_row, config_order, rank_rows

    nan = float("nan")
    rows = [dict(trial_id=t, config_id=c, status=s, val_acc=a, val_loss=loss, train_loss=0.5, order=i)
            for i, (t, c, s, a, loss) in enumerate([
                ("a0", "A", "ok", 0.95, 0.2), ("a1", "A", "diverged", nan, nan),
                ("b0", "B", "ok", 0.94, 0.3), ("b1", "B", "ok", 0.94, 0.1), ("b2", "B", "ok", 0.93, 0.2),
                ("s0", "S", "stopped", 0.99, 0.1), ("c0", "C", "failed", nan, nan)], start=1)]
    assert config_order(rows, "val_acc", maximize=True) == ["B", "S", "A", "C"]
    assert best_row(rows, "val_acc", maximize=True)["trial_id"] == "b1", "a tie on the metric: the lower loss"
    assert [r["trial_id"] for r in rank_rows(rows, "val_acc", True)] == ["a0", "b1", "b0", "b2", "s0", "a1", "c0"]
    assert [r["trial_id"] for r in rank_rows(rows, "val_loss", False)][:2] == ["b1", "a0"]
    assert best_row([r for r in rows if r["status"] != "ok"], "val_acc", True)["trial_id"] == "s0"
    assert best_row([r for r in rows if r["config_id"] == "C"], "val_acc", True) is None
    from sweep.results.analysis import best_trial

    assert best_trial(pd.DataFrame(rows), "val_acc", maximize=True)["trial_id"] == "b1"


def test_a_trial_recorded_twice_has_one_row(tmp_path):
    """A cluster may run a task again after its first worker died without reporting back."""
    with RunStore.create(tmp_path / "run", EXPERIMENT, TRIALS) as store:
        assert store.append(TRIALS[0], result(TRIALS[0])) is True
        assert store.append(TRIALS[0], result(TRIALS[0])) is False
    with RunStore.open(tmp_path / "run", EXPERIMENT, TRIALS) as store:
        assert store.append(TRIALS[0], result(TRIALS[0])) is False
        assert store.append(TRIALS[1], result(TRIALS[1])) is True
    assert pd.read_csv(tmp_path / "run" / "trials.csv")["trial_id"].tolist() == [TRIALS[0].trial_id,
                                                                                 TRIALS[1].trial_id]
    assert len(pd.read_csv(tmp_path / "run" / "history.csv")) == 2


def test_resuming_a_run_written_before_the_worker_column_keeps_columns_aligned(tmp_path):
    run = tmp_path / "run"
    with RunStore.create(run, EXPERIMENT, TRIALS) as store:
        store.append(TRIALS[0], result(TRIALS[0]))
    old = pd.read_csv(run / "trials.csv").drop(columns=["worker"])
    old.to_csv(run / "trials.csv", index=False)  # as an earlier version wrote it
    with RunStore.open(run, EXPERIMENT, TRIALS) as store:
        store.append(TRIALS[1], TrialResult(TRIALS[1].trial_id, "ok", result(TRIALS[1]).metrics, [], worker="h:7"))
    trials = pd.read_csv(run / "trials.csv")
    assert tuple(trials.columns) == TRIAL_COLUMNS
    assert trials["val_acc"].tolist() == [0.4, 0.4] and trials["worker"].fillna("").tolist() == ["", "h:7"]


def test_where_a_folder_cannot_be_locked_the_lock_file_is_used_and_still_excludes(tmp_path, monkeypatch):
    """Linux's NFS client refuses flock on a folder (EBADF): the lock falls back to .lock."""
    import errno
    import fcntl
    import os
    import stat

    from sweep.results import lock

    real = fcntl.flock

    def no_folder_locks(fd, operation):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return real(fd, operation)

    monkeypatch.setattr(lock.fcntl, "flock", no_folder_locks)
    with RunStore.create(tmp_path / "run", EXPERIMENT, TRIALS):
        assert (tmp_path / "run" / ".lock").is_file()
        with pytest.raises(SweepError, match="in use by another running sweep"):
            RunStore.open(tmp_path / "run", EXPERIMENT, TRIALS)
    RunStore.open(tmp_path / "run", EXPERIMENT, TRIALS).close()
    (tmp_path / "empty").mkdir()  # an empty --out folder is claimed the same way, and filled
    with RunStore.create(tmp_path / "empty", EXPERIMENT, TRIALS) as store:
        store.append(TRIALS[0], result(TRIALS[0]))
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == [
        ".drawn.json", ".lock", "experiment.yaml", "history.csv", "plan.csv", "trials.csv"]

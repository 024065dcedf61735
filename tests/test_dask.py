"""Sweeps on real Dask clusters: `dask scheduler` and `dask worker` subprocesses on 127.0.0.1, and dask-local.

The module's cluster (a scheduler and two workers with nannies, started with cwd="/") is shared by
the tests that leave it whole; tests that need a broken cluster start their own.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed")

import faults  # noqa: E402
from cluster import SubprocessCluster  # noqa: E402
from conftest import start, sweep_cli, wait_for_rows, write_experiment  # noqa: E402

from sweep.config import parse_experiment  # noqa: E402
from sweep.runner import run_sweep  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

METRICS = ["train_loss", "train_acc", "val_loss", "val_acc", "best_val_acc", "best_epoch"]
SWEEP_PACKAGE = Path(__file__).resolve().parents[1] / "sweep"

#: 8 quick training runs on digits (16 trials).
QUICK = {"name": "quick", "dataset": "digits",
         "method": "grid",
         "parameters": {"hidden_size": {"values": [16, 24, 32, 40]}, "learning_rate": {"values": [0.1, 0.02]},
                        "epochs": {"values": [1, 3]}},
         "fixed": {"optimizer": "sgd_momentum", "init": "he", "batch_size": 64}}
#: 8 training runs of about half a second each: long enough to kill a worker or press Ctrl-C in the middle.
SLOW = {"name": "slow", "dataset": "digits",
        "method": "grid", "parameters": {"hidden_size": {"values": [200, 208, 216, 224, 232, 240, 248, 256]}},
        "fixed": {"optimizer": "sgd_momentum", "init": "he", "batch_size": 8, "learning_rate": 0.01,
                  "epochs": 15}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    data_log = tmp_path_factory.mktemp("data-log") / "identities.txt"
    with SubprocessCluster(tmp_path_factory.mktemp("cluster"), n_workers=2,
                           worker_env={"SWEEP_TEST_DATA_LOG": str(data_log)}) as running:
        running.data_log = data_log
        yield running


@pytest.fixture
def whole_cluster(cluster):
    """The module's cluster with both workers up (a test before may have killed one)."""
    cluster.wait_for_workers(2)
    return cluster


def by_trial(frame):
    return frame.sort_values("trial_id").reset_index(drop=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_sweep_on_two_dask_workers_matches_loky(whole_cluster, tmp_path):
    path = write_experiment(tmp_path / "quick.yaml", **QUICK)
    on_dask = sweep_cli("run", path, "--scheduler-file", whole_cluster.scheduler_file, "--out", "dask",
                        "--no-plots", cwd=tmp_path)
    assert on_dask.returncode == 0, on_dask.stderr
    assert f"dask cluster at {whole_cluster.address}: 2 worker thread(s)" in on_dask.stderr
    assert "MALLOC_" not in on_dask.stderr, "the nanny's trim threshold is handled per task (sweep.pools.malloc)"
    local = sweep_cli("run", path, "--backend", "loky", "--n-jobs", "2", "--out", "loky", "--quiet", "--no-plots",
                      cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    dask_trials = by_trial(pd.read_csv(tmp_path / "dask" / "trials.csv"))
    loky_trials = by_trial(pd.read_csv(tmp_path / "loky" / "trials.csv"))
    assert len(dask_trials) == 16 and (dask_trials["status"] == "ok").all()
    columns = ["trial_id", "seed"] + METRICS
    pd.testing.assert_frame_equal(dask_trials[columns], loky_trials[columns])
    worker_pids = set(whole_cluster.worker_pids().values())
    ran_on = {int(w.rsplit(":", 1)[1]) for w in dask_trials["worker"]}
    # Every trial ran on a worker of the cluster, nothing locally. (Which workers: Dask's choice; on a
    # loaded machine one worker may take every task before the other asks, so both are not required.)
    assert ran_on and ran_on <= worker_pids, "every trial ran on a cluster worker, nothing ran locally"
    columns = ["trial_id", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr"]
    dask_history, loky_history = (pd.read_csv(tmp_path / run / "history.csv").sort_values(["trial_id", "epoch"])
                                  .reset_index(drop=True)[columns] for run in ("dask", "loky"))
    pd.testing.assert_frame_equal(dask_history, loky_history)
    assert "backend: dask" in (tmp_path / "dask" / "experiment.yaml").read_text()


def run_on_dask_and_loky(cluster, path) -> None:
    """Run the experiment file ``path`` on the cluster into ``dask/`` and on one loky worker into ``loky/``
    (beside the file), both succeeding."""
    on_dask = sweep_cli("run", path, "--scheduler-file", cluster.scheduler_file, "--out", "dask",
                        "--no-plots", "--quiet", cwd=path.parent)
    assert on_dask.returncode == 0, on_dask.stderr
    local = sweep_cli("run", path, "--n-jobs", "1", "--out", "loky", "--quiet", "--no-plots", cwd=path.parent)
    assert local.returncode == 0, local.stderr


def test_bayes_on_two_dask_workers_proposes_and_scores_what_loky_does(whole_cluster, tmp_path):
    from test_bayes import BAYES

    run_on_dask_and_loky(whole_cluster, write_experiment(tmp_path / "tpe.yaml", **{**BAYES, "run_cap": 10}))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "dask" / "plan.csv"), pd.read_csv(tmp_path / "loky" / "plan.csv"))
    columns = ["trial_id", "seed", "learning_rate", "reg", "momentum"] + METRICS
    pd.testing.assert_frame_equal(*(by_trial(pd.read_csv(tmp_path / run / "trials.csv"))[columns]
                                    for run in ("dask", "loky")))


def test_a_fused_sweep_on_two_dask_workers_scores_what_loky_does(whole_cluster, tmp_path):
    from test_fused_sweep import FUSED, history_of, trials_of

    run_on_dask_and_loky(whole_cluster, write_experiment(tmp_path / "fused.yaml", **FUSED))
    pd.testing.assert_frame_equal(trials_of(tmp_path / "dask"), trials_of(tmp_path / "loky"))
    pd.testing.assert_frame_equal(history_of(tmp_path / "dask"), history_of(tmp_path / "loky"))


def test_hyperband_on_two_dask_workers_stops_and_scores_what_loky_does(whole_cluster, tmp_path):
    from test_hyperband import COLUMNS, HYPERBAND

    run_on_dask_and_loky(whole_cluster, write_experiment(tmp_path / "hb.yaml", **HYPERBAND))
    trials = [by_trial(pd.read_csv(tmp_path / run / "trials.csv")) for run in ("dask", "loky")]
    assert (trials[0]["status"] == "stopped").any()
    pd.testing.assert_frame_equal(trials[0][COLUMNS], trials[1][COLUMNS])


def test_the_data_set_travels_to_each_worker_not_with_each_task(whole_cluster, tmp_path):
    whole_cluster.data_log.unlink(missing_ok=True)
    doc = {**QUICK, "scheduler": str(whole_cluster.address)}
    outcome = run_sweep(parse_experiment(doc), run_dir=tmp_path / "run", quiet=True, task_fn=faults.log_data_identity)
    assert outcome.counts == {"ok": 16}, [p.read_text()[-1500:] for p in (tmp_path / "run" / "errors").glob("*")]
    seen = [tuple(line.split()) for line in whole_cluster.data_log.read_text().splitlines()]
    assert len(seen) == 8, "one line per training run"
    assert {pid for pid, _, _ in seen} <= set(map(str, whole_cluster.worker_pids().values()))
    objects_per_stay = {(pid, arrivals): {obj for p, obj, a in seen if (p, a) == (pid, arrivals)}
                        for pid, _, arrivals in seen}
    assert all(int(arrivals) >= 1 and len(objs) == 1 for (_, arrivals), objs in objects_per_stay.items()), seen


#: 4 training runs on a data set whose training arrays are over shared.MAP_BYTES, so they go by file.
MAPPED = {"name": "mm", "dataset": {"name": "synthetic", "kind": "blobs", "n_samples": 12000, "n_features": 40},
          "method": "grid", "parameters": {"hidden_size": {"values": [8, 12, 16, 20]}},
          "fixed": {"epochs": 2, "learning_rate": 0.05, "optimizer": "sgd_momentum"}}


def test_workers_on_this_machine_map_the_data_set_from_files_and_score_what_loky_does(whole_cluster, tmp_path):
    on_dask = run_sweep(parse_experiment({**MAPPED, "scheduler": str(whole_cluster.address)}),
                        run_dir=tmp_path / "dask", quiet=True, task_fn=faults.require_memmap)
    assert on_dask.counts == {"ok": 4}, pd.read_csv(tmp_path / "dask" / "trials.csv")["error"].tolist()
    run_sweep(parse_experiment(MAPPED), run_dir=tmp_path / "loky", n_jobs=2, quiet=True)
    columns = ["trial_id", "seed"] + METRICS
    pd.testing.assert_frame_equal(*(by_trial(pd.read_csv(tmp_path / run / "trials.csv"))[columns]
                                    for run in ("dask", "loky")))


def test_workers_that_cannot_read_the_files_get_the_data_set_itself(tmp_path):
    from sweep.pools.dask import DaskPool
    from sweep.pools.shared import SharedDataset
    from sweep.runner import load_data

    class ElsewhereClient:
        """A client whose one worker sees another file system (no token, or a different one)."""
        def __init__(self, token):
            self.token = token

        def run(self, fn, *args, **kwargs):
            return {"tcp://10.0.0.2:1": self.token}

        def submit(self, fn, payload, pure):
            return payload

    data = load_data(parse_experiment(MAPPED))
    pool = DaskPool.__new__(DaskPool)
    pool._scratch = tmp_path / "data"
    for token in (None, "another"):
        pool.client = ElsewhereClient(token)
        assert pool.share(data) is data
    assert list(pool._scratch.iterdir()) == [], "the unused files are removed"
    pool.client.run = lambda fn, folder, **kwargs: {"tcp://127.0.0.1:1": fn(folder)}  # a worker here
    (tmp_path / "a-file").write_text("")
    pool._scratch = tmp_path / "a-file" / "data"  # the files cannot be written (as on a full disk)
    assert pool.share(data) is data
    pool._scratch = tmp_path / "data"
    handle = pool.share(data)
    assert isinstance(handle, SharedDataset) and handle.open().X_train.shape == data.X_train.shape


def test_kill_9_of_a_worker_mid_sweep_loses_and_repeats_nothing(whole_cluster, tmp_path):
    path = write_experiment(tmp_path / "slow.yaml", **SLOW)
    proc = start(["run", path, "--scheduler", whole_cluster.address, "--out", "run", "--no-plots"], tmp_path)
    wait_for_rows(tmp_path / "run" / "trials.csv", 1, proc)
    victim = next(iter(whole_cluster.worker_pids().values()))
    os.kill(victim, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=150)
    assert proc.returncode == 0, stderr
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert len(trials) == 8 and trials["trial_id"].is_unique and (trials["status"] == "ok").all()
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert len(history) == 8 * 15 and not history.duplicated(["trial_id", "epoch"]).any()
    assert victim not in set(whole_cluster.worker_pids().values()), "the killed worker was replaced by its nanny"


def test_a_trial_that_kills_every_worker_it_lands_on_is_recorded_crashed(whole_cluster, tmp_path):
    doc = {**QUICK, "scheduler": str(whole_cluster.address),
           "parameters": {"hidden_size": {"values": [16, faults.CRASH_HIDDEN_SIZE, 24, 32]}, "epochs": {"values": [1]}}}
    outcome = run_sweep(parse_experiment(doc), run_dir=tmp_path / "run", quiet=True, task_fn=faults.crash_worker)
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert dict(zip(trials["hidden_size"], trials["status"])) == {16: "ok", 13: "crashed", 24: "ok", 32: "ok"}
    assert outcome.counts == {"ok": 3, "crashed": 1} and not outcome.interrupted
    crashed = trials[trials["status"] == "crashed"].iloc[0]
    assert "KilledWorker" in crashed["error"] or "worker running it died" in crashed["error"]


def test_ctrl_c_cancels_the_sweeps_tasks_leaves_the_cluster_up_and_resume_finishes(whole_cluster, tmp_path):
    path = write_experiment(tmp_path / "slow.yaml", **SLOW)
    proc = start(["run", path, "--scheduler-file", whole_cluster.scheduler_file, "--out", "run", "--no-plots"],
                 tmp_path)
    wait_for_rows(tmp_path / "run" / "trials.csv", 2, proc)
    os.kill(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    kept = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert 2 <= len(kept) < 8
    with whole_cluster.client() as client:
        assert len(client.nthreads()) == 2, "the cluster keeps running"
        deadline = time.monotonic() + 30
        while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0, "tasks cancelled"
    resumed = sweep_cli("run", path, "--resume", "run", "--scheduler-file", whole_cluster.scheduler_file,
                        "--no-plots", cwd=tmp_path, timeout=150)
    assert resumed.returncode == 0, resumed.stderr
    final = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert len(final) == 8 and final["trial_id"].is_unique
    pd.testing.assert_frame_equal(final.head(len(kept)), kept)


def test_losing_the_scheduler_mid_sweep_is_a_one_line_error_and_resume_finishes_elsewhere(tmp_path):
    path = write_experiment(tmp_path / "slow.yaml", **SLOW)
    profiling = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "True"}  # Dask's default, as a user's workers have it
    with SubprocessCluster(tmp_path / "doomed", nanny=False, worker_env=profiling) as doomed:
        proc = start(["run", path, "--scheduler", doomed.address, "--out", "run", "--no-plots"], tmp_path)
        wait_for_rows(tmp_path / "run" / "trials.csv", 1, proc)
        doomed.processes[0].kill()  # the scheduler
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    assert stderr.strip().splitlines()[-1].startswith("sweep: error: lost the connection to the Dask scheduler")
    assert "Traceback" not in stderr
    assert "2 of 2 Dask workers run Dask's statistical profiler, which slows training by about 15%" in stderr
    kept = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert 1 <= len(kept) < 8
    resumed = sweep_cli("run", path, "--resume", "run", "--backend", "dask-local", "--n-jobs", "2", "--no-plots",
                        cwd=tmp_path, timeout=150)
    assert resumed.returncode == 0, resumed.stderr
    final = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert len(final) == 8 and final["trial_id"].is_unique
    pd.testing.assert_frame_equal(final.head(len(kept)), kept)


@pytest.mark.timeout(60)
def test_a_scheduler_address_where_nothing_listens_is_a_one_line_error(tmp_path):
    path = write_experiment(tmp_path / "quick.yaml", **QUICK)
    address = f"tcp://127.0.0.1:{free_port()}"
    result = sweep_cli("run", path, "--scheduler", address, "--no-plots", cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith(f"sweep: error: cannot reach the Dask scheduler at {address} within 5 s")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "results").exists(), "the scheduler is checked before a run folder is made"


def test_a_missing_scheduler_file_is_a_one_line_error(tmp_path):
    path = write_experiment(tmp_path / "quick.yaml", **QUICK)
    result = sweep_cli("run", path, "--scheduler-file", "nowhere.json", "--no-plots", cwd=tmp_path, timeout=30)
    assert result.returncode == 2 and result.stderr.strip() == (
        "sweep: error: scheduler file nowhere.json not found; `dask scheduler --scheduler-file nowhere.json` writes it")


def fake_sweep(folder: Path, *, version: str | None) -> str:
    """A folder holding a `sweep` package that shadows the installed one: a copy at another
    ``version``, or (None) one that cannot be imported."""
    package = folder / "sweep"
    if version is None:
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("raise ImportError('sweep is not installed here')\n")
    else:
        shutil.copytree(SWEEP_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
        init = package / "__init__.py"
        init.write_text(init.read_text().replace('__version__ = "', f'__version__ = "{version}+was-'))
    return str(folder)


def test_workers_without_this_version_of_sweep_are_refused_before_any_trial(tmp_path):
    path = write_experiment(tmp_path / "quick.yaml", **QUICK)
    with SubprocessCluster(tmp_path / "missing", n_workers=1, nanny=False,
                           worker_pythonpath=fake_sweep(tmp_path / "missing-path", version=None)) as missing:
        result = sweep_cli("run", path, "--scheduler", missing.address, "--no-plots", cwd=tmp_path, timeout=90)
    assert result.returncode == 2, result.stderr
    assert "cannot import sweep (ImportError('sweep is not installed here'))" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    with SubprocessCluster(tmp_path / "old", n_workers=1, nanny=False,
                           worker_pythonpath=fake_sweep(tmp_path / "old-path", version="0.0.1")) as old:
        result = sweep_cli("run", path, "--scheduler", old.address, "--no-plots", cwd=tmp_path, timeout=90)
    assert result.returncode == 2, result.stderr
    assert "has sweep 0.0.1+was-" in result.stderr and "install this package (sweep " in result.stderr
    assert not (tmp_path / "results").exists(), "nothing ran, no run folder was made"


def test_a_scheduler_without_sweep_is_refused(tmp_path):
    path = write_experiment(tmp_path / "quick.yaml", **QUICK)
    with SubprocessCluster(tmp_path / "c", n_workers=1, nanny=False,
                           scheduler_pythonpath=fake_sweep(tmp_path / "fake", version=None)) as bad:
        address = bad.address
        result = sweep_cli("run", path, "--scheduler", address, "--no-plots", cwd=tmp_path, timeout=90)
    assert result.returncode == 2, result.stderr
    assert f"the Dask scheduler at {address} cannot import sweep" in result.stderr


def test_dask_local_listens_on_127_0_0_1_only_and_cleans_its_scratch_folder(tmp_path):
    import urllib.request

    import dask
    import psutil

    from sweep.config import Backend
    from sweep.pools.dask import DaskPool

    scratch = tmp_path / "scratch"
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}  # e.g. the module's cluster, if it is running
    with dask.config.set({"distributed.worker.profile.enabled": True}):  # Dask's default (conftest turns it off)
        pool = DaskPool(Backend("dask-local"), 2, scratch)
    try:
        processes = [me] + [p for p in me.children(recursive=True) if p.pid not in before]
        listening = {(c.laddr.ip, c.laddr.port) for p in processes for c in p.net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN}
        assert len(listening) >= 5 and {ip for ip, _ in listening} == {"127.0.0.1"}, listening
        assert pool.client.dashboard_link.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(pool.client.dashboard_link, timeout=30) as page:
            assert page.status == 200
        assert (scratch / "dask-scratch-space").is_dir()
        assert "dask-local cluster at tcp://127.0.0.1:" in pool.describe()
        assert len(pool.workers) == 2 and not pool.warnings  # no MALLOC_TRIM_THRESHOLD_, no profiler in its workers
        assert not any(identity["malloc_trim_threshold"] for identity in pool.workers.values())
        assert [identity["dask_profiler"] for identity in pool.workers.values()] == [False, False]
        # Its workers drop only the two records their own shutdown logs (a CI run showed them under Ctrl-C).
        assert set(pool.client.run(_kept_worker_records).values()) == {("memory warning", "a task failed")}
    finally:
        pool.shutdown()


def _kept_worker_records() -> tuple[str, ...]:
    """Run in a worker: which of these records its loggers would pass on."""
    import logging

    records = [("distributed.worker", "Failed to communicate with scheduler during heartbeat."),
               ("distributed.worker.state_machine", "Async instruction for <Task cancelled> ended with CancelledError"),
               ("distributed.worker.memory", "memory warning"), ("distributed.worker", "a task failed")]
    return tuple(message for name, message in records
                 if logging.getLogger(name).filter(logging.LogRecord(name, logging.ERROR, "", 0, message, (), None)))

def test_dask_local_gives_the_numbers_of_loky_and_leaves_no_scratch_folder(tmp_path):
    outcome = run_sweep(parse_experiment({**QUICK, "backend": "dask-local"}), run_dir=tmp_path / "dask", n_jobs=2,
                        quiet=True)
    assert outcome.counts == {"ok": 16} and not (tmp_path / "dask" / ".scratch").exists()
    run_sweep(parse_experiment(QUICK), run_dir=tmp_path / "loky", n_jobs=2, quiet=True)
    dask_trials, loky_trials = (by_trial(pd.read_csv(tmp_path / run / "trials.csv")) for run in ("dask", "loky"))
    pd.testing.assert_frame_equal(dask_trials[["trial_id"] + METRICS], loky_trials[["trial_id"] + METRICS])


@pytest.mark.timeout(600)  # a dozen worker restarts: seconds here, minutes on a machine loaded four times over
@pytest.mark.parametrize("workers", [1, 2])
def test_dask_local_survives_a_trial_that_kills_its_workers(tmp_path, workers, monkeypatch):
    """With one worker, the data set dies with it: Dask computes it again for the tasks that need it.
    Dask gives up on every task that sat on the dying workers; only the culprit crashes again alone."""
    # Each kill makes the nanny start a new worker process, which on a loaded machine can take longer
    # than the 120 s after which a sweep gives up on a cluster without workers: that is not under test here.
    import sweep.pools.dask

    monkeypatch.setattr(sweep.pools.dask, "NO_WORKERS_TIMEOUT", 900)
    doc = {**QUICK, "backend": "dask-local",
           "parameters": {"hidden_size": {"values": [16, faults.CRASH_HIDDEN_SIZE, 24, 32]}, "epochs": {"values": [1]}}}
    outcome = run_sweep(parse_experiment(doc), run_dir=tmp_path / "run", n_jobs=workers, quiet=True,
                        task_fn=faults.crash_worker)
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert dict(zip(trials["hidden_size"], trials["status"])) == {16: "ok", 13: "crashed", 24: "ok", 32: "ok"}
    assert outcome.counts == {"ok": 3, "crashed": 1}
    error = trials.loc[trials["status"] == "crashed", "error"].iloc[0]
    assert "worker running it died" in error or "KilledWorker" in error


def test_a_scheduler_without_workers_is_refused_before_any_trial(tmp_path, monkeypatch):
    import sweep.pools.dask
    from sweep.errors import SweepError

    monkeypatch.setattr(sweep.pools.dask, "WORKERS_TIMEOUT", 2)
    with SubprocessCluster(tmp_path / "empty", n_workers=0) as empty:
        with pytest.raises(SweepError, match=r"has no workers \(waited 2 s\); start some with `dask worker tcp://"):
            run_sweep(parse_experiment({**QUICK, "scheduler": empty.address}), run_dir=tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()


def test_a_cluster_left_without_workers_ends_the_sweep_and_keeps_what_finished(tmp_path, monkeypatch):
    import threading

    import sweep.pools.dask
    from sweep.errors import SweepError

    monkeypatch.setattr(sweep.pools.dask, "NO_WORKERS_TIMEOUT", 3)
    with SubprocessCluster(tmp_path / "c", n_workers=1, nanny=False) as cluster:
        worker = cluster.processes[1]  # a worker without a nanny: nothing restarts it

        def kill_after_the_first_result():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                trials = tmp_path / "run" / "trials.csv"
                if trials.exists() and len(trials.read_text().splitlines()) > 1:
                    os.killpg(worker.pid, signal.SIGKILL)
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_after_the_first_result, daemon=True)
        killer.start()
        with pytest.raises(SweepError, match="has had no workers for 3 s; finished trials are saved"):
            run_sweep(parse_experiment({**SLOW, "scheduler": cluster.address}), run_dir=tmp_path / "run", quiet=True)
        killer.join(timeout=5)
    kept = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert 1 <= len(kept) < 8 and (kept["status"] == "ok").all()


def test_ctrl_c_on_a_terminal_with_dask_local_is_one_interrupt_not_a_flood_of_worker_tracebacks(tmp_path):
    """A terminal's Ctrl-C signals the whole foreground process group: the sweep and every worker."""
    path = write_experiment(tmp_path / "slow.yaml", **SLOW)
    proc = start(["run", path, "--backend", "dask-local", "--n-jobs", "2", "--out", "run", "--no-plots"], tmp_path)
    wait_for_rows(tmp_path / "run" / "trials.csv", 2, proc, timeout=120)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.count("interrupted:") == 1 and f"resume with: sweep run {path} --resume run" in stderr
    assert not (tmp_path / "run" / ".scratch").exists()


def test_a_connection_that_closes_while_a_result_is_fetched_loses_the_result_not_the_trial():
    # Seen once: the scheduler was killed while a result was fetched, and the trial was recorded `failed`.
    import types

    from distributed.comm.core import CommClosedError

    from sweep.errors import SweepError
    from sweep.pools import Outcome
    from sweep.pools.dask import DaskPool, ResultLost

    class ClosingFuture:
        def result(self, timeout=None):
            raise CommClosedError("in <TCP (closed) ConnectionPool.gather>: ConnectionResetError: [Errno 104]")

    pool = DaskPool.__new__(DaskPool)  # no cluster: only how a failed fetch is judged
    pool.address, pool.client = "tcp://127.0.0.1:1", types.SimpleNamespace(status="running")
    with pytest.raises(ResultLost) as lost:
        pool.result(ClosingFuture())
    assert pool.classify(lost.value) == Outcome.LOST  # submitted again, not recorded as the trial's failure
    pool.client.status = "closed"
    with pytest.raises(SweepError, match="lost the connection to the Dask scheduler"):
        pool.classify(lost.value)


@pytest.mark.parametrize("timeouts, warned", [(1, False), (2, True)])
def test_a_dask_local_cluster_slow_to_stop_is_waited_for_then_left_with_a_warning(capsys, timeouts, warned):
    # Seen on a loaded machine: LocalCluster.close timed out after 5 s and the sweep, its trials saved, ended in a traceback.
    from sweep.pools.dask import CONNECT_TIMEOUT, LOCAL_CLOSE_TIMEOUT, DaskPool

    class SlowCluster:
        def __init__(self):
            self.waits = []

        def close(self, timeout):
            self.waits.append(timeout)
            if len(self.waits) <= timeouts:
                raise TimeoutError(f"timed out after {timeout} s.")

    pool, cluster = DaskPool.__new__(DaskPool), SlowCluster()
    pool.client, pool._cluster = None, cluster
    pool.shutdown()
    assert cluster.waits == [CONNECT_TIMEOUT, LOCAL_CLOSE_TIMEOUT][:timeouts + 1]
    assert ("did not stop within" in capsys.readouterr().err) is warned

"""The run folder: append-only CSV records written as each trial finishes, resumable after a crash.

Layout of ``results/<name>/<YYYYmmdd-HHMMSS>/``::

    experiment.yaml   resolved experiment, plus `provenance` (versions, command line, start time)
    plan.csv          every planned trial: trial_id, config_id, repeat, seed and its hyperparameters
    trials.csv        one row per finished trial (completion order), see files.trial_columns
    history.csv       one row per finished trial and epoch, see HISTORY_COLUMNS
    errors/ID.txt     the traceback of each failed or crashed trial
    best/             model.npz and summary.json of the best trial (written at the end of a run)

Nothing of the user's is overwritten:

- **A new run folder is made whole, then claimed in one step.** Its files are written into a
  hidden ``.creating-*`` folder beside it, which is renamed to its final name; the rename fails
  if that name holds anything, so runs started in the same second get ``-2``, ``-3``... and
  ``--out`` only ever lands in a new or empty folder. A start killed half-way leaves a hidden
  folder with no trial in it, never a half-made run that ``--resume`` would pick.
- **Appends are crash-safe.** A trial's history rows, then its trials.csv row, are each written
  with a single ``write`` on an unbuffered descriptor and ``fsync``-ed before the next trial is
  reported, so a ``kill -9`` loses at most the trials in flight.
- **Resuming reads every row it can prove** (see :mod:`sweep.results.records`) and refuses, leaving the
  files untouched, when a row is not a finished trial of this run. A file in another format (a
  spreadsheet's byte-order mark or column order) is rewritten in the standard one with all its
  rows, the original kept beside it; a torn last line and history rows of trials that have no
  trials.csv row (both from trials in flight at a kill) are dropped, and so are NUL bytes at the
  end of a file (a power cut), with a note.
- **plan.csv is proven too.** A trial's id is a hash of its values, so a plan row whose values
  are not its id's was edited: refused, naming the line. The plan of a search planned in advance
  follows from the experiment: when plan.csv is missing or cut short and the settings it is made
  from are still the run's, it is rebuilt (and the recorded trials checked against it).
"""

from __future__ import annotations

import csv
import errno
import io
import os
import secrets
import shutil
import time
from datetime import datetime
from pathlib import Path

from .. import yamlio
from ..config import Experiment
from ..errors import SweepError
from ..params import BUILTIN, ParamTable
from ..plan import TrialSpec
from ..status import CRASHED, FAILED
from ..task import TrialResult
from . import owned
from .files import (
    BEST_DIR,
    ERRORS_DIR,
    EXPERIMENT_FILE,
    HISTORY_COLUMNS,
    HISTORY_FILE,
    MODEL_RESULTS,
    PLAN_FILE,
    STAGING_PREFIX,
    TRIALS_FILE,
    ResultColumns,
    atomic_write,
    fsync_dir,
    plan_columns,
    program_results,
    trial_columns,
    own_folder,
    refuse_links,
    write_error,
    write_file,
)
from .lock import LOCK_FILE, FolderLock, lock_folder
from .folders import check_out_folder, latest_run_dir, new_run_dir, not_a_run, provenance, write_best
from .records import (Table, plan_difference, plan_spec, read_history_table, read_plan, read_trials_table,
                      run_params)

__all__ = ["BEST_DIR", "ERRORS_DIR", "EXPERIMENT_FILE", "HISTORY_COLUMNS", "HISTORY_FILE", "PLAN_FILE",
           "TRIALS_FILE", "RunStore", "check_out_folder", "latest_run_dir", "new_run_dir",
           "write_best"]



def _csv_line(values) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return buf.getvalue().encode()


def _plan_values(trial: TrialSpec, params: ParamTable) -> list:
    """The plan.csv row of ``trial``, in the order of :func:`~sweep.results.files.plan_columns`."""
    return [trial.trial_id, trial.config_id, trial.repeat, trial.seed,
            *(params[name].to_text(trial.params[name]) for name in params)]


def _plan_line(trial: TrialSpec, params: ParamTable) -> bytes:
    return _csv_line(_plan_values(trial, params))


def _plan_row(trial: TrialSpec, params: ParamTable) -> dict:
    """The plan.csv row of ``trial`` as :func:`~sweep.results.records.read_plan` reads it back (text by column)."""
    return dict(zip(plan_columns(params.names), ("" if v is None else str(v) for v in _plan_values(trial, params))))


def _plan_table(path: Path, trials: list[TrialSpec], params: ParamTable) -> Table:
    """plan.csv as the store writes it for ``trials``, as a table (its bytes are ``to_bytes()``)."""
    return Table(path, plan_columns(params.names), rows=[_plan_row(t, params) for t in trials],
                 line_numbers=list(range(2, len(trials) + 2)), params=params)


#: What to do when the disk of a run being resumed is full.
_RESUME_ON_A_FULL_DISK = "free space on that disk, then --resume again"


class RunStore:
    """One run folder, opened for appending results. Holds an exclusive lock while open.

    ``notices`` collects lines for the user about what opening the folder found and repaired.
    """

    def __init__(self, run_dir: Path, params: ParamTable = BUILTIN, results: ResultColumns = MODEL_RESULTS):
        self.run_dir = Path(run_dir)
        self.params = params  # the run's hyperparameters: its columns
        self.results = results  # what it records of each trial: its metric and history columns
        self.notices: list[str] = []
        self._lock: FolderLock | None = None
        self._fds: dict[str, int] = {}
        self._recorded: set[str] = set()
        self._plan: list[tuple[int, dict]] = []  # plan.csv: (line number, row) of each trial, in plan order
        self._rebuilt_plan = ""  # what was wrong with a plan.csv rebuilt from the experiment on resume

    # ------------------------------------------------------------------------------ creation
    @classmethod
    def create(cls, run_dir: Path, experiment: Experiment, trials: list[TrialSpec],
               command: str | None = None) -> "RunStore":
        """Make the run folder ``run_dir``, which must be new or an empty folder (see :func:`check_out_folder`)."""
        run_dir = check_out_folder(run_dir)
        if run_dir.is_dir():  # an empty folder (a mount point, say): filled in place, keeping its owner and mode
            return cls._fill(run_dir, experiment, trials, command)
        store = cls._build(run_dir.parent, experiment, trials, command)
        try:
            claimed = store._claim(run_dir)
        except OSError as exc:
            store._abandon()
            raise write_error(f"cannot create the run folder {run_dir}", exc) from None
        if not claimed:
            store._abandon()
            check_out_folder(run_dir)  # says what is there now
            raise SweepError(f"{run_dir} was filled by someone else while this run was being set up")
        return store

    @classmethod
    def _fill(cls, run_dir: Path, experiment: Experiment, trials: list[TrialSpec], command: str | None):
        """Make a run in the existing empty folder ``run_dir``.

        The folder is claimed by locking it (see :mod:`sweep.results.lock`) and finding it still
        empty; the files are made in a hidden folder inside it and moved out one by one, trials.csv
        (what makes a folder a run) last.
        """
        taken = f"{run_dir} was filled by someone else while this run was being set up"
        try:
            claim = lock_folder(run_dir, taken)
        except OSError as exc:
            raise write_error(f"cannot create the run folder {run_dir}", exc) from None
        store, moved = None, []
        try:
            if any(p.name != LOCK_FILE for p in run_dir.iterdir()):  # the lock file of the fallback
                raise SweepError(taken)
            store = cls._build(run_dir, experiment, trials, command)
            staging = store.run_dir
            names = [p.name for p in staging.iterdir() if p.name not in (LOCK_FILE, TRIALS_FILE)] + [TRIALS_FILE]
            for name in names:
                os.rename(staging / name, run_dir / name)
                moved.append(run_dir / name)
            store.close()  # the staging folder's lock: the folder's own is held from here on
            (staging / LOCK_FILE).unlink(missing_ok=True)
            staging.rmdir()
            fsync_dir(run_dir)
        except BaseException as exc:
            if store is not None:
                store._abandon()
            for path in moved:  # the folder was empty: what is in it now is this attempt's
                path.unlink(missing_ok=True)
            claim.close()
            if isinstance(exc, OSError):
                raise write_error(f"cannot create the run folder {run_dir}", exc) from None
            raise
        store = cls(run_dir, experiment.table, results_of(experiment))
        store._lock = claim
        store._open_for_append()
        return store

    @classmethod
    def create_new(cls, results_root: Path, experiment: Experiment, trials: list[TrialSpec],
                   command: str | None = None) -> "RunStore":
        """Make ``results_root/<folder name>/YYYYmmdd-HHMMSS`` (``-2``, ``-3``... when runs start together)."""
        parent = Path(results_root) / experiment.folder_name
        store = cls._build(parent, experiment, trials, command)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        try:
            for n in range(1, 10_000):
                if store._claim(parent / (stamp if n == 1 else f"{stamp}-{n}")):
                    return store
        except OSError as exc:
            store._abandon()
            raise write_error(f"cannot create a run folder in {parent}", exc) from None
        store._abandon()  # pragma: no cover - ten thousand runs started in one second
        raise SweepError(f"cannot find a free run folder name in {parent} for {stamp}")

    @classmethod
    def _build(cls, parent: Path, experiment: Experiment, trials: list[TrialSpec], command: str | None):
        """A store of the complete run files in a new hidden folder of ``parent``, locked."""
        try:
            parent.mkdir(parents=True, exist_ok=True)
            staging = parent / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            os.mkdir(staging)
        except OSError as exc:
            raise write_error(f"cannot create a run folder in {parent}", exc) from None
        store = cls(staging, experiment.table, results_of(experiment))
        try:
            store._acquire_lock()
            document = experiment.to_dict()
            document["provenance"] = provenance(command)
            write_file(staging / EXPERIMENT_FILE, yamlio.dumps(document).encode())
            header = _csv_line(plan_columns(store.params.names))
            plan = b"".join([header] + [_plan_line(t, store.params) for t in trials])
            write_file(staging / PLAN_FILE, plan)
            write_file(staging / HISTORY_FILE, _csv_line(store.results.history))
            write_file(staging / owned.MANIFEST, owned.EMPTY_MANIFEST)  # nothing drawn yet, and it is known
            write_file(staging / TRIALS_FILE, _csv_line(trial_columns(store.params.names, store.results.metrics)))
            fsync_dir(staging)
        except OSError as exc:
            store._abandon()
            raise write_error(f"cannot create a run folder in {parent}", exc) from None
        return store

    def _claim(self, target: Path) -> bool:
        """Rename the hidden folder to ``target``; False when ``target`` holds something already."""
        try:
            os.rename(self.run_dir, target)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                return False
            raise
        self.run_dir = target
        fsync_dir(target.parent)
        self._open_for_append()
        return True

    def _abandon(self) -> None:
        """Remove the hidden folder of a run that could not be made (it holds no result)."""
        self.close()
        if self.run_dir.name.startswith(STAGING_PREFIX):
            shutil.rmtree(self.run_dir, ignore_errors=True)

    # ------------------------------------------------------------------------------ resuming
    @classmethod
    def open(cls, run_dir: Path, experiment: Experiment, trials: list[TrialSpec],
             retry_failed: bool = False, planned_in_advance: bool = True) -> "RunStore":
        """Re-open a run to resume it.

        Refuses when the run belongs to another experiment, was made with another data set or
        metric, when ``trials`` no longer match its plan (mixing those would compare numbers that
        are not comparable), or when its records hold rows that are not finished trials of it
        (the files are then left as they are). ``retry_failed`` forgets the failed and crashed
        trials, so they run again. A search that chooses as it goes (not ``planned_in_advance``)
        is checked as it asks again (see :meth:`plan_more`), and the recorded trials against the
        plan the run wrote.
        """
        run_dir = Path(run_dir)
        _check_run_folder(run_dir)
        refuse_links(run_dir)
        recorded = _check_same_experiment(run_dir, experiment)
        _check_same_source(run_dir, recorded, experiment)
        if run_params(run_dir).columns != experiment.table.columns:
            raise SweepError(f"cannot resume {run_dir}: the model's hyperparameters ({', '.join(experiment.table)}) "
                             f"are not the run's ({', '.join(run_params(run_dir))}); start a new run without --resume")
        store = cls(run_dir, experiment.table, results_of(experiment))
        try:
            store._acquire_lock()
            _check_writable(run_dir)
        except OSError as exc:
            store.close()
            raise write_error(f"cannot resume {run_dir}: its folder is not writable", exc,
                              _RESUME_ON_A_FULL_DISK) from None
        try:
            try:
                if planned_in_advance:
                    plan = store._check_fixed_plan(trials, _plan_setting_changed(recorded, experiment))
                else:
                    plan = store._check_grown_plan()
                store._repair(plan, trials if planned_in_advance else None)
            except SweepError as exc:
                message = str(exc)
                raise SweepError(message if message.startswith("cannot resume") else
                                 f"cannot resume {run_dir}: {message}; the files are left as they were") from None
            if retry_failed:
                store._forget({tid for tid, status in store.finished().items() if status in (FAILED, CRASHED)})
            store._open_for_append()
        except OSError as exc:
            store.close()
            raise write_error(f"cannot resume {run_dir}", exc, _RESUME_ON_A_FULL_DISK) from None
        except BaseException:
            store.close()
            raise
        return store

    def _read_plan(self) -> Table | None:
        """plan.csv, None when it is missing; refused when a row of it is not a planned trial."""
        if not (self.run_dir / PLAN_FILE).is_file():
            return None
        plan = read_plan(self.run_dir, self.params)
        if plan.rejected:
            raise SweepError(f"cannot resume {self.run_dir}: {PLAN_FILE} is damaged ({plan.problem()}); the files "
                             "are left as they were")
        return plan

    def _check_fixed_plan(self, trials: list[TrialSpec], changed: str | None) -> Table:
        """plan.csv of a search planned in advance, checked against ``trials`` (the experiment's plan); the
        plan to resume with. Nothing is written here (see :meth:`_repair`).

        A plan.csv missing, or cut short (a torn last line, lines lost at its end), is rebuilt from
        the experiment when the settings the plan is made from (``changed`` names the first that is
        not the run's) are those the run was made with; an edited one is refused (see
        :meth:`_check_plan_rows`).
        """
        plan = self._read_plan()
        if plan is not None:
            self._check_plan_rows(plan, {t.trial_id: t for t in trials}, changed)
        planned, wanted = [row["trial_id"] for row in plan.rows] if plan else [], [t.trial_id for t in trials]
        if plan is not None and not plan.torn and set(planned) == set(wanted):
            return plan
        cut = ("is missing" if plan is None else f"line {plan.torn} is cut short" if plan.torn else
               f"holds only {len(planned)} of the {len(wanted)} trials planned")
        if changed is None:  # every row is one of the experiment's, whose plan is the run's
            self._rebuilt_plan = cut
            return _plan_table(self.run_dir / PLAN_FILE, trials, self.params)
        if plan is None or plan.torn:
            raise SweepError(
                f"cannot resume {self.run_dir}: {PLAN_FILE} {cut}, and it cannot be rebuilt from the experiment: "
                f"its `{changed}:` differs from the run's; undo the edit of the experiment (--resume "
                f"then rebuilds {PLAN_FILE}), or start a new run without --resume; the files are left as they were")
        new, gone = len(set(wanted) - set(planned)), len(set(planned) - set(wanted))
        raise SweepError(
            f"cannot resume {self.run_dir}: the experiment no longer matches that run ({new} trial(s) planned "
            f"now are not in it, {gone} of its trial(s) are no longer planned); undo the edit, or start a new "
            "run without --resume")

    def _check_plan_rows(self, plan: Table, by_id: dict[str, TrialSpec], changed: str | None) -> None:
        """Refuse, naming the line, a plan.csv row the experiment's plan ``by_id`` proves edited.

        A trial's id is a hash of its values, so a row whose values are not those of its id was
        edited. A row of a trial the experiment does not plan was too, when the settings the plan
        is made from are the run's (``changed`` is None); then deleting plan.csv is a way out as
        well, since resuming rebuilds it.
        """
        rebuild = f", or delete {PLAN_FILE} (--resume rebuilds it from the experiment)" if changed is None else ""
        for line, row in zip(plan.line_numbers, plan.rows):
            trial_id = row["trial_id"]
            if trial_id not in by_id:
                if changed is None:
                    raise SweepError(
                        f"cannot resume {self.run_dir}: {PLAN_FILE} line {line} holds trial {trial_id[:40]}, which "
                        f"the experiment does not plan, though the settings its plan is made from "
                        f"({', '.join(PLAN_SETTINGS)}) are the run's: {PLAN_FILE} was edited; undo the edit{rebuild}, "
                        "or start a new run without --resume; the files are left as they were")
                continue
            difference = plan_difference(row, by_id[trial_id], self.params)
            if difference:
                name, text, value = difference
                raise SweepError(
                    f"cannot resume {self.run_dir}: {PLAN_FILE} line {line} gives trial {trial_id} {name} "
                    f"{text[:40]!r}, but that trial is {name} {value} (its id stands for its values, as the "
                    f"experiment plans it): the line was edited; put back {name} {value} on it{rebuild}, or start "
                    "a new run without --resume; the files are left as they were")

    def _check_grown_plan(self) -> Table:
        """plan.csv of a search that chooses as it goes; the plan to resume with (its rows are checked
        against the search as it asks again, see :meth:`plan_more`). Nothing is written here.

        A torn last row was being written at a kill, before its trial was handed out: it is asked
        again. Such a row whose trial has a trials.csv row is taken from that row (which holds every
        column of the plan). A missing plan.csv cannot be rebuilt: refused.
        """
        plan = self._read_plan()
        recorded = read_trials_table(self.run_dir, params=self.params)
        if plan is None:  # only with trials recorded (see folders.not_a_run)
            raise SweepError(
                f"cannot resume {self.run_dir}: {PLAN_FILE} is missing, and {TRIALS_FILE} records "
                f"{len(recorded.rows)} trial(s); the plan of a search that chooses as it goes is made as it "
                f"asks, so it cannot be rebuilt: restore {PLAN_FILE}, or start a new run without --resume; "
                "the files are left as they were")
        planned = {row["trial_id"] for row in plan.rows}
        if plan.torn and plan.torn_id:
            cut_trial = [row for row in recorded.rows if row["trial_id"].startswith(plan.torn_id)
                         and row["trial_id"] not in planned]
            if len(cut_trial) == 1:
                plan.rows.append({column: cut_trial[0].get(column, "") for column in plan_columns(self.params.names)})
                plan.line_numbers.append(plan.torn)
                self.notices.append(f"note: line {plan.torn} of {plan.path} was cut short; its trial "
                                    f"{cut_trial[0]['trial_id']} is recorded, so the line was rewritten from its "
                                    f"{TRIALS_FILE} row")
        return plan

    def _check_agrees_with_plan(self, plan: Table) -> None:
        """Refuse, naming both lines, when trials.csv and plan.csv give a trial different values: one of
        them was edited, and only undoing that edit (not deleting either line) keeps the run going."""
        lines = {row["trial_id"]: (line, row) for line, row in zip(plan.line_numbers, plan.rows)}
        table = read_trials_table(self.run_dir, params=self.params)
        for line, row in zip(table.line_numbers, table.rows):
            if row["trial_id"] not in lines:
                continue
            plan_line, plan_row = lines[row["trial_id"]]
            difference = plan_difference(row, plan_spec(plan_row, self.params), self.params)
            if difference:
                name, text, value = difference
                raise SweepError(
                    f"cannot resume {self.run_dir}: {TRIALS_FILE} line {line} and {PLAN_FILE} line {plan_line} give "
                    f"trial {row['trial_id']} different values ({name} {text[:40]!r} and {str(value)[:40]!r}): one of "
                    "the two lines was edited; undo that edit, or start a new run without --resume; the files are "
                    "left as they were")

    def _repair(self, plan: Table, trials: list[TrialSpec] | None) -> None:
        """Check every row; refuse on one that cannot be proven; write the rest in the standard format.

        ``plan`` is the plan to resume with (see :meth:`_check_fixed_plan`, :meth:`_check_grown_plan`),
        ``trials`` the experiment's when it is planned in advance. Only what is safe to lose is
        dropped: a torn last line or NUL bytes at the end (a kill, a power cut), an identical row
        given twice, and history rows of trials without a trials.csv row (trials in flight at a kill).
        Nothing is written before every check has passed.
        """
        by_id = {t.trial_id: t for t in trials} if trials is not None else \
            {row["trial_id"]: plan_spec(row, self.params) for row in plan.rows}
        table = read_trials_table(self.run_dir, by_id, self.params)
        if table.rejected:
            if trials is None:
                self._check_agrees_with_plan(plan)
            if self._rebuilt_plan:
                raise SweepError(f"cannot resume {self.run_dir}: {PLAN_FILE} {self._rebuilt_plan}, and the plan "
                                 f"rebuilt from the experiment does not hold what {TRIALS_FILE} records "
                                 f"({table.problem()}): restore {PLAN_FILE}, or start a new run without --resume; the "
                                 "files are left as they were")
            raise SweepError(f"cannot resume {self.run_dir}: {TRIALS_FILE} {table.problem()}; "
                             f"{'these lines are' if len(table.rejected) > 1 else 'this line is'} not a finished "
                             "trial of this run, so the files are left as they were: correct or delete "
                             f"{'them' if len(table.rejected) > 1 else 'it'} (a trial without a line runs again), "
                             "or start a new run")
        history = read_history_table(self.run_dir)
        recorded = {row["trial_id"] for row in table.rows}
        if history.rejected:
            raise SweepError(f"cannot resume {self.run_dir}: {HISTORY_FILE} {history.problem()}; the files are "
                             "left as they were: correct or delete those lines, or start a new run")
        in_flight = [row for row in history.rows if row["trial_id"] not in recorded]
        history.rows = [row for row in history.rows if row["trial_id"] in recorded]
        self._write_plan(plan)
        self._rewrite(table, dropped=0)
        self._rewrite(history, dropped=len(in_flight))

    def _write_plan(self, plan: Table) -> None:
        """Write the plan checked by :meth:`_repair` back: rebuilt, or in the standard format."""
        if not self._rebuilt_plan:
            self._rewrite(plan, dropped=0)
            return
        atomic_write(plan.path, plan.to_bytes())
        self.notices.append(f"note: {plan.path} {self._rebuilt_plan}; rebuilt it from the experiment, which plans "
                            f"what the run was made with ({len(plan.rows)} trials, every recorded one among them)")

    def _rewrite(self, table: Table, dropped: int) -> None:
        """Write ``table`` back in the standard format when it is not in it; keep a user-made original."""
        if table.standard and not dropped:
            return
        path = table.path
        if table.format_changes or table.duplicates:
            backup = _free_name(path.with_name(f"{path.name}.before-resume-{time.strftime('%Y%m%d-%H%M%S')}"))
            shutil.copy2(path, backup)
            what = ", ".join(table.format_changes + ([f"{table.duplicates} row(s) given twice"]
                                                     if table.duplicates else []))
            self.notices.append(f"note: {path} had {what}; rewrote it in the standard format with all "
                                f"{len(table.rows)} rows (the original is kept as {backup.name})")
        if table.padding:  # a kill's torn line is routine; a power cut's NUL bytes are worth a line
            self.notices.append(f"note: {path} had {table.damage()}, what a power cut leaves; dropped "
                                f"{'them' if table.torn else 'those bytes'} and kept its {len(table.rows)} rows")
        atomic_write(path, table.to_bytes())

    # ------------------------------------------------------------------------------ reading
    def finished(self) -> dict[str, str]:
        """trial_id -> status of every trial with a trials.csv row."""
        return {row["trial_id"]: row["status"] for row in read_trials_table(self.run_dir, params=self.params).rows}

    # ------------------------------------------------------------------------------ writing
    def append(self, trial: TrialSpec, result: TrialResult) -> bool:
        """Record a finished trial: history rows, then its trials.csv row, each fsync-ed.

        A trial that already has a row is not recorded again (a cluster may run a task twice when
        the worker that ran it first died before reporting): returns False then. A write that
        fails (a full disk) is a SweepError saying that what is recorded is safe.
        """
        if trial.trial_id in self._recorded:
            return False
        try:
            if result.history:
                self._write(HISTORY_FILE, b"".join(map(_csv_line, self._history_rows(trial, result))))
            if result.traceback:
                errors = own_folder(self.run_dir, ERRORS_DIR)
                atomic_write(errors / f"{trial.trial_id}.txt", result.traceback.encode())
            metrics = [result.metrics.get(c) for c in self.results.metrics]
            values = (self.params[name].to_text(trial.params[name]) for name in self.params)
            row = [trial.trial_id, result.status, *values, trial.seed,
                   trial.repeat, trial.config_id, *metrics, result.worker, result.error]
            self._write(TRIALS_FILE, _csv_line(row))
        except OSError as exc:
            raise write_error(f"cannot record trial {trial.trial_id} in {self.run_dir} (the trials recorded "
                               "before it are safe; free space or fix the folder, then --resume)", exc, "") from None
        self._recorded.add(trial.trial_id)
        return True

    def _history_rows(self, trial: TrialSpec, result: TrialResult):
        """The history.csv rows of ``result``: one per epoch, or one per value a program logged."""
        if not self.results.program:
            return ([trial.trial_id, *(r[c] for c in HISTORY_COLUMNS[1:])] for r in result.history)
        from ..programs.metrics import text_of

        return ([trial.trial_id, line["step"], name, text_of(value)]
                for line in result.history for name, value in line.items() if name != "step")

    def plan_more(self, trials: list[TrialSpec]) -> None:
        """Add ``trials``, just handed out by a search that chooses as it goes, to plan.csv.

        A trial whose place in the plan (``trial.index``) is taken already must be the one planned
        there: a resumed search asks again from the start, and asking otherwise means the
        experiment changed (the run's results would not be comparable).
        """
        lines = []
        for trial in trials:
            if trial.index < len(self._plan):
                self._check_planned(trial)
                continue
            self._plan.append((self._plan[-1][0] + 1 if self._plan else 2, _plan_row(trial, self.params)))
            lines.append(_plan_line(trial, self.params))
        if lines:
            try:
                self._write(PLAN_FILE, b"".join(lines))
            except OSError as exc:
                raise write_error(f"cannot extend the plan of {self.run_dir} (the trials recorded are safe; free "
                                  "space or fix the folder, then --resume)", exc, "") from None

    def _check_planned(self, trial: TrialSpec) -> None:
        """Refuse when the plan holds another trial, or other values, at ``trial``'s place."""
        line, row = self._plan[trial.index]
        if row["trial_id"] != trial.trial_id:
            raise SweepError(f"cannot resume {self.run_dir}: the experiment no longer matches that run "
                             f"(trial {trial.index} of its plan is {row['trial_id']}, the search "
                             f"now asks for {trial.trial_id}); undo the edit, or start a new run without "
                             "--resume")
        difference = plan_difference(row, trial, self.params)
        if difference:
            name, text, value = difference
            raise SweepError(f"cannot resume {self.run_dir}: {PLAN_FILE} line {line} gives trial {trial.trial_id} "
                             f"{name} {text[:40]!r}, but the search asks for it with {name} {value} (a trial's id "
                             f"stands for its values): the line was edited; put back {name} {value} on it, or start "
                             "a new run without --resume")

    def _write(self, name: str, data: bytes) -> None:
        fd = self._fds[name]
        view = memoryview(data)
        while view:  # one write() for a regular file in practice; loop for the rare short write
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)

    def _open_for_append(self) -> None:
        self._recorded = set(self.finished())
        plan = read_plan(self.run_dir, self.params)
        self._plan = list(zip(plan.line_numbers, plan.rows))
        for name in (TRIALS_FILE, HISTORY_FILE, PLAN_FILE):
            self._fds[name] = _open_own_for_append(self.run_dir / name)

    def _forget(self, trial_ids: set[str]) -> None:
        """Remove the rows (and tracebacks) of ``trial_ids``, rewriting the files atomically."""
        if not trial_ids:
            return
        for table in (read_trials_table(self.run_dir, params=self.params), read_history_table(self.run_dir)):
            table.rows = [row for row in table.rows if row["trial_id"] not in trial_ids]
            atomic_write(table.path, table.to_bytes())
        errors = own_folder(self.run_dir, ERRORS_DIR, create=False)
        for trial_id in trial_ids if errors is not None else ():
            (errors / f"{trial_id}.txt").unlink(missing_ok=True)

    # ------------------------------------------------------------------------------ lock
    def _acquire_lock(self) -> None:
        self._lock = lock_folder(self.run_dir, f"{self.run_dir} is in use by another running sweep")

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def results_of(experiment: Experiment) -> ResultColumns:
    """What a run of ``experiment`` records of each trial (see :class:`~sweep.results.files.ResultColumns`)."""
    return program_results(experiment.metric.name) if experiment.program is not None else MODEL_RESULTS


def _check_run_folder(run_dir: Path) -> None:
    """SweepError unless ``run_dir`` holds the four files of a run."""
    if not run_dir.is_dir():
        why = "no such folder" if not run_dir.exists() else "not a folder"
        raise SweepError(f"{run_dir} is not a run folder ({why})")
    if run_dir.name.startswith(STAGING_PREFIX):
        raise SweepError(f"{run_dir} is a run folder whose start was interrupted before any trial ran; start a new run")
    why = not_a_run(run_dir)
    if why:
        raise SweepError(f"{run_dir} is not a run folder ({why})")


def _open_own_for_append(path: Path) -> int:
    """A descriptor appending to ``path``, never through a link: a file with other hard links (a copy
    made with ``cp -al``, a snapshot) is first replaced by a copy of its own, so that the other names
    keep what they hold."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
    if os.fstat(fd).st_nlink > 1:
        os.close(fd)
        atomic_write(path, path.read_bytes())
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
    return fd


def _check_writable(folder: Path) -> None:
    """OSError (read-only file system, or permission denied) unless files can be made in ``folder``."""
    if not os.access(folder, os.W_OK):
        code = errno.EROFS if os.statvfs(folder).f_flag & os.ST_RDONLY else errno.EACCES
        raise OSError(code, os.strerror(code))


#: What a run's experiment must still say for ``--resume``: the trials recorded were made (and
#: decided) under these, and a change would mix numbers that are not comparable. ``fuse`` sets the
#: groups, and so the minibatch stream, of every trial not yet recorded.
RESUME_MUST_MATCH = (("name", "experiment"), ("dataset", "data set"), ("metric", "metric"),
                     ("early_terminate", "early_terminate"), ("fuse", "fuse"), ("model", "model"),
                     ("program", "program"), ("command", "command"))
#: The value of a key an experiment file leaves out when it has its default.
_UNWRITTEN = {"fuse": 1}


def _check_same_experiment(run_dir: Path, experiment: Experiment) -> dict:
    """SweepError unless the run was made by an experiment that agrees on :data:`RESUME_MUST_MATCH`;
    the run's experiment.yaml as plain data."""
    try:
        recorded = yamlio.load_file(run_dir / EXPERIMENT_FILE, "run's experiment file").data
    except SweepError as exc:
        raise SweepError(f"cannot resume {run_dir}: {exc}") from None
    if not isinstance(recorded, dict):
        raise SweepError(f"cannot resume {run_dir}: {run_dir / EXPERIMENT_FILE}: not a mapping of keys; the files are "
                         "left as they were")
    now = experiment.to_dict()
    for key, what in RESUME_MUST_MATCH:
        then_value, now_value = (recorded.get(key, _UNWRITTEN.get(key)), now.get(key, _UNWRITTEN.get(key)))
        if then_value != now_value:
            raise SweepError(f"cannot resume {run_dir}: it was made with {what} {_inline(then_value)}, "
                             f"the experiment now says {_inline(now_value)}; start a new run without --resume, "
                             "or undo the edit")
    return recorded


#: The settings a planned-in-advance search makes its plan from (:mod:`sweep.strategies`, :mod:`sweep.plan`):
#: when they are the run's, the experiment's plan is the one the run wrote, and a lost plan.csv can be rebuilt.
PLAN_SETTINGS = ("method", "parameters", "fixed", "run_cap", "seed", "repeats")


def _plan_setting_changed(recorded: dict, experiment: Experiment) -> str | None:
    """The first of :data:`PLAN_SETTINGS` in which ``experiment`` differs from the run's experiment.yaml."""
    now = experiment.to_dict()
    return next((key for key in PLAN_SETTINGS if recorded.get(key) != now.get(key)), None)


def _check_same_source(run_dir: Path, recorded: dict, experiment: Experiment) -> None:
    """SweepError when the user's model or program file is not the text the run was made with: its code gives the
    numbers, and the trials recorded would not be comparable with those still to run."""
    now = experiment.to_dict()
    for key, what in (("model_source_sha256", "the model's file"), ("program_source_sha256", "the program's file")):
        if recorded.get(key) != now.get(key):
            path = (experiment.model.path if key.startswith("model")
                    else Path(experiment.program.folder, experiment.program.program))
            raise SweepError(f"cannot resume {run_dir}: {what} {path} changed since the run was made (its code gives "
                             "the numbers of every trial); undo the change, or start a new run without --resume")
    if experiment.model is not None:
        from ..models.fingerprint import code_change

        changed = code_change(experiment.model, recorded.get("model_code_sha256"))
        if changed is not None:
            raise SweepError(f"cannot resume {run_dir}: {changed} the run was made (its code gives the numbers of "
                             "every trial); undo the change, or start a new run without --resume")


def _inline(value) -> str:
    return yamlio.dumps(value).strip().replace("\n", ", ") if isinstance(value, dict) else repr(value)


def _free_name(path: Path) -> Path:
    candidate, n = path, 1
    while os.path.lexists(candidate):
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate



"""Ensemble selection over a sweep's top trials (Caruana, Niculescu-Mizil, Crew and Ksikes, ICML 2004).

A sweep trains dozens of good models and keeps one. After it (in :func:`sweep.best.finalize`), the
top ``top_k`` scored trials (ranked by the experiment's metric; ties to the lower validation loss,
then to the lower trial id) and the best trial are the *pool*. Their class probabilities on the
validation split (softmax of the scores, float64) are combined by greedy forward selection with
replacement:

1. the ensemble starts as the pool's best single member on validation accuracy (ties to the lower
   validation log-loss, then to the lower trial id): the run's best trial when the sweep ranks by
   validation accuracy with one repeat;
2. each of ``rounds`` rounds adds the member (already in it or not) whose addition gives the
   highest validation accuracy of the averaged probabilities, ties to the lower log-loss, then to
   the lower trial id;
3. the ensemble kept is the best of those ``rounds + 1`` prefixes by the same rule (the earliest of
   equals), so it never scores below its best member on validation.

A member's weight is how many times it was picked over the ensemble's size. The ensemble is then
scored once on the test split, as the best single model is. Every number depends on the trials'
recorded results and their weights alone (weights not kept are retrained from the trial's seed,
bitwise), never on n_jobs, completion order or a resume: the same run gives the same ensemble.

Results: ``best/ensemble.npz`` (each member's arrays ``member<i>/<name>``, the preprocessing of raw
inputs ``prep/...``, and a JSON header: members' classes and hyperparameters, the order in which
they were picked; no pickle) and ``best/ensemble.json`` (members with their counts and weights,
``val_acc``, ``test_acc``, the single best's for comparison, the SHA-256 of ensemble.npz, which
:func:`load_ensemble` checks, and a seal (:mod:`sweep.results.seal`) that binds that SHA-256 to this
run, so that a later call removes only an ensemble it can prove this run wrote). The probabilities
are summed in the order the members were picked, so the saved ensemble's predictions are bitwise
those it was scored with.

Weights: while the sweep runs, the runner keeps in ``candidates/`` the weights of each trial that may
end in the top ``top_k`` (see :class:`~sweep.observers.BestModelKeeper`), within ``max_disk`` bytes.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SweepError
from .modelfile import USER_FORMAT, SavedUserModel, rebuild_user_model, savable, softmax
from .ensemble_spec import json_number
from .results.files import BEST_DIR, atomic_write, own_folder, sha256_of, write_error
from .results.seal import seal, unsealed_problem

ENSEMBLE_FILE, ENSEMBLE_JSON = "ensemble.npz", "ensemble.json"
FORMAT = "sweep ensemble 1"
#: What the seal of ensemble.json binds (see :func:`_record_identity`).
SEAL_KIND = "sweep ensemble record 1"
#: Smallest probability a log-loss takes the log of.
EPSILON = 1e-15


# ------------------------------------------------------------------------------------- selection
@dataclass(frozen=True)
class Selection:
    """What :func:`select` chose: ``order``, the pool indices in the order they were picked (the
    first is the start), its validation accuracy and log-loss, and the scores of every prefix."""

    order: tuple[int, ...]
    val_acc: float
    val_loss: float
    history: tuple[tuple[float, float], ...]

    def counts(self, n: int) -> list[int]:
        out = [0] * n
        for i in self.order:
            out[i] += 1
        return out


def _score(total: np.ndarray, size: int, y: np.ndarray) -> tuple[float, float]:
    """Accuracy and log-loss of the average ``total / size`` of ``size`` members' probabilities."""
    return score(total / size, y)


def score(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Accuracy and log-loss of the class probabilities ``p`` (N, C) against labels ``y``."""
    acc = float(np.mean(p.argmax(axis=1) == y))
    loss = float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], EPSILON))))
    return acc, loss


def _better(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether (accuracy, log-loss) ``a`` beats ``b``: higher accuracy, then lower log-loss."""
    return a[0] > b[0] or (a[0] == b[0] and a[1] < b[1])


def select(probabilities: list[np.ndarray], y: np.ndarray, rounds: int, names: list[str] | None = None) -> Selection:
    """Greedy forward selection with replacement (see the module's docstring) over the members'
    validation ``probabilities`` ((N, C) arrays) against labels ``y``; ``names`` (the trial ids)
    break ties, lower first (by default the pool order)."""
    if not probabilities:
        raise ValueError("nothing to select from")
    y = np.asarray(y)
    names = list(names) if names is not None else [f"{i:09d}" for i in range(len(probabilities))]
    by_name = sorted(range(len(probabilities)), key=lambda i: names[i])  # ties go to the first of this order
    singles = [_score(p, 1, y) for p in probabilities]
    start = by_name[0]
    for i in by_name[1:]:
        if _better(singles[i], singles[start]):
            start = i
    order, total = [start], np.array(probabilities[start], dtype=np.float64)
    history = [singles[start]]
    for _ in range(rounds):
        size = len(order) + 1
        chosen, chosen_score, chosen_total = None, None, None
        for i in by_name:
            candidate = total + probabilities[i]
            score = _score(candidate, size, y)
            if chosen is None or _better(score, chosen_score):
                chosen, chosen_score, chosen_total = i, score, candidate
        order.append(chosen)
        total = chosen_total
        history.append(chosen_score)
    best = 0
    for n, score in enumerate(history):
        if _better(score, history[best]):
            best = n
    return Selection(tuple(order[:best + 1]), history[best][0], history[best][1], tuple(history))


def combine(probabilities: list[np.ndarray], order) -> np.ndarray:
    """The ensemble's probabilities: the members' summed in the ``order`` they were picked, over its
    size (the arithmetic of :func:`select`, so the result is bitwise the one it scored)."""
    order = list(order)
    total = np.array(probabilities[order[0]], dtype=np.float64)
    for i in order[1:]:
        total = total + probabilities[i]
    return total / len(order)


# ------------------------------------------------------------------------------------- the pool
def pool_rows(rows, metric: str, maximize: bool, top_k: int, best_id: str) -> list[dict]:
    """The top ``top_k`` scored trials of trials.csv ``rows`` (``ok`` before ``stopped``, then by the
    metric, the lower validation loss, the lower trial id), and the best trial ``best_id`` when it is
    not among them; in that order."""
    from .results.ranking import SCORED, status_rank, tie_break

    tie = tie_break(metric)

    def key(r):
        value = r[metric]
        other = r.get(tie, math.nan)
        return (status_rank(r["status"]), -value if maximize else value,
                math.inf if math.isnan(other) else other, r["trial_id"])

    scored = sorted((r for r in rows if r["status"] in SCORED and math.isfinite(r[metric])), key=key)
    pool = scored[:top_k]
    if not any(r["trial_id"] == best_id for r in pool):
        pool += [r for r in scored if r["trial_id"] == best_id]
    return pool


def off_reason(experiment, data) -> str | None:
    """Why the run makes no ensemble, or None when it makes one."""
    if experiment.ensemble is None:
        return "ensemble: false"
    if experiment.program is not None:
        return "a program's trials leave no model to combine"
    if data is not None and data.task == "regression":
        return "the data set has real-valued targets, and the ensemble combines class probabilities"
    return None


def make_ensemble(run_dir: Path, experiment, data, rows, best, summary: dict, model_of, warn=print):
    """Select, score and save the ensemble of the run (see the module's docstring); ``best`` is the best
    trial's :class:`~sweep.best.TrainedTrial`, ``summary`` its summary and ``model_of(row)`` the
    TrainedTrial of another scored trials.csv row (kept weights or retrained). Returns what
    ``best/ensemble.json`` holds, or None when the run makes no ensemble (said in a line to ``warn``
    when the experiment asked for one)."""
    from .trainer import scores_of

    spec = experiment.ensemble
    reason = off_reason(experiment, data)
    if reason is not None:
        if spec is not None and spec.asked:
            warn(f"warning: no ensemble is made: {reason}")
        remove_earlier_ensemble(run_dir, reason, warn)
        return None
    start = time.perf_counter()
    metric = experiment.metric
    pool = pool_rows(rows, metric.name, metric.maximize, spec.top_k, best.spec.trial_id)
    members, val, test, retrained = [], [], [], []
    for row in pool:
        trained = best if row["trial_id"] == best.spec.trial_id else \
            model_of(row)
        if not trained.kept and trained is not best:
            retrained.append(trained.spec.trial_id)
        members.append(trained)
        val.append(softmax(scores_of(trained.net, trained.data.X_val)))
        test.append(softmax(scores_of(trained.net, trained.data.X_test)))
    names = [m.spec.trial_id for m in members]
    selecting = time.perf_counter()
    selection = select(val, data.y_val, spec.rounds, names)
    selection_seconds = round(time.perf_counter() - selecting, 4)
    used = sorted(set(selection.order), key=lambda i: names[i])  # members, by trial id
    position = {i: n for n, i in enumerate(used)}
    order = [position[i] for i in selection.order]
    val_p = combine([val[i] for i in used], order)
    test_p = combine([test[i] for i in used], order)
    val_acc, val_loss = score(val_p, data.y_val)
    test_acc, test_loss = score(test_p, data.y_test)
    counts = selection.counts(len(members))
    seconds = round(time.perf_counter() - start, 3)
    record = {
        "method": "greedy forward selection with replacement (Caruana et al. 2004)",
        "top_k": spec.top_k, "rounds": spec.rounds, "pool": len(members), "size": len(order),
        "members": [{"trial_id": names[i], "config_id": members[i].spec.config_id, "count": counts[i],
                     "weight": counts[i] / len(order), "epochs": members[i].epochs,
                     "val_acc": json_number(float(np.mean(val[i].argmax(axis=1) == data.y_val))),
                     "params": members[i].spec.params} for i in used],
        "order": [names[i] for i in selection.order],
        "val_acc": json_number(val_acc), "val_loss": json_number(val_loss),
        "test_acc": json_number(test_acc), "test_loss": json_number(test_loss), "test_rows": int(len(data.y_test)),
        "single_best": {"trial_id": summary["trial_id"], "val_acc": summary.get("val_acc"),
                        "test_acc": summary.get("test_acc")},
        "retrained": retrained, "seconds": seconds, "selection_seconds": selection_seconds,
    }
    nets = [savable(members[i].net, experiment.model, members[i].spec.params, data) for i in used]
    write_ensemble(run_dir, nets, order, data.preprocessing, record)
    return record


# ------------------------------------------------------------------------------------- files
def _net_record(net) -> tuple[dict, dict]:
    """The JSON record of a member and its arrays: a built-in net's class and constructor arguments, or
    what rebuilds a user's model (:meth:`~sweep.modelfile.SavedUserModel.record`)."""
    if isinstance(net, SavedUserModel):
        return net.record(), dict(net.params)
    arrays = {**net.params, **getattr(net, "buffers", {})}
    return {"class": type(net).__name__, "hyperparameters": net.hyperparameters(), "arrays": sorted(arrays)}, arrays


def write_ensemble(run_dir: Path, nets: list, order: list[int], preprocessing, record: dict) -> dict:
    """Write ``best/ensemble.npz`` and then ``best/ensemble.json`` (``record`` plus the npz's SHA-256),
    each atomically: a kill between them leaves a json that does not name the npz, which
    :func:`load_ensemble` refuses and the next ``--resume`` makes again."""
    header = {"format": FORMAT, "members": [], "order": list(order),
              "preprocessing": preprocessing.header() if preprocessing is not None else None}
    arrays = {} if preprocessing is None else dict(preprocessing.arrays())
    for n, net in enumerate(nets):
        member, values = _net_record(net)
        header["members"].append(member)
        arrays.update({f"member{n}/{name}": value for name, value in values.items()})
    tmp = None
    try:
        best = own_folder(run_dir, BEST_DIR)
        tmp = best / f".{ENSEMBLE_FILE}.tmp"
        tmp.unlink(missing_ok=True)  # left by a kill (or a link put there: removed, never followed)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        with open(fd, "wb") as f:
            np.savez(f, __header__=np.array(json.dumps(header)), **arrays)
            f.flush()
            os.fsync(f.fileno())
        record = {**record, "ensemble_sha256": sha256_of(tmp)}
        record["seal"] = seal(SEAL_KIND, _record_identity(run_dir, record), {})
        text = json.dumps(record, indent=2, allow_nan=False, default=_plain) + "\n"
        os.replace(tmp, best / ENSEMBLE_FILE)
        atomic_write(best / ENSEMBLE_JSON, text.encode())
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise write_error(f"cannot save the ensemble in {Path(run_dir) / BEST_DIR} (every trial and the best model "
                          "are recorded; free space or fix the folder, then --resume finishes the run)", exc,
                          full_disk="") from None
    return record


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


#: Largest ensemble.json read.
MAX_RECORD_BYTES = 1 << 22


def read_ensemble_record(run_dir: Path) -> dict | None:
    """``best/ensemble.json``, or None when the run has none; SweepError (one line) when it is damaged."""
    path = Path(run_dir) / BEST_DIR / ENSEMBLE_JSON
    if not path.is_file():
        return None
    from .results.records import read_json_document

    record = read_json_document(path, MAX_RECORD_BYTES)
    problem = _record_problem(record)
    if problem:
        raise SweepError(f"{path} is damaged: {problem}")
    return record


def _record_problem(record) -> str | None:
    """What in a parsed ensemble.json is not what :func:`make_ensemble` writes (the fields readers use)."""
    if not isinstance(record, dict) or not isinstance(record.get("ensemble_sha256"), str) or \
            not isinstance(record.get("members"), list) or not record["members"]:
        return "not the record of an ensemble"
    for key in ("val_acc", "val_loss", "test_acc", "test_loss"):
        if not _number_or_none(record.get(key)):
            return f"{key} is {str(record.get(key))[:80]!r}, not a number"
    for key in ("size", "pool", "test_rows"):
        if record.get(key) is not None and not _whole(record[key]):
            return f"{key} is {str(record.get(key))[:80]!r}, not a whole number"
    for member in record["members"]:
        if not isinstance(member, dict) or not isinstance(member.get("trial_id"), str) or \
                not (_number_or_none(member.get("weight")) and member.get("weight") is not None) or \
                not _whole(member.get("count")):
            return f"a member is {str(member)[:80]!r}, not a trial id with its count and weight"
    single = record.get("single_best")
    if single is not None and not (isinstance(single, dict) and isinstance(single.get("trial_id"), str)
                                   and _number_or_none(single.get("val_acc")) and _number_or_none(single.get("test_acc"))):
        return f"single_best is {str(single)[:80]!r}"
    return None


def _number_or_none(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def proven_record(run_dir: Path) -> tuple[dict | None, str | None]:
    """``(record, None)`` when ``best/`` holds an ensemble this run saved whole (see :func:`ensemble_problem`),
    ``(None, problem)`` when it does not, ``(None, None)`` when there is no ensemble.json at all."""
    if not os.path.lexists(Path(run_dir) / BEST_DIR / ENSEMBLE_JSON):
        return None, None
    problem = ensemble_problem(run_dir)
    return (None, problem) if problem else (read_ensemble_record(run_dir), None)


def ensemble_problem(run_dir: Path) -> str | None:
    """Why ``best/`` does not hold an ensemble this run saved whole, or None: its record must be a
    readable file (not a link), its members scored trials of this run (trials.csv ``ok`` or
    ``stopped``) and its single best the trial of best/summary.json, and ensemble.npz the file it
    names by SHA-256 (not a link). Readers check this much; the seal, which only this user's key can
    check, is for a resume that would remove the ensemble."""
    from .results.records import read_summary, read_trial_records
    from .status import OK, STOPPED

    if (Path(run_dir) / BEST_DIR / ENSEMBLE_JSON).is_symlink():
        return f"{ENSEMBLE_JSON} is a link, not a file this run saved"
    try:
        record = read_ensemble_record(run_dir)
    except SweepError as exc:
        return str(exc)
    if record is None:
        return f"it has no {ENSEMBLE_JSON}"
    try:
        scored = {row["trial_id"] for row in read_trial_records(run_dir) if row["status"] in (OK, STOPPED)}
    except SweepError as exc:
        return f"its trials cannot be read ({exc})"
    foreign = [m["trial_id"] for m in record["members"] if m["trial_id"] not in scored]
    if foreign:
        return (f"{ENSEMBLE_JSON} names trial {foreign[0][:40]}, not a scored trial of this run (the ensemble of "
                "another run?)")
    single = record.get("single_best")
    try:
        summary = read_summary(run_dir)
    except SweepError:
        summary = None
    if single is not None and summary is not None and single["trial_id"] != summary["trial_id"]:
        return (f"{ENSEMBLE_JSON} was made beside best trial {single['trial_id'][:40]}, and the best model is trial "
                f"{summary['trial_id']}")
    return _npz_problem(run_dir, record)


def _npz_problem(run_dir: Path, record: dict) -> str | None:
    """Why ``best/ensemble.npz`` is not the file ``record`` names by its SHA-256 (missing, a link, another
    file), or None."""
    path = Path(run_dir) / BEST_DIR / ENSEMBLE_FILE
    if not path.is_file() or path.is_symlink():
        return f"it has no {ENSEMBLE_FILE}"
    if sha256_of(path) != record["ensemble_sha256"]:
        return f"{ENSEMBLE_FILE} is not the ensemble this run saved (its SHA-256 is not the one {ENSEMBLE_JSON} records)"
    return None


def _record_identity(run_dir: Path, record: dict) -> str:
    """What the seal of an ensemble record binds: the npz's SHA-256, the members' trial ids and the run
    (its experiment.yaml's provenance: start, command, run id), so a copy of another run's pair does
    not prove to be this run's."""
    from .results.records import read_experiment_document

    members = record.get("members")
    return json.dumps({"ensemble_sha256": record.get("ensemble_sha256"),
                       "members": [m.get("trial_id") if isinstance(m, dict) else None
                                   for m in (members if isinstance(members, list) else [])],
                       "run": read_experiment_document(run_dir).get("provenance")}, sort_keys=True, default=str)


def _own_record_problem(run_dir: Path) -> str | None:
    """Why ``best/ensemble.json`` is not a record this run wrote (a link, damaged, or its seal does not
    bind it to this run), or None."""
    path = Path(run_dir) / BEST_DIR / ENSEMBLE_JSON
    if path.is_symlink() or not path.is_file():
        return f"{ENSEMBLE_JSON} is not a file"
    try:
        record = read_ensemble_record(run_dir)
    except SweepError as exc:
        return str(exc)
    return unsealed_problem(SEAL_KIND, _record_identity(run_dir, record), {}, record.get("seal"))


def remove_earlier_ensemble(run_dir: Path, reason: str, warn=print) -> None:
    """Remove the ensemble an earlier call of this run saved, when this call saves the best model again
    without one (a run resumed with ``ensemble: false``): left there, it would stand beside a best model
    it was not made with. Removed only when it proves to be the run's own: ensemble.json sealed as this
    run's record, and ensemble.npz the file it names by SHA-256 or no entry at all (a kill between the
    two writes). Anything else (a link, another run's pair, a file the user put there) is left, with
    a warning; nothing is followed."""
    best = Path(run_dir) / BEST_DIR
    record, npz = best / ENSEMBLE_JSON, best / ENSEMBLE_FILE
    present = [p.name for p in (record, npz) if os.path.lexists(p)]
    if not present:
        return
    problem = _own_record_problem(run_dir) if os.path.lexists(record) else f"there is no {ENSEMBLE_JSON}"
    if problem is None and os.path.lexists(npz):  # its members and best trial may be earlier ones: not checked
        problem = _npz_problem(run_dir, read_ensemble_record(run_dir))
    if problem is not None:
        warn(f"warning: {best}: {' and '.join(present)} {'is' if len(present) == 1 else 'are'} left as "
             f"{'it is' if len(present) == 1 else 'they are'}, though this run makes no ensemble ({reason}): "
             f"not an ensemble this run saved ({problem})")
        return
    try:
        npz.unlink(missing_ok=True)
        record.unlink()
    except OSError as exc:
        warn(f"warning: {best}: cannot remove the ensemble of an earlier call ({exc.strerror or exc}); it "
             f"stays beside a best model it was not made with")
        return
    warn(f"{best}: the ensemble of an earlier call is removed ({reason})")


class Ensemble:
    """A saved ensemble that predicts on raw inputs (as :class:`~sweep.modelfile.Model` does: the rows
    the data set's loader reads, (N, D) or (N, *shape), any real dtype): the members' class
    probabilities summed in the order they were picked, over its size. ``record`` is
    ``best/ensemble.json``; ``nets`` the members' networks, ``weights`` their shares."""

    def __init__(self, nets: list, order: list[int], preprocessing, record: dict):
        self.nets, self.order, self.preprocessing, self.record = nets, order, preprocessing, record

    @property
    def weights(self) -> list[float]:
        return [self.order.count(n) / len(self.order) for n in range(len(self.nets))]

    def transform(self, X) -> np.ndarray:
        return np.asarray(X) if self.preprocessing is None else self.preprocessing.apply(X)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (N, C), float64, for raw inputs ``X``."""
        from .trainer import scores_of

        X = self.transform(X)
        return combine([softmax(scores_of(net, X)) for net in self.nets], self.order)

    def predict(self, X) -> np.ndarray:
        """Predicted class labels (N,) for raw inputs ``X``."""
        return self.predict_proba(X).argmax(axis=1)

    def accuracy(self, X, y) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def __repr__(self) -> str:
        return (f"Ensemble({len(self.nets)} members, size {len(self.order)}, val_acc {self.record.get('val_acc')}, "
                f"test_acc {self.record.get('test_acc')})")


def load_ensemble(run_dir: Path) -> Ensemble | None:
    """The run's saved ensemble, or None when it has none. SweepError (one line) when ensemble.npz is not
    the file ensemble.json names by its SHA-256 (a replaced or edited file), or is damaged."""
    run_dir = Path(run_dir)
    path = run_dir / BEST_DIR / ENSEMBLE_FILE
    if not (run_dir / BEST_DIR / ENSEMBLE_JSON).is_file() and not path.exists():
        return None
    problem = ensemble_problem(run_dir)
    if problem:
        raise SweepError(f"{run_dir / BEST_DIR}: {problem}; `sweep run EXP.yaml --resume {run_dir}` makes the "
                         "ensemble again")
    record = read_ensemble_record(run_dir)
    try:
        return _read(path, record)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise SweepError(f"{path} is damaged ({str(exc).splitlines()[0][:160]})") from None


def _read(path: Path, record: dict) -> Ensemble:
    from .data.transform import Preprocessing
    from .memory import npz_bytes

    npz_bytes(path, str(path))
    with np.load(path, allow_pickle=False) as f:
        header = json.loads(str(f["__header__"]))
        if not isinstance(header, dict) or header.get("format") != FORMAT or not isinstance(header.get("members"), list):
            raise ValueError("not an ensemble sweep wrote")
        n = len(header["members"])
        order = header["order"]
        if not n or not isinstance(order, list) or not order or \
                not all(isinstance(i, int) and 0 <= i < n for i in order):
            raise ValueError("its order of members is damaged")
        nets = []
        for i, member in enumerate(header["members"]):
            prefix = f"member{i}/"
            arrays = {name.removeprefix(prefix): f[name] for name in f.files if name.startswith(prefix)}
            nets.append(_member_net(member, arrays, f"member {i}"))
        preprocessing = None
        if header.get("preprocessing") is not None:
            preprocessing = Preprocessing.from_saved(header["preprocessing"],
                                                     {name: f[name] for name in f.files if name.startswith("prep/")},
                                                     str(path))
    return Ensemble(nets, order, preprocessing, record)


def _member_net(member: dict, arrays: dict, what: str):
    """A member's model from its record and arrays: a built-in net, its arrays' shapes checked against its
    hyperparameters before the net is built; or a user's model, rebuilt from the text of its file (its
    code runs, as for :func:`~sweep.modelfile.load_model_file`)."""
    from .nn import FullyConnectedNet, TwoLayerNet
    from .nn.fc_net import _saved_shapes

    if isinstance(member, dict) and member.get("format") == USER_FORMAT:
        return rebuild_user_model(member, arrays, what)
    hp = member.get("hyperparameters") if isinstance(member, dict) else None
    if not isinstance(hp, dict):
        raise ValueError(f"{what}: its hyperparameters are damaged")
    if member.get("class") == "TwoLayerNet":
        sizes = [hp.get(k) for k in ("input_dim", "hidden_dim", "num_classes")]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sizes):
            raise ValueError(f"{what}: its hyperparameters are damaged")
        d, h, c = sizes
        shapes = {"W1": (d, h), "b1": (h,), "W2": (h, c), "b2": (c,)}
    elif member.get("class") == "FullyConnectedNet":
        shapes = _saved_shapes(hp, len(arrays) + 1, what)
    else:
        raise ValueError(f"{what}: not a built-in net")
    if set(arrays) != set(shapes) or any(tuple(arrays[k].shape) != tuple(shapes[k]) for k in shapes):
        raise ValueError(f"{what}: its arrays are not shaped as its hyperparameters say")
    if member["class"] == "TwoLayerNet":
        rest = {k: v for k, v in hp.items() if k not in ("input_dim", "hidden_dim", "num_classes")}
        net = TwoLayerNet(d, h, c, **rest)
    else:
        net = FullyConnectedNet(**hp)
    for store in (net.params, getattr(net, "buffers", {})):
        for name in store:
            store[name] = np.ascontiguousarray(arrays[name], dtype=net.dtype)
    return net

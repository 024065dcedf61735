"""Early termination, W&B's ``early_terminate: {type: hyperband, ...}``, decided in plan order.

Milestones ("brackets") are epochs, computed as W&B's sweeps code does:

- ``min_iter: m`` -> ``m, m*eta, m*eta**2, ...``;
- ``max_iter: M, s: S`` -> ``M/eta, M/eta**2, ... M/eta**S`` (each truncated to a whole number, those
  below 1 dropped, sorted); ``max_iter`` wins when both are given.

Only milestones below a trial's ``epochs`` matter. At a milestone ``b`` W&B compares a run with
every run that has reached ``b``: with the metric oriented so that lower is better (negated for
``goal: maximize``), the ``b``-th values of those runs are sorted and the run is stopped when its
value is above ``sorted[int(n / eta)]`` (so about ``n / eta`` runs go on). With ``strict: true``
(the default of W&B's code; its documentation says false) the run is judged by its value at
``b``; otherwise by its best value up to ``b``, which stops fewer runs (the cut is made of the
values at ``b`` either way).

W&B decides from whichever runs happened to reach ``b`` first, so its first runs are never
stopped. Here trials are judged in cohorts, the rounds the search hands them out in: a grid, or a
random search with ``run_cap``, is one cohort (synchronous successive halving); bayes gives rounds
of 4 configurations and open-ended random rounds of 8. A trial waits at ``b`` until every trial of
its cohort and of the cohorts before it has reached ``b`` or ended, and is compared with all of
those that reached it. Every decision therefore depends on the plan alone: the trials stopped and
promoted are the same for any ``n_jobs``, backend and order of completion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import shown

#: Keys of an ``early_terminate`` block.
KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
#: Most milestones ``min_iter`` makes (W&B's code makes 100).
MAX_BANDS = 100
TYPES = ("hyperband",)


@dataclass(frozen=True)
class Hyperband:
    """A validated ``early_terminate`` block (see the module docstring)."""

    eta: float = 3.0
    min_iter: int | None = None
    max_iter: int | None = None
    s: int | None = None
    strict: bool = True

    def milestones(self, epochs: int) -> tuple[int, ...]:
        """The milestone epochs below ``epochs``, in increasing order."""
        bands: list[int] = []
        if self.max_iter is not None:
            band = float(self.max_iter)
            for _ in range(self.s):
                band /= self.eta
                if band < 1:
                    break
                bands.append(int(band))
        else:
            band = float(self.min_iter)
            for _ in range(MAX_BANDS):  # as W&B's code: an eta just above 1 must not loop for ever
                if band >= epochs:
                    break
                bands.append(int(band))
                band *= self.eta
        return tuple(sorted({b for b in bands if 1 <= b < epochs}))

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"type": "hyperband", "eta": self.eta, "strict": self.strict}
        for key in ("min_iter", "max_iter", "s"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def parse_early_terminate(spec: Any) -> Hyperband:
    """Read an ``early_terminate`` block; ValueError ``(key, message)`` says what is wrong."""
    if not isinstance(spec, Mapping):
        raise ValueError(None, f"must be a mapping such as {{type: hyperband, min_iter: 3}}, got {shown(spec)}")
    for key in spec:
        if key not in KEYS:
            raise ValueError(key, f"unknown key; allowed: {', '.join(KEYS)}")
    if spec.get("type") not in TYPES:
        raise ValueError("type", f"{shown(spec.get('type'))} is not allowed; allowed: {', '.join(TYPES)}")
    values: dict[str, Any] = {}
    for key in ("min_iter", "max_iter", "s"):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(key, f"{shown(value)} is not allowed; {key} must be a whole number >= 1")
        values[key] = value
    eta = spec.get("eta", 3)
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not (1 < eta < math.inf):
        raise ValueError("eta", f"{shown(eta)} is not allowed; eta must be a number > 1")
    strict = spec.get("strict", True)
    if not isinstance(strict, bool):
        raise ValueError("strict", f"{shown(strict)} is not allowed; strict is true or false")
    if values["max_iter"] is not None and values["s"] is None:
        raise ValueError("max_iter", "max_iter needs s (how many milestones below max_iter); or give min_iter")
    if values["max_iter"] is None and values["min_iter"] is None:
        raise ValueError(None, "hyperband needs min_iter, or max_iter and s; e.g. {type: hyperband, min_iter: 3}")
    return Hyperband(eta=float(eta), strict=strict, **values)


def milestone_value(records: list[dict], epoch: int, metric: str, maximize: bool, best_so_far: bool = False) -> float:
    """A trial's value at ``epoch`` (lower is better) from its per-epoch records: the value there,
    or with ``best_so_far`` the best value up to there (``best_val_acc`` is a best so far already)."""
    def oriented(record):
        value = record["val_acc"] if metric == "best_val_acc" else record[metric]
        return -value if maximize else value

    values = [oriented(r) for r in records[:epoch]]
    if metric == "best_val_acc" or best_so_far:
        return min(values)
    return values[epoch - 1]


class MilestoneRule:
    """The stop-or-go decisions of one sweep, made in plan order.

    Trials are known by their plan index. Tell it the :meth:`cohort` of each round of trials handed
    out, :meth:`reached` for each milestone a trial reaches (its value there, and its best value up
    to there) and :meth:`ended` when a trial will train no more; :meth:`decide` is then True (go on),
    False (stop) or None (wait for a trial of its cohort or planned before it). A trial of no known
    cohort is a cohort of its own. As in W&B's code, the cut is made of the values at the
    milestone; the trial judged is compared by its value there (``strict``) or by its best value so far.
    """

    def __init__(self, hyperband: Hyperband, milestones: tuple[int, ...]):
        self.eta, self.strict = hyperband.eta, hyperband.strict
        self.milestones = milestones
        self.values: dict[int, dict[int, float]] = {}  # plan index -> {milestone: value there}
        self.best: dict[int, dict[int, float]] = {}  # plan index -> {milestone: best value up to there}
        self.last_epoch: dict[int, int] = {}  # plan index -> epochs trained, for trials that ended
        self.compared_up_to: dict[int, int] = {}  # plan index -> 1 + the last plan index of its cohort

    def cohort(self, indices: list[int]) -> None:
        """Trials handed out together: each is judged only when all of them can be."""
        if indices:
            end = max(indices) + 1
            self.compared_up_to.update((index, end) for index in indices)

    def reached(self, index: int, milestone: int, value: float, best_so_far: float | None = None) -> None:
        self.values.setdefault(index, {})[milestone] = value
        self.best.setdefault(index, {})[milestone] = value if best_so_far is None else best_so_far

    def ended(self, index: int, epochs_trained: int) -> None:
        self.last_epoch[index] = epochs_trained

    def threshold(self, index: int, milestone: int) -> float | None:
        """The value above which trial ``index`` stops at ``milestone``; None while it must wait."""
        values = []
        for other in range(self.compared_up_to.get(index, index + 1)):
            value = self.values.get(other, {}).get(milestone)
            if value is not None:
                values.append(value)
            elif other == index or other not in self.last_epoch:
                return None  # not there yet (or not even started): wait for it
        values.sort()
        return values[int((1.0 / self.eta) * len(values))]

    def judged(self, index: int, milestone: int) -> float:
        """The value trial ``index`` is judged by at ``milestone``."""
        return (self.values if self.strict else self.best)[index][milestone]

    def decide(self, index: int, milestone: int) -> bool | None:
        threshold = self.threshold(index, milestone)
        if threshold is None:
            return None
        value = self.judged(index, milestone)
        return not (value > threshold or math.isnan(value))

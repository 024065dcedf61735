"""The ranking rule on plain rows: how configurations rank, and which trial is "the best".

One rule for two readers: ``sweep run`` chooses its best model with :func:`best_row` on the rows of
trials.csv (without pandas, half a second to import), and the leaderboard and the trial ranking of
:mod:`sweep.results.analysis` order their DataFrames by :func:`config_order` and :func:`rank_rows`.

A row is a mapping with ``trial_id``, ``config_id``, ``status``, ``order`` (1-based completion
order) and the metric columns as floats (NaN when missing).
"""

from __future__ import annotations

import math
from collections import Counter

from ..status import DIVERGED, OK, STOPPED

#: Sort order of statuses: finished runs by the metric, then stopped runs by the metric of the last
#: epoch they trained, then diverged, then runs with no result.
STATUS_RANK = {OK: 0, STOPPED: 1, DIVERGED: 2}
#: Statuses whose metric counts: the trial trained, to its end or to where it was stopped.
SCORED = (OK, STOPPED)


def tie_break(metric: str) -> str:
    """Second sort key: among equal accuracies (common on small validation sets) the lower loss wins."""
    return "val_loss" if metric != "val_loss" else "train_loss"


def status_rank(status: str) -> int:
    return STATUS_RANK.get(status, len(STATUS_RANK))


def _mean(values) -> float:
    """The mean of the values that are not NaN (NaN when there is none), as pandas computes it."""
    present = [v for v in values if not math.isnan(v)]
    return math.fsum(present) / len(present) if present else math.nan


def _nan_last(value: float) -> tuple:
    return (True, 0.0) if math.isnan(value) else (False, value)


def config_order(rows, metric: str, maximize: bool) -> list[str]:
    """Configuration ids, best first.

    Configurations whose repeats all finished ``ok`` come first, ranked by the mean of their metric;
    then those with a stopped repeat, then those with a diverged or failed one (ranked by the mean
    of their ``ok`` and ``stopped`` repeats, so one lucky seed does not beat three steady ones);
    those with no such repeat come last. Ties go to the lower mean validation loss, then to the
    configuration that finished a trial first.
    """
    tie = tie_break(metric)
    configs: dict[str, dict] = {}
    for row in rows:
        c = configs.setdefault(row["config_id"], {"first": row["order"], "worst": 0, "values": [], "ties": []})
        c["first"] = min(c["first"], row["order"])
        c["worst"] = max(c["worst"], status_rank(row["status"]))
        if row["status"] in SCORED:
            c["values"].append(row[metric])
            c["ties"].append(row.get(tie, math.nan))

    def key(item):
        c = item[1]
        mean = _mean(c["values"])
        return (math.isnan(mean), c["worst"], _nan_last(-mean if maximize else mean), _nan_last(_mean(c["ties"])),
                c["first"])

    return [config_id for config_id, _ in sorted(configs.items(), key=key)]


def rank_rows(rows, metric: str, maximize: bool) -> list:
    """Trials best first: ``ok`` by the metric, then ``stopped`` by the metric of the last epoch they
    trained, then ``diverged``, then ``failed`` / ``crashed``; ties to the lower validation loss,
    then to the earlier trial."""
    tie = tie_break(metric)
    return sorted(rows, key=lambda r: (status_rank(r["status"]), _nan_last(-r[metric] if maximize else r[metric]),
                                       _nan_last(r.get(tie, math.nan)), r["order"]))


def best_row(rows, metric: str, maximize: bool):
    """The trial whose model is "the best": the best repeat of the configuration ranked first.

    None when no trial finished ``ok`` or ``stopped`` with a metric.
    """
    scored = [r for r in rows if r["status"] in SCORED and not math.isnan(r[metric])]
    if not scored:
        return None
    counts = Counter(r["config_id"] for r in scored)
    best_config = next(c for c in config_order(rows, metric, maximize) if counts[c])
    return rank_rows([r for r in scored if r["config_id"] == best_config], metric, maximize)[0]

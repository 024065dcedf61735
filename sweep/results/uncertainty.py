"""Is the winner really better? The uncertainty of each configuration's metric, and which ones are tied
with the best.

A validation accuracy ``p`` measured on ``n`` rows is a binomial proportion: its standard error is
``sqrt(p (1 - p) / n)`` (on 288 rows, 0.83 is give or take 0.022). Over ``k`` repeats (seeds) of a
configuration the seeds add their own spread: the standard error of the mean is then
``sqrt(p (1 - p) / n + std^2 / k)`` (the validation rows are the same for every seed, so their part is not
divided by ``k``). Without ``n`` (a program sweep, a loss, a run whose best model is not saved yet) only
the seeds' part is known, and only when there are repeats; otherwise there is no standard error.

A configuration is *tied with the best* when ``|best - x| <= 2 * sqrt(se_best^2 + se_x^2)``: the two
differ by no more than twice the standard error of their difference (about a 95% interval, read
loosely: the configurations are compared on the same validation rows, which makes the rule cautious).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Metrics that are a proportion of the validation rows (their binomial standard error needs n_val).
VALIDATION_ACCURACIES = ("val_acc", "best_val_acc")
#: How many standard errors of the difference apart two scores may be and still be tied.
TIE_SIGMAS = 2.0
#: The rule, for captions and footers (and in ASCII, for the command line).
TIE_RULE = "|best − x| ≤ 2·√(se_best² + se_x²)"
TIE_RULE_ASCII = "|best - x| <= 2*sqrt(se_best^2 + se_x^2)"


def binomial_se(p, n):
    """Standard error of a proportion ``p`` measured on ``n`` rows: ``sqrt(p (1 - p) / n)`` (NaN when
    ``p`` is not in [0, 1] or ``n`` is not positive). Works on scalars and arrays."""
    p = np.asarray(p, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(p * (1 - p) / n) if n and n > 0 else np.full(p.shape, np.nan)
    se = np.where((p >= 0) & (p <= 1), se, np.nan)
    return float(se) if se.ndim == 0 else se


def standard_errors(metric: str, mean, std, count, n_val: int | None) -> np.ndarray:
    """The standard error of each configuration's mean ``metric`` (see the module docstring): the
    binomial part when ``metric`` is a validation accuracy and ``n_val`` is known, plus ``std^2 / count``
    when a configuration has two scored repeats or more; NaN when neither is known."""
    mean = np.asarray(mean, dtype=float)
    std = np.asarray(std, dtype=float)
    count = np.asarray(count, dtype=float)
    binomial = binomial_se(mean, n_val) ** 2 if metric in VALIDATION_ACCURACIES and n_val else np.full(mean.shape,
                                                                                                        np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        seeds = np.where((count > 1) & np.isfinite(std), std ** 2 / count, np.nan)
    both = np.where(np.isnan(binomial), 0.0, binomial) + np.where(np.isnan(seeds), 0.0, seeds)
    known = ~np.isnan(binomial) | ~np.isnan(seeds)
    return np.where(known & np.isfinite(mean), np.sqrt(both), np.nan)


def tied_with_best(values, ses, best: int = 0) -> np.ndarray:
    """Which entries are statistically tied with entry ``best``: ``|values[best] - x| <= 2 * sqrt(se_best^2
    + se_x^2)``. The best is tied with itself; an entry without a value or a standard error (or any, when
    the best has none) is not."""
    values = np.asarray(values, dtype=float)
    ses = np.asarray(ses, dtype=float)
    if not len(values) or not (np.isfinite(values[best]) and np.isfinite(ses[best])):
        return np.zeros(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        tied = np.abs(values - values[best]) <= TIE_SIGMAS * np.sqrt(ses[best] ** 2 + ses ** 2)
    tied = tied & np.isfinite(values) & np.isfinite(ses)
    tied[best] = True
    return tied


def add_uncertainty(board: pd.DataFrame, metric: str, n_val: int | None) -> pd.DataFrame:
    """``board`` (a leaderboard, best first: :func:`sweep.results.analysis.leaderboard`) with the columns
    ``<metric>_se`` and ``tied`` (with the first row) when some configuration has a standard error;
    ``board`` unchanged otherwise."""
    mean, std = f"{metric}_mean", f"{metric}_std"
    if board.empty or mean not in board:
        return board
    ses = standard_errors(metric, board[mean], board[std] if std in board else np.nan, board["ok"], n_val)
    if not np.isfinite(ses).any():
        return board
    board = board.copy()
    board[f"{metric}_se"] = ses
    board["tied"] = tied_with_best(board[mean].to_numpy(dtype=float), ses, 0)
    return board


def describe(metric: str, n_val: int | None, repeats: int, program: bool = False, ascii: bool = False) -> str:
    """One sentence on where the standard errors come from (or why there are none), for a caption;
    ``ascii`` for a terminal."""
    text = _describe(metric, n_val, repeats, program)
    if ascii:
        for fancy, plain in (("√(p(1−p)/n)", "sqrt(p(1-p)/n)"), ("std²/k", "std^2/k"), ("std/√k", "std/sqrt(k)"),
                             ("≈", "~"), (TIE_RULE, TIE_RULE_ASCII)):
            text = text.replace(fancy, plain)
    return text


def _describe(metric: str, n_val: int | None, repeats: int, program: bool) -> str:
    accuracy = metric in VALIDATION_ACCURACIES
    if accuracy and n_val:
        text = f"se is the standard error √(p(1−p)/n) of an accuracy on the n = {n_val} validation rows"
        if repeats > 1:
            text += f", plus the spread of the {repeats} seeds (std²/k)"
    elif repeats > 1:
        why = ("a program's validation set size is not known" if program else
               "the metric is not an accuracy" if not accuracy else
               "the validation set size is recorded with the best model, which is not saved yet")
        text = f"se is the standard error of the mean over the seeds (std/√k) only: {why}"
    else:
        why = ("a program sweep's validation set size is not known and it has one seed per configuration"
               if program else "the metric is not an accuracy and there is one seed per configuration"
               if not accuracy else "the validation set size is recorded with the best model, which is not saved yet")
        return f"No standard errors: {why}."
    return f"{text}; ≈ marks configurations statistically tied with the best: {TIE_RULE}."


def fmt_se(value) -> str:
    """A standard error as shown beside a metric: four decimals, or "" when unknown."""
    return "" if value is None or not math.isfinite(float(value)) else f"{float(value):.4f}"

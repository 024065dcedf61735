"""Parameter importance: how much of the metric's variation each searched parameter explains.

    run = sweep.load_run("results/digits-random/20261201-101500")
    run.importance()           # pandas Series: parameter -> share, summing to 1, largest first

The numbers are Optuna's fANOVA (Hutter et al., 2014) as ``optuna.importance.get_param_importances``
computes them with ``FanovaImportanceEvaluator(seed=0)``: a random forest (64 trees) is fitted to
the trials' metric over the search space, and each parameter's importance is the share of the
forest's variance that parameter explains alone (its main effect), normalised so the shares sum to 1.
Interactions are not counted, so a parameter that matters only together with another gets little.

What goes in, and why:

- **Trials**: those that finished ``ok`` with a finite metric. ``stopped`` trials are left out: a
  hyperband or time-limit stop scores the epoch (or iteration) the trial reached, which is not
  comparable with a finished trial's score; ``diverged``, ``failed`` and ``crashed`` trials have no
  metric to explain. Repeats of a configuration count one by one (the forest sees their spread). The
  trials go to the forest in trial-id order, so the numbers do not depend on the order trials
  finished in (``n_jobs``, the backend). Fewer than :data:`MIN_TRIALS` such trials is a SweepError.
- **Parameters**: the searched ones (W&B's ``parameters``) that take more than one value among those
  trials; fixed and constant ones are left out. No such parameter is a SweepError.
- **The space**: each parameter's distribution as the bayes strategy hands it to Optuna
  (:func:`sweep.strategies.bayes.optuna_distribution`), so its bounds are the experiment's, not the
  values the trials happened to draw: ``values`` is categorical, ``int_uniform`` an integer range,
  the ``[q_]uniform`` kinds a float range, the normal and beta kinds their quantile in (0, 1).
  Log-scaled kinds (``log_uniform_values`` and the rest) are given to the forest as ``log10`` of the
  value over ``log10`` of the bounds: Optuna's fANOVA works in the distribution's own scale
  (``transform_log=False``), where a learning rate between 1e-4 and 1e-1 would spend 99 % of its
  range above 1e-3. A parameter whose block cannot be read back from experiment.yaml (or whose
  values fall outside it) is described by the values the trials took: a float range for numbers,
  categorical otherwise.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from ..errors import SweepError
from ..status import OK, STOPPED

#: The fewest finished ``ok`` trials importance is computed from: below this the forest explains noise.
MIN_TRIALS = 4
#: What the numbers are, for captions.
METHOD = "fANOVA"


def parameter_importance(run, seed: int = 0) -> pd.Series:
    """The importance of each searched parameter of ``run`` (a :class:`~sweep.results.Run`) for its
    metric: a Series ``parameter -> share`` (name ``importance``), summing to 1, largest first.

    ``series.attrs`` says what it was computed from: ``trials`` (how many), ``metric``, ``method``
    (``fANOVA``), ``seed``, ``stopped`` (trials left out because they were stopped early) and
    ``notes`` (parameters described by their values rather than their distribution). SweepError,
    in one line, when there are too few trials or no parameter that varies.
    """
    trials, stopped = _scored_trials(run)
    if len(trials) < MIN_TRIALS:
        left = f"; {stopped} stopped early are left out (their metric is from fewer epochs)" if stopped else ""
        raise SweepError(f"{run.run_dir}: not enough trials for parameter importance: it needs at least {MIN_TRIALS} "
                         f"trials finished ok with a {run.metric}, the run has {len(trials)}{left}")
    names = [p for p in run.params if p in trials and trials[p].nunique(dropna=False) > 1]
    if not names:
        raise SweepError(f"{run.run_dir}: no searched parameter varies among the {len(trials)} trials finished ok, "
                         "so there is no parameter importance to compute")
    values = trials[run.metric].astype(float)
    if values.nunique() == 1:
        raise SweepError(f"{run.run_dir}: {run.metric} is {values.iloc[0]:.6g} in every one of the {len(trials)} "
                         "trials finished ok: no parameter explains any variation")
    notes: list[str] = []
    spaces = {name: _space(name, run.spec(name), trials[name], notes) for name in names}
    importances = _fanova(trials, values, spaces, run.maximize, seed)
    series = pd.Series(importances, name="importance", dtype=float).reindex(names).fillna(0.0)
    total = series.sum()
    series = series / total if total > 0 else series
    order = sorted(range(len(names)), key=lambda i: (-series.iloc[i], i))  # ties in declared order
    series = series.iloc[order]
    series.index.name = "parameter"
    series.attrs.update(trials=len(trials), metric=run.metric, method=METHOD, seed=seed, stopped=stopped,
                        notes=notes)
    return series


def describe(series: pd.Series) -> str:
    """One line saying what ``series`` (from :func:`parameter_importance`) is."""
    a = series.attrs
    stopped = f"; {a['stopped']} stopped early left out" if a.get("stopped") else ""
    return (f"{a.get('method', METHOD)} (Optuna's FanovaImportanceEvaluator, seed {a.get('seed', 0)}) over "
            f"{a.get('trials', '?')} trials finished ok{stopped}: the share of {a.get('metric', 'the metric')}'s "
            "variation each searched parameter explains alone")


def _scored_trials(run) -> tuple[pd.DataFrame, int]:
    """The ``ok`` trials with a finite metric, in trial-id order; and how many ``stopped`` ones were left out."""
    trials = run.trials
    if trials.empty or run.metric not in trials:
        return trials.iloc[0:0], 0
    metric = pd.to_numeric(trials[run.metric], errors="coerce").astype(float)
    finite = np.isfinite(metric.to_numpy())
    ok = trials[(trials["status"] == OK).to_numpy() & finite]
    stopped = int(((trials["status"] == STOPPED).to_numpy() & finite).sum())
    ok = ok.assign(**{run.metric: metric[ok.index]})
    params = [p for p in run.params if p in ok]
    ok = ok.dropna(subset=params)  # a searched parameter without a value cannot be placed in the space
    return ok.sort_values("trial_id", kind="stable").reset_index(drop=True), stopped


class _Space:
    """One parameter as the forest sees it: an Optuna distribution and the function from a trial's value to it."""

    def __init__(self, distribution, to_internal):
        self.distribution = distribution
        self.to_internal = to_internal


def _space(name: str, spec, values: pd.Series, notes: list[str]) -> _Space:
    """The space of parameter ``name`` from its W&B block ``spec`` (see the module docstring)."""
    from ..space import SpaceError, parse_distribution
    from ..strategies.bayes import internal_of, optuna_distribution

    if spec is not None:
        try:
            dist = parse_distribution(spec)
            distribution = optuna_distribution(dist)
            internal = [internal_of(dist, v) for v in values]
        except (SpaceError, ValueError, TypeError, OverflowError) as exc:
            notes.append(f"{name}: its distribution in experiment.yaml does not fit the trials' values ({exc}); "
                         "described by the values instead")
        else:
            if getattr(distribution, "log", False):
                return _log10_space(distribution)
            return _Space(distribution, lambda v, dist=dist: internal_of(dist, v))
    else:
        notes.append(f"{name}: no distribution in experiment.yaml; described by the trials' values")
    return _observed_space(values)


def _log10_space(distribution) -> _Space:
    """A log-scaled FloatDistribution as a plain one over log10 of its bounds (fANOVA's transform is linear)."""
    from optuna.distributions import FloatDistribution

    low, high = math.log10(distribution.low), math.log10(distribution.high)
    return _Space(FloatDistribution(low, high),
                  lambda v: min(max(math.log10(min(max(float(v), distribution.low), distribution.high)), low), high))


def _observed_space(values: pd.Series) -> _Space:
    """A parameter described by the values it took: a float range for numbers, else categorical."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype(float)
        return _Space(FloatDistribution(float(numbers.min()), float(numbers.max())), float)
    choices = sorted({str(v) for v in values})
    return _Space(CategoricalDistribution(choices), str)


def _fanova(trials: pd.DataFrame, values: pd.Series, spaces: dict, maximize: bool, seed: int) -> dict:
    """Optuna's normalised fANOVA importances of an in-memory study holding ``trials``."""
    from ..strategies.bayes import _optuna

    optuna = _optuna()  # its logging quietened
    distributions = {name: space.distribution for name, space in spaces.items()}
    study = optuna.create_study(direction="maximize" if maximize else "minimize")
    columns = {name: trials[name].tolist() for name in spaces}
    study.add_trials([
        optuna.trial.create_trial(params={name: spaces[name].to_internal(columns[name][i]) for name in spaces},
                                  distributions=distributions, value=float(values.iloc[i]))
        for i in range(len(trials))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's experimental-feature notes are not the user's business
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        return optuna.importance.get_param_importances(study, evaluator=evaluator, params=list(spaces),
                                                       normalize=True)

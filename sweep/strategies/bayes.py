"""Bayesian optimisation, W&B's ``method: bayes``: Optuna's TPE sampler through its ask/tell interface.

Reproducible for any number of workers: configurations are proposed in rounds of
:data:`ROUND_CONFIGURATIONS` (not of ``n_jobs``), and a round's results are told to the sampler in
plan order once all of them are in, so which trials run never depends on which finished first,
on the pool or on the backend. ``--resume`` asks again from the start and tells the recorded
results, which replays the same proposals (the sampler is seeded from the experiment's seed).

W&B's distributions map onto Optuna's so that TPE's prior is the distribution itself:

================================  =================================================================
W&B                               searched by TPE as
================================  =================================================================
``values`` (categorical)          a categorical over the positions of the values (any value type;
                                  ``probabilities``, W&B's ``categorical_w_probabilities`` too,
                                  are not used by TPE, whose prior is uniform)
``int_uniform``                   ``IntDistribution(min, max)``
``uniform``                       ``FloatDistribution(min, max)``
``q_uniform``                     ``FloatDistribution(min, max)``, rounded to a multiple of ``q``
``log_uniform[_values]``,         ``FloatDistribution(low, high, log=True)`` over the support
``inv_log_uniform[_values]``      (log X uniform in all four; exponents turned into values)
``q_log_uniform[_values]``        the same, rounded to a multiple of ``q`` as W&B does
``[q_][log_]normal``, ``[q_]beta``  a uniform ``u`` in (0, 1) through the inverse CDF (exp of the
                                  normal's for log_normal), rounded for the ``q_`` kinds
================================  =================================================================

A configuration
whose repeats all failed or diverged is told to TPE as failed (TPE leaves failed trials out of
its model); otherwise the mean of the metric over its ``ok`` and ``stopped`` repeats.
"""

from __future__ import annotations

import math
import statistics
import warnings

import numpy as np

from ..config import Experiment
from ..errors import ConfigError
from ..plan import TrialMaker, TrialSpec
from ..results.ranking import SCORED
from ..space import Distribution, quantize
from ..task import TrialResult
from .base import Strategy

#: Configurations proposed per round: the sampler sees every result of a round before the next.
ROUND_CONFIGURATIONS = 4
#: Configurations drawn at random before TPE models the results (Optuna's default).
STARTUP_CONFIGURATIONS = 10
#: Proposals in a row a hyperparameter may refuse before the search gives up.
MAX_REFUSED = 100
_SEED_STREAM = 0xBA7E5
#: ``u`` of the inverse-CDF kinds stays this far inside (0, 1), where the normal's inverse is finite.
_U_MARGIN = 1e-12


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def optuna_distribution(dist: Distribution):
    """The Optuna distribution TPE searches for ``dist`` (see the table in the module docstring)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    kind = dist.kind
    if kind in ("constant", "categorical"):
        return CategoricalDistribution(list(range(len(dist.values))))
    if kind == "int_uniform":
        return IntDistribution(int(dist.min), int(dist.max))
    if kind == "uniform":
        return FloatDistribution(float(dist.min), float(dist.max))
    if kind == "q_uniform":  # W&B: round(X / q) * q of a uniform X, so the ends count half
        return FloatDistribution(float(dist.min), float(dist.max))
    if "log_uniform" in kind:
        low, high = dist.support()
        return FloatDistribution(low, high, log=True) if high > low else FloatDistribution(low, high)
    if kind.removeprefix("q_") in ("normal", "log_normal", "beta"):
        return FloatDistribution(_U_MARGIN, 1.0 - _U_MARGIN)
    raise ValueError(f"bayes cannot search a {kind} distribution")


def value_of(dist: Distribution, internal):
    """The hyperparameter value of TPE's ``internal`` proposal for ``dist``."""
    kind = dist.kind
    if kind in ("constant", "categorical"):
        return dist.values[int(internal)]
    if kind == "int_uniform":
        return int(internal)
    if kind in ("uniform", "q_uniform") or "log_uniform" in kind:
        x = float(internal)
    elif "beta" in kind:  # u through the inverse CDF
        from scipy.stats import beta

        x = float(beta.ppf(float(internal), dist.a, dist.b))
    else:
        x = statistics.NormalDist(dist.mu, dist.sigma).inv_cdf(float(internal))
        if "log_normal" in kind:
            x = math.exp(min(x, 700.0))
    return quantize(x, dist.q) if dist.is_quantized else x


def internal_of(dist: Distribution, value):
    """The inverse of :func:`value_of`: the value of :func:`optuna_distribution` ``(dist)`` that gives the
    hyperparameter ``value`` (as read back from trials.csv), kept inside that distribution's bounds (a
    ``q_`` kind's rounding may step past them). ValueError when ``value`` is not one ``dist`` can give."""
    kind = dist.kind
    if kind in ("constant", "categorical"):
        return _position(dist.values, value)
    if kind == "int_uniform":
        return min(max(int(value), int(dist.min)), int(dist.max))
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{value!r} is not a finite number")
    if kind in ("uniform", "q_uniform") or "log_uniform" in kind:
        low, high = (dist.min, dist.max) if "log_uniform" not in kind else dist.support()
        return min(max(x, float(low)), float(high))
    if "beta" in kind:
        from scipy.stats import beta

        u = float(beta.cdf(x, dist.a, dist.b))
    else:
        if "log_normal" in kind:
            if x <= 0:
                raise ValueError(f"{value!r} is not a log_normal value (> 0)")
            x = math.log(x)
        u = statistics.NormalDist(dist.mu, dist.sigma).cdf(x)
    return min(max(u, _U_MARGIN), 1.0 - _U_MARGIN)


def _position(values: tuple, value) -> int:
    """The position of ``value`` among a categorical's ``values``: equal, or equal once both are written as
    text or read as numbers (a CSV gives ``True`` back for True, ``0.1`` for 0.1, but ``[64, 32]`` as text)."""
    for test in (lambda v: type(v) is type(value) and v == value, lambda v: str(v) == str(value),
                 lambda v: _close(v, value)):
        for i, v in enumerate(values):
            if test(v):
                return i
    raise ValueError(f"{value!r} is not one of its values")


def _close(a, b) -> bool:
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=0.0) or x == y


class BayesSearch(Strategy):
    """TPE proposals in rounds of :data:`ROUND_CONFIGURATIONS` configurations (each run ``repeats``
    times); ``run_cap`` configurations in all, or without it until stopped."""

    def __init__(self, experiment: Experiment):
        super().__init__(experiment)
        optuna = _optuna()
        seed = int(np.random.SeedSequence([experiment.seed, _SEED_STREAM]).generate_state(1)[0])
        with warnings.catch_warnings():  # explicit arguments keep the sampler the same across Optuna versions
            warnings.simplefilter("ignore")
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP_CONFIGURATIONS,
                                                 multivariate=False, constant_liar=False)
        direction = "maximize" if experiment.metric.maximize else "minimize"
        self._study = optuna.create_study(sampler=sampler, direction=direction)
        self._distributions = {name: optuna_distribution(dist) for name, dist in experiment.parameters.items()}
        self._maker = TrialMaker(experiment)
        self._round: list[tuple] = []  # (optuna trial, trials of its configuration) of the round in flight
        self._results: dict[str, TrialResult] = {}  # trial_id -> result, for the round in flight
        self.configurations = 0  # configurations proposed so far

    def plan(self) -> list[TrialSpec]:
        return []

    @property
    def total(self) -> int | None:
        run_cap = self.experiment.run_cap
        return None if run_cap is None else run_cap * self.experiment.repeats

    @property
    def finished(self) -> bool:
        run_cap = self.experiment.run_cap
        return run_cap is not None and self.configurations >= run_cap

    def ask(self) -> list[TrialSpec]:
        if self._round and not self._round_complete():
            return []
        self._tell_round()
        if self.finished:
            return []
        count = ROUND_CONFIGURATIONS
        if self.experiment.run_cap is not None:
            count = min(count, self.experiment.run_cap - self.configurations)
        trials: list[TrialSpec] = []
        for _ in range(count):
            optuna_trial, configuration = self._propose()
            members = self._maker.add([configuration])
            self._round.append((optuna_trial, members))
            trials += members
        self.configurations += count
        return trials

    def tell(self, trial: TrialSpec, result: TrialResult) -> None:
        self._results[trial.trial_id] = result

    def preview(self, count: int) -> list[TrialSpec]:
        fresh = BayesSearch(self.experiment)
        return fresh.ask()[:count]  # later rounds depend on the results

    # ------------------------------------------------------------------------------ helpers
    def _propose(self):
        """One Optuna trial and its configuration; proposals a hyperparameter refuses are told failed."""
        for _ in range(MAX_REFUSED):
            optuna_trial = self._study.ask(fixed_distributions=self._distributions)
            configuration = {name: value_of(dist, optuna_trial.params[name])
                             for name, dist in self.experiment.parameters.items()}
            if all(self.experiment.table[name].accepts(value) for name, value in configuration.items()):
                return optuna_trial, configuration
            self._study.tell(optuna_trial, state=_optuna().trial.TrialState.FAIL)
        raise ConfigError(f"{self.experiment.source or '<experiment>'}: parameters: {MAX_REFUSED} bayes proposals "
                          f"in a row had a value a hyperparameter refuses (the last: {configuration}); narrow the "
                          "distributions")

    def _round_complete(self) -> bool:
        return all(t.trial_id in self._results for _, members in self._round for t in members)

    def _tell_round(self) -> None:
        """Tell the sampler the round's results, in plan order."""
        state = _optuna().trial.TrialState
        metric = self.experiment.metric.name
        for optuna_trial, members in self._round:
            results = [self._results.pop(t.trial_id) for t in members]
            values = [r.metrics.get(metric) for r in results if r.status in SCORED]
            values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
            if values:
                self._study.tell(optuna_trial, float(np.mean(values)))
            else:
                self._study.tell(optuna_trial, state=state.FAIL)
        self._round = []

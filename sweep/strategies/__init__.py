"""Search strategies behind an ask/tell seam (:mod:`.base`): grid (:mod:`.grid`), random
(:mod:`.random`, with ``run_cap`` or open-ended) and Bayesian optimisation (:mod:`.bayes`, Optuna's TPE). :func:`make_strategy` picks one for an experiment's ``method``;
:func:`plan_trials` is the trials a strategy knows before any runs."""

from __future__ import annotations

from ..config import Experiment
from ..plan import TrialSpec
from .base import PlannedSearch, Strategy
from .bayes import BayesSearch
from .grid import GridSearch
from .random import RandomSearch, RandomStream

__all__ = ["BayesSearch", "GridSearch", "PlannedSearch", "RandomSearch", "RandomStream", "Strategy", "make_strategy",
           "plan_trials"]

STRATEGIES = {"grid": GridSearch, "random": RandomSearch, "bayes": BayesSearch}


def make_strategy(experiment: Experiment) -> Strategy:
    """The strategy of the experiment's ``method`` (an open-ended one without ``run_cap``)."""
    if experiment.method == "random" and experiment.run_cap is None:
        return RandomStream(experiment)
    return STRATEGIES[experiment.method](experiment)


def plan_trials(experiment: Experiment) -> list[TrialSpec]:
    """Every trial of the experiment known before any runs, in plan order (all of them for grid and random)."""
    return make_strategy(experiment).plan()

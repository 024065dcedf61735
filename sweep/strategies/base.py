"""The ask/tell seam between a search strategy and the dispatcher.

A :class:`Strategy` hands out trials in rounds (:meth:`~Strategy.ask`) and is told each result as
it is recorded (:meth:`~Strategy.tell`), as Optuna's ask-and-tell interface and scikit-learn's
``_run_search(evaluate_candidates)`` separate choosing candidates from evaluating them. The runner
asks until the strategy is :attr:`~Strategy.finished`, so a strategy that decides the next trials
from the results so far needs no change to the dispatch loop.

Grid and random search with ``run_cap`` know every trial before the first runs: they hand out
their whole :meth:`~Strategy.plan` in one round and ignore what they are told. A search that
chooses as it goes (open-ended random, bayes) plans nothing up front; the trials it hands out are
added to the run's plan as they are asked, and on ``--resume`` it is asked again from the start and
told the recorded results, so it must ask the same trials in the same order when told the same.
"""

from __future__ import annotations

import abc

from ..config import Experiment
from ..plan import TrialSpec
from ..task import TrialResult


class Strategy(abc.ABC):
    """Chooses the trials of a sweep, round by round, from the results so far."""

    def __init__(self, experiment: Experiment):
        self.experiment = experiment

    @abc.abstractmethod
    def plan(self) -> list[TrialSpec]:
        """Every trial known before any runs, in plan order (what ``plan.csv`` starts with)."""

    @property
    def planned_in_advance(self) -> bool:
        """Whether :meth:`plan` is every trial the strategy will ever ask for."""
        return False

    @property
    def total(self) -> int | None:
        """How many trials the search runs, when that is known (None for an open-ended search)."""
        return None

    def preview(self, count: int) -> list[TrialSpec]:
        """The first ``count`` trials it would ask for with no result told (``sweep list``)."""
        return self.plan()[:count]

    @abc.abstractmethod
    def ask(self) -> list[TrialSpec]:
        """The next round of trials to run; empty while the strategy waits for results, or when finished."""

    def tell(self, trial: TrialSpec, result: TrialResult) -> None:  # noqa: B027 - grid and random need nothing
        """``trial`` finished with ``result`` (also for trials recorded before a resume)."""

    @property
    @abc.abstractmethod
    def finished(self) -> bool:
        """Whether :meth:`ask` will never hand out another trial."""


class PlannedSearch(Strategy):
    """A search whose trials are all known up front, handed out in one round."""

    def __init__(self, experiment: Experiment):
        super().__init__(experiment)
        self._trials: list[TrialSpec] | None = None
        self._asked = False

    @abc.abstractmethod
    def configurations(self) -> list[dict]:
        """The searched values of every configuration, in plan order."""

    def plan(self) -> list[TrialSpec]:
        from ..plan import make_trials

        if self._trials is None:
            self._trials = make_trials(self.experiment, self.configurations())
        return self._trials

    @property
    def planned_in_advance(self) -> bool:
        return True

    @property
    def total(self) -> int:
        return len(self.plan())

    def ask(self) -> list[TrialSpec]:
        if self._asked:
            return []
        self._asked = True
        return list(self.plan())

    @property
    def finished(self) -> bool:
        return self._asked

"""Random search: configurations drawn from the experiment's seed, as W&B's random: ``run_cap`` of
them (:class:`RandomSearch`), or, without ``run_cap``, until stopped (:class:`RandomStream`)."""

from __future__ import annotations

from ..errors import ConfigError
from ..plan import TrialMaker, TrialSpec
from ..space import SpaceError, random_draws, random_stream
from .base import PlannedSearch, Strategy

#: Trials an open-ended random search hands out per round (which trials it draws does not depend on it).
ROUND_TRIALS = 8


class RandomSearch(PlannedSearch):
    """Draws from a generator seeded by ``seed``, parameter by parameter in declared order; a value
    a hyperparameter does not accept (the rare float at an excluded bound) is drawn again."""

    def configurations(self) -> list[dict]:
        experiment = self.experiment
        try:
            return random_draws(experiment.parameters, experiment.run_cap, experiment.seed, accept=accepted(experiment))
        except SpaceError as exc:  # e.g. log_normal with mu -800: every draw underflows to 0
            raise space_error(experiment, exc) from None


def space_error(experiment, exc: SpaceError) -> ConfigError:
    return ConfigError(f"{experiment.source or '<experiment>'}: parameters: {exc}")


def accepted(experiment):
    """``accept(name, value)``: whether the experiment's hyperparameter ``name`` takes ``value`` (a
    guard for random draws)."""
    return lambda name, value: experiment.table[name].accepts(value)


class RandomStream(Strategy):
    """An open-ended random search: the stream :class:`RandomSearch` takes its first ``run_cap``
    from, handed out :data:`ROUND_TRIALS` at a time until the run is stopped (Ctrl-C, a time limit
    or ``--max-trials``); trial ``k`` is the same trial whenever it is drawn."""

    def __init__(self, experiment):
        super().__init__(experiment)
        self._configurations = random_stream(experiment.parameters, experiment.seed, accept=accepted(experiment))
        self._maker = TrialMaker(experiment)

    def plan(self) -> list[TrialSpec]:
        return []

    def ask(self) -> list[TrialSpec]:
        trials: list[TrialSpec] = []
        try:
            while len(trials) < ROUND_TRIALS:
                trials += self._maker.add([next(self._configurations)])
        except SpaceError as exc:
            raise space_error(self.experiment, exc) from None
        return trials

    def preview(self, count: int) -> list[TrialSpec]:
        fresh = RandomStream(self.experiment)
        trials: list[TrialSpec] = []
        while len(trials) < count:
            trials += fresh.ask()
        return trials[:count]

    @property
    def finished(self) -> bool:
        return False

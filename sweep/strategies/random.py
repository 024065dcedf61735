"""Random search: ``run_cap`` configurations drawn from the experiment's seed, as W&B's random."""

from __future__ import annotations

from ..errors import ConfigError
from ..params import PARAMETERS
from ..space import SpaceError, random_draws
from .base import PlannedSearch


class RandomSearch(PlannedSearch):
    """Draws from a generator seeded by ``seed``, parameter by parameter in declared order; a value
    a hyperparameter does not accept (the rare float at an excluded bound) is drawn again."""

    def configurations(self) -> list[dict]:
        experiment = self.experiment
        try:
            return random_draws(experiment.parameters, experiment.run_cap, experiment.seed,
                                accept=lambda name, value: PARAMETERS[name].accepts(value))
        except SpaceError as exc:  # e.g. log_normal with mu -800: every draw underflows to 0
            raise ConfigError(f"{experiment.source or '<experiment>'}: parameters: {exc}") from None

"""Grid search: every combination of the parameters' values, as W&B's grid."""

from __future__ import annotations

from ..space import grid
from .base import PlannedSearch


class GridSearch(PlannedSearch):
    """The cartesian product in declared order, the last parameter varying fastest; ``run_cap``
    keeps the first points."""

    def configurations(self) -> list[dict]:
        configs = grid(self.experiment.parameters)
        if self.experiment.run_cap is not None:
            configs = configs[:self.experiment.run_cap]
        return configs

"""The run folder, and only this package knows it.

- :mod:`.files`: its file names, CSV columns, and writes that a crash never leaves half done;
- :mod:`.store`: making a run folder and appending each result as it lands; resuming one;
- :mod:`.records`: reading the records back, trusting only rows that can be proven;
- :mod:`.owned`: the files sweep drew (plots, the report), the only ones it replaces;
- :mod:`.analysis`: pandas views (ranking, leaderboard, best trial);
- :mod:`.run`: :func:`load_run`, the public way in for notebooks and scripts.
"""

from .run import Run, load_run

__all__ = ["Run", "load_run"]

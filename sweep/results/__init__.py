"""The run folder, and only this package knows it.

- :mod:`.files`: its file names, CSV columns, and writes that a crash never leaves half done;
- :mod:`.store`: making a run folder and appending each result as it lands; resuming one;
- :mod:`.records`: reading the records back, trusting only rows that can be proven;
- :mod:`.owned`: the files sweep drew (plots, the report), the only ones it replaces;
- :mod:`.analysis`: pandas views (ranking, leaderboard, best trial);
- :mod:`.run`: :func:`load_run`, the public way in for notebooks and scripts.
"""

__all__ = ["Run", "load_run"]


def __getattr__(name):
    # Imported on first use: .run needs pandas (0.5 s), which the command's other paths (a file
    # name from .files, an error found before any result is read) should not wait for.
    if name in __all__:
        from . import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

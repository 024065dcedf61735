"""Exceptions that mean "the user gave us something wrong".

Anything derived from :class:`SweepError` is reported by the command line as one line on stderr
with exit status 2 and no traceback. Every other exception is a bug (or, inside a trial, a failed
trial that is recorded and does not stop the sweep).
"""


class SweepError(Exception):
    """A user error: bad experiment file, missing or malformed data, bad command-line value."""


class ConfigError(SweepError):
    """The experiment file (or a --set override) is invalid."""


class DataError(SweepError):
    """A data set is missing, truncated, corrupted or inconsistent."""


def did_you_mean(word, choices, quote: str = "`") -> str:
    """`` (did you mean `x`?)`` for the closest of ``choices`` to ``word``, or an empty string."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {quote}{close[0]}{quote}?)" if close else ""

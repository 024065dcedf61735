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


class ModelError(SweepError):
    """A user's model (``model: nets.py:Net``) cannot be loaded or breaks the model contract.

    One line: where (the user's ``file:line`` when known, else the model's ref), what happened, and
    what the contract expects instead (see :mod:`sweep.models`).
    """


def did_you_mean(word, choices, quote: str = "`", synonyms=None) -> str:
    """`` (did you mean `x`?)`` for the choice ``word`` most likely meant, or an empty string.

    ``synonyms`` maps other names people use to a choice (``{"lr": "learning_rate"}``): a synonym
    wins over spelling, so ``weight_decay`` suggests ``reg``, not the similar-looking
    ``weight_scale``. Case, and ``-`` against ``_``, never matter.
    """
    import difflib

    choices = [str(c) for c in choices]
    key = str(word).strip().lower().replace("-", "_")
    by_key = {c.lower().replace("-", "_"): c for c in choices}
    meant = (synonyms or {}).get(key)
    if meant in choices:
        close = [meant]
    elif key in by_key:
        close = [by_key[key]]
    else:
        close = [by_key[c] for c in difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.6)]
    return f" (did you mean {quote}{close[0]}{quote}?)" if close and close[0] != str(word) else ""


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was: a value pasted by mistake (a
    file's contents after ``--set``) is not echoed whole into a one-line error."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def shown(value, limit: int = 80) -> str:
    """``repr(value)`` for an error message, cut as :func:`shorten` cuts."""
    return shorten(repr(value), limit)

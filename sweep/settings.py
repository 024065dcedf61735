"""One way to declare and check a setting, for hyperparameters (:mod:`sweep.params`) and data-set
options (:mod:`sweep.data.options`) alike.

A :class:`Setting` has a name, a default, a line of help, a :meth:`~Setting.check` that returns the
value normalised (``1e2`` -> ``100`` for a whole number) or raises :class:`Invalid`, and the
allowed values in words for messages. Callers turn :class:`Invalid` into their one-line error,
naming where the value came from (a file and line, a ``--set``, a data-set name).
"""

from __future__ import annotations

import abc
from typing import Any


class Invalid(ValueError):
    """A value a setting does not take; the message says what is allowed."""


class Setting(abc.ABC):
    """A named value with a default and a check (subclasses are frozen dataclasses)."""

    name: str
    default: Any
    help: str

    @abc.abstractmethod
    def check(self, value: Any) -> Any:
        """``value`` normalised to what the setting holds; :class:`Invalid` saying what is allowed otherwise."""

    @abc.abstractmethod
    def allowed(self) -> str:
        """The allowed values in words, for messages."""

    def accepts(self, value: Any) -> bool:
        """Whether :meth:`check` takes ``value``."""
        try:
            self.check(value)
        except Invalid:
            return False
        return True

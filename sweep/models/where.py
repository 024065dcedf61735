"""Where in the user's code something went wrong: ``nets.py:42`` for a one-line error.

A model's errors should name the line the user has to fix, not a line of `sweep` or NumPy. Three
sources of a line: the traceback of an exception (its deepest frame in the user's files), the
``return`` statement a method returned a wrong value from, and failing both, the ``def`` line of
the method responsible.
"""

from __future__ import annotations

import inspect
import os
import sys
import traceback
from types import CodeType

from ..errors import shorten

#: Folders of installed packages: a frame there is NumPy's or a library's, even when the virtual
#: environment happens to live inside the user's folder (``./.venv/lib/.../site-packages``).
_INSTALLED = {"site-packages", "dist-packages"}


def display_path(filename: str) -> str:
    """``filename`` as a user reads it: relative to the current folder when under it, else as is.

    In ``sweep run`` and ``sweep gradcheck`` that is usually the folder the user typed the command
    in; on a worker of another machine the absolute path of the user's file is what says most.
    """
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        return filename
    return filename if relative.startswith(os.pardir) else relative


def _is_users(filename: str, user_file: str) -> bool:
    """Whether a frame's file is the user's model file, or a file under its folder (its own modules)."""
    if filename == user_file:
        return True
    folder = os.path.dirname(user_file)
    if not folder or not filename.startswith(folder + os.sep):
        return False
    parts = filename[len(folder) + 1:].split(os.sep)
    return not _INSTALLED.intersection(parts)


def user_location(exc: BaseException, path: str | None) -> str | None:
    """``'nets.py:42'``: the SyntaxError's own file and line, else the deepest frame of ``exc``'s
    traceback in the user's file ``path`` or another file under its folder; None when there is
    none (``path`` None, or the exception never passed through the user's code)."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return f"{display_path(exc.filename)}:{exc.lineno}"
    if path is None:
        return None
    found = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if _is_users(frame.f_code.co_filename, path):
            found = f"{display_path(frame.f_code.co_filename)}:{line}"
    return found


def _code_of(function) -> CodeType | None:
    """The code object a (bound, decorated) Python function runs; None for builtins and for code
    made from a string (a dataclass's ``__init__``, whose file is ``<string>``)."""
    function = inspect.unwrap(getattr(function, "__func__", function))
    code = getattr(function, "__code__", None)
    return None if code is None or code.co_filename.startswith("<") else code


def definition_site(function) -> str | None:
    """``'nets.py:12'``, the ``def`` line of a Python function or method; None for a builtin."""
    code = _code_of(function)
    return f"{display_path(code.co_filename)}:{code.co_firstlineno}" if code else None


def call_noting_return(method, *args, **kwargs):
    """``(method(*args, **kwargs), 'nets.py:35')``: the result, and the ``return`` statement it came from.

    A profile hook sees the ``return`` event of the method's own frame, whose current line is the
    ``return`` statement; a model's ``loss`` has two (scores, and loss with grads), so this names
    the one that returned a wrong value. The previous profile hook (a profiler's) is put back.
    The site is None when the method is not a Python function of a file.
    """
    code = _code_of(method)
    if code is None:
        return method(*args, **kwargs), None
    lines: list[int] = []

    def note(frame, event, _arg):
        if event == "return" and frame.f_code is code:
            lines.append(frame.f_lineno)

    previous = sys.getprofile()
    sys.setprofile(note)
    try:
        result = method(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    line = lines[-1] if lines else code.co_firstlineno  # the outermost call returns last
    return result, f"{display_path(code.co_filename)}:{line}"


def exception_summary(exc: BaseException, limit: int = 160) -> str:
    """``'ValueError: shapes (8,12) and (10,3) not aligned'`` on one line, cut to ``limit`` characters."""
    message = " ".join(str(exc).split())
    name = type(exc).__name__
    return shorten(f"{name}: {message}" if message else name, limit)

"""Import a model file from its text, as a fresh module, on any machine.

A file ref's text travels with each task (:class:`~sweep.models.ModelSource`), so a Dask worker on
another machine, which has no copy of the file, imports the same code. The text is compiled with
the file's absolute path as its filename, and put in :mod:`linecache` (and behind the module's
``__loader__.get_source``), so a traceback from the model names the user's ``file:line`` and shows
the line's code wherever it is printed.

The module is registered in ``sys.modules`` under a private name made of a hash of the path and
the text (``sweep_user_model_<hash>``): what ``pickle``, ``dataclasses`` and ``typing`` look up by
``cls.__module__`` finds it, two versions of one file never share a module, and importing the same
text again in the process returns the module already made.

Sibling imports (``from layers import affine_forward`` next to ``nets.py``, as CS231n's code does)
work because the file's folder is put first on ``sys.path`` while the module's top level runs,
and taken off after: write them at the top of the file, not inside functions. The siblings are
imported from disk under their own names as usual, so on a machine without the folder they are
missing (a ModuleNotFoundError at the import line); only the model file's own text travels.
"""

from __future__ import annotations

import hashlib
import importlib.util
import linecache
import os
import sys
import threading
from types import ModuleType

#: Loads of model files in this process, one at a time: a worker's threads must not run a file
#: twice (two classes of one name would not pickle) nor see each other's ``sys.path`` change.
_LOADING = threading.RLock()


def module_name(path: str, source: str) -> str:
    """The private ``sys.modules`` name of the file at ``path`` with text ``source``."""
    digest = hashlib.sha256(f"{path}\0{source}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"sweep_user_model_{digest[:20]}"


class _SourceText:
    """The ``__loader__`` of a model module: gives its text to linecache and inspect, no disk needed."""

    def __init__(self, source: str):
        self.source = source

    def get_source(self, _name: str) -> str:
        return self.source


def load_file_module(path: str, source: str) -> ModuleType:
    """The module made by running ``source`` as the file ``path`` (once per process).

    Raises what compiling or running the file raises (SyntaxError, the user's exception); the
    caller turns it into a ModelError naming the line.
    """
    name = module_name(path, source)
    with _LOADING:
        module = sys.modules.get(name)
        if module is None:
            module = _execute(name, path, source)
    return module


def _execute(name: str, path: str, source: str) -> ModuleType:
    """Compile and run ``source`` in a new module registered as ``name``; unregistered if it fails."""
    _remember_lines(path, source)
    code = compile(source, path, "exec", dont_inherit=True)
    loader = _SourceText(source)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader, origin=path))
    module.__file__ = path
    sys.modules[name] = module  # before running: a dataclass looks its module up while it is defined
    folder = os.path.dirname(path)
    sys.path.insert(0, folder)
    try:
        exec(code, module.__dict__)  # noqa: S102 - the user's model file, run as `import` would run it
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        if folder in sys.path:
            sys.path.remove(folder)  # the first occurrence: the one put there above
    return module


def _remember_lines(path: str, source: str) -> None:
    """Put ``source`` in linecache as the text of ``path``; no modification time, so
    ``linecache.checkcache`` keeps it even where the file does not exist or has changed since."""
    linecache.cache[path] = (len(source), None, source.splitlines(keepends=True), path)

"""Where a model class comes from: ``model: nets.py:ThreeLayerNet`` or ``mypackage.nets:ThreeLayerNet``."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError, did_you_mean, shorten, shown
from .loader import load_file_module
from .where import definition_site, display_path, exception_summary, user_location

#: Refs that name a model of `sweep` itself (a module ref, spelled short).
BUILTIN_REFS = {"builtin": "sweep.nn.net:TwoLayerNet"}

#: Example of a ref, for the messages.
EXAMPLE = "nets.py:TwoLayerNet"

_CLASSES: dict[tuple, type] = {}
_CLASSES_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelSource:
    """Where a model class comes from; picklable and small, it travels with each task to the workers.

    ``ref`` is the text the experiment wrote (``"nets.py:ThreeLayerNet"``, a file relative to the
    experiment file's folder, or ``"mypackage.nets:ThreeLayerNet"``, an importable module). For a
    file ref, ``path`` is the file's absolute path and ``source`` its text: workers (on other
    machines too) import the class from this text, compiled with ``path`` as its filename so
    tracebacks name the user's file and line (:mod:`sweep.models.loader`). For a module ref,
    ``module`` is the module's name and the workers import it as Python does.
    """

    ref: str
    class_name: str
    path: str | None = None
    module: str | None = None
    source: str | None = None

    def load(self) -> type:
        """The class, imported once per process (cached by the ref and the text of the file).

        ModelError naming ``file:line`` for a syntax error or an exception at import, and naming
        the ref for a missing class or a name that is not a class.
        """
        key = (self.ref, self.path, self.module, self.source)
        cls = _CLASSES.get(key)
        if cls is None:
            cls = self._class_in(self._import())
            with _CLASSES_LOCK:
                cls = _CLASSES.setdefault(key, cls)
        return cls

    def _import(self):
        """The module holding the class; ModelError (with the line) when it does not import."""
        try:
            if self.source is not None:
                return load_file_module(self.path, self.source)
            return importlib.import_module(self.module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - whatever the user's top level raises
            where = user_location(exc, self.path or _module_file(self.module)) or self.ref
            if isinstance(exc, SyntaxError):
                raise ModelError(f"{where}: {self.ref} has a syntax error ({exc.msg}): fix it so that Python "
                                 "can import the file") from exc
            raise ModelError(f"{where}: importing {self.ref} raised {exception_summary(exc)}; "
                             "the model's file must import without errors") from exc

    def _class_in(self, module) -> type:
        """``module``'s attribute ``class_name``, checked to be a class."""
        where = display_path(self.path) if self.path else self.module
        found = getattr(module, self.class_name, None)
        if found is None:
            classes = sorted(name for name, value in vars(module).items()
                             if inspect.isclass(value) and not name.startswith("_"))
            listed = f"; it defines {', '.join(classes)}" if classes else "; it defines no class"
            raise ModelError(f"{self.ref}: {where} has no class `{self.class_name}`"
                             f"{did_you_mean(self.class_name, classes)}{listed}")
        if not inspect.isclass(found):
            kind = "a function" if inspect.isroutine(found) else f"a {type(found).__name__}"
            at = definition_site(found) if inspect.isfunction(found) else None
            raise ModelError(f"{at or self.ref}: `{self.class_name}` in {where} is {kind}, not a class: "
                             "the model is a class whose constructor takes the hyperparameters")
        return found


def _module_file(module: str | None) -> str | None:
    """The file of an importable module (without importing it), or None."""
    try:
        spec = importlib.util.find_spec(module) if module else None
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.has_location else None


def resolve_model(ref: str, base_dir: Path) -> ModelSource:
    """The :class:`ModelSource` of ``ref``; a file ref is relative to ``base_dir`` (the experiment file's folder).

    ``FILE.py:Class`` (a ref whose left part ends in ``.py`` or holds a ``/``) reads the file's text
    now; ``package.module:Class`` only finds the module (nothing of the user's runs here beyond the
    packages above it). ModelError for a malformed ref, a missing or unreadable file, a module
    that cannot be found.
    """
    if not isinstance(ref, str):
        raise ModelError(f"model: {shown(ref)}: expected FILE.py:Class or package.module:Class, e.g. {EXAMPLE}")
    target, sep, class_name = BUILTIN_REFS.get(ref, ref).rpartition(":")
    if not sep or not target or not class_name.isidentifier():
        raise ModelError(f"{shorten(ref)}: expected FILE.py:Class or package.module:Class, e.g. {EXAMPLE} "
                         "(the file's path, a colon, the class's name)")
    if target.endswith(".py") or "/" in target or os.sep in target:
        return _file_source(ref, target, class_name, Path(base_dir))
    return _module_source(ref, target, class_name)


def _file_source(ref: str, target: str, class_name: str, base_dir: Path) -> ModelSource:
    path = Path(os.path.abspath(base_dir / Path(target).expanduser()))  # as written: links are not followed
    if not path.is_file():
        what = "is a folder, not a Python file" if path.is_dir() else "does not exist"
        raise ModelError(f"{ref}: {path} {what}; a model file's path is relative to {os.path.abspath(base_dir)}")
    try:
        source = importlib.util.decode_source(path.read_bytes())  # honours a coding line, as import does
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        raise ModelError(f"{ref}: cannot read {path}: {exception_summary(exc)}") from None
    return ModelSource(ref=ref, class_name=class_name, path=str(path), source=source)


def _module_source(ref: str, module: str, class_name: str) -> ModelSource:
    if not all(part.isidentifier() for part in module.split(".")):
        raise ModelError(f"{ref}: `{module}` is neither a file (FILE.py) nor a module name (package.module)")
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        spec = None
    except Exception as exc:  # noqa: BLE001 - a package above the module raised at import
        where = user_location(exc, _module_file(module.partition(".")[0])) or ref
        raise ModelError(f"{where}: importing the packages of {ref} raised {exception_summary(exc)}") from exc
    if spec is None:
        file = f"path/to/{module.rpartition('.')[2]}.py:{class_name}"
        raise ModelError(f"{ref}: no module named `{module}` can be imported; install its package "
                         f"(pip install -e .), or name the file instead: {file}")
    return ModelSource(ref=ref, class_name=class_name, module=module)

"""The user's own modules a model imports, fingerprinted.

A model file's text travels with the run (:class:`~sweep.models.ModelSource`), but the modules it
imports (CS231n's ``layers.py`` beside ``three_layer.py``, the rest of a module ref's package) are
imported from disk, and their code gives the numbers as much as the model file's does. The run's
experiment.yaml records the SHA-256 of each (``model_code_sha256``), and so does each saved user
model: a resume after one changed is refused, and loading a saved model warns.

Which modules: those the model's file imports, then those they import, found by reading their
``import`` statements (not by running them, and not from what this process happened to import), that
are files under the folder the imports resolve from (a file ref's folder; the folder holding a module
ref's top package). Installed packages (site-packages, the interpreter's own) are not the user's.
Python does not import a module twice in one process: a module edited after a notebook imported it
runs its old code there, while the fingerprint is of the file.
"""

from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

#: Most of the user's modules followed from one model (a guard against a huge tree).
MAX_FILES = 500


def code_root(source) -> Path | None:
    """The folder the model's imports resolve from: a file ref's folder, or the folder that holds a
    module ref's top package (or its top-level module); None when it cannot be found."""
    if source.path is not None:
        return Path(source.path).parent
    from .source import _module_file

    top = _module_file(source.module.partition(".")[0]) if source.module else None
    if top is None:
        return None
    top = Path(top)
    return top.parent.parent if top.name == "__init__.py" else top.parent


def code_files(source) -> dict[str, str]:
    """Each of the user's modules the model imports, as a path relative to :func:`code_root` (forward
    slashes) -> the SHA-256 of its bytes now. A file ref's own file is not in it (its text is hashed
    apart, ``model_source_sha256``); a module ref's module is."""
    root = code_root(source)
    if source.path is not None:
        start = Path(source.path)
    else:
        from .source import _module_file

        found = _module_file(source.module)
        start = Path(found) if found else None
    if root is None or start is None:
        return {}
    seen = {start}
    if source.path is None:  # importing pkg.mod runs pkg/__init__.py first
        parts = source.module.split(".")
        seen |= {p for i in range(1, len(parts)) if (p := root.joinpath(*parts[:i], "__init__.py")).is_file()}
    queue = list(seen)
    while queue and len(seen) < MAX_FILES:
        for imported in _imported_files(queue.pop(), root):
            if imported not in seen:
                seen.add(imported)
                queue.append(imported)
    if source.path is not None:
        seen.discard(start)
    files = {}
    for path in seen:
        digest = _file_sha256(path)
        if digest is not None:
            files[path.relative_to(root).as_posix()] = digest
    return dict(sorted(files.items()))


def code_change(source, recorded, loaded: bool = False) -> str | None:
    """What changed among the ``recorded`` files (:func:`code_files` of an earlier time), or None. Each
    is looked for under :func:`code_root`; with ``loaded`` (a saved model just rebuilt) first where
    the module this process imported under its name lives (a project moved since is not a change),
    and a file found nowhere is not one either (the model imported without it)."""
    if recorded is None:
        return None
    if not isinstance(recorded, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in recorded.items()):
        return "the record of the modules the model imports (model_code_sha256) is damaged"
    root = code_root(source)
    if root is None:
        return None
    for relative, digest in sorted(recorded.items()):
        path = root / relative
        if loaded:
            module = sys.modules.get(_module_name(relative))
            file = getattr(module, "__file__", None)
            path = Path(file) if isinstance(file, str) and Path(file).is_file() else path
            if not path.is_file():
                continue
        if _file_sha256(path) != digest:
            return f"{path}, which the model imports, changed since"
    return None


def _module_name(relative: str) -> str:
    """``pkg/layers.py`` -> ``pkg.layers``; ``pkg/__init__.py`` -> ``pkg``."""
    parts = relative.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_files(file: Path, root: Path) -> list[Path]:
    """The user's module files under ``root`` that ``file``'s import statements name (and the
    ``__init__.py`` of each package on the way)."""
    try:
        tree = ast.parse(file.read_bytes(), filename=str(file))
    except (OSError, SyntaxError, ValueError, RecursionError):
        return []
    names: list[tuple[Path, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(root, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            anchor = root
            if node.level:
                anchor = file.parent
                for _ in range(node.level - 1):
                    anchor = anchor.parent
            base = node.module or ""
            names += [(anchor, base)] if base else []
            names += [(anchor, f"{base}.{alias.name}" if base else alias.name) for alias in node.names]
    found = []
    for anchor, dotted in names:
        folder = anchor
        for i, part in enumerate(dotted.split(".")):
            if not part.isidentifier():
                break
            module, package = folder / f"{part}.py", folder / part / "__init__.py"
            found += [p for p in (module, package) if p.is_file()]
            folder = folder / part
    return [p for p in dict.fromkeys(found) if _is_users(p, root)]


def _is_users(path: Path, root: Path) -> bool:
    """Whether ``path`` is a module of the user's: under ``root``, not in an installed package."""
    absolute = Path(path).absolute()
    try:
        absolute.relative_to(root)
    except ValueError:
        return False
    if {"site-packages", "dist-packages"} & set(absolute.parts):
        return False
    resolved = absolute.resolve()
    prefixes = {Path(p).resolve() for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}}
    return not any(prefix == resolved or prefix in resolved.parents for prefix in prefixes)


def _file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None

"""Reading YAML safely, with line numbers for error messages and YAML 1.2 numbers.

PyYAML follows YAML 1.1, where ``1e-3`` (no dot) is a *string*; people write learning rates that
way, so our loader also reads ``1e-3``, ``5E+2`` and ``.5e-1`` as floats. Only ``yaml.SafeLoader``
constructs are used: no Python objects can be built from a file.

A document is composed into nodes and checked before anything is built from it, because YAML's
aliases let a 500-byte file stand for billions of values (the "billion laughs") or for a list that
contains itself, and PyYAML builds both without complaint; what reads the data afterwards then
runs out of memory or recurses forever. Refused up front, each with :class:`YAMLRefused`:

- files larger than :data:`MAX_BYTES`;
- documents whose values, counted with every alias expanded, exceed :data:`MAX_VALUES`;
- aliases that refer to a node containing themselves;
- nesting deeper than :data:`MAX_DEPTH`;
- a key given twice in one mapping (PyYAML keeps the last silently: two ``parameters:`` blocks
  would replace each other).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: Largest file read (experiment files are a few kilobytes).
MAX_BYTES = 1 << 20
#: Largest number of values (scalars, lists and mappings) a document may hold with aliases expanded.
MAX_VALUES = 100_000
#: Deepest nesting of lists and mappings.
MAX_DEPTH = 64

_FLOAT_1_2 = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$|"
                        r"^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class Loader(yaml.SafeLoader):
    """SafeLoader that also resolves YAML 1.2 floats such as ``1e-3``."""


Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789."))


class YAMLRefused(yaml.YAMLError):
    """A document this module will not build: too large, an alias bomb, a cycle, a duplicate key.

    ``problem`` says what, ``line`` is the 1-based line it concerns (None for the whole file).
    """

    def __init__(self, problem: str, line: int | None = None):
        super().__init__(problem)
        self.problem = problem
        self.line = line


@dataclass(frozen=True)
class Document:
    """A parsed YAML document: its data and the 1-based line of every key path.

    ``lines`` maps e.g. ``("parameters", "reg", "min")`` to 12; list items are addressed by index.
    """

    data: Any
    lines: dict


def parse(text: str) -> Document:
    """Parse one YAML document, checked as the module docstring says.

    Raises ``yaml.YAMLError``: :class:`YAMLRefused` for the checks, PyYAML's own errors for syntax.
    """
    if len(text) > MAX_BYTES:
        raise YAMLRefused(f"the text is {len(text):,} characters long; at most {MAX_BYTES:,} are read")
    _check_depth(text)
    loader = Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return Document(None, {})
        lines: dict[tuple, int] = {}
        _check(root, lines)
        try:
            data = loader.construct_document(root)
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. an integer of 5,000 digits
            raise YAMLRefused(f"a value cannot be read ({str(exc).splitlines()[0][:120]})") from None
        return Document(data, lines)
    finally:
        loader.dispose()


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the event stream, before PyYAML's composer, which
    recurses once per level (a RecursionError caught in-process leaves CPython 3.11's parser of
    Python source in a broken state, so it must not happen at all)."""
    depth = 0
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise YAMLRefused(f"lists or mappings are nested more than {MAX_DEPTH} deep",
                                  event.start_mark.line + 1)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def _check(root: yaml.Node, lines: dict) -> None:
    """Count values with aliases expanded, refuse cycles, deep nesting and duplicate keys; fill ``lines``.

    Sizes are memoised per node, so a bomb is measured in time proportional to its text; key
    lines are recorded only once the whole document is known to be small.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YAMLRefused("an alias refers to a list or mapping that contains it (the document would "
                              "be infinite)", node.start_mark.line + 1)
        if depth > MAX_DEPTH:
            raise YAMLRefused(f"lists or mappings are nested more than {MAX_DEPTH} deep", node.start_mark.line + 1)
        active.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                    line, name = key_node.start_mark.line + 1, _key_value(key_node)
                    if name in seen:
                        raise YAMLRefused(f"duplicate key `{key_node.value}` (first given on line {seen[name]}); "
                                          "a key may appear once in a mapping", line)
                    seen[name] = line
                total += size(key_node, depth + 1) + size(value_node, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item, depth + 1)
        if total > MAX_VALUES:
            raise YAMLRefused(f"its aliases expand it to more than {MAX_VALUES:,} values (a \"billion laughs\" "
                              "file?)", node.start_mark.line + 1)
        active.discard(key)
        sizes[key] = total
        return total

    size(root, 0)

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # a list or mapping as a key: no key path to report a line for
                key = key_node.value
                lines.setdefault(path + (key,), key_node.start_mark.line + 1)
                walk(value_node, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines.setdefault(path + (i,), item.start_mark.line + 1)
                walk(item, path + (i,))

    walk(root, ())


@functools.lru_cache(maxsize=1)
def _key_builder() -> Loader:
    return Loader("")


def _key_value(node: yaml.ScalarNode):
    """A scalar key as the mapping will hold it (``1``, ``01`` and ``1.0`` are one key, so are
    ``yes`` and ``true``), or its text when it cannot be built."""
    try:
        builder = _key_builder()
        builder.constructed_objects = {}
        value = builder.construct_object(node)
        hash(value)
        return value
    except Exception:  # noqa: BLE001 - any key that will not build is compared by its text
        return (node.tag, node.value)


def loads(text: str) -> Any:
    """The data of one YAML document (raises ``yaml.YAMLError``, see :func:`parse`)."""
    return parse(text).data


def key_lines(text: str) -> dict[tuple, int]:
    """1-based line of every key path in the document; empty for a document that does not parse."""
    try:
        return parse(text).lines
    except yaml.YAMLError:
        return {}


def problem_of(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """(1-based line or None, one-line description) of a YAML error."""
    if isinstance(exc, YAMLRefused):
        return exc.line, exc.problem
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return (mark.line + 1 if mark else None), f"not valid YAML: {problem}"


def read_text(path: Path) -> str:
    """The text of a YAML file; OSError, UnicodeDecodeError or :class:`YAMLRefused` (too large)."""
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise YAMLRefused(f"the file is larger than {MAX_BYTES:,} bytes; an experiment file is a few kilobytes")
    return data.decode("utf-8-sig")


def read(path: Path) -> Document:
    """The parsed document of a file (raises OSError, UnicodeDecodeError or ``yaml.YAMLError``)."""
    return parse(read_text(path))


def load_file(path: Path, what: str = "file") -> Document:
    """The parsed document of a file, or a one-line :class:`~sweep.errors.ConfigError`.

    The message names the file and the line where there is one: ``exp.yaml:7: duplicate key ...``.
    ``what`` names the file in the other messages (``experiment file``, ``run's experiment.yaml``).
    """
    from .errors import ConfigError

    try:
        return read(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except yaml.YAMLError as exc:
        line, problem = problem_of(exc)
        raise ConfigError(f"{path}:{line}: {problem}" if line else f"{path}: {problem}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file (byte {exc.start} is not UTF-8); is it the {what}?") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def dumps(data: Any) -> str:
    """YAML text of plain data (dicts keep their order)."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)

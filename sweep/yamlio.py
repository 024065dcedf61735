"""Reading YAML safely, with line numbers for error messages and YAML 1.2 numbers.

PyYAML follows YAML 1.1, where ``1e-3`` (no dot) is a *string*; people write learning rates that
way, so our loader also reads ``1e-3``, ``5E+2`` and ``.5e-1`` as floats. Only ``yaml.SafeLoader``
constructs are used: no Python objects can be built from a file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_FLOAT_1_2 = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$|"
                        r"^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$")


class Loader(yaml.SafeLoader):
    """SafeLoader that also resolves YAML 1.2 floats such as ``1e-3``."""


Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789."))


def loads(text: str) -> Any:
    """Parse one YAML document with :class:`Loader` (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader derives from SafeLoader


def key_lines(text: str) -> dict[tuple, int]:
    """1-based line of every key path in the document, e.g. ``("parameters", "reg", "min") -> 12``.

    List items are addressed by their index. Paths of invalid documents are simply absent.
    """
    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError:
        return {}
    lines: dict[tuple, int] = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                lines[path + (key,)] = key_node.start_mark.line + 1
                walk(value_node, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[path + (i,)] = item.start_mark.line + 1
                walk(item, path + (i,))

    if root is not None:
        walk(root, ())
    return lines


def dumps(data: Any) -> str:
    """YAML text of plain data (dicts keep their order)."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def read(path: Path) -> tuple[Any, str]:
    """The parsed document and its text."""
    text = Path(path).read_text(encoding="utf-8")
    return loads(text), text

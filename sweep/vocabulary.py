"""The words of real NumPy-MLP sweep files for our hyperparameters and their values, read as ours
with a warning that names ours.

W&B sweep files written for course work and blog posts use ``weight_decay`` for L2, ``weight_init:
random``, ``optimizer: momentum``, ``loss: cross_entropy``, ``activation: ReLU``, and numbers as
quoted strings (``values: ['64', '128']``). Refusing them would make a user rewrite a file that
means exactly what ours would say; reading them silently would leave the file's words and the run
folder's columns apart. So each is read as our word, and said once: ``exp.yaml: weight_decay is
read as reg``.

Only names and values with one meaning are translated; anything else is left to the checks that
follow (with their did-you-mean). Hyperparameters a user's model names itself are never translated:
they are the model's words.
"""

from __future__ import annotations

from typing import Any, Mapping

#: Hyperparameter names read as ours (the built-in net's).
NAMES = {"weight_decay": "reg", "weight_init": "init"}
#: Values read as ours, by hyperparameter.
VALUES = {
    "init": {"random": "normal"},
    "optimizer": {"momentum": "sgd_momentum", "nag": "nesterov"},
    "loss": {"cross_entropy": "softmax", "crossentropy": "softmax", "categorical_crossentropy": "softmax",
             "mean_squared_error": "mse", "hinge": "svm"},
}
#: Hyperparameters whose values are read without regard to case (``ReLU``, ``Tanh``).
CASELESS = ("activation", "optimizer", "init", "loss")
#: Hyperparameters that take numbers: a number written as a string is read as one.
NUMERIC_KINDS = ("int", "float", "widths")


def translate(block: Mapping | None, table, builtin: bool, where: str, warnings: list[str]) -> Mapping | None:
    """``block`` (the ``parameters`` or ``fixed`` mapping of an experiment file, plain data) with other
    tools' words read as ours, one line per translation appended to ``warnings``. ``table``: the
    experiment's hyperparameters; ``builtin``: whether they are the built-in net's (only then are
    hyperparameter names translated). Not a mapping: returned as it is (the checks that follow say so)."""
    if not isinstance(block, Mapping):
        return block
    out = {}
    for name, value in block.items():
        ours = NAMES.get(name) if builtin and name not in table else None
        if ours is not None and ours not in block:
            warnings.append(f"{where}: {name} is read as {ours} (this runner's name for it)")
            name = ours
        spec = table[name] if name in table else None
        out[name] = _translate_values(name, value, spec, where, warnings) if spec is not None else value
    return out


def _translate_values(name: str, value: Any, spec, where: str, warnings: list[str]) -> Any:
    """A ``parameters`` block (``{values: [...]}``, ``{value: x}``, a distribution) or a ``fixed``
    value, with its values read as ours."""
    if isinstance(value, Mapping):
        block = dict(value)
        if isinstance(block.get("values"), list):
            said: list[str] = []
            block["values"] = [_word(name, v, spec, where, said) for v in block["values"]]
            warnings.extend(_merged(said))
        if "value" in block:
            block["value"] = _word(name, block["value"], spec, where, warnings)
        return block
    return _word(name, value, spec, where, warnings)


def _word(name: str, value: Any, spec, where: str, warnings: list[str]) -> Any:
    """One value read as ours."""
    if not isinstance(value, str):
        return value
    if spec.kind in NUMERIC_KINDS:
        number = _number(value)
        if number is not None:
            warnings.append(f"{where}: {name}: the string {value!r} is read as the number {number!r}")
            return number
        return value
    ours = VALUES.get(name, {}).get(value.lower() if name in CASELESS else value)
    if ours is None and name in CASELESS and spec.kind == "choice" and value.lower() in spec.choices:
        ours = value.lower()
    if ours is not None and ours != value:
        warnings.append(f"{where}: {name}: {value!r} is read as {ours!r} (this runner's name for it)")
        return ours
    return value


def _merged(lines: list[str]) -> list[str]:
    """The lines about one ``values`` list, those that read strings as numbers made one."""
    numbers = [line for line in lines if " is read as the number " in line]
    if len(numbers) < 2:
        return lines
    head = numbers[0].split(": the string ")[0]
    written = ", ".join(line.split(": the string ")[1].split(" is read as")[0] for line in numbers)
    return [f"{head}: the strings {written} are read as numbers"] + [line for line in lines if line not in numbers]


def _number(text: str) -> int | float | None:
    """The number a string writes (``'64'`` -> 64, ``'1e-3'`` -> 0.001), or None."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None

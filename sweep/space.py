"""Search spaces: W&B-style parameter distributions and their grid / random expansion.

A parameter block reads exactly as in a W&B sweep configuration::

    learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}
    hidden_size:   {values: [50, 100, 200]}
    epochs:        {value: 10}

:func:`parse_distribution` turns one such mapping into a :class:`Distribution`; :func:`grid` and
:func:`random_draws` expand a mapping of them into configurations (dicts of parameter values).

Order. The grid is the cartesian product of the parameters in the order they are declared, the last
one varying fastest (``itertools.product``), each parameter's values in the order written. Random
search draws ``run_cap`` configurations from ``np.random.default_rng([seed, 0x5EED])``, parameter by
parameter in declared order, so the same seed gives the same configurations.

W&B's nested parameters (``optimizer: {parameters: {lr: {...}}}``) are opened by
:func:`flatten_parameters` into flat names (``optimizer.lr``), each a dimension of its own;
:func:`nest_values` puts a configuration back into W&B's nested dicts for a program.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from .errors import did_you_mean, shown

#: Every distribution name W&B documents, with the keys each takes (``distribution`` aside).
DISTRIBUTION_KEYS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "categorical": ("values", "probabilities"),
    "categorical_w_probabilities": ("values", "probabilities"),
    "int_uniform": ("min", "max"),
    "uniform": ("min", "max"),
    "q_uniform": ("min", "max", "q"),
    "log_uniform": ("min", "max"),
    "log_uniform_values": ("min", "max"),
    "q_log_uniform": ("min", "max", "q"),
    "q_log_uniform_values": ("min", "max", "q"),
    "inv_log_uniform": ("min", "max"),
    "inv_log_uniform_values": ("min", "max"),
    "normal": ("mu", "sigma"),
    "q_normal": ("mu", "sigma", "q"),
    "log_normal": ("mu", "sigma"),
    "q_log_normal": ("mu", "sigma", "q"),
    "beta": ("a", "b"),
    "q_beta": ("a", "b", "q"),
}
DISTRIBUTIONS = tuple(DISTRIBUTION_KEYS)
_REQUIRED = {"constant": ("value",), "categorical": ("values",),
             "categorical_w_probabilities": ("values", "probabilities")}
_DEFAULTS = {"mu": 0.0, "sigma": 1.0, "a": 1.0, "b": 1.0, "q": 1.0}
_LOG_SCALED = {"log_uniform", "log_uniform_values", "q_log_uniform", "q_log_uniform_values",
               "inv_log_uniform", "inv_log_uniform_values", "log_normal", "q_log_normal"}
_RANDOM_STREAM = 0x5EED
#: Kinds whose min/max are natural-log exponents, and the largest exponent that exp() survives.
_EXPONENT_BOUNDS = {"log_uniform", "q_log_uniform", "inv_log_uniform"}
_MAX_EXPONENT = 700
#: W&B's deprecated kinds (base-e exponents) and the ``*_values`` kind it names instead
#: (``PARAM_DEPRECATION_MAP`` of W&B's ``sweeps/params.py``).
DEPRECATED = {"log_uniform": "log_uniform_values", "q_log_uniform": "q_log_uniform_values",
              "inv_log_uniform": "inv_log_uniform_values"}
_MAX_INT = 2**62


class SpaceError(ValueError):
    """A parameter block that does not describe a distribution; the message says why.

    ``key`` names the offending key of the block (``"min"``, ``"values"``...) when there is one.
    """

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Distribution:
    """One parameter's distribution, in W&B's vocabulary.

    ``values`` holds the choices of ``categorical`` (one for ``constant``); ``min``/``max`` the
    bounds of the uniform families (natural-log exponents for ``log_uniform``, ``q_log_uniform``
    and ``inv_log_uniform``, plain values for the ``*_values`` kinds); ``mu``/``sigma`` the normal
    families; ``a``/``b`` the beta; ``q`` the quantization step of the ``q_*`` kinds.
    """

    kind: str
    values: tuple = ()
    probabilities: tuple | None = None
    min: float | None = None
    max: float | None = None
    mu: float = 0.0
    sigma: float = 1.0
    a: float = 1.0
    b: float = 1.0
    q: float = 1.0

    @property
    def is_log(self) -> bool:
        """True when values spread over orders of magnitude (plots use a log axis)."""
        return self.kind in _LOG_SCALED

    @property
    def is_quantized(self) -> bool:
        return self.kind.startswith("q_")

    @property
    def is_continuous(self) -> bool:
        """Draws real numbers (no rounding): the ends of its support are values it never draws."""
        return self.kind not in ("constant", "categorical", "int_uniform") and not self.is_quantized

    def grid_count(self) -> int | None:
        """How many values a grid search visits (computed, not enumerated), or None if continuous."""
        if self.kind in ("constant", "categorical"):
            return len(self.values)
        if self.kind == "int_uniform":
            return int(self.max) - int(self.min) + 1
        if self.kind == "q_uniform":  # W&B: np.arange(min, max, q), which excludes max
            return max(math.ceil((self.max - self.min) / self.q), 0)
        return None

    def grid_values(self) -> tuple | None:
        """The finite list of values a grid search visits, or None for a continuous distribution."""
        if self.kind in ("constant", "categorical"):
            return self.values
        if self.kind == "int_uniform":
            return tuple(range(int(self.min), int(self.max) + 1))
        if self.kind == "q_uniform":
            return tuple(self._q_grid_value(i) for i in range(self.grid_count()))
        return None

    def _q_grid_value(self, i: int):
        """The ``i``-th grid value of q_uniform. W&B's grid is ``np.arange(min, max, q)``: min,
        min + q, ... below max (not rounded to multiples of q). Float noise is trimmed to 12
        significant digits, which also keeps 1 + 3 * 0.1 at 1.3, inside a range that ends there."""
        value = min(float(f"{self.min + i * self.q:.12g}"), self.max)
        return int(value) if float(self.min).is_integer() and float(self.q).is_integer() else value

    def grid_ends(self) -> tuple | None:
        """The first and last value a grid visits (computed, not enumerated), or None if there are none."""
        values = self.grid_values() if self.kind != "q_uniform" else None
        if self.kind == "q_uniform":
            count = self.grid_count()
            return (self._q_grid_value(0), self._q_grid_value(count - 1)) if count else None
        return (values[0], values[-1]) if values else None

    def support(self) -> tuple[float, float] | None:
        """Smallest and largest value this distribution can produce (None for categorical)."""
        if self.kind in ("constant", "categorical"):
            return None
        kind = self.kind.removeprefix("q_")
        if kind in ("normal",):
            return (-math.inf, math.inf)
        if kind in ("log_normal",):
            return (0.0, math.inf)
        if kind == "beta":
            return (0.0, 1.0)
        lo, hi = self.min, self.max
        if kind == "log_uniform":
            lo, hi = math.exp(lo), math.exp(hi)
        elif kind == "inv_log_uniform":
            lo, hi = math.exp(-hi), math.exp(-lo)
        return (lo, hi)  # inv_log_uniform_values: between min and max, like log_uniform_values

    def sample(self, rng: np.random.Generator) -> Any:
        """One draw from ``rng``; q-kinds are rounded to a multiple of ``q`` (ints when q is)."""
        kind = self.kind
        if kind == "constant":
            return self.values[0]
        if kind == "categorical":
            return self.values[int(rng.choice(len(self.values), p=self.probabilities))]
        if kind == "int_uniform":
            return int(rng.integers(int(self.min), int(self.max), endpoint=True))
        base = kind.removeprefix("q_")
        if base == "uniform":
            x = rng.uniform(self.min, self.max)
        elif base == "log_uniform":
            x = math.exp(rng.uniform(self.min, self.max))
        elif base == "log_uniform_values":
            x = math.exp(rng.uniform(math.log(self.min), math.log(self.max)))
        elif base == "inv_log_uniform":
            x = math.exp(-rng.uniform(self.min, self.max))
        elif base == "inv_log_uniform_values":  # W&B: log(1/X) uniform in [log(1/max), log(1/min)]
            x = 1.0 / math.exp(rng.uniform(math.log(1.0 / self.max), math.log(1.0 / self.min)))
        elif base == "normal":
            x = rng.normal(self.mu, self.sigma)
        elif base == "log_normal":
            x = math.exp(rng.normal(self.mu, self.sigma))
        elif base == "beta":
            x = rng.beta(self.a, self.b)
        else:  # pragma: no cover - parse_distribution admits only the kinds above
            raise AssertionError(kind)
        return quantize(float(x), self.q) if self.is_quantized else float(x)

    def to_dict(self) -> dict:
        """The W&B mapping this distribution was read from (with defaults filled in)."""
        if self.kind == "constant":
            return {"distribution": "constant", "value": self.values[0]}
        if self.kind == "categorical":
            out = {"distribution": "categorical", "values": list(self.values)}
            if self.probabilities is not None:
                out["probabilities"] = list(self.probabilities)
            return out
        return {"distribution": self.kind, **{key: getattr(self, key) for key in DISTRIBUTION_KEYS[self.kind]}}


def quantize(x: float, q: float):
    """``round(x / q) * q`` as W&B does; an int when q is a whole number."""
    value = round(x / q) * q
    if float(q).is_integer():
        return int(round(value))
    return float(round(value, 12))


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def parse_distribution(spec: Any) -> Distribution:
    """Read one W&B parameter block into a :class:`Distribution`.

    Without ``distribution`` the kind is inferred as W&B does: ``values`` -> categorical, ``value`` ->
    constant, integer ``min``/``max`` -> int_uniform, other numbers -> uniform. Raises
    :class:`SpaceError` naming the offending key and what is allowed.
    """
    if not isinstance(spec, Mapping):
        hint = f" (did you mean `value: {shown(spec)}`?)" if not isinstance(spec, list) else \
            f" (did you mean `values: {shown(spec)}`?)"
        raise SpaceError(f"must be a mapping such as {{values: [...]}}, {{value: x}} or "
                         f"{{distribution: ..., min: ..., max: ...}}, got {shown(spec)}{hint}")
    if "parameters" in spec:  # pragma: no cover - flatten_parameters opens nested blocks before this
        raise SpaceError("nested parameters are read by flatten_parameters, not as one distribution")
    kind = spec.get("distribution")
    if kind is None:
        kind = _infer_kind(spec)
    elif not isinstance(kind, str) or kind not in DISTRIBUTION_KEYS:
        raise SpaceError(_unknown("distribution", kind, DISTRIBUTIONS), "distribution")
    allowed = set(DISTRIBUTION_KEYS[kind]) | {"distribution"}
    for key in spec:
        if key not in allowed:
            raise SpaceError(f"key `{key}` does not apply to distribution {kind}; it takes "
                             f"{', '.join(DISTRIBUTION_KEYS[kind])}", key)
    required = _REQUIRED.get(kind, tuple(k for k in DISTRIBUTION_KEYS[kind] if k in ("min", "max")))
    for key in required:
        if key not in spec:
            raise SpaceError(f"distribution {kind} needs `{key}`")

    if kind == "constant":
        return Distribution(kind, values=(spec["value"],))
    if kind in ("categorical", "categorical_w_probabilities"):  # W&B's second name: values with probabilities
        return _categorical(spec)

    fields: dict[str, Any] = {}
    for key in DISTRIBUTION_KEYS[kind]:
        value = spec.get(key, _DEFAULTS.get(key))
        if not _is_number(value) or not math.isfinite(value):
            raise SpaceError(f"`{key}` must be a finite number, got {shown(value)}", key)
        fields[key] = value
    if kind == "int_uniform" and any(abs(fields[k]) > _MAX_INT for k in ("min", "max")):
        raise SpaceError(f"int_uniform bounds must lie within +-{_MAX_INT:.0e}", "max")
    if kind in _EXPONENT_BOUNDS and any(abs(fields[k]) > _MAX_EXPONENT for k in ("min", "max")):
        raise SpaceError(f"{kind} takes natural-log exponents: min and max must lie within +-{_MAX_EXPONENT} "
                         f"(exp(710) overflows); for plain values use {kind}_values", "max")
    if "min" in fields and fields["min"] > fields["max"]:  # as W&B refuses it (sweeps' validate_min_max)
        raise SpaceError(f"min ({fields['min']!r}) is greater than max ({fields['max']!r})", "min")
    if "min" in fields and fields["min"] == fields["max"]:
        raise SpaceError(f"min ({fields['min']!r}) is not less than max ({fields['max']!r}); a parameter that "
                         f"takes one value is `value: {_only_value(kind, fields['min'])!r}`", "min")
    if kind == "int_uniform" and not all(isinstance(fields[k], int) for k in ("min", "max")):
        # W&B's schema: int_uniform's min and max are of type integer with format integer, which a
        # float such as 10.0 is not (isinstance(10.0, int) is False)
        bad = next(k for k in ("min", "max") if not isinstance(fields[k], int))
        raise SpaceError(f"int_uniform needs integer min and max, got {fields['min']!r} and {fields['max']!r}; "
                         f"write {bad}: {int(fields[bad]) if float(fields[bad]).is_integer() else 'a whole number'} "
                         "(as W&B's schema, a float such as 10.0 is refused)", bad)
    if kind.endswith("_values") and fields["min"] <= 0:
        raise SpaceError(f"{kind} needs min > 0 (its values are on a log scale), got {fields['min']!r}", "min")
    for key in ("q", "sigma", "a", "b"):
        if key in fields and fields[key] <= 0:
            raise SpaceError(f"`{key}` must be > 0, got {fields[key]!r}", key)
    return Distribution(kind, **fields)


def _only_value(kind: str, bound: float) -> float:
    """The one value a distribution with min == max == ``bound`` would draw: for the base-e kinds,
    whose bounds are exponents, e to that power (inv_log_uniform: to minus it)."""
    if kind in ("log_uniform", "q_log_uniform"):
        return math.exp(bound)
    if kind == "inv_log_uniform":
        return math.exp(-bound)
    return bound


def _infer_kind(spec: Mapping) -> str:
    if "values" in spec:
        return "categorical"
    if "value" in spec:
        return "constant"
    if "min" in spec and "max" in spec:
        lo, hi = spec["min"], spec["max"]
        if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool):
            return "int_uniform"
        return "uniform"
    if "mu" in spec or "sigma" in spec:
        return "normal"
    raise SpaceError("gives no `values`, `value`, `min`/`max` or `distribution`; "
                     "write e.g. {values: [0.1, 0.01]} or {distribution: log_uniform_values, min: 1.0e-4, max: 0.1}")


def _categorical(spec: Mapping) -> Distribution:
    values = spec["values"]
    if not isinstance(values, list):
        raise SpaceError(f"`values` must be a list, got {shown(values)} (single values need to be wrapped in a list, "
                         f"or written as `value: {shown(values)}`)", "values")
    if not values:
        raise SpaceError("`values` is empty: a grid over no values has no trials", "values")
    probabilities = spec.get("probabilities")
    if probabilities is not None:
        if (not isinstance(probabilities, list) or len(probabilities) != len(values)
                or not all(_is_number(p) and p >= 0 for p in probabilities)
                or not math.isclose(sum(probabilities), 1.0, abs_tol=1e-6)):
            raise SpaceError(f"`probabilities` must be {len(values)} non-negative numbers summing to 1, "
                             f"got {probabilities!r}", "probabilities")
        probabilities = tuple(float(p) / sum(probabilities) for p in probabilities)
    return Distribution("categorical", values=tuple(values), probabilities=probabilities)


def _unknown(what: str, value, allowed) -> str:
    return f"unknown {what} {shown(value)}{did_you_mean(value, allowed)}; allowed: {', '.join(map(str, allowed))}"


# ----------------------------------------------------------------------------------- expansion
def grid(space: Mapping[str, Distribution]) -> list[dict]:
    """Every combination of the parameters' grid values, in declared order, last fastest.

    Raises :class:`SpaceError` for a continuous distribution (a grid cannot enumerate it).
    """
    names, axes = [], []
    for name, dist in space.items():
        values = dist.grid_values()
        if values is None:
            raise SpaceError(f"parameter `{name}` has the continuous distribution {dist.kind}, which a grid "
                             "cannot enumerate; list its `values`, or use method: random with run_cap")
        names.append(name)
        axes.append(values)
    return [dict(zip(names, combo)) for combo in itertools.product(*axes)]


def grid_size(space: Mapping[str, Distribution]) -> int | None:
    """Number of grid points, or None if any distribution is continuous (nothing is enumerated)."""
    size = 1
    for dist in space.values():
        count = dist.grid_count()
        if count is None:
            return None
        size *= count
    return size


#: Draws of one value before a distribution is given up as unable to produce an accepted value.
_MAX_REDRAWS = 100


def random_draws(space: Mapping[str, Distribution], run_cap: int, seed: int,
                 accept: Callable[[str, Any], bool] | None = None) -> list[dict]:
    """``run_cap`` configurations drawn from a generator seeded by ``seed``.

    ``accept(name, value)`` guards the draws: a value it refuses is drawn again (from the same
    generator, so the configurations stay reproducible). This is how a continuous distribution may
    touch a bound the parameter excludes (``uniform`` from 0 for a learning rate, ``beta`` for a
    momentum below 1): the bound itself is drawn with probability zero, or through float underflow.
    """
    return list(itertools.islice(random_stream(space, seed, accept), run_cap))


def random_stream(space: Mapping[str, Distribution], seed: int,
                  accept: Callable[[str, Any], bool] | None = None) -> Iterator[dict]:
    """The endless stream of configurations :func:`random_draws` takes its first ``run_cap`` from:
    the ``k``-th configuration is the same however many are drawn, so an open-ended search that is
    stopped and resumed continues the same stream."""
    rng = np.random.default_rng([int(seed), _RANDOM_STREAM])
    while True:
        yield {name: _draw(name, dist, rng, accept) for name, dist in space.items()}


def _draw(name: str, dist: Distribution, rng: np.random.Generator, accept) -> Any:
    for _ in range(_MAX_REDRAWS):
        value = dist.sample(rng)
        if accept is None or accept(name, value):
            return value
    raise SpaceError(f"parameter `{name}`: {_MAX_REDRAWS} draws in a row from {dist.kind} gave values it does not "
                     f"accept (the last: {value!r}); narrow the distribution")


# ---------------------------------------------------------------------------- nested parameters
#: Joins the names of a nested parameter's path (``optimizer.lr``): its trials.csv column and search dimension.
NEST = "."


def flatten_parameters(spec: Mapping) -> tuple[dict, dict[str, tuple[str, ...]]]:
    """W&B's nested parameters opened up: ``{optimizer: {parameters: {lr: {values: [...]}}}}`` becomes
    ``{"optimizer.lr": {values: [...]}}``, each leaf a searched dimension of its own.

    Returns the flat blocks (in the order written, a nested block's leaves where the block was) and,
    for each flat name that came from a nested block, its path of names (``("optimizer", "lr")``);
    :func:`nest_values` puts a configuration's values back into W&B's nested dicts. A block with
    ``parameters`` takes no other key, and holds at least one parameter (W&B's ``param_dict`` schema).
    Raises :class:`SpaceError` whose ``key`` is the path (a tuple) of the block at fault.
    """
    flat: dict = {}
    paths: dict[str, tuple[str, ...]] = {}

    def walk(blocks: Mapping, prefix: tuple[str, ...]) -> None:
        for name, block in blocks.items():
            path = prefix + (name,)
            if isinstance(block, Mapping) and "parameters" in block:
                inner = block["parameters"]
                others = [k for k in block if k != "parameters"]
                if others:
                    raise SpaceError(f"a block with nested `parameters` takes no other key (as in W&B), got "
                                     f"`{others[0]}`; put the nested parameters' own distributions under "
                                     "`parameters`", path)
                if not isinstance(inner, Mapping) or not inner:
                    raise SpaceError(f"nested `parameters` must be a mapping of at least one parameter (as in W&B), "
                                     f"got {shown(inner)}", path)
                if not isinstance(name, str) or NEST in name:
                    raise SpaceError(f"{shown(name)} holds nested parameters, so its name may not contain "
                                     f"`{NEST}`", path)
                walk(inner, path)
                continue
            dotted = NEST.join(map(str, path))
            if dotted in flat:
                raise SpaceError(f"`{dotted}` is given twice: as a parameter and as a nested one", path)
            flat[dotted] = block
            if prefix:
                paths[dotted] = tuple(map(str, path))

    if isinstance(spec, Mapping):
        walk(spec, ())
    return flat, paths


def nest_values(values: Mapping, paths: Mapping[str, tuple[str, ...]]) -> dict:
    """A flat configuration (``{"optimizer.lr": 0.1, "batch_size": 32}``) as W&B's agent passes it, nested
    values in a dict under their top name (``{"optimizer": {"lr": 0.1}, "batch_size": 32}``), in the order
    of the flat names. Names not in ``paths`` are kept as they are."""
    out: dict = {}
    for name, value in values.items():
        path = paths.get(name)
        if path is None:
            out[name] = value
            continue
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def nest_blocks(blocks: Mapping, paths: Mapping[str, tuple[str, ...]]) -> dict:
    """Flat parameter blocks written back in W&B's nested form (what :func:`flatten_parameters` reads)."""
    out: dict = {}
    for name, block in blocks.items():
        path = paths.get(name)
        if path is None:
            out[name] = block
            continue
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {"parameters": {}})["parameters"]
        node[path[-1]] = block
    return out


def flat_blocks(spec: Any) -> Any:
    """A recorded ``parameters`` block (a run's experiment.yaml) with nested blocks opened into flat names,
    as its trials.csv columns are; a block that cannot be read is returned as it is."""
    if not isinstance(spec, Mapping):
        return spec
    try:
        return flatten_parameters(spec)[0]
    except SpaceError:
        return spec

"""Experiment files: YAML -> a validated :class:`Experiment`, every user error caught up front.

The file format follows the W&B sweep configuration for ``method``, ``metric``, ``parameters`` and
``run_cap``, and adds ``name``, ``description``, ``dataset``, ``seed``, ``repeats``, ``n_jobs``,
``backend`` (with ``scheduler`` or ``scheduler_file`` for a Dask cluster) and ``fixed``::

    name: digits-grid
    dataset: {name: digits, val_size: 0.2}
    method: grid
    metric: {name: val_acc, goal: maximize}
    parameters:
      hidden_size: {values: [50, 100]}
      learning_rate: {values: [1e-2, 1e-3]}
    fixed: {epochs: 10, optimizer: sgd_momentum}

Every problem raises :class:`~sweep.errors.ConfigError` with one line:
``FILE:LINE: key.path: what is wrong; what is allowed``.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from . import yamlio
from .durations import format_duration, parse_duration
from .ensemble_spec import MAX_ROUNDS, MAX_TOP_K, EnsembleSpec, parse_size
from .stopping import Hyperband, parse_early_terminate
from .backend import BACKENDS, Backend, parse_backend  # noqa: F401 - Backend and BACKENDS are part of the config API
from .errors import ConfigError, did_you_mean, shorten, shown
from .params import BUILTIN, PARAMETERS, REQUIRED, SYNONYMS, TRAINER_NAMES, ParamTable, constructor_table
from .settings import Invalid
from .space import DEPRECATED, Distribution, SpaceError, flatten_parameters, grid_size, nest_blocks, parse_distribution
from .vocabulary import translate

TOP_LEVEL_KEYS = ("name", "description", "dataset", "model", "method", "metric", "parameters", "run_cap", "seed",
                  "repeats", "n_jobs", "backend", "scheduler", "scheduler_file", "fixed", "time_limit",
                  "early_terminate", "fuse", "program", "command", "timeout", "ensemble", "controller")
#: W&B keys that only make sense to W&B's servers: read, ignored, warned about.
WANDB_IGNORED_KEYS = ("entity", "project", "controller")
#: W&B's ``controller.type`` values (its schema refuses any other); both mean this runner's own loop here.
CONTROLLER_TYPES = ("cloud", "local")
#: W&B features this runner does not have yet: refused.
#: (Messages follow the key path, as in ``exp.yaml:3: method: bayes is not supported yet``.)
UNSUPPORTED: dict[str, str] = {}
#: Written by the runner into a run folder's experiment.yaml; read back and ignored.
INFORMATIONAL_KEYS = ("provenance", "model_hyperparameters", "model_source_sha256", "model_code_sha256",
                      "program_parameters", "program_source_sha256")
METHODS = ("grid", "random", "bayes")
#: Metrics a sweep can rank by (columns of trials.csv) and their natural goal.
METRICS = {"val_acc": "maximize", "best_val_acc": "maximize", "train_acc": "maximize",
           "val_loss": "minimize", "train_loss": "minimize"}
GOALS = ("maximize", "minimize")
#: Largest number of trials a plan may have (a typo such as q: 1e-9 would otherwise hang the planner).
MAX_TRIALS = 1_000_000
#: Longest experiment name (W&B display names may hold spaces; the run folder uses a slug of the name).
MAX_NAME_LENGTH = 100
#: W&B's `metric.impute`: how failed runs count. This runner ranks failed and crashed trials below
#: every finished one, which is W&B's default, `worst`.
IMPUTE = ("worst",)


@dataclass(frozen=True)
class Metric:
    """What ranks the trials: a column of trials.csv and whether higher is better."""

    name: str = "val_acc"
    goal: str = "maximize"

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file.

    ``parameters`` maps each *searched* hyperparameter to its distribution (declared order kept);
    ``fixed`` holds the value of every other hyperparameter (defaults filled in), so
    ``fixed | configuration`` is a complete trial. ``n_jobs`` of -1 means one worker per core.
    """

    name: str
    dataset: str
    dataset_options: dict
    method: str = "grid"
    metric: Metric = Metric()
    parameters: dict[str, Distribution] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    run_cap: int | None = None
    seed: int = 0
    repeats: int = 1
    n_jobs: int = -1
    backend: Backend = Backend()
    description: str = ""
    source: str | None = None
    time_limit: float | None = None
    early_terminate: Hyperband | None = None
    fuse: int = 1
    warnings: tuple[str, ...] = ()
    table: ParamTable = BUILTIN  # the hyperparameters of its trials (the trials.csv columns)
    model: Any = None  # the user's model (a sweep.models.ModelSource); None: the built-in net
    program: Any = None  # the user's script run per trial (a sweep.programs.ProgramSpec); None: a net is trained
    ensemble: EnsembleSpec | None = EnsembleSpec()  # the ensemble of the top trials (sweep.ensemble); None: off
    #: W&B's nested parameters: each flat name of ``parameters`` that came from a nested block
    #: (``"optimizer.lr"``) -> its path of names (``("optimizer", "lr")``); a program gets them nested
    nested: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The resolved experiment as plain data, readable back by :func:`parse_experiment`."""
        searched = nest_blocks({name: dist.to_dict() for name, dist in self.parameters.items()}, self.nested)
        return {
            "name": self.name, "description": self.description,
            **({"dataset": {"name": self.dataset, **self.dataset_options}} if self.program is None else
               {**self.program.to_dict(), "program_parameters": {name: self.table[name].kind for name in self.table},
                "program_source_sha256": self.program.source_sha256()}),
            "method": self.method, "metric": {"name": self.metric.name, "goal": self.metric.goal},
            "parameters": searched, "fixed": dict(self.fixed), "run_cap": self.run_cap, "seed": self.seed,
            "repeats": self.repeats, "n_jobs": self.n_jobs, **self.backend.to_dict(),
            **({"time_limit": format_duration(self.time_limit)} if self.time_limit is not None else {}),
            **({"early_terminate": self.early_terminate.to_dict()} if self.early_terminate is not None else {}),
            **({"fuse": self.fuse} if self.fuse > 1 else {}),
            **({"model": self.model.ref,
                "model_hyperparameters": {name: self.table[name].kind for name in self.table
                                          if name not in TRAINER_NAMES},
                "model_source_sha256": _source_sha256(self.model),
                "model_code_sha256": _code_sha256(self.model)} if self.model is not None else {}),
            **({"ensemble": self.ensemble.to_dict() if self.ensemble is not None else False}
               if self.program is None and self.model is None else {}),
        }

    @property
    def open_ended(self) -> bool:
        """A random or bayes search without ``run_cap``: it runs until stopped (W&B's semantics)."""
        return self.method != "grid" and self.run_cap is None

    @property
    def folder_name(self) -> str:
        """The name as a folder name: see :func:`folder_name`."""
        return folder_name(self.name)

    def resolved_n_jobs(self) -> int:
        return cpu_count() if self.n_jobs == -1 else self.n_jobs


def _source_sha256(model) -> str | None:
    """The SHA-256 of a user model file's text (None for an importable module, which is not read here)."""
    return hashlib.sha256(model.source.encode()).hexdigest() if model.source is not None else None


def _code_sha256(model) -> dict[str, str]:
    """The SHA-256 of each of the user's modules the model imports (see :mod:`sweep.models.fingerprint`)."""
    from .models.fingerprint import code_files

    return code_files(model)


def folder_name(name: str) -> str:
    """A safe folder name for an experiment name: runs of other characters than letters, digits,
    ``.``, ``_`` and ``-`` become one ``-`` (``"My sweep #2"`` -> ``My-sweep-2``).

    Two names with the same slug share ``results/SLUG/``; each run records its experiment's real
    name, and resuming picks the runs of that name only.
    """
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip("-.")
    return slug or "experiment-" + hashlib.blake2b(name.encode(), digest_size=4).hexdigest()


def cpu_count() -> int:
    """Cores this process may run on (its CPU affinity), which can be fewer than the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# ------------------------------------------------------------------------------------- loading
def load_experiment(path, overrides: Iterable[str] = (),
                    options: Iterable[tuple[str, Any, str]] = ()) -> Experiment:
    """Read, override and validate an experiment file.

    ``overrides`` are ``key=value`` strings, as ``--set`` gives them. ``options`` are
    ``(top-level key, value, label)`` triples from dedicated command-line options (such as
    ``("backend", "dask", "--backend dask")``), applied after them; a value of None removes the key.
    Errors about an overridden key name the ``--set`` item or the option instead of a line.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not an experiment file")
    document = yamlio.load_file(path, "experiment file")
    raw = document.data
    if raw is None:
        raise ConfigError(f"{path}: the experiment file is empty")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1: the experiment must be a mapping of keys (name, dataset, parameters, ...), "
                          f"got {type(raw).__name__}")
    sources: dict[tuple, str] = {}
    raw = apply_overrides(raw, overrides, source=str(path), sources=sources)
    for key, value, label in options:
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
        sources[(key,)] = label
    return parse_experiment(raw, source=str(path), lines=document.lines, default_name=path.stem,
                            overridden=sources)


def apply_overrides(raw: dict, overrides: Iterable[str], source: str = "--set",
                    sources: dict[tuple, str] | None = None) -> dict:
    """A copy of ``raw`` with ``key=value`` overrides applied; values are parsed as YAML.

    ``a.b.c=v`` sets a nested key. A bare hyperparameter name (``learning_rate=0.01``) fixes that
    parameter for every trial and removes it from the search, as a Hydra override would.
    ``sources``, when given, receives the key path each override set, so errors can blame it.
    """
    sources = {} if sources is None else sources
    import copy

    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {shown(item)}: expected key=value, e.g. --set n_jobs=2")
        try:
            value = yamlio.loads(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {shown(item)}: the value is refused: {yamlio.problem_of(exc)[1]}") from None
        parts = key.split(".")
        owns_its_parameters = "model" in raw or "program" in raw or "command" in raw  # any name is a parameter
        bare_hyperparameter = parts[0] in PARAMETERS or (owns_its_parameters and parts[0] not in INFORMATIONAL_KEYS)
        if len(parts) == 1 and bare_hyperparameter and parts[0] not in TOP_LEVEL_KEYS:
            params = raw.get("parameters")
            if isinstance(params, dict):
                params.pop(parts[0], None)
                if not params:  # every searched parameter fixed on the command line: a single run, not `parameters: {}`
                    raw.pop("parameters")
            fixed = raw.setdefault("fixed", {})
            if not isinstance(fixed, dict):
                raise ConfigError(f"--set {shown(item)}: `fixed` in {source} is not a mapping")
            fixed[parts[0]] = value
            sources[("fixed", parts[0])] = f"--set {shorten(item)}"
            continue
        if len(parts) > 1 and _nested_leaf(raw, parts, value, item):
            sources[_parameter_path(("parameters", *parts))] = f"--set {shorten(item)}"
            continue
        fixed = raw.get("fixed")
        if len(parts) > 1 and parts[0] not in TOP_LEVEL_KEYS and isinstance(fixed, dict) and parts[0] in fixed:
            parts = ["fixed", *parts]  # a key inside a fixed mapping (a program's `sched: {gamma: 0.5}`)
        if parts[0] == "dataset" and isinstance(raw.get("dataset"), str):
            raw["dataset"] = {"name": raw["dataset"]}  # the `dataset: NAME` shorthand, opened up
        node = raw
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {shown(item)}: `{shorten('.'.join(parts[:i + 1]))}` is not a mapping")
            node = child
        node[parts[-1]] = value
        sources[tuple(parts)] = f"--set {shorten(item)}"
    return raw


def _nested_leaf(raw: dict, parts: list[str], value, item: str) -> bool:
    """Fix the leaf ``parts`` of a nested parameter (W&B's ``parameters:`` inside a parameter:
    ``optimizer.lr`` is ``parameters.optimizer.parameters.lr``) to ``value``; False when ``parts[0]``
    is not such a parameter. A leaf the nested parameter does not have is refused (``--set`` item
    ``item``): a misspelt one would add a parameter and leave the meant one searched."""
    node = raw.get("parameters")
    for n, part in enumerate(parts[:-1]):
        spec = node.get(part) if isinstance(node, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("parameters"), dict):
            if n == 0:
                return False
            raise ConfigError(f"--set {shown(item)}: `{shorten('.'.join(parts[:n + 1]))}` is not a nested "
                              f"parameter{did_you_mean(part, node)}; `{shorten('.'.join(parts[:n]))}` has "
                              f"{', '.join(map(str, node))}")
        node = spec["parameters"]
    if parts[-1] not in node:
        raise ConfigError(f"--set {shown(item)}: `{shorten('.'.join(parts[:-1]))}` has no nested parameter "
                          f"`{shorten(parts[-1])}`{did_you_mean(parts[-1], node)}; it has {', '.join(map(str, node))}")
    node[parts[-1]] = {"value": value}
    return True


# ---------------------------------------------------------------------------------- validation
class _Problems:
    """Formats the one-line error for a key path, with its line when the YAML gave one."""

    def __init__(self, source: str | None, lines: Mapping[tuple, int] | None,
                 overridden: Mapping[tuple, str] | None = None):
        self.source = source or "<experiment>"
        self.lines = lines or {}
        self.overridden = overridden or {}
        self.nested: dict[str, tuple[str, ...]] = {}  # flat name of a nested parameter -> its path of names

    def error(self, path: tuple, message: str) -> ConfigError:
        if len(path) >= 2 and path[0] == "parameters" and path[1] in self.nested:  # a nested parameter: its lines
            path = _parameter_path(("parameters",) + self.nested[path[1]]) + tuple(path[2:])
        dotted = shorten(".".join(str(p) for p in path))
        for key, label in self.overridden.items():
            n = min(len(key), len(path))
            if n and tuple(key[:n]) == tuple(path[:n]):  # the value came from the command line, not the file
                return ConfigError(f"{label}: {dotted}: {message}")
        line = None
        for n in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:n]))
            if line is not None:
                break
        where = f"{self.source}:{line}" if line else self.source
        return ConfigError(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")


def _int(p: _Problems, path, value, low: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise p.error(path, f"{shown(value)} is not allowed; {what}")
    return value


def parse_experiment(raw: Mapping, *, source: str | None = None, lines: Mapping[tuple, int] | None = None,
                     default_name: str | None = None, overridden: Mapping[tuple, str] | None = None) -> Experiment:
    """Validate plain data (a parsed experiment file) into an :class:`Experiment`.

    ``lines`` maps key paths to their line in the file; ``overridden`` maps key paths set on the
    command line to what set them (``--set KEY=VALUE``, ``--backend dask``), which errors name
    instead of a line.
    """
    p = _Problems(source, lines, overridden)
    warnings: list[str] = []
    for key in raw:
        if key == "controller":
            _check_controller(p, raw[key])
            warnings.append(f"{p.source}: `controller` is a W&B setting (who runs W&B's search loop); this runner "
                            "runs its own and ignores it")
        elif key in WANDB_IGNORED_KEYS:
            warnings.append(f"{p.source}: `{key}` is a W&B agent setting; this runner ignores it")
        elif key in INFORMATIONAL_KEYS:
            continue
        elif key in UNSUPPORTED:
            raise p.error((key,), UNSUPPORTED[key])
        elif key not in TOP_LEVEL_KEYS:
            guess = did_you_mean(key, TOP_LEVEL_KEYS + tuple(PARAMETERS), synonyms=SYNONYMS)
            raise p.error((key,), f"unknown key{guess}; "
                                  f"allowed: {', '.join(TOP_LEVEL_KEYS)}"
                                  + ("; hyperparameters go under `parameters` or `fixed`"
                                     if key in PARAMETERS or str(key).lower() in SYNONYMS else ""))

    name = _parse_name(p, raw.get("name", default_name))
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise p.error(("description",), "must be text")

    runs_program = raw.get("program") is not None or raw.get("command") is not None
    if runs_program:
        if raw.get("dataset") is not None:
            warnings.append(f"{p.source}: `dataset` is not used: the program loads its own data")
        if raw.get("model") is not None:
            raise p.error(("model",), "a sweep runs either a model or a program; remove `model` or `program`")
        dataset, dataset_options = "", {}
    else:
        if raw.get("timeout") is not None:
            raise p.error(("timeout",), "timeout (seconds a program's trial may run) needs `program:`; a model's "
                                        "trials stop with time_limit")
        dataset, dataset_options = _parse_dataset(p, raw.get("dataset"))

    if "parameters" in raw and raw["parameters"] is not None and "method" not in raw:
        # W&B's schema requires `method`; a file without `parameters` (ours: a single run of `fixed`) keeps grid
        raise p.error(("parameters",), "no `method`: W&B requires one for a search (its schema's only required "
                                       "key); add `method: grid`, `method: random` or `method: bayes`")
    method = raw.get("method", "grid")
    if not isinstance(method, str):
        raise p.error(("method",), f"{shown(method)} is not allowed; allowed: {', '.join(METHODS)}")
    if method in UNSUPPORTED:
        raise p.error(("method",), UNSUPPORTED[method])
    if method not in METHODS:
        raise p.error(("method",), f"{shown(method)} is not allowed{did_you_mean(method, METHODS)}; "
                                   f"allowed: {', '.join(METHODS)}")

    if runs_program and raw.get("parameters") is None and not raw.get("fixed"):
        raise p.error((), "no `parameters`: W&B requires them in a sweep file; give the program's parameters under "
                          "`parameters` (or its values under `fixed`, to run it once)")
    raw_parameters, nested = _flatten_parameters(p, raw.get("parameters"), runs_program)
    if runs_program:
        from .programs.spec import program_table

        metric = _parse_program_metric(p, raw.get("metric"), warnings)
        model, table = None, program_table(raw_parameters, raw.get("fixed"))
        parameters = _parse_parameters(p, raw_parameters, table, grid=method == "grid", warnings=warnings)
        fixed = _parse_fixed(p, raw.get("fixed"), parameters, table)
    else:
        metric = _parse_metric(p, raw.get("metric"), warnings)
        model, table = _parse_model(p, raw.get("model"))
        parameters = _parse_parameters(p, translate(raw_parameters, table, model is None, p.source,
                                                    warnings), table, grid=method == "grid", warnings=warnings)
        fixed = _parse_fixed(p, translate(raw.get("fixed"), table, model is None, p.source, warnings), parameters,
                             table)
        _check_required(p, model, table, parameters, fixed)

    seed = _int(p, ("seed",), raw.get("seed", 0), 0, "seed must be a whole number >= 0")
    repeats = _int(p, ("repeats",), raw.get("repeats", 1), 1, "repeats (seeds per configuration) must be >= 1")
    run_cap = raw.get("run_cap")
    if run_cap is not None:
        run_cap = _int(p, ("run_cap",), run_cap, 1, "run_cap must be a whole number >= 1")
        if run_cap * repeats > MAX_TRIALS:
            raise p.error(("run_cap",), f"{run_cap:,} x {repeats} repeat(s) is more than the {MAX_TRIALS:,} "
                                        "trials a sweep may plan")
    if method == "grid":
        try:
            size = grid_size(parameters)
        except SpaceError as exc:  # pragma: no cover - grid_size does not raise
            raise p.error(("parameters",), str(exc)) from None
        if size is None:
            name_ = next(n for n, d in parameters.items() if d.grid_count() is None)
            raise p.error(("parameters", name_), f"distribution {parameters[name_].kind} is continuous and "
                          "a grid cannot enumerate it; list its `values`, or use method: random with run_cap")
        if size * repeats > MAX_TRIALS and (run_cap is None or run_cap * repeats > MAX_TRIALS):
            raise p.error(("parameters",), f"the grid has {size:,} points x {repeats} repeat(s), more than the "
                                           f"{MAX_TRIALS:,} trials a sweep may plan; narrow it or use method: random "
                                           "with run_cap")
        if run_cap is not None and run_cap < size:
            warnings.append(f"{p.source}: run_cap {run_cap} keeps the first {run_cap} of {size} grid points")

    n_jobs = raw.get("n_jobs", -1)
    if n_jobs != -1:
        n_jobs = _int(p, ("n_jobs",), n_jobs, 1, "n_jobs must be a whole number >= 1, or -1 for one per core")
    backend = parse_backend(p, raw.get("backend"), raw.get("scheduler"), raw.get("scheduler_file"))
    time_limit = None
    if raw.get("time_limit") is not None:
        try:
            time_limit = parse_duration(raw["time_limit"])
        except ValueError as exc:
            raise p.error(("time_limit",), str(exc)) from None

    program = _parse_program(p, {**raw, "parameters": raw_parameters}, metric, table, nested) if runs_program \
        else None
    early_terminate = _parse_early_terminate(p, raw.get("early_terminate"), parameters, fixed, warnings,
                                             program is not None)
    fuse = _parse_fuse(p, raw.get("fuse", 1), method, run_cap, early_terminate)
    if fuse > 1 and program is not None:
        raise p.error(("fuse",), f"fuse {fuse} trains the built-in nets only, not a program; remove `fuse`")
    if fuse > 1 and model is not None:
        raise p.error(("fuse",), f"fuse {fuse} trains the built-in nets only: a group of nets shares one product of "
                                 f"their first layers, which {model.ref} does not expose; remove `fuse`")

    ensemble = _parse_ensemble(p, raw, program is not None, warnings)

    return Experiment(name=name, dataset=dataset, dataset_options=dataset_options, method=method, metric=metric,
                      parameters=parameters, fixed=fixed, run_cap=run_cap, seed=seed, repeats=repeats,
                      n_jobs=n_jobs, backend=backend, description=description, source=source,
                      time_limit=time_limit, early_terminate=early_terminate, fuse=fuse, warnings=tuple(warnings),
                      table=table, model=model, program=program, ensemble=ensemble, nested=nested)


#: The keys of an ``ensemble:`` mapping.
ENSEMBLE_KEYS = ("top_k", "rounds", "max_disk")


def _parse_ensemble(p: _Problems, raw: Mapping, program: bool, warnings: list) -> EnsembleSpec | None:
    """``ensemble:`` (see :mod:`sweep.ensemble`): absent or ``true`` for the defaults, ``false`` for none, or a
    mapping of ``top_k`` (trials in the pool), ``rounds`` (selection rounds) and ``max_disk`` (the most
    bytes of kept weights: ``200MB``, ``1GiB``, a number of bytes). Off for a program (its trials leave no
    model), with a warning when the file asks for it."""
    if "ensemble" not in raw:
        return None if program else EnsembleSpec()
    spec = raw["ensemble"]
    if spec is False or spec is None:
        return None
    if spec is True:
        spec = {}
    if not isinstance(spec, Mapping):
        raise p.error(("ensemble",), f"{shown(spec)} is not allowed; give true, false or a mapping like "
                                     "{top_k: 10, rounds: 10, max_disk: 200MB}")
    for key in spec:
        if key not in ENSEMBLE_KEYS:
            raise p.error(("ensemble", key), f"unknown key{did_you_mean(key, ENSEMBLE_KEYS)}; allowed: "
                                             f"{', '.join(ENSEMBLE_KEYS)}")
    top_k = _int(p, ("ensemble", "top_k"), spec.get("top_k", EnsembleSpec.top_k), 1,
                 "top_k (the trials the ensemble is chosen from) must be a whole number >= 1")
    if top_k > MAX_TOP_K:
        raise p.error(("ensemble", "top_k"), f"{top_k} is more than the {MAX_TOP_K} trials an ensemble may be chosen "
                                             "from")
    rounds = _int(p, ("ensemble", "rounds"), spec.get("rounds", EnsembleSpec.rounds), 0,
                  "rounds (members added to the best trial, with replacement) must be a whole number >= 0")
    if rounds > MAX_ROUNDS:
        raise p.error(("ensemble", "rounds"), f"{rounds} is more than the {MAX_ROUNDS} rounds allowed")
    max_disk = spec.get("max_disk", EnsembleSpec.max_disk)
    try:
        max_disk = parse_size(max_disk)
    except (ValueError, OverflowError):
        raise p.error(("ensemble", "max_disk"), f"{shown(max_disk)} is not allowed; give a size such as 200MB, "
                                                "1.5GB, 512MiB or a number of bytes (0 keeps no weights beyond the "
                                                "best model's: members are retrained)") from None
    if program:
        warnings.append(f"{p.source}: ensemble is off: a program's trials leave no model to combine")
        return None
    return EnsembleSpec(top_k, rounds, max_disk, asked=True)



def _check_controller(p: _Problems, spec) -> None:
    """W&B's ``controller: {type: cloud | local}``: who runs the search loop there (W&B's servers, or
    ``wandb controller`` on the user's machine); here it is always this runner, so it is ignored with a
    warning. Other values are refused, as W&B's schema refuses them."""
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise p.error(("controller",), f"{shown(spec)} is not allowed; W&B's controller is a mapping with `type` "
                                       f"({' or '.join(CONTROLLER_TYPES)}), e.g. `controller: {{type: local}}`")
    for key in spec:
        if key != "type":
            raise p.error(("controller", key), "unknown key; allowed: type")
    if spec["type"] not in CONTROLLER_TYPES:
        raise p.error(("controller", "type"), f"{shown(spec['type'])} is not allowed"
                                              f"{did_you_mean(spec['type'], CONTROLLER_TYPES)}; "
                                              f"allowed: {', '.join(CONTROLLER_TYPES)}")


def _flatten_parameters(p: _Problems, spec, runs_program: bool) -> tuple[Any, dict[str, tuple[str, ...]]]:
    """``parameters`` with W&B's nested blocks opened into flat names (``optimizer.lr``; see
    :func:`sweep.space.flatten_parameters`), and the path of each such name. A program gets the nested
    values as W&B's agent passes them (``--optimizer={'lr': 0.1}``); a model takes flat keyword
    hyperparameters, so nested blocks are refused there, naming the flat form. ``parameters: {}`` is
    refused, as W&B refuses it."""
    if not isinstance(spec, Mapping):
        return spec, {}
    if not spec:
        raise p.error(("parameters",), "is empty: W&B refuses a sweep without parameters; give at least one, or "
                                       "remove `parameters:` and set the values under `fixed`")
    try:
        flat, nested = flatten_parameters(spec)
    except SpaceError as exc:
        raise p.error(_parameter_path(("parameters",) + tuple(exc.key or ())), str(exc)) from None
    if nested and not runs_program:
        dotted, path = next(iter(nested.items()))
        guess = did_you_mean(path[-1], tuple(PARAMETERS), synonyms=SYNONYMS)
        raise p.error(_parameter_path(("parameters",) + path[:1]),
                      f"nested parameters ({dotted}) reach a program as a dict, as W&B's agent passes them "
                      f"(--{path[0]}={{'{path[1]}': ...}}); a model takes flat hyperparameters: write each under "
                      f"`parameters` by its own name{' (' + guess.strip(' ()') + ')' if guess else ''}")
    p.nested = nested
    return flat, nested


def _parameter_path(path: tuple) -> tuple:
    """A key path through nested parameters as the file writes it (``parameters.a.parameters.b``)."""
    out = [path[0]] if path else []
    for i, part in enumerate(path[1:]):
        if i:
            out.append("parameters")
        out.append(part)
    return tuple(out)


def _parse_fuse(p: _Problems, value, method: str, run_cap: int | None, early_terminate) -> int:
    """``fuse: K``: train up to K runs of the plan in one pass (see :mod:`sweep.fused`); 1 is off.

    Groups are fixed by the plan, so only a search planned in advance can be fused: a grid, or a
    random search with ``run_cap``, without early termination (a paused group is not built yet).
    """
    fuse = _int(p, ("fuse",), value, 1, "fuse (training runs trained together in one pass) must be a "
                                         "whole number >= 1; 1 trains each run alone")
    if fuse > 1 and (early_terminate is not None or method == "bayes" or (method == "random" and run_cap is None)):
        what = "early_terminate" if early_terminate is not None else \
            "method bayes" if method == "bayes" else "an open-ended random search"
        raise p.error(("fuse",), f"fuse {fuse} cannot be combined with {what} yet: fused groups are fixed "
                                 "when the sweep is planned; use method grid, or random with run_cap")
    return fuse


def _parse_early_terminate(p: _Problems, spec, parameters: dict, fixed: dict, warnings: list,
                           program: bool = False) -> Hyperband | None:
    """The ``early_terminate`` block; its iterations are epochs (a program's are the lines it writes
    with the metric, as W&B counts them: anything goes). A searched ``epochs`` is each trial's own
    budget, as in W&B: the milestones run up to the largest value, and a trial whose epochs end
    before a milestone simply finishes there."""
    if spec is None:
        return None
    try:
        hyperband = parse_early_terminate(spec)
    except ValueError as exc:
        key, message = exc.args
        raise p.error(("early_terminate",) + ((key,) if key else ()), message) from None
    if program:
        return hyperband
    try:
        epochs = largest_epochs(parameters, fixed)
    except ValueError as exc:
        raise p.error(("parameters", "epochs"), str(exc)) from None
    if not hyperband.milestones(epochs):
        warnings.append(f"{p.source}: early_terminate: no milestone lies below epochs {epochs}, so no "
                        "trial is stopped early")
    return hyperband


def largest_epochs(parameters: Mapping[str, Distribution], fixed: Mapping) -> int:
    """The most epochs a trial of the sweep trains: the fixed ``epochs``, or the largest value a
    searched one can take (the milestones of early termination run up to it). ValueError for a
    searched ``epochs`` without a largest value (a normal distribution)."""
    dist = parameters.get("epochs")
    if dist is None:
        return int(fixed["epochs"])
    values = dist.grid_values()
    if values:
        return int(max(values))
    high = (dist.support() or (None, math.inf))[1]
    if not math.isfinite(high):
        raise ValueError(f"{dist.kind} has no largest value, which early_terminate needs (its milestones run up to "
                         "the most epochs a trial trains); give epochs `values`, or an int_uniform min and max")
    return int(math.floor(high + (dist.q if dist.is_quantized else 0)))  # a draw rounded to q may pass max


def _parse_name(p: _Problems, name) -> str:
    """Any one-line text of at most MAX_NAME_LENGTH characters (the folder name is a slug of it)."""
    if not isinstance(name, str) or not name.strip():
        raise p.error(("name",), f"{shown(name)} is not allowed; the name must be text, e.g. `name: mnist-grid`")
    if any(unicodedata.category(c).startswith("C") for c in name):
        bad = next(c for c in name if unicodedata.category(c).startswith("C"))
        raise p.error(("name",), f"{shown(name)} contains the control character {bad!r} (a line break?); the name "
                                 "must be one line of text")
    if len(name) > MAX_NAME_LENGTH:
        raise p.error(("name",), f"the name is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed")
    if name != name.strip():
        raise p.error(("name",), f"{shown(name)} starts or ends with a space")
    return name


def _parse_dataset(p: _Problems, spec) -> tuple[str, dict]:
    from .data.options import validate_options
    from .data.registry import parse_name
    from .errors import DataError

    if spec is None:
        raise p.error(("dataset",), "missing; name the data set, e.g. `dataset: digits` or "
                                    "`dataset: {name: fashion-mnist, val_size: 5000}`")
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise p.error(("dataset",), f"must be a data set name or a mapping with `name`, got {shown(spec)}")
    options = {k: v for k, v in spec.items() if k != "name"}
    try:
        loader, _ = parse_name(spec["name"])
        validate_options(spec["name"], options, loader.options, loader.defaults)
    except DataError as exc:
        message = str(exc)
        bad = next((k for k in options if f"'{k}'" in message or f"`{k}`" in message), None)
        raise p.error(("dataset", bad) if bad else ("dataset", "name"), message) from None
    return spec["name"], options


def _parse_metric(p: _Problems, spec, warnings: list[str]) -> Metric:
    if spec is None:
        return Metric()
    shorthand = isinstance(spec, str)  # `metric: val_loss`, ours: the metric's natural goal
    if shorthand:
        spec = {"name": spec}
    if not isinstance(spec, Mapping):
        raise p.error(("metric",), f"must be a mapping like {{name: val_acc, goal: maximize}}, got {shown(spec)}")
    _check_wandb_metric_keys(p, spec, warnings)
    name = spec.get("name", "val_acc")
    if not isinstance(name, str) or name not in METRICS:
        raise p.error(("metric", "name"), f"{shown(name)} is not a metric{did_you_mean(name, METRICS)}; "
                                          f"allowed: {', '.join(METRICS)}")
    if "goal" not in spec and not shorthand and METRICS[name] == "maximize":
        raise p.error(("metric", "name"), f"{name} without `goal`: W&B minimizes by default, which would rank the "
                                          f"worst model first; add `goal: maximize`")
    goal = spec.get("goal", METRICS[name])
    if not isinstance(goal, str) or goal not in GOALS:
        raise p.error(("metric", "goal"), f"{shown(goal)} is not allowed{did_you_mean(goal, GOALS)}; "
                                          "allowed: maximize, minimize")
    if goal != METRICS[name]:
        raise p.error(("metric", "goal"), f"{name} should be {METRICS[name]}d, not {goal}d")
    return Metric(name, goal)


def _check_wandb_metric_keys(p: _Problems, spec: Mapping, warnings: list[str]) -> None:
    """The keys of ``metric`` besides name and goal: W&B's ``target`` is ignored with a warning, and
    ``impute`` and ``impute_while_running`` are accepted with the only behaviour this runner has."""
    keys = ("name", "goal", "target", "impute", "impute_while_running")
    for key in spec:
        if key == "target":
            warnings.append(f"{p.source}: metric.target (W&B's early stop at a value) is ignored by this runner")
        elif key == "impute":
            if spec[key] not in IMPUTE:
                raise p.error(("metric", key), f"{spec[key]!r} is not supported; failed and crashed trials rank below "
                                               "every finished one here, which is W&B's default `worst`")
        elif key == "impute_while_running":
            if spec[key] not in (False, "false"):
                raise p.error(("metric", key), f"{spec[key]!r} is not supported; trials are ranked when they finish "
                                               "(W&B's default `false`)")
        elif key not in keys:
            raise p.error(("metric", key), f"unknown key{did_you_mean(key, keys)}; allowed: {', '.join(keys)}")


def _parse_program_metric(p: _Problems, spec, warnings: list[str]) -> Metric:
    """A program's ``metric``: any name its lines carry (W&B's ``val/accuracy`` too); W&B's default goal,
    minimize."""
    if spec is None:
        raise p.error(("metric",), "missing; name the metric the program logs, e.g. "
                                   "`metric: {name: val_acc, goal: maximize}`")
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping):
        raise p.error(("metric",), f"must be a mapping like {{name: val_acc, goal: maximize}}, got {shown(spec)}")
    _check_wandb_metric_keys(p, spec, warnings)
    name, goal = spec.get("name"), spec.get("goal", "minimize")
    if not isinstance(name, str) or not name.strip() or has_control_characters(name):
        raise p.error(("metric", "name"), f"{shown(name)} is not allowed; name the metric the program logs")
    if not isinstance(goal, str) or goal not in GOALS:
        raise p.error(("metric", "goal"), f"{shown(goal)} is not allowed{did_you_mean(goal, GOALS)}; "
                                          "allowed: maximize, minimize")
    return Metric(name, goal)


def _parse_program(p: _Problems, raw: Mapping, metric: Metric, table: ParamTable, nested=None):
    """``program:``, ``command:`` and ``timeout:`` (see :mod:`sweep.programs`)."""
    from .programs.command import build_argv
    from .programs.spec import HISTORY_COLUMNS, RESERVED_COLUMNS, ProgramSpec, kill_delay, resolve_folder

    program, command = raw.get("program"), raw.get("command")
    if program is not None and (not isinstance(program, str) or not program.strip()):
        raise p.error(("program",), f"{shown(program)} is not allowed; name the training script, e.g. "
                                    "`program: train.py`")
    if command is not None:
        if not isinstance(command, list) or not command:
            raise p.error(("command",), f"{shown(command)} is not allowed; give a list of words, e.g. "
                                        "[\"${env}\", \"${interpreter}\", \"${program}\", \"${args}\"]")
        command = tuple(command)  # its items are checked by build_argv, as W&B's agent reads them
    try:
        build_argv(program, list(command) if command else None, {}, json_file="params.json")
    except ValueError as exc:
        raise p.error(("command" if command else "program",), str(exc)) from None
    for name in table:
        if not name.strip() or has_control_characters(name):
            raise p.error(("parameters", name), f"{shown(name)} is not allowed as a parameter's name (an empty name, "
                                                "or one with a control character such as a newline)")
        if any(has_control_characters(text) for text in _texts_in(raw.get("parameters", {}).get(name)
                                                                  if isinstance(raw.get("parameters"), Mapping)
                                                                  else None, (raw.get("fixed") or {}).get(name)
                                                                  if isinstance(raw.get("fixed"), Mapping) else None)):
            raise p.error(("parameters", name), "a value with a control character (a newline, a tab, NUL) is not "
                                                "allowed: it would reach the program and trials.csv garbled")
        if name in RESERVED_COLUMNS or name == metric.name:
            raise p.error(("parameters", name), f"`{name}` is a column of trials.csv or of the leaderboard "
                                                f"({', '.join(RESERVED_COLUMNS)}, and the metric); rename the parameter"
                                                + ("; each trial's seed reaches the program as SWEEP_SEED, and "
                                                   "`repeats: N` runs each configuration with N seeds"
                                                   if name == "seed" else ""))
    if metric.name in RESERVED_COLUMNS + HISTORY_COLUMNS:
        raise p.error(("metric", "name"), f"`{metric.name}` is a column of trials.csv or of the history; log the "
                                          "metric under another name")
    timeout = None
    if raw.get("timeout") is not None:
        try:
            timeout = parse_duration(raw["timeout"])
        except ValueError as exc:
            raise p.error(("timeout",), str(exc)) from None
    return ProgramSpec(program=program, command=command, folder=resolve_folder(p.source), metric=metric.name,
                       timeout=timeout, grace=kill_delay(), nested=tuple(sorted((nested or {}).items())))


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character (a newline, a tab, NUL, DEL...)."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _texts_in(*values) -> list[str]:
    """Every string inside ``values`` (nested lists and mappings too, keys included)."""
    out, todo = [], list(values)
    while todo:
        value = todo.pop()
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, Mapping):
            todo.extend(value.keys())
            todo.extend(value.values())
        elif isinstance(value, (list, tuple)):
            todo.extend(value)
    return out


def _parse_model(p: _Problems, ref) -> tuple[Any, ParamTable]:
    """``model: FILE.py:Class`` or ``model: package.module:Class``: the user's model and the table of the
    experiment's hyperparameters (its constructor's, then the trainer's); without it the built-in net's.
    The file is found relative to the experiment file, and imported (to read the constructor)."""
    if ref is None:
        return None, BUILTIN
    from .models import ModelError, model_hyperparameters, resolve_model

    if not isinstance(ref, str):
        raise p.error(("model",), f"{shown(ref)} is not allowed; name the model's class, e.g. "
                                  "`model: nets.py:ThreeLayerNet` (a file beside the experiment) or "
                                  "`model: mypackage.nets:ThreeLayerNet`")
    base = Path(p.source).resolve().parent if p.source and p.source != "<experiment>" else Path.cwd()
    try:
        source = resolve_model(ref, base)
        hyperparameters = model_hyperparameters(source.load())
    except ModelError as exc:
        raise p.error(("model",), str(exc)) from None
    taken = [name for name in hyperparameters if name in TRAINER_NAMES]
    if taken:
        raise p.error(("model",), f"{ref}: its constructor takes {', '.join(taken)}, which the trainer takes "
                                  f"({', '.join(TRAINER_NAMES)}): rename {'it' if len(taken) == 1 else 'them'} in the "
                                  "model")
    return source, constructor_table(hyperparameters)


def _check_required(p: _Problems, model, table: ParamTable, parameters: Mapping, fixed: Mapping) -> None:
    """A model's hyperparameter without a default must be given (searched or fixed)."""
    missing = [name for name in table if table[name].default is REQUIRED and name not in parameters
               and name not in fixed]
    if missing:
        raise p.error(("model",), f"{model.ref}: its constructor has no default for {', '.join(missing)}: give "
                                  f"{'it' if len(missing) == 1 else 'them'} under `parameters` or `fixed`")


def _parse_parameters(p: _Problems, spec, table: ParamTable, grid: bool,
                      warnings: list[str] | None = None) -> dict[str, Distribution]:
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise p.error(("parameters",), f"must be a mapping of hyperparameter names, got {shown(spec)}")
    out = {}
    for name, block in spec.items():
        if name not in table:
            raise p.error(("parameters", name), f"unknown hyperparameter{_guess(name, table)}; "
                                                f"allowed: {', '.join(table)}")
        try:
            dist = parse_distribution(block)
        except SpaceError as exc:
            where = ("parameters", name) + ((exc.key,) if exc.key and isinstance(block, Mapping) and exc.key in block
                                            else ())
            raise p.error(where, str(exc)) from None
        if warnings is not None and isinstance(block, Mapping) and block.get("distribution") in DEPRECATED:
            kind = block["distribution"]  # W&B's words (PARAM_DEPRECATION_MAP of its sweeps/params.py)
            warnings.append(f"{p.source}: parameters.{name} uses {kind}, where min/max specify base-e exponents. "
                            f"Use {DEPRECATED[kind]} to specify limit values.")
        if grid and dist.probabilities is not None:
            raise p.error(("parameters", name), "categorical with `probabilities` cannot be searched by a grid (as in "
                                                "W&B, which refuses it); remove `probabilities`, or use method: random")
        try:
            table[name].check_distribution(dist, grid=grid)
        except Invalid as exc:
            raise p.error(("parameters", name), str(exc)) from None
        if dist.kind in ("constant", "categorical"):
            dist = Distribution(dist.kind, values=tuple(table[name].check(v) for v in dist.values),
                                probabilities=dist.probabilities)
        out[name] = dist
    return out


def _guess(name, table: ParamTable = BUILTIN) -> str:
    """`` (did you mean `x`?)`` for a hyperparameter name, or empty."""
    return did_you_mean(name, tuple(table), synonyms=SYNONYMS)


def _parse_fixed(p: _Problems, spec, parameters: Mapping[str, Distribution], table: ParamTable) -> dict[str, Any]:
    fixed = dict(table.defaults)
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise p.error(("fixed",), f"must be a mapping of hyperparameter values, got {shown(spec)}")
    for name, value in spec.items():
        if name not in table:
            raise p.error(("fixed", name), f"unknown hyperparameter{_guess(name, table)}; "
                                           f"allowed: {', '.join(table)}")
        if name in parameters:
            raise p.error(("fixed", name), "is also under `parameters`; a hyperparameter is either searched "
                                           "or fixed")
        if isinstance(value, Mapping) and table[name].kind != "json":
            raise p.error(("fixed", name), f"takes a single value, not {shown(value)}; distributions go under "
                                           "`parameters`")
        try:
            fixed[name] = table[name].check(value)
        except Invalid as exc:
            raise p.error(("fixed", name), str(exc)) from None
    for name in parameters:
        fixed.pop(name, None)
    return fixed

"""Study file -> validated, frozen :class:`StudySpec`.

A study is one TOML file in ``studies/`` (see ``studies/seqgan_tradeoff.toml``)::

    description = "..."          # optional, default ""
    experiment = "seqgan"        # a name in raygan.experiments.REGISTRY
    seed = 0                     # optional, default 0; 0 <= seed < 2**32 (numpy's limit)
    sampler = "nsga2"            # nsga2 | tpe | random | grid

    [data]                       # checked against the experiment's Data dataclass
    [fixed]                      # checked against the experiment's Config dataclass
    [search.NAME]                # NAME is a Config field; type = int|float|logfloat|categorical
    [objectives]                 # ordered: metric = "max" | "min"; at least one
    [result]                     # optional: which round's scores stand for a trial
                                 # round = "last" (default) | "best"; reference = {metric =
                                 # worst value, ...} for every objective ("best" with 2+);
                                 # aggregate = "mean" (default) | "pessimistic" over
                                 # replicates; validate = 0 (fresh seeds per front configuration)
    [budget]                     # num_samples (required), max_concurrent = 1,
                                 # time_budget_s = 0 (no limit), max_failures = 0,
                                 # replicates = 1 (seeds each configuration is trained with)
    [resources]                  # cpus = 1 (> 0), gpus = 0 (0..1: share of one GPU per trial,
                                 # used only where the cluster has GPUs)
    [[start]]                    # optional: trials run first, in order, before the sampler
                                 # picks (Tune's points_to_evaluate); each names a value for
                                 # every searched setting, inside its range
    [profiles.NAME]              # any of the tables/keys above, except profiles

Profiles. ``load_spec(..., profile="smoke")`` merges ``[profiles.smoke]`` into the base
document: tables deep-merge key by key, EXCEPT ``search`` and ``objectives``, which the
profile replaces entirely when it gives them. That is how the paper profile searches
only ``duplication`` while everything else stays at its ``[fixed]`` value or Config
default: a setting searched in the base but not in the profile is simply not searched.
A profile that gives its own ``search`` also drops the base's ``[[start]]`` points (they
were written for the base's search space) unless it gives its own ``start``; so does an
override of any ``search`` key (``--set search.duplication.high=10``) unless ``start`` is
overridden too.
Profile ``default`` is used when none is named; a file without ``[profiles.default]``
still accepts it (it means the base document).

Overrides. ``overrides=["budget.num_samples=4", "sampler=tpe"]`` (the CLI's ``--set``)
are applied after the profile: the key is a dotted path into the merged document, the
value is a TOML value (``3``, ``0.5``, ``true``, ``"text"``, ``[1, 2]``) or a bare word
taken as a string (``tpe``, ``max``).

Every problem raises :class:`SpecError` with one line ``<file>: <field>: <problem>``,
where the problem gives the value and the rule it breaks. Validation happens once, on
the merged document, so an error caused by a profile or a ``--set`` says so at the end.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygan.experiments import REGISTRY, get_experiment
from raygan.experiments.base import build_config, check_setting

SAMPLERS = ("nsga2", "tpe", "random", "grid")
PARAM_TYPES = ("int", "float", "logfloat", "categorical")
MODES = ("max", "min")
MAX_GRID_POINTS = 10_000
MAX_SEED = 2**32 - 1  # Optuna's samplers seed numpy's RandomState, which stops here

# Allowed keys of each part of a study file, in the order they are listed in errors.
TOP_KEYS = (
    "description",
    "experiment",
    "seed",
    "sampler",
    "data",
    "fixed",
    "search",
    "objectives",
    "result",
    "start",
    "budget",
    "resources",
    "profiles",
)
PROFILE_KEYS = tuple(k for k in TOP_KEYS if k != "profiles")
BUDGET_KEYS = ("num_samples", "max_concurrent", "time_budget_s", "max_failures", "replicates")
RESOURCE_KEYS = ("cpus", "gpus")
RESULT_KEYS = ("round", "reference", "aggregate", "validate")
RESULT_ROUNDS = ("last", "best")
# How a configuration's replicates become the one value per objective that Optuna, the
# kept round and the Pareto front see. "mean" is the default: with the 2 or 3 replicates a
# laptop affords, a sample std is itself too noisy (about 70% relative error at 2) to rank
# configurations by; the validation runs are what guard against a lucky seed.
AGGREGATES = ("mean", "pessimistic")
# More seeds than this per configuration is a typo, not a study (each one is a training run).
MAX_REPLICATES = 100
PARAM_KEYS = {
    "int": ("type", "low", "high", "step"),
    "float": ("type", "low", "high"),
    "logfloat": ("type", "low", "high"),
    "categorical": ("type", "choices"),
}
# Tables a profile replaces instead of merging into (see the module docstring).
REPLACED_BY_PROFILE = ("search", "objectives")

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
BARE_WORD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
KEY_PATH_RE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class SpecError(ValueError):
    """One line: '<file>: <field>: <problem>'."""


# -----------------------------------------------------------------------------
# the spec


@dataclass(frozen=True)
class Param:
    """One searched setting. int: low..high by step; float/logfloat: [low, high]."""

    name: str
    type: str  # int | float | logfloat | categorical
    low: float | int | None = None
    high: float | int | None = None
    step: int | None = None  # int only; None means 1
    choices: tuple = ()  # categorical only

    def grid_values(self) -> list:
        """Every value the grid sampler visits, in order."""
        if self.type == "int":
            return list(range(self.low, self.high + 1, self.step or 1))
        if self.type == "categorical":
            return list(self.choices)
        raise ValueError(f"param {self.name!r} of type {self.type!r} has no grid values")

    def extremes(self) -> list:
        """The values a driver-side check tries: each choice of a categorical setting,
        else the lowest and the highest value (one where they are equal)."""
        if self.type == "categorical":
            return list(self.choices)
        if self.type == "int":
            step = self.step or 1
            high = self.low + (self.high - self.low) // step * step  # the highest on the grid
            return list(dict.fromkeys((self.low, high)))
        return list(dict.fromkeys((float(self.low), float(self.high))))

    def describe(self) -> str:
        """The searched range as a person reads it: '1..10', 'one of ['a', 'b']'."""
        if self.type == "categorical":
            return f"one of {list(self.choices)!r}"
        step = f" step {self.step}" if self.type == "int" and (self.step or 1) > 1 else ""
        return f"{self.low}..{self.high}{step}"

    def as_sampled(self, value: Any) -> Any:
        """`value` as the sampler hands it out: a float setting's 1 is 1.0."""
        floats = self.type in ("float", "logfloat") or (
            self.type == "categorical" and all(isinstance(c, float) for c in self.choices)
        )
        return float(value) if floats and _is_int(value) else value

    def check(self, value: Any) -> str | None:
        """What is wrong with `value` as a value of this setting, or None if it fits."""
        value = self.as_sampled(value)
        if self.type == "categorical":
            if not any(_same_value(value, c) for c in self.choices):
                return f"{value!r} is not one of the choices {list(self.choices)!r}"
            return None
        if self.type == "int":
            if not _is_int(value):
                return f"{value!r} must be an integer"
            step = self.step or 1
            if not self.low <= value <= self.high or (value - self.low) % step:
                every = f" in steps of {step}" if step > 1 else ""
                return f"{value!r} must be between {self.low} and {self.high}{every}"
            return None
        if not _is_number(value):
            return f"{value!r} must be a finite number"
        if not self.low <= value <= self.high:
            return f"{value!r} must be between {self.low!r} and {self.high!r}"
        return None

    def grid_count(self) -> int:
        """len(grid_values()) without building the list (the range may be huge)."""
        if self.type == "int":
            return (self.high - self.low) // (self.step or 1) + 1
        return len(self.grid_values())


@dataclass(frozen=True)
class Objective:
    metric: str
    mode: str  # "max" | "min"
    reference: float | None = None  # the worst value that still counts ([result] reference)


@dataclass(frozen=True)
class StudySpec:
    name: str
    path: Path
    profile: str
    description: str
    experiment: str
    seed: int
    sampler: str
    data: dict
    fixed: dict
    search: tuple[Param, ...]
    objectives: tuple[Objective, ...]
    result_round: str  # "last" | "best": which round's scores stand for a trial
    aggregate: str  # "mean" | "pessimistic": how replicates become one value per objective
    validate: int  # fresh seeds each front configuration is re-trained with (0: none)
    start: tuple[dict, ...]  # points the search runs first, in order: {param name: value}
    num_samples: int
    max_concurrent: int
    time_budget_s: float  # 0: no limit
    max_failures: int
    replicates: int  # seeds each configuration is trained with, inside one trial
    cpus: float
    gpus: float  # share of one GPU per trial where the cluster has GPUs; 0: never
    document: dict  # merged document as run (profile + overrides, no profiles table)

    def trial_config(self, params: dict) -> dict:
        """The full Config of one trial: defaults < [fixed] < params, as a plain dict."""
        cls = get_experiment(self.experiment).Config
        # Samplers may hand back numpy scalars; the rules want plain Python values.
        values = {**self.fixed, **{k: _plain(v) for k, v in params.items()}}
        try:
            config = build_config(cls, values, where="trial")
        except ValueError as e:
            raise SpecError(f"{_display(self.path)}: {e}") from None
        return dataclasses.asdict(config)

    def objective_value(self, objective: Objective, metrics: dict) -> float:
        """What Optuna, the kept round and the Pareto front see of one objective in
        ``metrics`` (a result or a row): the replicates' mean, or with ``aggregate =
        "pessimistic"`` the mean moved one standard deviation (``<metric>_std``) towards
        worse; no spread is known of a single replicate, so there it is the value itself."""
        value = metrics[objective.metric]
        if self.aggregate == "mean" or value is None:
            return value
        std = metrics.get(f"{objective.metric}_std") or 0.0
        return value - std if objective.mode == "max" else value + std

    def objective_key(self, objective: Objective) -> str:
        """The result key Optuna reads for an objective: the metric itself, or where the
        aggregate is not the plain mean, ``<metric>_<aggregate>``."""
        if self.aggregate == "mean":
            return objective.metric
        return f"{objective.metric}_{self.aggregate}"

    def grid_size(self) -> int | None:
        """Number of grid points when the sampler is 'grid', else None."""
        if self.sampler != "grid":
            return None
        return math.prod(p.grid_count() for p in self.search)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") and callable(value.item) else value


# -----------------------------------------------------------------------------
# finding and reading study files


def default_studies_dir() -> Path:
    """$RAYGAN_STUDIES if set; else the studies/ folder of the source tree raygan runs from
    (an editable install or a checkout); else ./studies (a non-editable install, run from
    a checkout or a folder that holds the study files)."""
    env = os.environ.get("RAYGAN_STUDIES")
    if env:
        return Path(env)
    source = Path(__file__).resolve().parent.parent / "studies"
    return source if source.is_dir() else Path("studies").absolute()


def _available(studies_dir: Path) -> list[str]:
    if not studies_dir.is_dir():
        return []
    return sorted(p.stem for p in studies_dir.glob("*.toml") if p.is_file())


def _display(path: Path) -> str:
    """The path as the user would type it: relative to cwd when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _find(study: str | Path, studies_dir: Path) -> Path:
    """A study name (looked up in studies_dir) or a path to a .toml file -> the path."""
    text = str(study)
    is_path = isinstance(study, Path) or text.endswith(".toml") or "/" in text or os.sep in text
    if is_path:
        path = Path(study)
        if not NAME_RE.match(path.stem):
            raise SpecError(
                f"{text}: study name {path.stem!r} must match {NAME_RE.pattern} "
                "(letters, digits, '_', '.', '-')"
            )
        return path
    if not NAME_RE.match(text):
        raise SpecError(
            f"study name {text!r} must match {NAME_RE.pattern} (letters, digits, '_', '.', '-')"
        )
    path = studies_dir / f"{text}.toml"
    if not path.is_file():
        names = _available(studies_dir)
        raise SpecError(
            f"unknown study {text!r}; available: {', '.join(names) or '(none)'} (in {studies_dir})"
        )
    return path


def _read(path: Path, where: str) -> dict:
    """Parse a TOML file; every failure becomes a SpecError naming the file."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SpecError(f"{where}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")  # tolerate a BOM that some editors write
    except UnicodeDecodeError as e:
        raise SpecError(
            f"{where}: not UTF-8: byte 0x{raw[e.start]:02x} at offset {e.start}"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{where}: TOML syntax error: {e}") from None


# -----------------------------------------------------------------------------
# profiles and overrides


def _deep_merge(base: dict, top: dict, *, replace: Sequence[str] = ()) -> dict:
    """base with top's keys laid over it; tables merge recursively except `replace`."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if key not in replace and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _leaf_paths(table: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths += _leaf_paths(value, path + ".")
        else:
            paths.append(path)
    return paths


def _parse_value(item: str, text: str) -> Any:
    """A --set value: TOML syntax, or a bare word taken as a string."""
    try:
        parsed = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        parsed = None
    if parsed is not None and list(parsed) == ["v"]:
        return parsed["v"]
    if BARE_WORD_RE.match(text):
        return text
    raise SpecError(
        f'--set {item}: cannot parse {text!r} (use TOML syntax: 3, 0.5, true, "text", [1, 2])'
    )


def _apply_override(document: dict, item: str) -> None:
    """Set one 'dotted.key=value' in place."""
    key, sep, text = item.partition("=")
    key, text = key.strip(), text.strip()
    if not sep:
        raise SpecError(f"--set {item}: expected KEY=VALUE, e.g. budget.num_samples=4")
    if not KEY_PATH_RE.match(key):
        raise SpecError(f"--set {item}: {key!r} is not a dotted key like budget.num_samples")
    if key.split(".")[0] == "profiles":
        raise SpecError(f"--set {item}: profiles cannot be set; choose one with the profile option")
    value = _parse_value(item, text)
    *parents, last = key.split(".")
    table = document
    for i, part in enumerate(parents):
        child = table.setdefault(part, {})
        if not isinstance(child, dict):
            at = ".".join(parents[: i + 1])
            raise SpecError(f"--set {item}: {at} is {child!r}, not a table")
        table = child
    table[last] = value


# -----------------------------------------------------------------------------
# validation


@dataclass
class _Where:
    """Builds errors for one document; says when the field came from a profile or --set."""

    file: str
    sources: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (path, label)

    def error(self, field: str, problem: str) -> SpecError:
        msg = f"{self.file}: {field}: {problem}"
        for path, label in reversed(self.sources):  # the last writer wins
            within = field.startswith(path + ".") or field.startswith(path + "[")  # start[0].x
            if path == field or path.startswith(field + ".") or within:
                msg += f" (from {label})"
                break
        return SpecError(msg)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _same_value(a: Any, b: Any) -> bool:
    """Equal as a trial gets them: 1, 1.0 and True are three different choices."""
    return type(a) is type(b) and a == b


def _check_keys(where: _Where, field: str, table: dict, allowed: Sequence[str], what="key"):
    for key in table:
        if key not in allowed:
            path = f"{field}.{key}" if field else key
            raise where.error(path, f"unknown {what}; allowed: {', '.join(allowed)}")


def _table(where: _Where, doc: dict, key: str, *, required: bool = False) -> dict:
    if key not in doc:
        if required:
            raise where.error(key, f"missing; add a [{key}] table")
        return {}
    value = doc[key]
    if not isinstance(value, dict):
        raise where.error(key, f"{value!r} must be a table ([{key}] or {key} = {{...}})")
    return value


def _check_field(where: _Where, path: str, field: dataclasses.Field, value: Any) -> None:
    """One value against one setting's rule, in check_setting's words."""
    problem = check_setting(field, value)
    default = field.default_factory() if field.default_factory is not dataclasses.MISSING else None
    if problem is None and isinstance(default, list):
        # check_setting has no rule for list settings; make sure it is a list we can write back.
        if not isinstance(value, list):
            problem = f"{value!r} must be a list"
        elif not all(isinstance(v, str | int | float | bool) for v in value):
            problem = f"{value!r} must be a list of strings, numbers or booleans"
    if problem:
        raise where.error(path, problem)


def _check_settings(where: _Where, table_name: str, table: dict, cls: type, experiment: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _check_keys(
        where, table_name, table, sorted(fields), what=f"key (not a setting of {experiment!r})"
    )
    for key, value in table.items():
        _check_field(where, f"{table_name}.{key}", fields[key], value)


def _field_kind(field: dataclasses.Field) -> str:
    """What the setting holds, to say which search types fit it."""
    default = field.default
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    return "other"


# which search types may drive a setting of each kind
FITTING_TYPES = {
    "int": ("int", "categorical"),
    "float": ("float", "logfloat", "categorical"),
    "bool": ("categorical",),
    "other": ("categorical",),
}


def _parse_param(where: _Where, name: str, table: Any, field: dataclasses.Field) -> Param:
    at = f"search.{name}"
    if not isinstance(table, dict):
        raise where.error(at, f"{table!r} must be a table with type = ...")
    if "type" not in table:
        raise where.error(at, f"missing key 'type'; one of {', '.join(map(repr, PARAM_TYPES))}")
    kind = table["type"]
    if kind not in PARAM_TYPES:
        raise where.error(
            f"{at}.type", f"{kind!r} must be one of {', '.join(map(repr, PARAM_TYPES))}"
        )
    _check_keys(where, at, table, PARAM_KEYS[kind], what=f"key for type {kind!r}")
    fits = FITTING_TYPES[_field_kind(field)]
    if kind not in fits:
        raise where.error(
            f"{at}.type",
            f"{kind!r} does not fit setting {name!r} (default {field.default!r}); "
            f"use {' or '.join(map(repr, fits))}",
        )

    if kind == "categorical":
        if "choices" not in table:
            raise where.error(at, "missing key 'choices' (a non-empty list)")
        choices = table["choices"]
        if not isinstance(choices, list) or not choices:
            raise where.error(f"{at}.choices", f"{choices!r} must be a non-empty list")
        seen = []
        for choice in choices:
            if not isinstance(choice, str | int | float | bool):  # all Optuna can store
                raise where.error(
                    f"{at}.choices", f"{choice!r} must be a string, number or boolean"
                )
            _check_field(where, f"{at}.choices", field, choice)
            # a float setting stores 1 as 1.0; compare what the trial would get
            value = float(choice) if _field_kind(field) == "float" else choice
            if any(_same_value(value, s) for s in seen):
                raise where.error(f"{at}.choices", f"{choice!r} appears more than once")
            seen.append(value)
        return Param(name=name, type=kind, choices=tuple(seen))

    for key in ("low", "high"):
        if key not in table:
            raise where.error(at, f"missing key {key!r} (type {kind!r} needs low and high)")
        value = table[key]
        if kind == "int" and not _is_int(value):
            raise where.error(f"{at}.{key}", f"{value!r} must be an integer")
        if not _is_number(value):
            raise where.error(f"{at}.{key}", f"{value!r} must be a finite number")
    low, high = table["low"], table["high"]
    if low > high:
        raise where.error(at, f"low ({low!r}) must be <= high ({high!r})")
    if kind == "logfloat" and low <= 0:
        raise where.error(f"{at}.low", f"{low!r} must be > 0 for type 'logfloat'")
    # both ends must satisfy the setting's own rule, so every sampled value does
    _check_field(where, f"{at}.low", field, low)
    _check_field(where, f"{at}.high", field, high)
    step = table.get("step")
    if step is not None and (not _is_int(step) or step < 1):
        raise where.error(f"{at}.step", f"{step!r} must be an integer >= 1")
    if kind != "int":
        low, high = float(low), float(high)
    return Param(name=name, type=kind, low=low, high=high, step=step)


def _parse_result(where: _Where, doc: dict, objectives: list[Objective], metrics) -> tuple:
    """[result]: which round stands for a trial, and each objective's reference value.
    The reference may name any metric of the experiment, so that a profile or --set that
    replaces the objectives need not edit it too; only the objectives' values are used."""
    table = _table(where, doc, "result")
    _check_keys(where, "result", table, RESULT_KEYS)
    result_round = table.get("round", "last")
    if result_round not in RESULT_ROUNDS:
        raise where.error(
            "result.round",
            f"{result_round!r} must be 'last' (the round a trial ends on) or 'best'",
        )
    reference = table.get("reference", {})
    if not isinstance(reference, dict):
        raise where.error(
            "result.reference", f"{reference!r} must be a table: {{metric = worst value, ...}}"
        )
    names = [o.metric for o in objectives]
    _check_keys(where, "result.reference", reference, metrics, what="metric")
    for metric, value in reference.items():
        if not _is_number(value):
            raise where.error(f"result.reference.{metric}", f"{value!r} must be a finite number")
    missing = [m for m in names if m not in reference]
    if result_round == "best" and len(names) > 1 and missing:
        # with several objectives "best" is the round whose scores dominate the most
        # volume beyond the reference point, so the point needs every coordinate
        raise where.error(
            "result.reference",
            f"gives no value for {', '.join(missing)}; round = 'best' with several objectives "
            f"needs the worst value of each ({', '.join(names)})",
        )
    objectives = [
        dataclasses.replace(
            o, reference=float(reference[o.metric]) if o.metric in reference else None
        )
        for o in objectives
    ]
    aggregate = table.get("aggregate", "mean")
    if aggregate not in AGGREGATES:
        raise where.error(
            "result.aggregate",
            f"{aggregate!r} must be 'mean' (the replicates' mean) or 'pessimistic' (mean "
            "minus std for a max objective, plus std for a min one)",
        )
    validate = table.get("validate", 0)
    if not _is_int(validate) or not 0 <= validate <= MAX_REPLICATES:
        raise where.error(
            "result.validate",
            f"{validate!r} must be an integer between 0 and {MAX_REPLICATES} (fresh seeds per "
            "front configuration; 0: no validation)",
        )
    return result_round, objectives, aggregate, validate


def _parse_start(where: _Where, doc: dict, search: list[Param], sampler: str) -> tuple:
    """The [[start]] points: each a full point of the search space, inside it."""
    points = doc.get("start", [])
    example = "[[start]] tables, each giving a value to every searched setting"
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise where.error("start", f"{points!r} must be {example}")
    if points and sampler == "grid":
        raise where.error(
            "start",
            "sampler 'grid' visits every grid point itself; start points need nsga2, tpe or random",
        )
    params = {p.name: p for p in search}
    names = ", ".join(params)
    for i, point in enumerate(points):
        at = f"start[{i}]"
        for key, value in point.items():
            if key not in params:
                raise where.error(f"{at}.{key}", f"not a searched setting; searched: {names}")
            problem = params[key].check(value)
            if problem:
                raise where.error(f"{at}.{key}", f"{problem} (search.{key})")
        missing = [n for n in params if n not in point]
        if missing:
            raise where.error(
                at,
                f"gives no value for {', '.join(missing)}; a start point names every searched setting ({names})",
            )
    # in the search space's order, as the sampler would give them (a float setting's 1 is 1.0)
    return tuple({n: params[n].as_sampled(point[n]) for n in params} for point in points)


def _int_at_least(where: _Where, field: str, value: Any, minimum: int) -> int:
    if not _is_int(value) or value < minimum:
        raise where.error(field, f"{value!r} must be an integer >= {minimum}")
    return value


def _absolute_paths(table: dict, cls: type) -> None:
    """Make the path settings in ``table`` absolute, in place, against the current
    directory: trials run in other working directories, and the run's study.toml should
    say which file it read."""
    for f in dataclasses.fields(cls):
        builtins = f.metadata.get("path_unless")
        value = table.get(f.name)
        if builtins is not None and isinstance(value, str) and value and value not in builtins:
            table[f.name] = str(Path(value).expanduser().absolute())


def _validate(doc: dict, where: _Where, *, name: str, path: Path, profile: str) -> StudySpec:
    _check_keys(where, "", doc, PROFILE_KEYS)

    description = doc.get("description", "")
    if not isinstance(description, str):
        raise where.error("description", f"{description!r} must be a string")

    if "experiment" not in doc:
        raise where.error("experiment", f"missing; one of {', '.join(map(repr, sorted(REGISTRY)))}")
    experiment = doc["experiment"]
    if not isinstance(experiment, str) or experiment not in REGISTRY:
        raise where.error(
            "experiment",
            f"{experiment!r} is not a known experiment; known: {', '.join(sorted(REGISTRY))}",
        )

    seed = doc.get("seed", 0)
    if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
        raise where.error("seed", f"{seed!r} must be an integer between 0 and {MAX_SEED}")

    if "sampler" not in doc:
        raise where.error("sampler", f"missing; one of {', '.join(map(repr, SAMPLERS))}")
    sampler = doc["sampler"]
    if sampler not in SAMPLERS:
        raise where.error("sampler", f"{sampler!r} must be one of {', '.join(map(repr, SAMPLERS))}")

    # Only now import the experiment (its module may pull in torch).
    exp = get_experiment(experiment)
    data = _table(where, doc, "data")
    _check_settings(where, "data", data, exp.Data, experiment)
    fixed = _table(where, doc, "fixed")
    _check_settings(where, "fixed", fixed, exp.Config, experiment)
    _absolute_paths(data, exp.Data)
    _absolute_paths(fixed, exp.Config)

    search_table = _table(where, doc, "search", required=True)
    if not search_table:
        raise where.error("search", "at least one [search.NAME] is required")
    config_fields = {f.name: f for f in dataclasses.fields(exp.Config)}
    not_a_setting = f"key (not a setting of {experiment!r})"
    _check_keys(where, "search", search_table, sorted(config_fields), what=not_a_setting)
    search = []
    for pname, ptable in search_table.items():
        if pname in fixed:
            raise where.error(
                f"search.{pname}",
                f"also set in [fixed] ({pname} = {fixed[pname]!r}); a setting is fixed or searched, not both",
            )
        search.append(_parse_param(where, pname, ptable, config_fields[pname]))

    objectives_table = _table(where, doc, "objectives", required=True)
    if not objectives_table:
        raise where.error("objectives", 'at least one is required (metric = "max" or "min")')
    objectives = []
    for metric, mode in objectives_table.items():
        if metric not in exp.metrics:
            raise where.error(
                f"objectives.{metric}",
                f"unknown metric of {experiment!r}; known: {', '.join(exp.metrics)}",
            )
        if mode not in MODES:
            raise where.error(f"objectives.{metric}", f"{mode!r} must be 'max' or 'min'")
        objectives.append(Objective(metric=metric, mode=mode))
    result_round, objectives, aggregate, validate = _parse_result(
        where, doc, objectives, exp.metrics
    )

    start = _parse_start(where, doc, search, sampler)

    budget = _table(where, doc, "budget", required=True)
    _check_keys(where, "budget", budget, BUDGET_KEYS)
    if "num_samples" not in budget:
        raise where.error("budget.num_samples", "missing; the number of trials (an integer >= 1)")
    num_samples = _int_at_least(where, "budget.num_samples", budget["num_samples"], 1)
    max_concurrent = _int_at_least(
        where, "budget.max_concurrent", budget.get("max_concurrent", 1), 1
    )
    max_failures = _int_at_least(where, "budget.max_failures", budget.get("max_failures", 0), 0)
    replicates = budget.get("replicates", 1)
    if not _is_int(replicates) or not 1 <= replicates <= MAX_REPLICATES:
        raise where.error(
            "budget.replicates",
            f"{replicates!r} must be an integer between 1 and {MAX_REPLICATES} (seeds each "
            "configuration is trained with)",
        )
    if aggregate == "pessimistic" and replicates < 2:  # one seed has no spread to be wary of
        raise where.error(
            "result.aggregate",
            "'pessimistic' ranks by mean and std over replicates; it needs "
            f"budget.replicates >= 2 (is {replicates})",
        )
    time_budget_s = budget.get("time_budget_s", 0)
    if not _is_number(time_budget_s) or time_budget_s < 0:
        raise where.error(
            "budget.time_budget_s", f"{time_budget_s!r} must be a number >= 0 (0: no limit)"
        )

    resources = _table(where, doc, "resources")
    _check_keys(where, "resources", resources, RESOURCE_KEYS)
    cpus = resources.get("cpus", 1)
    if not _is_number(cpus) or cpus <= 0:
        raise where.error("resources.cpus", f"{cpus!r} must be a number > 0")
    gpus = resources.get("gpus", 0)
    if not _is_number(gpus) or not 0 <= gpus <= 1:
        raise where.error(
            "resources.gpus",
            f"{gpus!r} must be a number with 0 <= gpus <= 1 (share of one GPU per trial; 0: no GPU)",
        )

    if sampler == "grid":
        size = 1
        for p in search:
            if p.type not in ("int", "categorical"):
                raise where.error(
                    f"search.{p.name}",
                    f"type {p.type!r} cannot be enumerated by sampler 'grid'; use 'int' or 'categorical'",
                )
            size *= p.grid_count()
        if size > MAX_GRID_POINTS:
            raise where.error("search", f"grid of {size} points is more than {MAX_GRID_POINTS}")
        if num_samples > size:  # Optuna's grid sampler would run some points again
            raise where.error(
                "budget.num_samples",
                f"{num_samples} is more than the {size} points of the grid (sampler 'grid' "
                f"visits each point once); use at most {size}",
            )

    return StudySpec(
        name=name,
        path=path,
        profile=profile,
        description=description,
        experiment=experiment,
        seed=seed,
        sampler=sampler,
        data=copy.deepcopy(data),
        fixed=copy.deepcopy(fixed),
        search=tuple(search),
        objectives=tuple(objectives),
        result_round=result_round,
        aggregate=aggregate,
        validate=validate,
        start=start,
        num_samples=num_samples,
        max_concurrent=max_concurrent,
        time_budget_s=float(time_budget_s),
        max_failures=max_failures,
        replicates=replicates,
        cpus=float(cpus),
        gpus=float(gpus),
        document=copy.deepcopy(doc),
    )


# -----------------------------------------------------------------------------
# public entry points


def load_spec(
    study: str | Path,
    *,
    profile: str = "default",
    overrides: Sequence[str | tuple[str, str]] = (),
    studies_dir: Path | None = None,
) -> StudySpec:
    """Find, read, merge (profile, then overrides) and validate one study."""
    studies_dir = Path(studies_dir) if studies_dir is not None else default_studies_dir()
    path = _find(study, studies_dir)
    file = _display(path)
    base = _read(path, file)
    where = _Where(file)

    # The profiles table: every profile a table of known keys (all checked, so a typo in
    # 'smoke' shows up even when running 'paper').
    profiles = _table(where, base, "profiles")
    for pname, ptable in profiles.items():
        if not isinstance(ptable, dict):
            raise where.error(f"profiles.{pname}", f"{ptable!r} must be a table")
        _check_keys(where, f"profiles.{pname}", ptable, PROFILE_KEYS)
    if profile not in profiles and profile != "default":
        names = sorted(set(profiles) | {"default"})
        raise where.error("profiles", f"unknown profile {profile!r}; available: {', '.join(names)}")

    doc = {k: v for k, v in base.items() if k != "profiles"}
    chosen = profiles.get(profile, {})
    doc = _deep_merge(doc, chosen, replace=REPLACED_BY_PROFILE)
    if "search" in chosen and "start" not in chosen:
        doc.pop("start", None)  # written for the base's search space, not the profile's
    where.sources += [(p, f"profile {profile!r}") for p in _leaf_paths(chosen)]

    set_tables = set()
    for override in overrides:
        # "key=value", or ("key=value", label) where a CLI flag stands for the --set
        item, label = (override, f"--set {override}") if isinstance(override, str) else override
        _apply_override(doc, item)
        key = item.partition("=")[0].strip()
        where.sources.append((key, label))
        set_tables.add(key.split(".")[0])
    if "search" in set_tables and "start" not in set_tables:
        doc.pop("start", None)  # as for a profile: written for a search space now changed

    return _validate(doc, where, name=path.stem, path=path.resolve(), profile=profile)


def list_studies(studies_dir: Path | None = None) -> list[tuple[str, str]]:
    """(name, description) of every study file, sorted by name.

    Only reads each file (no experiment import, so no torch); a file that cannot be read
    or parsed shows its error in place of the description.
    """
    studies_dir = Path(studies_dir) if studies_dir is not None else default_studies_dir()
    out = []
    for name in _available(studies_dir):
        path = studies_dir / f"{name}.toml"
        try:
            doc = _read(path, _display(path))
            description = doc.get("description", "")
            if not isinstance(description, str):
                raise SpecError(f"{_display(path)}: description: {description!r} must be a string")
        except SpecError as e:
            description = f"error: {e}"
        out.append((name, description))
    return out


# -----------------------------------------------------------------------------
# writing a document back as TOML


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:  # TOML forbids raw control characters
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # always has '.' or 'e': stays a float in TOML
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # a table inside a list ([[start]]): inline
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(f"dump_toml: cannot write {type(value).__name__} value {value!r}")


def _dump_table(table: dict, path: tuple[str, ...], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    # A header is needed for the root's children when the table has its own keys or is
    # empty (an empty [fixed] must survive); a table of tables is implied by its children.
    if path and (scalars or not tables):
        if lines:
            lines.append("")
        lines.append("[" + ".".join(_toml_key(k) for k in path) + "]")
    for key, value in scalars.items():
        lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in tables.items():
        _dump_table(value, (*path, key), lines)


def dump_toml(document: dict) -> str:
    """A TOML text that tomllib reads back as `document`.

    Minimal: tables and nested tables, inline lists (tables inside them inline too),
    str/int/float/bool. Enough for a study document; raises TypeError on anything else
    (dates, times).
    """
    lines: list[str] = []
    _dump_table(document, (), lines)
    return "\n".join(lines) + "\n"

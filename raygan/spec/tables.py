"""Checking the parts of a study document: each function reads one table and either
returns its validated value or raises one :class:`SpecError` line."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygan.settings import (
    check_setting,
    is_int,
    is_number,
    kind_of,
    kind_problem,
    same_value,
)
from raygan.spec.files import SpecError
from raygan.spec.model import Objective, PaperReference, Param

PARAM_TYPES = ("int", "float", "logfloat", "categorical")
PARAM_KEYS = {
    "int": ("type", "low", "high", "step"),
    "float": ("type", "low", "high"),
    "logfloat": ("type", "low", "high"),
    "categorical": ("type", "choices"),
}
# which search types may drive a setting of each kind
FITTING_TYPES = {
    "int": ("int", "categorical"),
    "float": ("float", "logfloat", "categorical"),
}
MODES = ("max", "min")
PAPER_KEYS = ("label", "param", "points", "trend_only", "symbol")


@dataclass
class Where:
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


def check_keys(
    where: Where, field: str, table: dict, allowed: Sequence[str], what: str = "key"
) -> None:
    for key in table:
        if key not in allowed:
            path = f"{field}.{key}" if field else key
            raise where.error(path, f"unknown {what}; allowed: {', '.join(allowed)}")


def table_at(where: Where, doc: dict, key: str, *, required: bool = False) -> dict:
    """``doc[key]``, which must be a table; {} when absent and not required."""
    if key not in doc:
        if required:
            raise where.error(key, f"missing; add a [{key}] table")
        return {}
    value = doc[key]
    if not isinstance(value, dict):
        raise where.error(key, f"{value!r} must be a table ([{key}] or {key} = {{...}})")
    return value


def int_at_least(where: Where, field: str, value: Any, minimum: int) -> int:
    if not is_int(value) or value < minimum:
        raise where.error(field, f"{value!r} must be an integer >= {minimum}")
    return value


def check_field(where: Where, path: str, field: dataclasses.Field, value: Any) -> None:
    """One value against one setting's rule, in check_setting's words."""
    problem = check_setting(field, value)
    if problem:
        raise where.error(path, problem)


def check_settings(where: Where, table_name: str, table: dict, cls: type, experiment: str) -> None:
    """Every key of ``table`` ([data] or [fixed]) is a field of ``cls`` and fits its rule."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    not_a_setting = f"key (not a setting of {experiment!r})"
    check_keys(where, table_name, table, sorted(fields), what=not_a_setting)
    for key, value in table.items():
        check_field(where, f"{table_name}.{key}", fields[key], value)


def absolute_paths(table: dict, cls: type) -> None:
    """Make the path settings in ``table`` absolute, in place, against the current
    directory: trials run in other working directories, and the run's study.toml should
    say which file it read."""
    for f in dataclasses.fields(cls):
        builtins = f.metadata.get("path_unless")
        value = table.get(f.name)
        if builtins is not None and isinstance(value, str) and value and value not in builtins:
            table[f.name] = str(Path(value).expanduser().absolute())


# ----------------------------------------------------------------------------- [search]


def parse_search(
    where: Where, doc: dict, config_cls: type, experiment: str, fixed: dict
) -> tuple[Param, ...]:
    search_table = table_at(where, doc, "search", required=True)
    if not search_table:
        raise where.error("search", "at least one [search.NAME] is required")
    config_fields = {f.name: f for f in dataclasses.fields(config_cls)}
    not_a_setting = f"key (not a setting of {experiment!r})"
    check_keys(where, "search", search_table, sorted(config_fields), what=not_a_setting)
    search = []
    for name, table in search_table.items():
        if name in fixed:
            raise where.error(
                f"search.{name}",
                f"also set in [fixed] ({name} = {fixed[name]!r}); a setting is fixed or searched, not both",
            )
        search.append(_parse_param(where, name, table, config_fields[name]))
    return tuple(search)


def _parse_param(where: Where, name: str, table: Any, field: dataclasses.Field) -> Param:
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
    check_keys(where, at, table, PARAM_KEYS[kind], what=f"key for type {kind!r}")
    fits = FITTING_TYPES.get(kind_of(field), ("categorical",))
    if kind not in fits:
        raise where.error(
            f"{at}.type",
            f"{kind!r} does not fit setting {name!r} (default {field.default!r}); "
            f"use {' or '.join(map(repr, fits))}",
        )
    if kind == "categorical":
        return _parse_choices(where, name, table, field)

    for key in ("low", "high"):
        if key not in table:
            raise where.error(at, f"missing key {key!r} (type {kind!r} needs low and high)")
        problem = kind_problem("int" if kind == "int" else "float", table[key])
        if problem:
            raise where.error(f"{at}.{key}", problem)
    low, high = table["low"], table["high"]
    if low > high:
        raise where.error(at, f"low ({low!r}) must be <= high ({high!r})")
    if kind == "logfloat" and low <= 0:
        raise where.error(f"{at}.low", f"{low!r} must be > 0 for type 'logfloat'")
    # both ends must satisfy the setting's own rule, so every sampled value does
    check_field(where, f"{at}.low", field, low)
    check_field(where, f"{at}.high", field, high)
    step = table.get("step")
    if step is not None:
        int_at_least(where, f"{at}.step", step, 1)
    if kind != "int":
        low, high = float(low), float(high)
    return Param(name=name, type=kind, low=low, high=high, step=step)


def _parse_choices(where: Where, name: str, table: dict, field: dataclasses.Field) -> Param:
    at = f"search.{name}"
    if "choices" not in table:
        raise where.error(at, "missing key 'choices' (a non-empty list)")
    choices = table["choices"]
    if not isinstance(choices, list) or not choices:
        raise where.error(f"{at}.choices", f"{choices!r} must be a non-empty list")
    seen: list = []
    for choice in choices:
        if not isinstance(choice, str | int | float | bool):  # all Optuna can store
            raise where.error(f"{at}.choices", f"{choice!r} must be a string, number or boolean")
        check_field(where, f"{at}.choices", field, choice)
        # a float setting stores 1 as 1.0; compare what the trial would get
        value = float(choice) if kind_of(field) == "float" else choice
        if any(same_value(value, s) for s in seen):
            raise where.error(f"{at}.choices", f"{choice!r} appears more than once")
        seen.append(value)
    return Param(name=name, type="categorical", choices=tuple(seen))


# ----------------------------------------------------------------------------- [objectives]


def parse_objectives(
    where: Where, doc: dict, metrics: Sequence[str], experiment: str
) -> list[Objective]:
    table = table_at(where, doc, "objectives", required=True)
    if not table:
        raise where.error("objectives", 'at least one is required (metric = "max" or "min")')
    objectives = []
    for metric, mode in table.items():
        if metric not in metrics:
            raise where.error(
                f"objectives.{metric}",
                f"unknown metric of {experiment!r}; known: {', '.join(metrics)}",
            )
        if mode not in MODES:
            raise where.error(f"objectives.{metric}", f"{mode!r} must be 'max' or 'min'")
        objectives.append(Objective(metric=metric, mode=mode))
    return objectives


# ----------------------------------------------------------------------------- [[start]]


def parse_start(where: Where, doc: dict, search: Sequence[Param], sampler: str) -> tuple:
    """The [[start]] points: each a full point of the search space, inside it."""
    points = doc.get("start", [])
    example = "[[start]] tables, each giving a value to every searched setting"
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise where.error("start", f"{points!r} must be {example}")
    if points and sampler == "grid":
        raise where.error(
            "start",
            "sampler 'grid' visits every grid point itself; start points need auto, gp, tpe, nsga2 or random",
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


# ----------------------------------------------------------------------------- [paper]


def parse_paper(
    where: Where, doc: dict, config_cls: type, metrics: Sequence[str], experiment: str
) -> PaperReference | None:
    """[paper]: a source paper's values to draw next to the trials, or None without one."""
    if "paper" not in doc:
        return None
    table = table_at(where, doc, "paper")
    check_keys(where, "paper", table, PAPER_KEYS)
    what = {
        "label": "the legend text",
        "param": "the setting the points are drawn over",
        "symbol": "the paper's name for that setting, in the caption",
    }
    for key in ("label", "param", "symbol"):
        if key == "symbol" and key not in table:
            continue  # optional: the caption then names the setting itself
        value = table.get(key)
        if not isinstance(value, str) or not value:
            raise where.error(f"paper.{key}", f"{value!r} must be a non-empty string ({what[key]})")
    settings = sorted(f.name for f in dataclasses.fields(config_cls))
    if table["param"] not in settings:
        raise where.error(
            "paper.param",
            f"{table['param']!r} is not a setting of {experiment!r}; one of {', '.join(settings)}",
        )
    points = _metric_table(where, table, "points", metrics)
    pairs = "a list of [setting value, metric value] pairs of finite numbers"
    for metric, value in points.items():
        fits = isinstance(value, list) and all(
            isinstance(p, list) and len(p) == 2 and all(map(is_number, p)) for p in value
        )
        if not fits:
            raise where.error(f"paper.points.{metric}", f"{value!r} must be {pairs}")
    trend_only = _metric_table(where, table, "trend_only", metrics)
    for metric, value in trend_only.items():
        if not isinstance(value, str):
            raise where.error(
                f"paper.trend_only.{metric}", f"{value!r} must be a string (what the paper shows)"
            )
    return PaperReference(
        label=table["label"],
        param=table["param"],
        points={m: tuple((x, y) for x, y in v) for m, v in points.items()},
        trend_only=dict(trend_only),
        symbol=table.get("symbol", table["param"]),
    )


def _metric_table(where: Where, table: dict, key: str, metrics: Sequence[str]) -> dict:
    """``table[key]``: a table keyed by metrics of the experiment ({} when absent)."""
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise where.error(f"paper.{key}", f"{value!r} must be a table: {{metric = ..., ...}}")
    check_keys(where, f"paper.{key}", value, metrics, what="metric")
    return value

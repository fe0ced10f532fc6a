"""One way to declare a setting and check a value against it. Imports only the standard
library: the study loader (:mod:`raygan.spec`), every family's declaration and the data
loaders use it, and it uses none of them.

A setting is a dataclass field made with :func:`setting`: its default says what kind of
value it holds (bool, int, float, str, list), its metadata the rule (bounds, choices, or a
rule of its own). Experiments declare their ``Config`` and ``Data`` with it; the study
loader, the experiments' driver-side checks and :func:`build_config` all check values with
:func:`check_setting`, so a value is judged, and the problem worded, the same everywhere.

The rules are hand-written rather than pydantic models: a study's error must be one line
in raygan's words (``<field>: <value> <rule>``), and judging a value takes two short
functions (:func:`kind_problem` and :func:`check_setting`, some thirty lines).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any

# A rule of a setting's own: the problem with a value (worded after the value), or None.
Rule = Callable[[Any], "str | None"]


def is_int(value: Any) -> bool:
    """An integer (numpy's too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float (numpy's too), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def same_value(a: Any, b: Any) -> bool:
    """Equal as a trial gets them: 1, 1.0 and True are three different values."""
    return type(a) is type(b) and a == b


def setting(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple | None = None,
    rule: Rule | None = None,
    path_unless: tuple[str, ...] | None = None,
    help: str = "",
) -> Any:
    """A config field with its rule: ``low <= value <= high``, ``value in choices``, and
    ``rule(value)`` (a problem in words, or None) for what bounds cannot say.

    ``path_unless``: the value is a file or directory path unless it is one of these
    built-in names; the study loader makes such a path absolute, against the directory
    the command runs in, since trials run in other working directories."""
    meta = {
        "low": low,
        "high": high,
        "choices": choices,
        "rule": rule,
        "path_unless": path_unless,
        "help": help,
    }
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def default_of(field: dataclasses.Field) -> Any:
    """The field's default value (a fresh one for a list), or None when it has none."""
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None if field.default is dataclasses.MISSING else field.default


def kind_of(field: dataclasses.Field) -> str:
    """What a setting holds: 'bool', 'int', 'float', 'str', 'list' or 'other'."""
    default = default_of(field)
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if isinstance(default, types):  # bool before int: a bool is an int
            return kind
    return "list" if isinstance(default, list) else "other"


def kind_problem(kind: str, value: Any) -> str | None:
    """Why ``value`` is not a value of this kind of setting, or None."""
    if kind == "bool" and not isinstance(value, bool):
        return f"{value!r} must be true or false"
    if kind == "int" and not is_int(value):
        return f"{value!r} must be an integer"
    if kind == "float" and not is_number(value):
        return f"{value!r} must be a finite number"
    if kind == "str" and not isinstance(value, str):
        return f"{value!r} must be a string"
    if kind == "list":
        if not isinstance(value, list):
            return f"{value!r} must be a list"
        # what a study file can hold and dump_toml can write back
        if not all(isinstance(v, str | int | float | bool) for v in value):
            return f"{value!r} must be a list of strings, numbers or booleans"
    return None


def check_setting(field: dataclasses.Field, value: Any) -> str | None:
    """Why ``value`` breaks ``field``'s rule, or None if it is allowed."""
    meta = field.metadata
    problem = kind_problem(kind_of(field), value)
    if problem:
        return problem
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        return f"{value!r} must be one of {', '.join(map(repr, choices))}"
    low, high = meta.get("low"), meta.get("high")
    if low is not None and is_number(value) and value < low:
        return f"{value!r} must be >= {low}"
    if high is not None and is_number(value) and value > high:
        return f"{value!r} must be <= {high}"
    rule = meta.get("rule")
    return rule(value) if rule is not None else None


def build_config(
    cls: type, values: dict[str, Any], *, where: str = "config", error: type = ValueError
) -> Any:
    """``cls(**values)`` after checking every key and value.

    Raises ``error`` (a ValueError subclass; ValueError unless given), one line naming
    ``<where>.<key>``, the value and the rule it breaks."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key not in fields:
            raise error(f"{where}.{key}: unknown setting; allowed: {', '.join(sorted(fields))}")
        problem = check_setting(fields[key], value)
        if problem:
            raise error(f"{where}.{key}: {problem}")
    # TOML integers are fine where a float is expected; store them as floats.
    coerced = {
        k: float(v) if kind_of(fields[k]) == "float" and is_int(v) else v for k, v in values.items()
    }
    return cls(**coerced)


def with_default(cls: type, name: str, default: Any, *, help: str | None = None) -> Any:
    """The setting ``name`` of dataclass ``cls`` with another default (and help): for a
    subclass that keeps the rule but starts elsewhere."""
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    meta = dict(field.metadata)
    if help is not None:
        meta["help"] = help
    return setting(default, **meta)

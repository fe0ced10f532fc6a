"""The contract between the engine and a model family.

An experiment is a small class: ``setup`` builds data and networks, ``step`` runs one
round of training plus evaluation and returns its metrics, ``save``/``load`` move its whole
state (weights, optimisers, RNG) to and from a directory. The engine turns any experiment
into a Ray Tune trainable, so checkpointing and resume are written once, there.

Settings are declared as dataclass fields made with :func:`setting`, which carries the
rule for the value (bounds or choices). The study-file validator reads those rules, so a
bad value is rejected on the driver, before Ray starts, with the rule in the message.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar


def setting(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple | None = None,
    path_unless: tuple[str, ...] | None = None,
    help: str = "",
) -> Any:
    """A config field with its rule: ``low <= value <= high`` or ``value in choices``.

    ``path_unless``: the value is a file or directory path unless it is one of these
    built-in names; the study loader makes such a path absolute, against the directory
    the command runs in, since trials run in other working directories."""
    meta = {
        "low": low,
        "high": high,
        "choices": choices,
        "path_unless": path_unless,
        "help": help,
    }
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def check_setting(field: dataclasses.Field, value: Any) -> str | None:
    """Why ``value`` breaks ``field``'s rule, or None if it is allowed."""
    meta = field.metadata
    default = field.default if field.default is not dataclasses.MISSING else None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            return f"{value!r} must be true or false"
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{value!r} must be an integer"
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{value!r} must be a number"
        if not math.isfinite(value):
            return f"{value!r} must be finite"
    elif isinstance(default, str):
        if not isinstance(value, str):
            return f"{value!r} must be a string"
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        return f"{value!r} must be one of {', '.join(map(repr, choices))}"
    low, high = meta.get("low"), meta.get("high")
    if low is not None and isinstance(value, int | float) and value < low:
        return f"{value!r} must be >= {low}"
    if high is not None and isinstance(value, int | float) and value > high:
        return f"{value!r} must be <= {high}"
    return None


def build_config(cls: type, values: dict[str, Any], *, where: str = "config") -> Any:
    """``cls(**values)`` after checking every key and value; raises ValueError naming both."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key not in fields:
            raise ValueError(
                f"{where}.{key}: unknown setting; allowed: {', '.join(sorted(fields))}"
            )
        problem = check_setting(fields[key], value)
        if problem:
            raise ValueError(f"{where}.{key}: {problem}")
    # TOML integers are fine where a float is expected; store them as floats.
    coerced = {
        k: float(v) if isinstance(fields[k].default, float) and isinstance(v, int) else v
        for k, v in values.items()
    }
    return cls(**coerced)


def round_epochs(round_index: int, *, epochs: int, rounds: int) -> range:
    """The epochs that evaluation round ``round_index`` trains: ``epochs`` split evenly
    over ``rounds`` (the last rounds may get fewer, or none)."""
    per_round = math.ceil(epochs / rounds)
    first = round_index * per_round
    return range(first, min(first + per_round, epochs))


class TrialDiverged(RuntimeError):
    """A loss or metric became NaN or infinite. The trial fails with this reason; it is not
    retried (it would diverge again) and nothing non-finite is ever reported."""


def require_finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise TrialDiverged(f"{name} is {value}")
    return value


class Experiment:
    """Base class of every model family. Subclasses set the four class attributes."""

    Config: ClassVar[type]  # dataclass of training settings (``fixed`` + ``search``)
    Data: ClassVar[type]  # dataclass of data settings (``[data]`` of a study file)
    metrics: ClassVar[tuple[str, ...]]  # names ``step`` reports; objectives pick from these
    # Non-scalar results ``step`` may also report (e.g. a confusion matrix as a list of
    # rows): stored in trials.parquet, never objectives.
    matrix_metrics: ClassVar[tuple[str, ...]] = ()
    # The baseline (a name ``baselines`` returns) that a trial's gain is measured from:
    # the summary and report show each front configuration's objectives minus its scores.
    gain_baseline: ClassVar[str | None] = None

    num_steps: int  # how many times the engine calls step(); known after setup()
    steps_done: int  # steps already taken (restored by load())

    @classmethod
    def check(cls, config: dict, data: dict) -> None:
        """Validate settings and data on the driver before any trial starts; raise
        ValueError (one line, naming the field or file) on bad input."""
        build_config(cls.Config, config, where="fixed")
        build_config(cls.Data, data, where="data")

    @classmethod
    def baselines(cls, config: dict, data: dict, *, seed: int) -> list[dict]:
        """Reference scores that need no generator (e.g. a classifier on the raw data),
        computed once per study on the driver: [{"baseline": name, metric: value, ...}]."""
        return []

    def setup(self, config: dict, data: dict, *, seed: int, device: str = "cpu") -> None:
        raise NotImplementedError

    def step(self) -> dict[str, float]:
        raise NotImplementedError

    def save(self, path: str) -> None:
        raise NotImplementedError

    def load(self, path: str) -> None:
        raise NotImplementedError

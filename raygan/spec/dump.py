"""Writing a study document back as TOML (the run's study.toml)."""

from __future__ import annotations

from typing import Any

import tomli_w


def dump_toml(document: dict) -> str:
    """A TOML text that tomllib reads back as ``document``.

    Values: tables, lists (tables inside them too), str, int, float (nan and inf
    included), bool: what a study document holds. Raises TypeError naming the type of
    anything else (dates and times, which TOML has but a study never needs)."""
    _check_values(document)
    return tomli_w.dumps(document)


def _check_values(value: Any) -> None:
    """Refuse what a study document never holds, which tomli-w would write all the same."""
    if isinstance(value, dict):
        for v in value.values():
            _check_values(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _check_values(v)
    elif not isinstance(value, str | int | float):  # a bool is an int
        raise TypeError(f"dump_toml: cannot write {type(value).__name__} value {value!r}")

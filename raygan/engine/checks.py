"""What the driver checks of a study before anything is written or Ray starts."""

from __future__ import annotations

import itertools
import math

from raygan.experiments import get_declaration
from raygan.spec import StudySpec


def check_study(spec: StudySpec) -> None:
    """What the experiment can check on the driver, before anything is written: its data
    settings against every corner of the search space (each searched setting at its
    lowest and highest value, each choice of a categorical one), and where the family has
    baselines, which use each searched setting's default, the defaults too. Raises
    ValueError (DataError, SpecError) naming the setting, the value and the rule."""
    cls = get_declaration(spec.experiment)  # the checks need no torch
    for params in _corners(spec):
        cls.check(spec.trial_config(params), dict(spec.data))
    if cls.has_baselines and spec.search:
        try:
            cls.check(spec.trial_config({}), dict(spec.data))
        except ValueError as e:  # the user wrote no such value: say where it comes from
            raise type(e)(f"baselines (each searched setting at its default): {e}") from None


def _corners(spec: StudySpec, *, limit: int = 256) -> list[dict]:
    """The corners of the search space: every combination of each searched setting's
    extremes, or where there are more than ``limit``, each setting's extremes alone
    (the others at the middle of their choices)."""
    extremes = {p.name: p.extremes() for p in spec.search}
    if not extremes:
        return [{}]
    if math.prod(len(v) for v in extremes.values()) <= limit:
        names = list(extremes)
        return [
            dict(zip(names, combo, strict=True)) for combo in itertools.product(*extremes.values())
        ]
    middle = {name: values[len(values) // 2] for name, values in extremes.items()}
    return [{**middle, name: v} for name, values in extremes.items() for v in values]

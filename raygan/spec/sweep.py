"""[sweep]: sampling-time settings evaluated on each trained model, at no training cost.

Some settings change only how a trained generator is sampled or used (the SeqGAN's
sampling temperature; how many synthetic samples a downstream classifier is given); an
experiment declares them (``sampling_settings``). A study lists values for some of them::

    [sweep]
    temperature = [0.7, 1.0, 1.3]

and every trial's kept model is evaluated at each combination: one row of sweep.parquet
per (trial, sweep point), and a Pareto front over those pairs.
"""

from __future__ import annotations

import dataclasses
import itertools

from raygan.spec.model import Param
from raygan.spec.tables import Where, check_field, check_keys, table_at

MAX_SWEEP_POINTS = 64  # each one is an evaluation of every trial's model


def parse_sweep(
    where: Where,
    doc: dict,
    *,
    config_cls: type,
    sampling_settings: tuple[str, ...],
    search: tuple[Param, ...],
    experiment: str,
) -> dict[str, tuple]:
    """{setting: values} from [sweep] ({} without one); SpecError on a setting that is
    not a sampling setting of the experiment, is also searched, or a bad value."""
    table = table_at(where, doc, "sweep")
    if not table:
        return {}
    allowed = list(sampling_settings) or ["(none: the experiment declares no sampling setting)"]
    check_keys(where, "sweep", table, allowed, what=f"sampling setting of {experiment!r}")
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    searched = {p.name for p in search}
    for name, values in table.items():
        if name in searched:
            raise where.error(
                f"sweep.{name}", "is also searched; a setting is either searched or swept"
            )
        if not isinstance(values, list) or not values:
            raise where.error(f"sweep.{name}", f"{values!r} must be a non-empty list of values")
        for i, value in enumerate(values):
            check_field(where, f"sweep.{name}[{i}]", fields[name], value)
        if len(set(map(repr, values))) != len(values):
            raise where.error(f"sweep.{name}", f"{values!r} lists a value twice")
    sweep = {name: tuple(values) for name, values in table.items()}
    points = len(sweep_points(sweep))
    if points > MAX_SWEEP_POINTS:
        raise where.error("sweep", f"{points} combinations; at most {MAX_SWEEP_POINTS}")
    return sweep


def sweep_points(sweep: dict[str, tuple]) -> list[dict]:
    """Every combination of the swept values, in the order given: [{setting: value}, ...]."""
    names = list(sweep)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*sweep.values())]

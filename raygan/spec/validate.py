"""A merged study document -> :class:`StudySpec`: one step per part of the document."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from raygan.experiments.registry import REGISTRY, get_declaration
from raygan.settings import is_int, is_number
from raygan.spec.model import Objective, Param, StudySpec, grid_points
from raygan.spec.scheduling import RUNG_KEYS, SAMPLERS, SCHEDULERS, Rungs
from raygan.spec.sweep import parse_sweep
from raygan.spec.tables import (
    Where,
    absolute_paths,
    check_keys,
    check_settings,
    int_at_least,
    parse_objectives,
    parse_paper,
    parse_search,
    parse_start,
    table_at,
)

if TYPE_CHECKING:
    from raygan.experiments.base import Declaration

MAX_GRID_POINTS = 10_000
MAX_SEED = 2**32 - 1  # Optuna's samplers seed numpy's RandomState, which stops here

# Allowed keys of each part of a study file, in the order they are listed in errors.
TOP_KEYS = (
    "description",
    "experiment",
    "seed",
    "sampler",
    "scheduler",
    "rungs",
    "data",
    "fixed",
    "search",
    "objectives",
    "result",
    "start",
    "budget",
    "resources",
    "paper",
    "sweep",
    "profiles",
)
PROFILE_KEYS = tuple(k for k in TOP_KEYS if k != "profiles")
BUDGET_KEYS = (
    "num_samples",
    "max_concurrent",
    "time_budget_s",
    "max_failures",
    "replicates",
    "checkpoint_every_s",
)
# Wall seconds of training between a trial's checkpoints (besides its last round and its
# rungs): what a resume or a retried trial can lose, against a save and upload each time.
CHECKPOINT_EVERY_S = 30.0
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


class Result(NamedTuple):
    round: str
    objectives: list[Objective]
    aggregate: str
    validate: int


class Budget(NamedTuple):
    num_samples: int
    max_concurrent: int
    time_budget_s: float
    max_failures: int
    replicates: int
    checkpoint_every_s: float


def validate(doc: dict, where: Where, *, name: str, path: Path, profile: str) -> StudySpec:
    """Check every part of ``doc`` (profile and overrides applied); raise one SpecError."""
    check_keys(where, "", doc, PROFILE_KEYS)
    description = _description(where, doc)
    experiment = _experiment(where, doc)
    seed = _seed(where, doc)
    sampler = _sampler(where, doc)
    scheduler, rungs = _scheduler(where, doc)
    declaration = get_declaration(experiment)
    data, fixed = _settings(where, doc, declaration, experiment)
    search = parse_search(where, doc, declaration.Config, experiment, fixed)
    objectives = parse_objectives(where, doc, declaration.metrics, experiment)
    result = _result(where, doc, objectives, declaration.metrics)
    start = parse_start(where, doc, search, sampler)
    budget = _budget(where, doc, aggregate=result.aggregate)
    cpus, gpus = _resources(where, doc)
    _check_grid(where, sampler, search, budget.num_samples)
    paper = parse_paper(where, doc, declaration.Config, declaration.metrics, experiment)
    sweep = parse_sweep(
        where,
        doc,
        config_cls=declaration.Config,
        sampling_settings=tuple(getattr(declaration, "sampling_settings", ())),
        search=search,
        experiment=experiment,
    )
    return StudySpec(
        name=name,
        path=path,
        profile=profile,
        description=description,
        experiment=experiment,
        seed=seed,
        sampler=sampler,
        scheduler=scheduler,
        rungs=rungs,
        data=data,
        fixed=fixed,
        search=search,
        objectives=tuple(result.objectives),
        result_round=result.round,
        aggregate=result.aggregate,
        validate=result.validate,
        start=start,
        num_samples=budget.num_samples,
        max_concurrent=budget.max_concurrent,
        time_budget_s=budget.time_budget_s,
        max_failures=budget.max_failures,
        replicates=budget.replicates,
        checkpoint_every_s=budget.checkpoint_every_s,
        cpus=cpus,
        gpus=gpus,
        paper=paper,
        sweep=sweep,
        document=copy.deepcopy(doc),
    )


def _description(where: Where, doc: dict) -> str:
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise where.error("description", f"{description!r} must be a string")
    return description


def _experiment(where: Where, doc: dict) -> str:
    if "experiment" not in doc:
        raise where.error("experiment", f"missing; one of {', '.join(map(repr, sorted(REGISTRY)))}")
    experiment = doc["experiment"]
    if not isinstance(experiment, str) or experiment not in REGISTRY:
        raise where.error(
            "experiment",
            f"{experiment!r} is not a known experiment; known: {', '.join(sorted(REGISTRY))}",
        )
    return experiment


def _seed(where: Where, doc: dict) -> int:
    seed = doc.get("seed", 0)
    if not is_int(seed) or not 0 <= seed <= MAX_SEED:
        raise where.error("seed", f"{seed!r} must be an integer between 0 and {MAX_SEED}")
    return seed


def _sampler(where: Where, doc: dict) -> str:
    sampler = doc.get("sampler", "auto")
    if sampler not in SAMPLERS:
        raise where.error("sampler", f"{sampler!r} must be one of {', '.join(map(repr, SAMPLERS))}")
    return sampler


def _scheduler(where: Where, doc: dict) -> tuple[str, Rungs | None]:
    """``scheduler`` ("fifo": every trial runs all its rounds; "mo-asha") and its [rungs]."""
    scheduler = doc.get("scheduler", "fifo")
    if scheduler not in SCHEDULERS:
        raise where.error(
            "scheduler",
            f"{scheduler!r} must be one of {', '.join(map(repr, SCHEDULERS))} ('fifo': every "
            "trial runs all its rounds; 'mo-asha': dominated trials stop at a rung)",
        )
    if "rungs" not in doc:
        return scheduler, Rungs() if scheduler == "mo-asha" else None
    table = table_at(where, doc, "rungs")
    if scheduler != "mo-asha":
        raise where.error("rungs", "is set but scheduler is not 'mo-asha' (rungs are its stops)")
    check_keys(where, "rungs", table, RUNG_KEYS)
    min_rounds = table.get("min_rounds", 1)
    if not is_int(min_rounds) or min_rounds < 1:
        raise where.error("rungs.min_rounds", f"{min_rounds!r} must be an integer >= 1")
    factor = table.get("reduction_factor", 3)
    if not is_int(factor) or factor < 2:
        raise where.error("rungs.reduction_factor", f"{factor!r} must be an integer >= 2")
    return scheduler, Rungs(min_rounds, factor)


def _settings(
    where: Where, doc: dict, declaration: type[Declaration], experiment: str
) -> tuple[dict, dict]:
    """[data] and [fixed], checked against the experiment's Data and Config, as copies.
    Their path settings are made absolute in ``doc`` itself, so the document as run says
    which files it read."""
    data = table_at(where, doc, "data")
    check_settings(where, "data", data, declaration.Data, experiment)
    fixed = table_at(where, doc, "fixed")
    check_settings(where, "fixed", fixed, declaration.Config, experiment)
    absolute_paths(data, declaration.Data)
    absolute_paths(fixed, declaration.Config)
    return copy.deepcopy(data), copy.deepcopy(fixed)


def _result(
    where: Where, doc: dict, objectives: list[Objective], metrics: tuple[str, ...]
) -> Result:
    """[result]: which round stands for a trial, and each objective's reference value.
    The reference may name any metric of the experiment, so that a profile or --set that
    replaces the objectives need not edit it too; only the objectives' values are used."""
    table = table_at(where, doc, "result")
    check_keys(where, "result", table, RESULT_KEYS)
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
    check_keys(where, "result.reference", reference, metrics, what="metric")
    for metric, value in reference.items():
        if not is_number(value):
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
    if not is_int(validate) or not 0 <= validate <= MAX_REPLICATES:
        raise where.error(
            "result.validate",
            f"{validate!r} must be an integer between 0 and {MAX_REPLICATES} (fresh seeds per "
            "front configuration; 0: no validation)",
        )
    return Result(result_round, objectives, aggregate, validate)


def _budget(where: Where, doc: dict, *, aggregate: str) -> Budget:
    budget = table_at(where, doc, "budget", required=True)
    check_keys(where, "budget", budget, BUDGET_KEYS)
    if "num_samples" not in budget:
        raise where.error("budget.num_samples", "missing; the number of trials (an integer >= 1)")
    num_samples = int_at_least(where, "budget.num_samples", budget["num_samples"], 1)
    max_concurrent = int_at_least(
        where, "budget.max_concurrent", budget.get("max_concurrent", 1), 1
    )
    max_failures = int_at_least(where, "budget.max_failures", budget.get("max_failures", 0), 0)
    replicates = budget.get("replicates", 1)
    if not is_int(replicates) or not 1 <= replicates <= MAX_REPLICATES:
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
    if not is_number(time_budget_s) or time_budget_s < 0:
        raise where.error(
            "budget.time_budget_s", f"{time_budget_s!r} must be a number >= 0 (0: no limit)"
        )
    every = budget.get("checkpoint_every_s", CHECKPOINT_EVERY_S)
    if not is_number(every) or not 0 <= every < math.inf:
        raise where.error(
            "budget.checkpoint_every_s",
            f"{every!r} must be a finite number >= 0 (wall seconds of training between a "
            "trial's checkpoints; 0: every round)",
        )
    return Budget(
        num_samples, max_concurrent, float(time_budget_s), max_failures, replicates, float(every)
    )


def _resources(where: Where, doc: dict) -> tuple[float, float]:
    resources = table_at(where, doc, "resources")
    check_keys(where, "resources", resources, RESOURCE_KEYS)
    cpus = resources.get("cpus", 1)
    if not is_number(cpus) or cpus <= 0:
        raise where.error("resources.cpus", f"{cpus!r} must be a number > 0")
    gpus = resources.get("gpus", 0)
    if not is_number(gpus) or not 0 <= gpus <= 1:
        raise where.error(
            "resources.gpus",
            f"{gpus!r} must be a number with 0 <= gpus <= 1 (share of one GPU per trial; 0: no GPU)",
        )
    return float(cpus), float(gpus)


def _check_grid(where: Where, sampler: str, search: tuple[Param, ...], num_samples: int) -> None:
    """With sampler 'grid': every setting enumerable, and a grid no larger than the budget
    can visit once each."""
    if sampler != "grid":
        return
    for p in search:
        if p.type not in ("int", "categorical"):
            raise where.error(
                f"search.{p.name}",
                f"type {p.type!r} cannot be enumerated by sampler 'grid'; use 'int' or 'categorical'",
            )
    size = grid_points(search)
    if size > MAX_GRID_POINTS:
        raise where.error("search", f"grid of {size} points is more than {MAX_GRID_POINTS}")
    if num_samples > size:  # Optuna's grid sampler would run some points again
        raise where.error(
            "budget.num_samples",
            f"{num_samples} is more than the {size} points of the grid (sampler 'grid' "
            f"visits each point once); use at most {size}",
        )

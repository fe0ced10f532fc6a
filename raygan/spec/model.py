"""The validated study: :class:`StudySpec` and its parts (searched settings, objectives,
the paper's reference points). Frozen; made only by :func:`raygan.spec.load_spec`."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygan.experiments.registry import get_declaration
from raygan.settings import build_config, is_int, kind_problem, same_value
from raygan.spec.files import SpecError, display
from raygan.spec.scheduling import Rungs, SamplerChoice, choose_sampler


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
            low, high = self._ends()
            return list(range(low, high + 1, self.step or 1))
        if self.type == "categorical":
            return list(self.choices)
        raise ValueError(f"param {self.name!r} of type {self.type!r} has no grid values")

    def extremes(self) -> list:
        """The values a driver-side check tries: each choice of a categorical setting,
        else the lowest and the highest value (one where they are equal)."""
        if self.type == "categorical":
            return list(self.choices)
        low, high = self._ends()
        if self.type == "int":
            step = self.step or 1
            top = low + (high - low) // step * step  # the highest on the grid
            return list(dict.fromkeys((low, top)))
        return list(dict.fromkeys((float(low), float(high))))

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
        return float(value) if floats and is_int(value) else value

    def check(self, value: Any) -> str | None:
        """What is wrong with `value` as a value of this setting, or None if it fits."""
        value = self.as_sampled(value)
        if self.type == "categorical":
            if not any(same_value(value, c) for c in self.choices):
                return f"{value!r} is not one of the choices {list(self.choices)!r}"
            return None
        problem = kind_problem("int" if self.type == "int" else "float", value)
        if problem:
            return problem
        low, high = self._ends()
        if self.type != "int":
            inside = low <= value <= high
            return None if inside else f"{value!r} must be between {low!r} and {high!r}"
        step = self.step or 1
        if not low <= value <= high or (value - low) % step:
            every = f" in steps of {step}" if step > 1 else ""
            return f"{value!r} must be between {low} and {high}{every}"
        return None

    def grid_count(self) -> int:
        """len(grid_values()) without building the list (the range may be huge)."""
        if self.type == "int":
            low, high = self._ends()
            return (high - low) // (self.step or 1) + 1
        return len(self.grid_values())

    def _ends(self) -> tuple[Any, Any]:
        """(low, high): set for every type but categorical, whose methods never ask."""
        return self.low, self.high


@dataclass(frozen=True)
class Objective:
    metric: str
    mode: str  # "max" | "min"
    reference: float | None = None  # the worst value that still counts ([result] reference)


@dataclass(frozen=True)
class PaperReference:
    """What a source paper reports for one searched setting, drawn next to the trials.

    ``points``: metric -> ((setting value, metric value), ...) as the paper gives them;
    ``trend_only``: metric -> why the paper gives no values for it (only a trend);
    ``symbol``: what the paper calls the setting ("N"), in the figure's caption; the
    setting's own name when not given."""

    label: str  # legend text, e.g. "paper (DATA 2021)"
    param: str  # the Config setting the points are plotted against
    points: dict[str, tuple[tuple[float, float], ...]]
    trend_only: dict[str, str]
    symbol: str = ""

    def __post_init__(self) -> None:
        if not self.symbol:  # frozen, hence object.__setattr__
            object.__setattr__(self, "symbol", self.param)


@dataclass(frozen=True)
class StudySpec:
    name: str
    path: Path | str  # str: a resumed run's study.toml, maybe at a URI
    profile: str
    description: str
    experiment: str
    seed: int
    sampler: str  # as written: "auto" or a sampler's name (sampler_choice() resolves it)
    scheduler: str  # "fifo" | "mo-asha"
    rungs: Rungs | None  # mo-asha's rungs; None with "fifo"
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
    # wall seconds of training between a trial's checkpoints (and its last round, rungs)
    checkpoint_every_s: float
    cpus: float
    gpus: float  # share of one GPU per trial where the cluster has GPUs; 0: never
    paper: PaperReference | None  # the source paper's reference points ([paper]), if any
    document: dict  # merged document as run (profile + overrides, no profiles table)
    # sampling-time settings evaluated on every trained model ([sweep]): {name: values}
    sweep: dict = dataclasses.field(default_factory=dict)

    def trial_config(self, params: dict) -> dict:
        """The full Config of one trial: defaults < [fixed] < params, as a plain dict."""
        cls = get_declaration(self.experiment).Config
        # Samplers may hand back numpy scalars; the rules want plain Python values.
        values = {**self.fixed, **{k: _plain(v) for k, v in params.items()}}
        try:
            config = build_config(cls, values, where="trial")
        except ValueError as e:
            raise SpecError(f"{display(self.path)}: {e}") from None
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

    def sampler_choice(self) -> SamplerChoice:
        """The sampler this study runs and why (``sampler = "auto"`` resolved by the
        search space and the budget; see raygan.spec.scheduling.choose_sampler)."""
        return choose_sampler(
            self.sampler,
            search=self.search,
            num_samples=self.num_samples,
            objectives=self.objectives,
        )

    def grid_size(self) -> int | None:
        """Number of grid points when the sampler is 'grid', else None."""
        if self.sampler != "grid":
            return None
        return grid_points(self.search)


def grid_points(search: Sequence[Param]) -> int:
    """How many points a grid over these settings has (each int or categorical)."""
    return math.prod(p.grid_count() for p in search)


def _plain(value: Any) -> Any:
    """A numpy scalar (what samplers may hand back) as the plain Python value."""
    return value.item() if hasattr(value, "item") and callable(value.item) else value

"""How a study searches: the rule behind ``sampler = "auto"``, and the rungs of
``scheduler = "mo-asha"`` (parsed in raygan.spec.validate). Imports neither torch, Ray
nor Optuna."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from raygan.spec.model import Objective, Param

SAMPLERS = ("auto", "gp", "tpe", "nsga2", "random", "grid")
SCHEDULERS = ("fifo", "mo-asha")
RUNG_KEYS = ("min_rounds", "reduction_factor")
# Up to this many trials "auto" fits a Gaussian process; past it the fit (cubic in the
# trials) costs more than it saves and a population-based sampler has room to evolve.
# The budget at which OptunaHub's AutoSampler leaves GPSampler.
GP_MAX_TRIALS = 250


@dataclass(frozen=True)
class Rungs:
    """Where mo-asha compares trials: after ``min_rounds`` reported rounds, then after
    each ``reduction_factor`` times as many; at each rung the best 1/``reduction_factor``
    of the trials that reached it (by non-dominated rank) go on."""

    min_rounds: int = 1
    reduction_factor: int = 3

    def milestones(self, num_steps: int) -> list[int]:
        """The rungs (rounds reported) a trial of ``num_steps`` rounds passes, in order."""
        out, rung = [], self.min_rounds
        while rung <= num_steps:
            out.append(rung)
            rung *= self.reduction_factor
        return out


class SamplerChoice(NamedTuple):
    name: str  # gp | tpe | nsga2 | random | grid
    reason: str  # one line: why this sampler, for the console and run.json


def choose_sampler(
    sampler: str, *, search: Sequence[Param], num_samples: int, objectives: Sequence[Objective]
) -> SamplerChoice:
    """The sampler a study runs: the one named, or for ``"auto"`` the rule Optuna's own
    guidance gives (OptunaHub's AutoSampler, applied here without fetching it): a
    Gaussian process (``GPSampler``, log-EHVI with several objectives) for a numeric space
    and at most GP_MAX_TRIALS trials; TPE where a setting is categorical (a GP's kernel
    treats choices poorly); past GP_MAX_TRIALS, NSGA-II with several objectives and TPE
    with one."""
    if sampler != "auto":
        return SamplerChoice(sampler, "set by name (the study file or --set), not by auto")
    categorical = [p.name for p in search if p.type == "categorical"]
    if categorical:
        return SamplerChoice(
            "tpe", f"auto: categorical setting(s) {', '.join(categorical)}: TPE handles choices"
        )
    if num_samples <= GP_MAX_TRIALS:
        return SamplerChoice(
            "gp",
            f"auto: numeric search space and {num_samples} <= {GP_MAX_TRIALS} trials: "
            "Gaussian-process Bayesian optimisation",
        )
    if len(objectives) > 1:
        return SamplerChoice(
            "nsga2", f"auto: {num_samples} > {GP_MAX_TRIALS} trials and several objectives"
        )
    return SamplerChoice("tpe", f"auto: {num_samples} > {GP_MAX_TRIALS} trials, one objective")

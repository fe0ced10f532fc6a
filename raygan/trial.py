"""One trial, without Ray: the pieces the engine's trainable and ``run_trial`` share."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from raygan.experiments import get_experiment
from raygan.experiments.base import Experiment, TrialDiverged
from raygan.spec import SpecError, StudySpec, load_spec

# In a trial's checkpoint, the folder holding the kept round's state where the kept round
# is an earlier one than the state beside it (a study that keeps each trial's best round).
KEPT_STATE = "kept"


def derive_seed(study_seed: int, trial_index: int, replicate: int = 0) -> int:
    """Seed of one replicate of a trial, from the study seed, the trial's index (0, 1, ...)
    and the replicate (0, 1, ...): stable, well mixed. Replicate 0 is the trial's own seed
    (the one a study without replicates uses)."""
    entropy = [study_seed, trial_index] + ([replicate] if replicate else [])
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def replicate_seeds(study_seed: int, trial_index: int, replicates: int) -> list[int]:
    """The seeds of a trial's ``replicates`` replicates, replicate 0 first."""
    return [derive_seed(study_seed, trial_index, r) for r in range(replicates)]


# Entropy word that keeps validation seeds on a stream of their own (ASCII "vald").
VALIDATION_STREAM = 0x76616C64


def validation_seeds(
    study_seed: int, trial_index: int, count: int, *, exclude: Iterable[int] = ()
) -> list[int]:
    """``count`` fresh seeds to re-train configuration ``trial_index`` with after the search.

    Drawn from a stream of their own, and never a seed in ``exclude`` (every seed the search
    used) nor one drawn twice: a validation run must not repeat a search run.
    """
    taken = set(exclude)
    seeds: list[int] = []
    draw = 0
    while len(seeds) < count:
        entropy = [study_seed, VALIDATION_STREAM, trial_index, draw]
        seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
        draw += 1
        if seed not in taken:
            taken.add(seed)
            seeds.append(seed)
    return seeds


def aggregate_replicates(rounds: Sequence[dict]) -> dict:
    """One round of every replicate -> one result: each scalar metric's mean, its sample
    standard deviation as ``<metric>_std`` (ddof 1; only with 2 or more replicates) and
    ``n_replicates``. A matrix metric (a list of rows) is averaged cell by cell."""
    first = rounds[0]
    out: dict = {"n_replicates": float(len(rounds))}
    for key, value in first.items():
        values = [r[key] for r in rounds]
        if isinstance(value, bool) or not isinstance(value, int | float | list):
            out[key] = value
        elif isinstance(value, list):
            out[key] = np.mean(np.asarray(values, dtype=np.float64), axis=0).tolist()
        else:
            out[key] = float(np.mean(values))
            if len(rounds) > 1:
                out[f"{key}_std"] = float(np.std(values, ddof=1))
    return out


def set_threads(cpus: float) -> int:
    """Torch intra-op threads = the trial's whole CPUs (at least 1): trials sharing a node
    must not each spawn one thread per core."""
    import torch

    threads = max(1, int(cpus))
    torch.set_num_threads(threads)
    return threads


def make_experiment(spec: StudySpec, params: dict, *, seed: int, device: str = "cpu") -> Experiment:
    experiment = get_experiment(spec.experiment)()
    experiment.setup(spec.trial_config(params), dict(spec.data), seed=seed, device=device)
    return experiment


def check_finite(metrics: dict[str, float], *, step: int) -> None:
    # matrix metrics (lists) are stored, never scored: only scalars need to be finite
    bad = [k for k, v in metrics.items() if isinstance(v, int | float) and not math.isfinite(v)]
    if bad:
        raise TrialDiverged(
            f"step {step}: non-finite {', '.join(f'{k}={metrics[k]}' for k in bad)}"
        )


def round_score(spec: StudySpec, metrics: dict[str, float]) -> float:
    """How good one round's scores are, when a study keeps each trial's best round
    (``[result] round = "best"``); higher is better.

    One objective: its value (negated when minimized). Several: the volume the round's
    point dominates beyond the reference point, the product over objectives of how far it
    is on the good side of its reference (0 if on the bad side of any). With validity "max"
    and memorization "min" against (0, 1), that is validity x (1 - memorization): the
    hypervolume of the point alone.
    """
    objectives = spec.objectives
    if len(objectives) == 1:
        (o,) = objectives
        value = spec.objective_value(o, metrics)
        return value if o.mode == "max" else -value
    score = 1.0
    for o in objectives:
        value = spec.objective_value(o, metrics)
        # the spec refuses a best-round study with several objectives and no reference
        reference = o.reference if o.reference is not None else math.nan
        gain = value - reference if o.mode == "max" else reference - value
        score *= max(0.0, gain)
    return score


def replaces_kept(spec: StudySpec, metrics: dict, kept: dict | None) -> bool:
    """Whether a new round's ``metrics`` stand for the trial instead of the round ``kept``
    so far (None before the first). Ties go to the later round, so "best" keeps the last
    round when no earlier one is better."""
    if kept is None or spec.result_round == "last":
        return True
    return round_score(spec, metrics) >= round_score(spec, kept)


def kept_round(spec: StudySpec, rounds: Iterable[dict]) -> dict | None:
    """The round that stands for a trial among its ``rounds`` (in order); None if none."""
    kept = None
    for r in rounds:
        if replaces_kept(spec, r, kept):
            kept = r
    return kept


def run_trial(
    study: str,
    params: dict | None = None,
    *,
    profile: str = "default",
    seed: int = 0,
    overrides: Sequence[str] = (),
    device: str = "cpu",
) -> dict[str, float]:
    """Run one trial of ``study`` in this process and return the metrics that stand for it:
    its last round's, or its best round's where the study says ``[result] round = "best"``
    (as the engine would record them), with ``"step"``, the round they come from.

    ``params`` gives every searched parameter of the profile a value, as a trial of the
    study would have (a value outside the searched range is allowed, within the
    setting's own rule); ``seed`` is the trial's seed. Torch threads are set from the
    study's ``resources.cpus``. Raises SpecError naming any searched parameter not given
    (it would otherwise fall back to a value the study never searches) and any unknown
    one.
    """
    spec = load_spec(study, profile=profile, overrides=overrides)
    params = params or {}
    missing = [p for p in spec.search if p.name not in params]
    if missing:
        given = ", ".join(f"{p.name} ({p.describe()})" for p in missing)
        raise SpecError(
            f"params: no value for the searched parameter(s) {given} of {spec.name} "
            f"(profile {spec.profile}); give each a value"
        )
    set_threads(spec.cpus)
    experiment = make_experiment(spec, params, seed=seed, device=device)
    kept = None
    for step in range(experiment.num_steps):
        metrics = experiment.step()
        check_finite(metrics, step=step)
        if replaces_kept(spec, metrics, kept):
            kept = {**metrics, "step": step}
    return kept or {}

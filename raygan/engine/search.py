"""The searcher: Optuna's samplers through Ray Tune's OptunaSearch, with raygan's seeds."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from ray.tune.search import SearchGenerator
from ray.tune.search.optuna import OptunaSearch

from raygan.engine import compat
from raygan.engine.runs import RESUMING
from raygan.spec import StudySpec
from raygan.trial import replicate_seeds


def journal_storage(journal: Path) -> JournalStorage:
    return JournalStorage(JournalFileBackend(str(journal)))


class RayganSearch(OptunaSearch):
    """OptunaSearch that also hands each trial its index and seed. The Optuna trial number
    is stable across resumes, so the trial's seed is too."""

    def __init__(self, *args, study_seed: int, replicates: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.study_seed = study_seed
        self.replicates = replicates

    def restore(self, checkpoint_path: str):
        super().restore(checkpoint_path)
        where = RESUMING.get()
        if where is not None:
            compat.repoint_optuna_search(self, journal_storage(where[1]))

    def suggest(self, trial_id: str):
        config = super().suggest(trial_id)
        if isinstance(config, dict):
            number = compat.optuna_trial_number(self, trial_id)
            # a searcher pickled by an older raygan has no replicates: one seed, as then
            seeds = replicate_seeds(self.study_seed, number, getattr(self, "replicates", 1))
            config = {**config, "_index": number, "_seed": seeds[0], "_seeds": seeds}
        return config


class RayganGenerator(SearchGenerator):
    """Tune's search generator, but a restored one makes its new trials where the run
    lies now (see ``compat.repoint_generator``)."""

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        where = RESUMING.get()
        if where is not None:
            compat.repoint_generator(self, where[0].root)


def make_sampler(spec: StudySpec) -> optuna.samplers.BaseSampler:
    seed = spec.seed
    if spec.sampler == "nsga2":
        # Optuna's default population (50) would leave a laptop study in its random first
        # generation; a quarter of the budget gives it a few generations to evolve.
        population = max(4, min(50, spec.num_samples // 4))
        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    if spec.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.GridSampler({p.name: p.grid_values() for p in spec.search}, seed=seed)


def _distribution(p) -> optuna.distributions.BaseDistribution:
    if p.type == "categorical":
        return optuna.distributions.CategoricalDistribution(list(p.choices))
    if p.type == "int":
        return optuna.distributions.IntDistribution(int(p.low), int(p.high), step=p.step or 1)
    return optuna.distributions.FloatDistribution(
        float(p.low), float(p.high), log=p.type == "logfloat"
    )


def make_searcher(spec: StudySpec, *, journal: Path, study_name: str) -> RayganSearch:
    """The study's searcher, its Optuna study in ``journal`` under ``study_name``."""
    metrics = [spec.objective_key(o) for o in spec.objectives]
    modes = [o.mode for o in spec.objectives]
    single = len(metrics) == 1
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # A run restarted before Tune's first snapshot finds its Optuna study in the journal,
    # start points already queued there; queueing them again would run them twice.
    fresh = not journal.exists() or journal.stat().st_size == 0
    search = RayganSearch(
        {p.name: _distribution(p) for p in spec.search},
        metric=metrics[0] if single else metrics,
        mode=modes[0] if single else modes,
        sampler=make_sampler(spec),
        study_name=study_name,
        storage=journal_storage(journal),
        points_to_evaluate=[dict(p) for p in spec.start] if fresh else None,
        study_seed=spec.seed,
        replicates=spec.replicates,
    )
    # optuna-dashboard then labels the values by objective, not "0" and "1"
    study = optuna.load_study(study_name=study_name, storage=journal_storage(journal))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([o.metric for o in spec.objectives])
    return search

"""The searcher: Optuna's samplers through Ray Tune's OptunaSearch, with raygan's seeds,
no configuration trained twice, and each trial told as the round it stands for."""

from __future__ import annotations

import warnings

import optuna
from optuna.trial import FrozenTrial, TrialState
from ray.tune.search import Searcher, SearchGenerator
from ray.tune.search.optuna import OptunaSearch

from raygan.engine import compat
from raygan.engine.optuna_storage import OptunaStorage
from raygan.engine.runs import RESUMING
from raygan.engine.trainable import KEPT_VALUES
from raygan.spec import StudySpec
from raygan.trial import replicate_seeds

# A sampler that proposes only configurations already run this many times in a row has
# nothing new left to offer (a small discrete space, used up): the search ends there.
MAX_REPEATS = 100
# After this many repeats in a row the proposals are drawn at random instead.
RANDOM_AFTER = 10
# The Optuna user attributes raygan sets: the earlier trial a proposal repeated, and the
# rounds a trial ran before the scheduler stopped it.
REPEAT_OF = "raygan_repeat_of"
STOPPED_AFTER = "raygan_stopped_after_rounds"


class RayganSearch(OptunaSearch):
    """OptunaSearch that also hands each trial its index and seed (the Optuna trial number
    is stable across resumes, so the trial's seed is too), never hands out a configuration
    already run, and tells Optuna the round a trial stands for (``kept/`` values), which
    for a trial the scheduler stopped is its kept round so far."""

    def __init__(self, *args, study_seed: int, replicates: int = 1, echo=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.study_seed = study_seed
        self.replicates = replicates
        self.echo = echo  # None: print (looked up when used; Tune pickles this searcher)
        self.seen = SeenConfigurations()

    def save(self, checkpoint_path: str):
        # OptunaSearch pickles its __dict__ with plain pickle: a caller's echo may be a lambda
        echo, self.echo = self.echo, None
        try:
            super().save(checkpoint_path)
        finally:
            self.echo = echo

    def restore(self, checkpoint_path: str):
        echo = getattr(self, "echo", None)  # this run's, not the saved None
        super().restore(checkpoint_path)
        self.echo = echo
        where = RESUMING.get()
        if where is not None:
            compat.repoint_optuna_search(self, where[1].open())

    def suggest(self, trial_id: str):
        study = compat.optuna_study(self)
        sampler = study.sampler
        try:
            for attempt in range(MAX_REPEATS):
                if attempt == RANDOM_AFTER:
                    # a model-based sampler can keep proposing what it has seen (a GP on
                    # a few discrete configurations): draw the rest at random, seeded
                    study.sampler = optuna.samplers.RandomSampler(
                        seed=self.study_seed + len(study.get_trials(deepcopy=False))
                    )
                config = super().suggest(trial_id)
                if not isinstance(config, dict):
                    return config
                trial = compat.optuna_trial(self, trial_id)
                # a searcher pickled by an older raygan has no index: one made here
                seen = self.__dict__.setdefault("seen", SeenConfigurations())
                earlier = _same_configuration(study, trial, seen)
                if earlier is None:
                    break
                self._tell_repeat(trial, earlier)
                compat.forget_optuna_trial(self, trial_id)  # ask Optuna again for this trial
            else:
                self.say(
                    f"[raygan] the sampler proposed only configurations already run, "
                    f"{MAX_REPEATS} times in a row (the last {MAX_REPEATS - RANDOM_AFTER} "
                    "drawn at random): the search space is used up, the search ends"
                )
                return Searcher.FINISHED
        finally:
            study.sampler = sampler
        number = compat.optuna_trial_number(self, trial_id)
        # a searcher pickled by an older raygan has no replicates: one seed, as then
        seeds = replicate_seeds(self.study_seed, number, getattr(self, "replicates", 1))
        return {**config, "_index": number, "_seed": seeds[0], "_seeds": seeds}

    def _tell_repeat(self, trial: optuna.Trial, earlier: FrozenTrial) -> None:
        """Close a proposal that repeats ``earlier``'s configuration without training it:
        told ``earlier``'s values where it has them (the sampler learns what that
        configuration gave and moves on), else (still running) failed."""
        study = compat.optuna_study(self)
        trial.set_user_attr(REPEAT_OF, earlier.number)
        if earlier.state == TrialState.COMPLETE:
            study.tell(trial, earlier.values)
            outcome = f"told it trial {earlier.number}'s result"
        else:
            study.tell(trial, state=TrialState.FAIL)
            outcome = f"trial {earlier.number} is still running; marked failed"
        self.say(
            f"[raygan] the sampler proposed trial {earlier.number}'s configuration again: "
            f"not trained (replicates re-train a configuration); {outcome} as Optuna trial "
            f"{trial.number}, and asked again"
        )

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        if result and not error:
            metrics = self.metric if isinstance(self.metric, list) else [self.metric]
            kept = {m: result[KEPT_VALUES + m] for m in metrics if KEPT_VALUES + m in result}
            result = {**result, **kept}
            done, total = result.get("steps_done"), result.get("num_steps")
            if done is not None and total and done < total:
                compat.optuna_trial(self, trial_id).set_user_attr(STOPPED_AFTER, int(done))
        super().on_trial_complete(trial_id, result, error)
        # OptunaSearch keeps every Trial it asked for (with a copy of its FrozenTrial) and
        # pickles them all into each snapshot; a finished one is never asked about again
        # (its id stays in _completed_trials), and Optuna's storage keeps its record
        compat.forget_optuna_trial(self, trial_id)

    def say(self, line: str) -> None:
        """One line for the console: the run's echo, else print."""
        (self.echo or print)(line)


class SeenConfigurations:
    """The numbers of a study's trials by the hash of their configuration's key
    (``configuration_key``): the trials a proposal may repeat, found without comparing it
    with every trial, which cost a scan per proposal that grew with the trials run. Built
    from the study on first use in a process; Tune's snapshots of the searcher carry it
    empty."""

    def __init__(self) -> None:
        self.numbers: dict[int, list[int]] | None = None

    def __getstate__(self) -> dict:
        return {"numbers": None}

    def candidates(self, study: optuna.Study, number: int, key: tuple) -> list[int]:
        """Numbers of the trials other than ``number`` whose key hashes as ``key`` does
        (trial ``number``, of that key, asked last: every trial of the study is in the
        index from the first call on)."""
        if self.numbers is None:
            self.numbers = {}
            for other in study.get_trials(deepcopy=False):
                earlier = hash(configuration_key(other.params))
                self.numbers.setdefault(earlier, []).append(other.number)
        numbers = self.numbers.setdefault(hash(key), [])
        if number not in numbers:
            numbers.append(number)
        return [n for n in numbers if n != number]


def configuration_key(params: dict) -> tuple:
    """What makes two configurations the same: the same names, and equal values once each
    float is rounded to nine significant digits (so 0.1 + 0.2 is 0.3, and 1.0 is 1);
    integers, strings and None as they are. A NaN is never the same as anything."""

    def rounded(value):
        return float(f"{value:.9g}") if isinstance(value, float) else value

    return tuple(sorted((name, rounded(value)) for name, value in params.items()))


def _same_configuration(
    study: optuna.Study, trial: optuna.Trial, seen: SeenConfigurations
) -> FrozenTrial | None:
    """The earliest other trial of ``study`` with ``trial``'s configuration
    (``configuration_key``) that ran, runs or is queued (failed ones do not count: they
    may be run again), or None."""
    key = configuration_key(trial.params)  # once: the index and the check both need it
    candidates = set(seen.candidates(study, trial.number, key))
    if not candidates:
        return None
    states = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)
    for other in study.get_trials(deepcopy=False, states=states):
        if other.number in candidates and REPEAT_OF not in other.user_attrs:
            if configuration_key(other.params) == key:
                return other
    return None


class RayganGenerator(SearchGenerator):
    """Tune's search generator, but a restored one makes its new trials where the run
    lies now (see ``compat.repoint_generator``), and counts the trials that ended after
    Tune's last snapshot: their rows stand, so a resumed study still makes num_samples."""

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        where = RESUMING.get()
        if where is None:
            return
        store = where[0]
        compat.repoint_generator(self, store.root)
        # Tune snapshots its state every few seconds, not after every trial: a trial that
        # ended since has its row (and its Optuna values) but the restored Tune knows
        # nothing of it and would make another in its place.
        search = base_searcher(self)
        if isinstance(search, RayganSearch):
            # Optuna trials of trials Tune started after its last snapshot: no Tune trial
            # will report them, and while RUNNING the sampler counts them as pending and
            # a proposal of the same configuration as a repeat of a running trial
            compat.fail_unknown_running_trials(search)
        unknown = store.part_keys("trial") - compat.searched_trial_ids(search)
        if unknown:
            compat.count_trials_made(self, len(unknown))
            if isinstance(search, RayganSearch):
                search.say(
                    f"[raygan] resume: {len(unknown)} trial(s) ended after Tune's last "
                    "snapshot; their rows stand and count toward the budget"
                )


def base_searcher(generator):
    """The searcher inside a SearchGenerator's wrappers (ConcurrencyLimiter, ...)."""
    searcher = generator.searcher
    while hasattr(searcher, "searcher"):
        searcher = searcher.searcher
    return searcher


def make_sampler(spec: StudySpec) -> optuna.samplers.BaseSampler:
    """The study's Optuna sampler (``spec.sampler_choice()``), seeded by the study seed.
    Every one of them keeps trials asked in parallel apart: GPSampler scores a proposal
    jointly with the running trials (q-batch log-EHVI), TPE lies about them (constant
    liar), NSGA-II draws a generation at a time."""
    seed = spec.seed
    name = spec.sampler_choice().name
    # random first trials before a model is fitted: Optuna's 10 is a third of a laptop
    # budget; a quarter of the budget, between 4 and 10
    startup = max(4, min(10, spec.num_samples // 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "gp":
            # a GAN's scores are noisy: the GP fits a noise term
            return optuna.samplers.GPSampler(
                seed=seed, n_startup_trials=startup, deterministic_objective=False
            )
        if name == "nsga2":
            # Optuna's default population (50) would leave a laptop study in its random first
            # generation; a quarter of the budget gives it a few generations to evolve.
            population = max(4, min(50, spec.num_samples // 4))
            return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
        if name == "tpe":
            return optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=startup, multivariate=True, constant_liar=True
            )
        if name == "random":
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


def make_searcher(
    spec: StudySpec, *, storage: OptunaStorage, study_name: str, echo=None
) -> RayganSearch:
    """The study's searcher, its Optuna study in ``storage`` under ``study_name``."""
    metrics = [spec.objective_key(o) for o in spec.objectives]
    modes = [o.mode for o in spec.objectives]
    single = len(metrics) == 1
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # A run restarted before Tune's first snapshot finds its Optuna study in the storage,
    # start points already queued there; queueing them again would run them twice.
    optuna_storage = storage.open()
    fresh = study_name not in optuna.get_all_study_names(optuna_storage)
    search = RayganSearch(
        {p.name: _distribution(p) for p in spec.search},
        metric=metrics[0] if single else metrics,
        mode=modes[0] if single else modes,
        sampler=make_sampler(spec),
        study_name=study_name,
        storage=optuna_storage,
        points_to_evaluate=[dict(p) for p in spec.start] if fresh else None,
        study_seed=spec.seed,
        replicates=spec.replicates,
        echo=echo,
    )
    # optuna-dashboard then labels the values by objective, not "0" and "1"
    study = optuna.load_study(study_name=study_name, storage=optuna_storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([o.metric for o in spec.objectives])
    return search

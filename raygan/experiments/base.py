"""The contract between the engine and a model family.

A family is two classes. Its :class:`Declaration` (a module without torch) is what the
driver reads before any trial: the ``Config`` and ``Data`` dataclasses of its settings,
made with :func:`raygan.settings.setting`, which carries each setting's rule, the
metrics it reports, and ``check``, which refuses bad settings and data on the driver,
before Ray starts, with the rule in the message. Its :class:`Experiment` subclasses the
declaration and trains: ``setup`` builds data and networks, ``step`` runs one round of
training plus evaluation and returns its metrics, ``save``/``load`` move its whole state
(weights, optimisers, RNG) to and from a directory. The engine turns any experiment into
a Ray Tune trainable, so checkpointing and resume are written once, there.

A family that makes samples also says what kind (``sample_kind``) and which of its
settings only change how a trained model is sampled or used (``sampling_settings``);
its experiment then hands out the judged samples of its last step (``samples``), fresh
ones (``generate``) and its metrics under other sampling settings (``evaluate_with``),
none of which changes the trial's training or its random draws.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from raygan.data import DataError
from raygan.settings import build_config, check_setting, setting

__all__ = [
    "Declaration",
    "Experiment",
    "TrialDiverged",
    "build_config",
    "check_count",
    "check_setting",
    "require_finite",
    "round_epochs",
    "setting",
]


def round_epochs(round_index: int, *, epochs: int, rounds: int) -> range:
    """The epochs that evaluation round ``round_index`` trains: ``epochs`` split evenly
    over ``rounds`` (the last rounds may get fewer, or none)."""
    per_round = math.ceil(epochs / rounds)
    first = round_index * per_round
    return range(first, min(first + per_round, epochs))


class TrialDiverged(RuntimeError):
    """A loss or metric became NaN or infinite. The trial fails with this reason; it is not
    retried (it would diverge again) and nothing non-finite is ever reported."""


def check_count(n: Any) -> int:
    """``n`` as a number of samples to generate; ValueError, one line, unless an int >= 0."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n: {n!r} must be a whole number of samples >= 0")
    return n


def require_finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise TrialDiverged(f"{name} is {value}")
    return value


class Declaration:
    """What the driver knows of a model family before any trial. Subclasses set
    ``Config``, ``Data`` and ``metrics``; none of it may import torch."""

    Config: ClassVar[type]  # dataclass of training settings (``fixed`` + ``search``)
    Data: ClassVar[type]  # dataclass of data settings (``[data]`` of a study file)
    metrics: ClassVar[tuple[str, ...]]  # names ``step`` reports; objectives pick from these
    # Non-scalar results ``step`` may also report (e.g. a confusion matrix as a list of
    # rows): stored in trials.parquet, never objectives.
    matrix_metrics: ClassVar[tuple[str, ...]] = ()
    # The baseline (a name ``baselines`` returns) that a trial's gain is measured from:
    # the summary and report show each front configuration's objectives minus its scores.
    gain_baseline: ClassVar[str | None] = None
    # "text" or "image": what ``samples``/``generate`` return; None: the family makes none.
    sample_kind: ClassVar[str | None] = None
    # Config settings that change only how a trained model is sampled or used, never its
    # training: ``generate`` and ``evaluate_with`` take other values of these.
    sampling_settings: ClassVar[tuple[str, ...]] = ()
    # Whether the family computes generator-free baselines (``Experiment.baselines``); the
    # engine starts no Ray task for one without. An Experiment subclass that defines
    # ``baselines`` gets True by itself.
    has_baselines: ClassVar[bool] = False

    @classmethod
    def check_sampling(cls, sampling: dict[str, Any]) -> None:
        """ValueError, one line, for a name in ``sampling`` that is not one of
        ``sampling_settings``."""
        for name in sampling:
            if name not in cls.sampling_settings:
                allowed = ", ".join(cls.sampling_settings) or "none"
                raise ValueError(
                    f"sampling: {name!r} is not a sampling setting of {cls.__name__}; "
                    f"allowed: {allowed}"
                )

    @classmethod
    def with_sampling(cls, config: Any, sampling: dict[str, Any]) -> Any:
        """The ``Config`` instance ``config`` with the ``sampling`` settings in place of
        its own, each checked by its rule (ValueError, one line naming
        ``sampling.<name>``, the value and the rule)."""
        cls.check_sampling(sampling)
        return build_config(
            cls.Config, {**dataclasses.asdict(config), **sampling}, where="sampling"
        )

    @classmethod
    def build_settings(cls, config: dict, data: dict) -> tuple[Any, Any]:
        """(``Config``, ``Data``) instances of ``config`` and ``data``, every value checked
        by its rule: ValueError naming ``fixed.<key>``, DataError naming ``data.<key>``.
        A family's ``check`` starts here, then checks what needs both or the data itself."""
        return (
            build_config(cls.Config, config, where="fixed"),
            build_config(cls.Data, data, where="data", error=DataError),
        )

    @classmethod
    def check(cls, config: dict, data: dict) -> None:
        """Validate settings and data on the driver before any trial starts; raise
        ValueError (one line, naming the field or file) on bad input: DataError for the
        data settings."""
        cls.build_settings(config, data)


class Experiment(Declaration):
    """Base class of every model family's implementation."""

    num_steps: int  # how many times the engine calls step(); known after setup()
    steps_done: int  # steps already taken (restored by load())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__
        # defined anywhere before Experiment's own: in the class, a base or a mixin
        if any("baselines" in vars(k) for k in mro[: mro.index(Experiment)]):
            cls.has_baselines = True

    @classmethod
    def baselines(cls, config: dict, data: dict, *, seed: int) -> list[dict]:
        """Reference scores that need no generator (e.g. a classifier on the raw data),
        computed once per study, in a Ray task of one trial's CPUs:
        [{"baseline": name, metric: value, ...}]."""
        return []

    def setup(self, config: dict, data: dict, *, seed: int, device: str = "cpu") -> None:
        raise NotImplementedError

    def step(self) -> dict[str, float]:
        raise NotImplementedError

    def samples(self) -> list[dict]:
        """The samples the last ``step`` evaluated, each judged: dicts of the sample
        columns (``raygan.results.schema.SAMPLE_COLUMNS``; keys that do not apply are
        absent). Cheap: judged once per step, with the metrics. [] before any step and
        for a family that makes no samples."""
        return []

    def generate(self, n: int, *, seed: int, **sampling: Any) -> list[dict]:
        """``n`` fresh samples of the model as it is now, judged as ``samples`` are,
        drawn with a generator seeded with ``seed`` (same seed, same samples); the
        trial's own random streams and training are left as they were. ``sampling``
        overrides ``sampling_settings``. ValueError for a bad ``n`` or sampling setting."""
        self.check_sampling(sampling)
        check_count(n)
        if self.sample_kind is None:
            return []
        raise NotImplementedError(f"{type(self).__name__} declares samples but no generate()")

    def evaluate_with(self, **sampling: Any) -> dict[str, float]:
        """The metrics ``step`` would report for the model as it is now, with the
        ``sampling`` settings in place of the trial's; does not advance ``steps_done`` and
        leaves the trial's random streams as they were. ValueError for a name not in
        ``sampling_settings``."""
        self.check_sampling(sampling)
        raise NotImplementedError(f"{type(self).__name__} has no evaluate_with()")

    def next_step(self) -> int:
        """The index of the step ``step`` is about to take; RuntimeError when all are done."""
        if self.steps_done >= self.num_steps:
            raise RuntimeError(f"all {self.num_steps} steps already done")
        return self.steps_done

    def save(self, path: str) -> None:
        raise NotImplementedError

    def load(self, path: str) -> None:
        raise NotImplementedError

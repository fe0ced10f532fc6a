"""The contract between the engine and a model family.

A family is two classes. Its :class:`Declaration` (a module without torch) is what the
driver reads before any trial: the ``Config`` and ``Data`` dataclasses of its settings,
made with :func:`raygan.spec.rules.setting`, which carries each setting's rule, the
metrics it reports, and ``check``, which refuses bad settings and data on the driver,
before Ray starts, with the rule in the message. Its :class:`Experiment` subclasses the
declaration and trains: ``setup`` builds data and networks, ``step`` runs one round of
training plus evaluation and returns its metrics, ``save``/``load`` move its whole state
(weights, optimisers, RNG) to and from a directory. The engine turns any experiment into
a Ray Tune trainable, so checkpointing and resume are written once, there.
"""

from __future__ import annotations

import math
from typing import ClassVar

from raygan.data import DataError
from raygan.spec.rules import build_config, check_setting, setting

__all__ = [
    "Declaration",
    "Experiment",
    "TrialDiverged",
    "build_config",
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

    @classmethod
    def check(cls, config: dict, data: dict) -> None:
        """Validate settings and data on the driver before any trial starts; raise
        ValueError (one line, naming the field or file) on bad input: DataError for the
        data settings."""
        build_config(cls.Config, config, where="fixed")
        build_config(cls.Data, data, where="data", error=DataError)


class Experiment(Declaration):
    """Base class of every model family's implementation."""

    num_steps: int  # how many times the engine calls step(); known after setup()
    steps_done: int  # steps already taken (restored by load())

    @classmethod
    def baselines(cls, config: dict, data: dict, *, seed: int) -> list[dict]:
        """Reference scores that need no generator (e.g. a classifier on the raw data),
        computed once per study on the driver: [{"baseline": name, metric: value, ...}]."""
        return []

    def setup(self, config: dict, data: dict, *, seed: int, device: str = "cpu") -> None:
        raise NotImplementedError

    def step(self) -> dict[str, float]:
        raise NotImplementedError

    def next_step(self) -> int:
        """The index of the step ``step`` is about to take; RuntimeError when all are done."""
        if self.steps_done >= self.num_steps:
            raise RuntimeError(f"all {self.num_steps} steps already done")
        return self.steps_done

    def save(self, path: str) -> None:
        raise NotImplementedError

    def load(self, path: str) -> None:
        raise NotImplementedError

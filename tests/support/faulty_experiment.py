"""A tiny experiment with a known Pareto front and faults on demand, for engine tests.

score = x and cost = x**2 + y: the front is every trial with the lowest y for its x
(with peak_at, only that step scores x, the others x / 2; with noise, each seed adds its
own Gaussian draw to score, so replicates differ). It
trains nothing (the SeqGAN tests train for real); it exists to make a trial raise, report
NaN or stall at a chosen step, which no real model does on cue, and to log which worker
process ran each step.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from raygan.experiments.base import Experiment, build_config, setting


@dataclass
class FaultyConfig:
    x: float = setting(0.5, low=0.0, high=1.0)
    y: float = setting(0.0, low=0.0, high=1.0)
    steps: int = setting(2, low=1, high=1000)
    sleep_s: float = setting(0.0, low=0.0, high=60.0)
    fail_at: int = setting(-1, low=-1, high=1000, help="step that fails (-1: none)")
    fail_when_x_above: float = setting(
        2.0, low=0.0, high=2.0, help="only trials with x above this fail"
    )
    fail_mode: str = setting("raise", choices=("raise", "nan"))
    log_dir: str = setting(
        "", path_unless=("",), help="append 'pid step' per step to <log_dir>/<seed>.log"
    )
    peak_at: int = setting(-1, low=-1, high=1000, help="the one step scoring x, others x/2")
    noise: float = setting(
        0.0, low=0.0, high=10.0, help="std of a Gaussian added to score, drawn from (seed, step)"
    )


@dataclass
class FaultyData:
    size: int = setting(1, low=1, high=10)
    max_x: float = setting(1.0, low=0.0, high=1.0, help="a data rule: no trial's x above it")


class FaultyExperiment(Experiment):
    Config = FaultyConfig
    Data = FaultyData
    metrics = ("score", "cost")

    @classmethod
    def check(cls, config, data):
        super().check(config, data)
        max_x = build_config(FaultyData, data, where="data").max_x
        if config["x"] > max_x:
            raise ValueError(f"data.max_x: {max_x} is below x = {config['x']}")

    def setup(self, config, data, *, seed, device="cpu"):
        self.cfg = build_config(FaultyConfig, config, where="fixed")
        self.seed = seed
        self.steps_done = 0
        self.num_steps = self.cfg.steps

    def step(self):
        cfg = self.cfg
        time.sleep(cfg.sleep_s)
        failing = self.steps_done == cfg.fail_at and cfg.x > cfg.fail_when_x_above
        if failing and cfg.fail_mode == "raise":
            raise RuntimeError(f"injected failure at step {self.steps_done}")
        self.steps_done += 1
        if cfg.log_dir:  # which process ran which step: lets a test kill a trial's worker
            with open(Path(cfg.log_dir, f"{self.seed}.log"), "a") as log:
                log.write(f"{os.getpid()} {self.steps_done - 1}\n")
        peaked = cfg.peak_at in (-1, self.steps_done - 1)
        score = float("nan") if failing else cfg.x if peaked else cfg.x / 2
        if cfg.noise:  # a seed's draw, the same after a resume: replicates differ, reruns don't
            score += cfg.noise * random.Random(f"{self.seed}-{self.steps_done}").gauss(0.0, 1.0)
        return {"score": score, "cost": cfg.x**2 + cfg.y}

    def save(self, path):
        Path(path, "faulty.json").write_text(json.dumps({"steps_done": self.steps_done}))

    def load(self, path):
        self.steps_done = json.loads(Path(path, "faulty.json").read_text())["steps_done"]


class BaselineExperiment(FaultyExperiment):
    """FaultyExperiment with one baseline that says where it was computed: score is the
    process id, cost the torch threads it had. With fail_at = 0, it raises a ValueError."""

    @classmethod
    def baselines(cls, config, data, *, seed):
        import torch

        if config["fail_at"] == 0:
            raise ValueError("fixed.fail_at: 0 fails the baseline")

        return [{"baseline": "where", "score": float(os.getpid()), "cost": torch.get_num_threads()}]


def study_text(search: str, *, sampler: str = "random", fixed: str = "") -> str:
    """A study file for this experiment: the given [search.*] tables (and [fixed] lines),
    score up and cost down, 6 trials 2 at a time, no retries."""
    return f"""
description = "engine test study"
experiment = "faulty"
seed = 7
sampler = "{sampler}"

[fixed]
{fixed}

{search}

[objectives]
score = "max"
cost = "min"

[budget]
num_samples = 6
max_concurrent = 2
max_failures = 0

[resources]
cpus = 1
gpus = 0.25
"""

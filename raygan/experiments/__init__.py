"""Registry of model families. Adding one: write a module with an Experiment subclass and
add its name here. Entries are import paths so that listing them imports no torch."""

from __future__ import annotations

import importlib

from raygan.experiments.base import Experiment

REGISTRY: dict[str, str] = {
    "seqgan": "raygan.experiments.seqgan:SeqGANExperiment",
}


def get_experiment(name: str) -> type[Experiment]:
    if name not in REGISTRY:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(sorted(REGISTRY))}")
    module, _, attr = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), attr)

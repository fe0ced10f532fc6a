"""Model families: the registry (:mod:`raygan.experiments.registry`), the contract
(:mod:`raygan.experiments.base`), each family's declaration (``*_settings``, no torch)
and its implementation (torch)."""

from raygan.experiments.registry import (
    ENVIRONMENT_ERRORS,
    REGISTRY,
    experiment_path,
    get_declaration,
    get_experiment,
    load_experiment,
    register_experiment,
)

__all__ = [
    "ENVIRONMENT_ERRORS",
    "REGISTRY",
    "experiment_path",
    "get_declaration",
    "get_experiment",
    "load_experiment",
    "register_experiment",
]

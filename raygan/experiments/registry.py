"""Registry of model families: a name -> the 'module:Class' of its Experiment.

Adding one: write a module with an Experiment subclass and add its name here, or register
it without touching raygan, from Python (``raygan.register_experiment("mine",
"mypkg.exp:MyExperiment")``) or from the environment
(``RAYGAN_EXPERIMENTS="mine=mypkg.exp:MyExperiment,other=..."``). A study file can only
name a registered experiment: it never makes raygan import a module of its choosing.

Entries are import paths so that listing them imports no torch. A built-in family also
has a declaration (its settings, metrics and driver-side check) in a module without
torch, which :func:`get_declaration` loads instead, so that reading and checking a study
imports no torch; a registered family's Experiment is its own declaration. Workers
receive the resolved path, so a family registered on the driver needs only to be
importable there.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re

from raygan.experiments.base import Declaration, Experiment

BUILT_IN: dict[str, str] = {
    "seqgan": "raygan.experiments.seqgan:SeqGANExperiment",
    "augment": "raygan.experiments.augment:AugmentExperiment",
    "vae_augment": "raygan.experiments.vae:VAEAugmentExperiment",
    "cluster_gan": "raygan.experiments.cluster_gan:ClusterGANExperiment",
}
REGISTRY: dict[str, str] = dict(BUILT_IN)
# The torch-free declaration of each built-in Experiment, by the Experiment's path.
DECLARATIONS: dict[str, str] = {
    "raygan.experiments.seqgan:SeqGANExperiment": (
        "raygan.experiments.seqgan_settings:SeqGANDeclaration"
    ),
    "raygan.experiments.augment:AugmentExperiment": (
        "raygan.experiments.augment_settings:AugmentDeclaration"
    ),
    "raygan.experiments.vae:VAEAugmentExperiment": (
        "raygan.experiments.vae_settings:VAEDeclaration"
    ),
    "raygan.experiments.cluster_gan:ClusterGANExperiment": (
        "raygan.experiments.cluster_gan_settings:ClusterGANDeclaration"
    ),
}

_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_NAME = re.compile(r"^[A-Za-z_][\w-]*$")


def register_experiment(name: str, target: str, *, load: bool = True) -> None:
    """Make ``name`` usable as a study's ``experiment``; ``target`` is 'module:Class'.

    Raises ValueError, one line, for a bad name or target, and (``load=True``) for a
    target that cannot be imported or is no Experiment subclass: at registration, not
    when a study first needs it. ``load=False`` only checks the module can be found
    (entries from ``RAYGAN_EXPERIMENTS``, so that importing raygan imports no torch)."""
    if not _NAME.match(name):
        raise ValueError(f"experiment name {name!r} must match {_NAME.pattern}")
    if not _TARGET.match(target):
        raise ValueError(
            f"experiment {name!r}: target {target!r} must look like 'package.module:Class'"
        )
    module = target.partition(":")[0]
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        found = False
    if not found:
        raise ValueError(f"experiment {name!r}: no module {module!r} to import for {target!r}")
    if load:
        try:
            load_experiment(target)
        except (ImportError, AttributeError, TypeError) as e:
            raise ValueError(f"experiment {name!r}: {target!r}: {e}") from None
    REGISTRY[name] = target


# A bad entry must not break `import raygan` with a traceback: the CLI reports these as
# one line (exit 2); `experiment_path` raises them for a study that names the entry.
ENVIRONMENT_ERRORS: list[str] = []
for _item in filter(None, os.environ.get("RAYGAN_EXPERIMENTS", "").split(",")):
    _name, _, _target = _item.strip().partition("=")
    try:
        register_experiment(_name, _target, load=False)
    except ValueError as _e:
        ENVIRONMENT_ERRORS.append(f"RAYGAN_EXPERIMENTS: {_e}")


def registered_entries() -> str:
    """The experiments registered beyond the built-in ones, as ``RAYGAN_EXPERIMENTS``
    spells them: what a child process needs to read this process's studies."""
    return ",".join(f"{n}={t}" for n, t in REGISTRY.items() if BUILT_IN.get(n) != t)


def experiment_path(name: str) -> str:
    """The 'module:Class' of the Experiment registered as ``name``; KeyError if none."""
    if name not in REGISTRY:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def _load(target: str, base: type, what: str) -> type:
    """The class at 'module:Class', which must be a subclass of ``base``."""
    module, _, attr = target.partition(":")
    imported = importlib.import_module(module)
    cls = getattr(imported, attr, None)
    if cls is None:
        raise AttributeError(f"module {module!r} has no {attr!r}")
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"{target} is not an {what} subclass")
    return cls


def load_experiment(target: str) -> type[Experiment]:
    """The Experiment class at 'module:Class' (imports its module: torch, for built-ins)."""
    return _load(target, Experiment, "Experiment")


def get_experiment(name: str) -> type[Experiment]:
    """The Experiment class registered as ``name``: what a trial runs."""
    return load_experiment(experiment_path(name))


def get_declaration(name: str) -> type[Declaration]:
    """What the driver needs of experiment ``name`` to read and check a study: its
    Config, Data, metrics and ``check``. Imports no torch for a built-in family."""
    target = experiment_path(name)
    return _load(DECLARATIONS.get(target, target), Declaration, "Experiment")

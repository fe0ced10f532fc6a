"""raygan: Ray-distributed studies of the validity / memorization trade-off of generative
models trained on small data.

Importing raygan imports neither torch nor Ray: reading and checking a study needs neither.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("raygan")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from raygan.experiments import register_experiment  # noqa: E402
from raygan.spec import SpecError, StudySpec, list_studies, load_spec  # noqa: E402

__all__ = [
    "SpecError",
    "StudySpec",
    "__version__",
    "derive_seed",
    "list_studies",
    "load_spec",
    "register_experiment",
    "run_trial",
    "sample",
]


def __getattr__(name: str) -> Any:
    # raygan.trial runs experiments: loaded on first use, so `import raygan` stays light
    if name in ("run_trial", "derive_seed"):
        from raygan import trial

        return getattr(trial, name)
    if name == "sample":  # the module is callable: raygan.sample(run_dir, trial=N, ...)
        import importlib

        return importlib.import_module("raygan.sample")
    raise AttributeError(f"module 'raygan' has no attribute {name!r}")

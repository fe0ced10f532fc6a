"""raygan: Ray-distributed studies of the validity / memorization trade-off of generative
models trained on small data."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("raygan")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from raygan.experiments import register_experiment  # noqa: E402
from raygan.spec import SpecError, StudySpec, list_studies, load_spec  # noqa: E402
from raygan.trial import derive_seed, run_trial  # noqa: E402

__all__ = [
    "SpecError",
    "StudySpec",
    "__version__",
    "derive_seed",
    "list_studies",
    "load_spec",
    "register_experiment",
    "run_trial",
]

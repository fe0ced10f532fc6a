"""Every shipped study file loads under each of its profiles."""

import tomllib

import pytest

from raygan import list_studies, load_spec
from raygan.spec import default_studies_dir

CASES = [
    (name, profile)
    for name, _ in list_studies()
    for profile in [
        "default",
        *tomllib.loads((default_studies_dir() / f"{name}.toml").read_text()).get("profiles", {}),
    ]
]


@pytest.mark.parametrize("name, profile", CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_study_loads(name, profile):
    spec = load_spec(name, profile=profile)
    assert spec.search and spec.objectives and spec.num_samples >= 1
    if spec.sampler == "grid":
        assert spec.grid_size() == spec.num_samples  # the paper's grid, run once each


def test_both_studies_are_shipped():
    names = [n for n, _ in list_studies()]
    assert {"seqgan_tradeoff", "augment_imbalanced"} <= set(names)

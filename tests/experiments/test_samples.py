"""Every family's samples: judged as its metrics count them, generated apart from the
trial's random draws, and evaluated under other sampling settings without training."""

import dataclasses

import numpy as np
import pytest
import torch

from raygan.data.text import drawn_texts
from raygan.experiments.augment import AugmentExperiment
from raygan.experiments.cluster_gan import ClusterGANExperiment
from raygan.experiments.registry import REGISTRY, get_declaration
from raygan.experiments.seqgan import SeqGANExperiment
from raygan.experiments.vae import VAEAugmentExperiment
from raygan.metrics.emoticon import EMOTICON_METRIC_KEYS
from raygan.metrics.image_samples import png_image

SEQGAN = dict(
    emb_dim=8,
    hidden_dim=8,
    mle_epochs=3,
    d_pretrain_epochs=1,
    rounds=2,
    rollouts=2,
    batch_size=8,
    eval_samples=60,
    g_lr=0.02,
)
AUGMENT = dict(
    epochs=2,
    rounds=2,
    classifier_epochs=1,
    eval_samples=20,
    hidden=16,
    noise_dim=8,
    amount=5,
    full_synthetic=False,
    arch="mlp",
)
VAE = dict(vae_epochs=2, rounds=2, hidden=32, latent=8, labelled=60, amount=2, beta=0.1)
CLUSTER = dict(clusters=2, epochs=2, rounds=2, eval_samples=5, hidden=16, noise_dim=8, arch="mlp")

FAMILIES = {
    "seqgan": (SeqGANExperiment, SEQGAN, {"size": 20}),
    "augment": (AugmentExperiment, AUGMENT, {"minority": 5, "minority_count": 10}),
    "vae": (VAEAugmentExperiment, VAE, {}),
    "cluster_gan": (ClusterGANExperiment, CLUSTER, {"digits": [0, 2]}),
}
IMAGE_KEYS = {"kind", "image", "label", "exact_copy", "nearest_image", "nearest_index", "distance"}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: on a busy 2-core machine a second thread only spins."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make(family, seed=0):
    cls, config, data = FAMILIES[family]
    exp = cls()
    exp.setup(config, data, seed=seed)
    return exp


def eval_count(exp) -> int:
    if isinstance(exp, VAEAugmentExperiment):
        return exp.cfg.amount * len(exp.y_lab)
    if isinstance(exp, ClusterGANExperiment):
        return exp.cfg.eval_samples * exp.cfg.clusters * len(exp.digits)
    return exp.cfg.eval_samples


def test_declarations_name_their_samples_and_real_sampling_settings():
    declared = {
        "seqgan": ("text", ("temperature", "top_p")),
        "augment": ("image", ("amount",)),
        "vae_augment": ("image", ("amount",)),
        "cluster_gan": ("image", ()),
    }
    for name, (kind, settings) in declared.items():
        family = get_declaration(name)  # the torch-free declaration says it
        assert (family.sample_kind, family.sampling_settings) == (kind, settings)
    for name in REGISTRY:
        family = get_declaration(name)
        fields = {f.name for f in dataclasses.fields(family.Config)}
        assert set(family.sampling_settings) <= fields, name


@pytest.mark.parametrize("family", FAMILIES)
def test_samples_after_a_step_are_judged_as_the_metrics_count_them(family):
    exp = make(family)
    assert exp.samples() == []
    metrics = exp.step()
    samples = exp.samples()
    assert 0 < len(samples) <= eval_count(exp)
    assert samples == exp.samples()  # cheap to ask again: the same judgements
    exact = np.mean([s["exact_copy"] for s in samples])
    median = float(np.median([s["distance"] for s in samples]))
    if family == "seqgan":
        assert len(samples) == exp.cfg.eval_samples
        assert all(s["kind"] == "text" and isinstance(s["text"], str) for s in samples)
        assert all(isinstance(s["nearest_index"], int) for s in samples)
        assert exact == pytest.approx(metrics["exact_copy"], abs=1e-12)
        valid = np.mean([s["valid"] for s in samples])
        assert valid == pytest.approx(metrics["validity"], abs=1e-12)
        near = np.mean([s["near_copy"] for s in samples])
        assert near == pytest.approx(metrics["near_copy"], abs=1e-12)
        # as judged: in the form every metric compares (NFC, as drawn)
        assert [s["text"] for s in samples] == drawn_texts(exp.last_samples)
    else:
        assert len(samples) == eval_count(exp)
        for s in samples:
            assert set(s) == IMAGE_KEYS and s["kind"] == "image"
            assert isinstance(s["label"], int) and isinstance(s["nearest_index"], int)
            assert png_image(s["image"]).shape == png_image(s["nearest_image"]).shape
        assert exact == pytest.approx(metrics["exact_copy"], abs=1e-12)
        assert all(s["distance"] >= 0.0 for s in samples)
    if "dcr_synthetic" in metrics:  # image families report only its ratio
        assert median == pytest.approx(metrics["dcr_synthetic"], abs=1e-12)


def test_image_samples_carry_the_class_and_training_index_of_the_family():
    aug = make("augment")
    aug.step()
    split = aug.split
    for s in aug.samples():
        assert s["label"] == split.minority
        assert split.y_train[s["nearest_index"]] == split.minority
        nearest = split.x_train[s["nearest_index"], 0]
        np.testing.assert_allclose(png_image(s["nearest_image"]), nearest, atol=0.5 / 255)
    cluster = make("cluster_gan")
    cluster.step()
    labels = [s["label"] for s in cluster.samples()]
    assert labels[:4] == [0, 0, 2, 2]  # one sample of each (digit, cluster) in turn
    vae = make("vae")
    vae.step()
    for s in vae.samples():
        nearest = vae.split.x_train[s["nearest_index"], 0]
        np.testing.assert_allclose(png_image(s["nearest_image"]), nearest, atol=0.5 / 255)


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_is_seeded_and_leaves_the_trial_as_it_was(family):
    plain = make(family)
    expected = [plain.step(), plain.step()]
    exp = make(family)
    first = exp.step()
    samples = exp.samples()
    a = exp.generate(10, seed=1)
    assert len(a) == 10 and a == exp.generate(10, seed=1)
    assert a != exp.generate(10, seed=2)
    assert exp.generate(0, seed=1) == []
    assert exp.samples() == samples  # generating is not evaluating
    assert [first, exp.step()] == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_evaluate_with_is_the_step_evaluation_and_leaves_the_trial_as_it_was(family):
    plain = make(family)
    expected = [plain.step(), plain.step()]
    exp = make(family)
    first = exp.step()
    samples = exp.samples()
    again = exp.evaluate_with()
    assert exp.steps_done == 1 and exp.samples() == samples
    # the trial's stream was put back: evaluating now draws what evaluate_with drew
    now = exp.evaluate()
    assert again == {k: v for k, v in now.items() if k in again}
    exp.evaluate_with(**{name: getattr(exp.cfg, name) for name in exp.sampling_settings})
    exp = make(family)
    exp.step()
    exp.evaluate_with()
    assert [first, exp.step()] == expected


def test_seqgan_evaluate_with_temperature_samples_at_that_temperature():
    exp = make("seqgan")
    exp.step()
    cold = exp.evaluate_with(temperature=0.05)
    hot = exp.evaluate_with(temperature=5.0)
    assert set(cold) == set(EMOTICON_METRIC_KEYS)
    assert cold["uniqueness"] < hot["uniqueness"]
    assert cold["top_share"] > hot["top_share"]


@pytest.mark.parametrize("family", ["augment", "vae"])
def test_amount_only_changes_what_the_classifier_gets(family):
    exp = make(family)
    exp.step()
    none, more = exp.evaluate_with(amount=0), exp.evaluate_with(amount=2 * exp.cfg.amount)
    row = exp.evaluate()  # the trial's amount, from the same state of its stream
    memorization = ("memorization", "exact_copy", "dcr_ratio", "closer_to_training")
    for name in memorization:  # the same generated samples are scored: the generator's
        assert none[name] == more[name] == row[name]
    if family == "vae":
        assert none["gain"] == 0.0  # nothing added: the labelled set alone
        assert more["gain"] != row["gain"]
    else:
        assert none["balanced_accuracy"] != more["balanced_accuracy"]


@pytest.mark.parametrize("family", FAMILIES)
def test_bad_sampling_names_and_values_are_one_line(family):
    exp = make(family)
    allowed = ", ".join(exp.sampling_settings) or "none"
    message = f"sampling: 'nope' is not a sampling setting of {type(exp).__name__}; allowed: "
    with pytest.raises(ValueError, match=f"^{message}{allowed}$"):
        exp.generate(10, seed=1, nope=1)
    with pytest.raises(ValueError, match=f"^{message}{allowed}$"):
        exp.evaluate_with(nope=1)
    with pytest.raises(ValueError, match=r"^n: -1 must be a whole number of samples >= 0$"):
        exp.generate(-1, seed=1)


def test_bad_sampling_values_name_the_rule():
    exp = make("seqgan")
    with pytest.raises(ValueError, match=r"^sampling.temperature: 0 must be >= 0.01$"):
        exp.evaluate_with(temperature=0)
    with pytest.raises(ValueError, match=r"^sampling.amount: -1 must be >= 0$"):
        make("augment").evaluate_with(amount=-1)

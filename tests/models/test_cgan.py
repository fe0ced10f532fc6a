"""Conditional GAN modules: shapes at 8x8 and 28x28, conditioning, losses, gradient penalty,
directed noise, and a short WGAN-GP run on scikit-learn's digits."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from sklearn.datasets import load_digits

from raygan.models.cgan import ConditionalGAN, DirectedNoise
from raygan.models.cgan_networks import (
    Critic,
    Generator,
    d_loss_bce,
    d_loss_wgan,
    g_loss_bce,
    g_loss_wgan,
    gradient_penalty,
    sample,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: on a busy 2-core machine a second OpenMP thread only spins
    (measured: a 200-step run took 90 s with 2 threads, 1.4 s with 1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32)[:, None]  # (1797, 1, 8, 8)
    return x, torch.tensor(d.target)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("size", [8, 10, 28])  # 10: not a multiple of 4, cropped
def test_shapes_and_range(arch, size):
    torch.manual_seed(0)
    G = Generator(num_classes=10, image_size=size, arch=arch, noise_dim=16, hidden=64)
    C = Critic(num_classes=10, image_size=size, arch=arch, hidden=64)
    labels = torch.arange(6) % 10
    img = G(torch.randn(6, 16), labels)
    assert img.shape == (6, 1, size, size)
    assert img.min() >= 0 and img.max() <= 1
    scores = C(img, labels)
    assert scores.shape == (6,)
    scores.sum().backward()  # differentiable end to end
    assert all(p.grad is not None for p in G.parameters())


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_label_conditioning_changes_output(arch):
    torch.manual_seed(0)
    G = Generator(num_classes=10, image_size=8, arch=arch).eval()
    C = Critic(num_classes=10, image_size=8, arch=arch)
    z = torch.randn(4, 64)
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    assert not torch.allclose(G(z, zeros), G(z, ones))
    x = torch.rand(4, 1, 8, 8)
    assert not torch.allclose(C(x, zeros), C(x, ones))


class LinearCritic(nn.Module):
    """C(x, labels) = <w, x>: its input gradient is w everywhere, so the penalty is known."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x, labels):
        return x.flatten(1) @ self.w


def test_gradient_penalty_known_values():
    real, fake = torch.rand(16, 1, 8, 8), torch.rand(16, 1, 8, 8)
    labels = torch.zeros(16, dtype=torch.long)
    w = torch.randn(64)
    unit = gradient_penalty(LinearCritic(w / w.norm()), real, fake, labels)
    assert unit.item() == pytest.approx(0.0, abs=1e-6)
    triple = gradient_penalty(LinearCritic(3 * w / w.norm()), real, fake, labels)
    assert triple.item() == pytest.approx(4.0, rel=1e-5)  # (3 - 1)^2
    flat = gradient_penalty(LinearCritic(torch.zeros(64)), real, fake, labels)
    assert flat.item() == pytest.approx(1.0, rel=1e-5)  # (0 - 1)^2, finite at a zero gradient


def test_gradient_penalty_real_critic():
    torch.manual_seed(0)
    C = Critic(num_classes=10, image_size=8, arch="conv")
    real, fake = torch.rand(16, 1, 8, 8), torch.rand(16, 1, 8, 8, requires_grad=True)
    labels = torch.arange(16) % 10
    a = gradient_penalty(C, real, fake, labels, generator=torch.Generator().manual_seed(3))
    b = gradient_penalty(C, real, fake, labels, generator=torch.Generator().manual_seed(3))
    assert a.item() > 0 and a.item() == b.item()  # positive, and reproducible from its seed
    a.backward()
    assert C.net[0].weight.grad.abs().sum() > 0  # (the last bias has no input gradient)
    assert fake.grad is None  # the penalty trains the critic only


def test_losses_on_known_inputs():
    zero = torch.zeros(4)
    assert d_loss_bce(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert g_loss_bce(zero).item() == pytest.approx(math.log(2))
    assert d_loss_bce(torch.full((4,), 30.0), torch.full((4,), -30.0)).item() < 1e-6
    assert g_loss_bce(torch.full((4,), -30.0)).item() == pytest.approx(30.0, rel=1e-4)
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])
    assert d_loss_wgan(real, fake).item() == pytest.approx(-1.0)
    assert g_loss_wgan(fake).item() == pytest.approx(-1.0)


def test_sample_range_reproducible_and_mode_restored():
    torch.manual_seed(0)
    G = Generator(num_classes=10, image_size=8, arch="conv").train()
    labels = torch.tensor([5] * 7)
    a = sample(G, labels, rng=torch.Generator().manual_seed(1), chunk=3)
    b = sample(G, labels, noise_dim=64, rng=torch.Generator().manual_seed(1))
    assert a.shape == (7, 1, 8, 8) and a.min() >= 0 and a.max() <= 1
    assert torch.allclose(a, b, atol=1e-6)  # eval mode: a sample does not depend on its batch
    assert G.training and not a.requires_grad
    assert sample(G, torch.zeros(0, dtype=torch.long)).shape == (0, 1, 8, 8)


# ---- directed noise --------------------------------------------------------------------


def _low_rank_classes():
    """Class 0: 30 points around grey 0.5 in a 3-d subspace (no clipping at small scale);
    class 1: a single sample; class 2: 3 samples (2 components at most)."""
    g = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(64, 3, generator=g))[0].T  # (3, 64) orthonormal
    coef = torch.randn(30, 3, generator=g) * torch.tensor([0.3, 0.2, 0.1])
    x0 = 0.5 + coef @ basis
    x1 = torch.rand(1, 64, generator=g)
    x2 = torch.rand(3, 64, generator=g)
    x = torch.cat([x0, x1, x2]).view(-1, 1, 8, 8)
    y = torch.tensor([0] * 30 + [1] + [2] * 3)
    return x, y, basis


def test_directed_noise_scale_zero_is_identity(digits):
    x, y = digits
    noise = DirectedNoise.fit(x, y)
    batch = x[:10]
    assert noise.apply(batch, y[:10], scale=0.0, generator=torch.Generator()) is batch


def test_directed_noise_lies_in_class_span_within_bounds():
    x, y, basis = _low_rank_classes()
    noise = DirectedNoise.fit(x, y, components=10)
    k = (noise.weights > 0).sum(1)
    assert k.tolist() == [3, 0, 2]  # rank 3; one sample: none; three samples: n - 1
    x0 = x[y == 0]
    scale = 0.5
    out = noise.apply(x0, y[y == 0], scale=scale, generator=torch.Generator().manual_seed(1))
    delta = (out - x0).flatten(1).double()  # (30, 64)
    assert delta.norm(dim=1).min() > 0
    proj = delta @ basis.double().T @ basis.double()
    assert torch.allclose(proj, delta, atol=1e-5)  # no component outside the class's span
    # Along each component: |coefficient| <= c * evr_k * sigma_k, as documented.
    comps = noise.components[0, :3].double()
    coef = (delta @ comps.T).abs()  # (30, 3)
    assert (coef <= scale * noise.weights[0, :3].double() + 1e-6).all()
    evr = noise.explained_variance_ratio[0, :3]
    assert evr.sum().item() == pytest.approx(1.0, abs=1e-5)  # 3 components explain it all


def test_directed_noise_clips_and_spares_singletons(digits):
    x, y = digits
    noise = DirectedNoise.fit(x, y, components=10)
    out = noise.apply(x[:200], y[:200], scale=10.0, generator=torch.Generator().manual_seed(0))
    assert out.min() >= 0 and out.max() <= 1 and not torch.equal(out, x[:200])
    xs, ys, _ = _low_rank_classes()
    lone = DirectedNoise.fit(xs, ys).apply(xs[ys == 1], ys[ys == 1], scale=5.0)
    assert torch.equal(lone, xs[ys == 1])
    same = xs[:1].repeat(4, 1, 1, 1)  # identical samples: no spread, no noise
    labels = torch.zeros(4, dtype=torch.long)
    assert torch.equal(DirectedNoise.fit(same, labels).apply(same, labels, scale=5.0), same)


# ---- training smoke --------------------------------------------------------------------


def test_wgan_gp_smoke_on_digits(digits):
    """200 critic steps (a generator step every 5): the generated images move towards the
    data and the critic's Wasserstein estimate falls back from its peak as G catches up."""
    x, y = digits
    torch.manual_seed(0)
    G = Generator(num_classes=10, image_size=8, arch="mlp", hidden=128)
    C = Critic(num_classes=10, image_size=8, arch="mlp", hidden=128)
    g_opt = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.9))
    c_opt = torch.optim.Adam(C.parameters(), 1e-3, betas=(0.5, 0.9))
    rng = torch.Generator().manual_seed(0)

    def distance_of_means():
        fake = sample(G, y, rng=torch.Generator().manual_seed(1))
        assert fake.min() >= 0 and fake.max() <= 1
        return (fake.mean(0) - x.mean(0)).norm().item()

    before = distance_of_means()
    estimates = []
    for step in range(200):
        idx = torch.randint(0, len(x), (64,), generator=rng)
        real, labels = x[idx], y[idx]
        fake = G(torch.randn(64, 64, generator=rng), labels)
        real_scores, fake_scores = C(real, labels), C(fake.detach(), labels)
        loss = d_loss_wgan(real_scores, fake_scores)
        loss = loss + 5 * gradient_penalty(C, real, fake, labels, generator=rng)
        c_opt.zero_grad()
        loss.backward()
        c_opt.step()
        estimates.append((real_scores.mean() - fake_scores.mean()).item())
        if step % 5 == 4:
            g_loss = g_loss_wgan(C(G(torch.randn(64, 64, generator=rng), labels), labels))
            g_opt.zero_grad()
            g_loss.backward()
            g_opt.step()
    after = distance_of_means()
    assert np.isfinite(estimates).all()
    assert after < 0.5 * before
    assert np.mean(estimates[-20:]) < 0.9 * max(estimates)


# ---- ConditionalGAN: the shared training loop -------------------------------------------


def _gan(seed=0, **overrides):
    torch.manual_seed(seed)
    options = dict(num_classes=10, image_size=8, arch="mlp", noise_dim=8, hidden=16)
    return ConditionalGAN(**{**options, **overrides})


def test_conditional_gan_counts_n_critic_across_epochs(digits):
    """2 batches an epoch, n_critic 3: a per-epoch count would never update the generator;
    over 3 epochs (6 critic updates) the generator is updated twice."""
    x, y = digits[0][:40], digits[1][:40]
    gan = _gan(n_critic=3)
    before = [p.detach().clone() for p in gan.gen.parameters()]
    rng = torch.Generator().manual_seed(0)
    losses = [gan.train_epoch(x, y, batch_size=20, rng=rng) for _ in range(3)]
    assert gan.critic_steps == 6
    assert gan.g_opt.state_dict()["state"][0]["step"].item() == 2
    assert gan.c_opt.state_dict()["state"][0]["step"].item() == 6
    assert losses[0][1] == 0.0  # no generator update in the first epoch yet
    assert all(math.isfinite(v) for pair in losses for v in pair)
    assert any(not torch.equal(a, b) for a, b in zip(before, gan.gen.parameters(), strict=True))


@pytest.mark.parametrize("loss", ["bce", "wgan-gp"])
def test_conditional_gan_check_sees_every_loss_and_can_stop(digits, loss):
    x, y = digits[0][:30], digits[1][:30]
    seen = []
    _gan(loss=loss, n_critic=1).train_epoch(
        x, y, batch_size=10, rng=torch.Generator(), check=lambda n, v: seen.append((n, v))
    )
    assert [n for n, _ in seen] == ["critic loss", "generator loss"] * 3
    assert all(math.isfinite(v) for _, v in seen)

    def stop(name, value):
        raise RuntimeError(f"{name} checked")

    with pytest.raises(RuntimeError, match="critic loss checked"):
        _gan(loss=loss).train_epoch(x, y, batch_size=10, rng=torch.Generator(), check=stop)


def test_conditional_gan_state_round_trip_continues_identically(digits):
    x, y = digits[0][:50], digits[1][:50]
    options = dict(arch="conv", loss="wgan-gp", n_critic=2)
    straight, rng = _gan(**options), torch.Generator().manual_seed(4)
    expected = [straight.train_epoch(x, y, batch_size=16, rng=rng) for _ in range(3)]
    first, rng = _gan(**options), torch.Generator().manual_seed(4)
    got = [first.train_epoch(x, y, batch_size=16, rng=rng)]
    state, rng_state = first.state_dict(), rng.get_state()
    second, rng = _gan(seed=9, **options), torch.Generator()  # other weights: all overwritten
    second.load_state_dict(state)
    rng.set_state(rng_state)
    got += [second.train_epoch(x, y, batch_size=16, rng=rng) for _ in range(2)]
    assert got == expected
    labels = torch.arange(10)
    a = straight.generate(labels, rng=torch.Generator().manual_seed(1))
    b = second.generate(labels, rng=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == (10, 1, 8, 8) and 0 <= a.min() <= a.max() <= 1


def test_conditional_gan_refuses_bad_options():
    with pytest.raises(ValueError, match="loss must be one of"):
        _gan(loss="hinge")
    with pytest.raises(ValueError, match="n_critic >= 1"):
        _gan(n_critic=0)

"""Conv VAE: shapes at 8x8, 10x10 and 28x28, a loss that falls on digits, and the latent
perturbations (noise, interpolation, extrapolation, nearest same-class neighbours)."""

import math

import pytest
import torch
from sklearn.datasets import load_digits

from raygan.models.vae import (
    ConvVAE,
    extrapolate,
    interpolate,
    nearest_same_class,
    noise,
    sample_posterior,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: on a busy 2-core machine a second OpenMP thread only spins."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("size", [8, 10, 28])  # 10: odd sides inside (10 -> 5 -> 3)
def test_shapes_and_range(size):
    torch.manual_seed(0)
    vae = ConvVAE(image_size=size, latent=7, hidden=64)
    x = torch.rand(5, 1, size, size)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (5, 7)
    out = vae.decode(torch.randn(5, 7))
    assert out.shape == (5, 1, size, size)
    assert out.min() >= 0 and out.max() <= 1
    recon, mu2, _ = vae(x, generator=torch.Generator().manual_seed(0))
    assert recon.shape == x.shape and torch.equal(mu, mu2)
    g = torch.Generator().manual_seed(0)
    total, rec, kl = vae.loss(x, beta=0.5, generator=g)
    assert total.dim() == 0 and torch.isclose(total, rec + 0.5 * kl)
    total.backward()  # differentiable end to end
    assert all(p.grad is not None for p in vae.parameters())


def test_paper_shapes():
    """The paper's encoder: 16 then 8 channels of stride-2 5x5 convolutions, 1024 units."""
    vae = ConvVAE(image_size=28, latent=20)
    h = vae.encoder[:4](torch.zeros(1, 1, 28, 28))
    assert h.shape == (1, 8, 7, 7)
    assert vae.to_mu.in_features == 1024 and vae.to_mu.out_features == 20


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="image_size"):
        ConvVAE(image_size=2)


def test_loss_falls_on_digits():
    d = load_digits()
    x = torch.tensor(d.images[:256] / 16.0, dtype=torch.float32)[:, None]  # (256, 1, 8, 8)
    torch.manual_seed(0)
    vae = ConvVAE(image_size=8, latent=10, hidden=128)
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(30):
        total, recon, kl = vae.loss(x, generator=g)
        assert all(math.isfinite(v.item()) for v in (total, recon, kl))
        assert kl.item() >= 0
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(total.item())
    assert losses[-1] < losses[0] - 1.0


def test_sample_posterior_is_seeded_and_centred():
    mu, logvar = torch.ones(2000, 3), torch.full((2000, 3), math.log(0.25))  # sigma 0.5
    a = sample_posterior(mu, logvar, generator=torch.Generator().manual_seed(1))
    b = sample_posterior(mu, logvar, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert abs(a.mean().item() - 1) < 0.05 and abs(a.std().item() - 0.5) < 0.05


def test_interpolation_ends():
    z, n = torch.randn(6, 4), torch.randn(6, 4)
    assert torch.equal(interpolate(z, n, alpha=0.0), z)
    assert torch.allclose(interpolate(z, n, alpha=1.0), n)
    mid = interpolate(z, n, alpha=0.5)
    assert torch.allclose((mid - z).norm(dim=1), (n - mid).norm(dim=1), atol=1e-5)


def test_interpolation_broadcasts_over_neighbours():
    z, n = torch.randn(6, 4), torch.randn(6, 3, 4)
    out = interpolate(z[:, None], n, alpha=0.5)  # (6, 3, 4)
    assert out.shape == (6, 3, 4)
    assert torch.allclose(out[:, 1], interpolate(z, n[:, 1], alpha=0.5))


def test_extrapolation_moves_away():
    z, n = torch.randn(6, 4), torch.randn(6, 4)
    out = extrapolate(z, n, alpha=0.5)
    before, after = (z - n).norm(dim=1), (out - n).norm(dim=1)
    assert torch.allclose(after, 1.5 * before, atol=1e-5)  # along the same line, further
    assert torch.equal(extrapolate(z, n, alpha=0.0), z)


def test_noise_scale_follows_the_class_spread():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(500, 2, generator=g) * torch.tensor([1.0, 10.0])  # (500, 2)
    assert torch.equal(noise(z, alpha=0.0, rng=g), z)
    moved = noise(z, alpha=0.5, rng=torch.Generator().manual_seed(3)) - z
    spread = moved.std(0)
    assert spread[1] / spread[0] == pytest.approx(10.0, rel=0.2)  # per-dimension std
    assert spread[0] == pytest.approx(0.5, rel=0.2)  # alpha times the class's std
    again = noise(z, alpha=0.5, rng=torch.Generator().manual_seed(3)) - z
    assert torch.equal(moved, again)
    one = z[:1]
    assert torch.equal(noise(one, alpha=1.0, rng=g), one)  # a single code has no spread


def test_nearest_same_class_never_self_nor_other_class():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(60, 5, generator=g)
    y = torch.arange(60) % 4
    near = nearest_same_class(z, y, k=3)
    assert near.shape == (60, 3) and near.dtype == torch.long
    assert not (near == torch.arange(60)[:, None]).any()
    assert (y[near] == y[:, None]).all()
    for i in range(60):  # nearest first, against brute force
        same = [j for j in range(60) if y[j] == y[i] and j != i]
        dist = {j: (z[i] - z[j]).norm().item() for j in same}
        assert near[i].tolist() == sorted(same, key=dist.get)[:3]


def test_nearest_same_class_needs_enough_members():
    z, y = torch.randn(5, 2), torch.tensor([0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="class 1 has 2 samples"):
        nearest_same_class(z, y, k=2)
    with pytest.raises(ValueError, match="k must be"):
        nearest_same_class(z, y, k=0)

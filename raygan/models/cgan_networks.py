"""Conditional GAN networks for small grey images: generator, critic (MLP or DCGAN-style),
their losses (cGAN / cWGAN-GP) and sampling; torch only.

Images are (B, 1, H, W) floats in [0, 1] with H = W = image_size (8 for scikit-learn's
digits, 28 for MNIST); every layer shape is derived from image_size. Labels are (B,) longs.

Label conditioning follows the cGAN paper's final choice: the generator learns an embedding
as long as the noise vector and multiplies it elementwise into the noise (the paper found
this more consistent than stacking embedding maps as channels). The critic multiplies a
learned (H*W) embedding into the flattened image (mlp) or stacks it as a second input
channel (conv). The critic has no batch norm: the gradient penalty is a per-sample
quantity, and batch norm would mix the samples of a batch into each other's gradients.
Outputs are sigmoid pixels, so generated images share the [0, 1] range of the data.

Losses take raw critic scores: logits for BCE (non-saturating generator loss), critic values
for WGAN-GP (Gulrajani et al. 2017). The penalty is returned unscaled: the caller multiplies
it by its coefficient (cGAN paper: 5, Gulrajani et al.: 10).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ARCHS = ("mlp", "conv")


def _check(num_classes: int, image_size: int, arch: str) -> None:
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    if num_classes < 1 or image_size < 4:
        raise ValueError(
            f"need num_classes >= 1 and image_size >= 4, got {num_classes}, {image_size}"
        )


def _down(n: int) -> int:
    """Side length after a Conv2d(kernel 4, stride 2, padding 1): n // 2 for even n."""
    return (n + 2 - 4) // 2 + 1


class Generator(nn.Module):
    """(z, labels) -> images. ``hidden`` sets the width: mlp units, or for conv the channels
    of the first feature map, hidden // 2 (128 by default, the cGAN paper's), halving at
    each of the two upsamplings."""

    def __init__(
        self,
        *,
        num_classes: int,
        image_size: int,
        arch: str = "mlp",
        noise_dim: int = 64,
        hidden: int = 256,
    ):
        super().__init__()
        _check(num_classes, image_size, arch)
        self.arch, self.image_size, self.noise_dim = arch, image_size, noise_dim
        self.emb = nn.Embedding(num_classes, noise_dim)  # multiplied into z, the paper's way
        H = image_size
        if arch == "mlp":
            self.net = nn.Sequential(
                nn.Linear(noise_dim, hidden),
                nn.LeakyReLU(0.2),
                nn.Linear(hidden, hidden),
                nn.LeakyReLU(0.2),
                nn.Linear(hidden, H * H),
            )
        else:
            # Two stride-2 upsamplings from s = ceil(H/4): 2 -> 4 -> 8, 7 -> 14 -> 28.
            # Sizes that are not a multiple of 4 are centre-cropped at the end.
            self.side = s = math.ceil(H / 4)
            c = max(hidden // 2, 4)
            self.channels = c
            self.project = nn.Linear(noise_dim, c * s * s)
            self.net = nn.Sequential(
                nn.BatchNorm2d(c),  # DCGAN: batch norm in G only (never in the critic)
                nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(c, c // 2, 4, stride=2, padding=1),  # (c/2, 2s, 2s)
                nn.BatchNorm2d(c // 2),
                nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(c // 2, c // 4, 4, stride=2, padding=1),  # (c/4, 4s, 4s)
                nn.BatchNorm2d(c // 4),
                nn.LeakyReLU(0.2),
                nn.Conv2d(c // 4, 1, 3, padding=1),  # (1, 4s, 4s)
            )

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """z (B, noise_dim), labels (B,) -> images (B, 1, H, W) in (0, 1)."""
        h = z * self.emb(labels)  # (B, noise_dim)
        H = self.image_size
        if self.arch == "mlp":
            return torch.sigmoid(self.net(h)).view(-1, 1, H, H)
        s = self.side
        out = self.net(self.project(h).view(-1, self.channels, s, s))  # (B, 1, 4s, 4s)
        o = (4 * s - H) // 2  # 0 for 8 and 28
        return torch.sigmoid(out[:, :, o : o + H, o : o + H])


class Critic(nn.Module):
    """(images, labels) -> (B,) raw scores: logits for BCE, critic values for WGAN.
    ``hidden``: mlp units; for conv the two stride-2 convolutions have hidden // 4 and
    hidden // 2 channels (64, 128 by default, DCGAN's)."""

    def __init__(self, *, num_classes: int, image_size: int, arch: str = "mlp", hidden: int = 256):
        super().__init__()
        _check(num_classes, image_size, arch)
        self.arch, self.image_size = arch, image_size
        H = image_size
        self.emb = nn.Embedding(num_classes, H * H)  # one value per pixel
        if arch == "mlp":
            self.net = nn.Sequential(
                nn.Linear(H * H, hidden),
                nn.LeakyReLU(0.2),
                nn.Linear(hidden, hidden),
                nn.LeakyReLU(0.2),
                nn.Linear(hidden, 1),
            )
        else:
            c1, c2 = max(hidden // 4, 2), max(hidden // 2, 2)
            side = _down(_down(H))  # 8 -> 2, 28 -> 7
            self.net = nn.Sequential(
                nn.Conv2d(2, c1, 4, stride=2, padding=1),  # image + label map in
                nn.LeakyReLU(0.2),
                nn.Conv2d(c1, c2, 4, stride=2, padding=1),
                nn.LeakyReLU(0.2),
                nn.Flatten(),
                nn.Linear(c2 * side * side, 1),
            )

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """x (B, 1, H, W), labels (B,) -> (B,)."""
        B, H = x.shape[0], self.image_size
        e = self.emb(labels)  # (B, H*H)
        if self.arch == "mlp":
            return self.net(x.reshape(B, H * H) * e).squeeze(1)
        return self.net(torch.cat([x, e.view(B, 1, H, H)], dim=1)).squeeze(1)


# ---- losses ----------------------------------------------------------------------------


def d_loss_bce(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Discriminator BCE on logits: mean over real (target 1) plus mean over fake (target 0).
    2 ln 2 when D cannot tell them apart (all logits 0)."""
    real = F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores))
    fake = F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))
    return real + fake


def g_loss_bce(fake_scores: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss -log D(G(z)): strong gradients while D wins."""
    return F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))


def d_loss_wgan(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic loss E[C(fake)] - E[C(real)]: minus the Wasserstein estimate (add the penalty)."""
    return fake_scores.mean() - real_scores.mean()


def g_loss_wgan(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    labels: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al.): mean over the batch of (||grad_x C(x_hat)||_2 - 1)^2 at
    x_hat = eps * real + (1 - eps) * fake, eps ~ U[0, 1] per sample. Unscaled. Gradients
    flow into the critic's parameters only (x_hat is detached from the generator)."""
    B = real.shape[0]
    eps = uniform((B, 1, 1, 1), generator, real.device, real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat, labels).sum(), x_hat, create_graph=True)
    norm = torch.sqrt(grad.flatten(1).pow(2).sum(1) + 1e-12)  # eps: finite gradient at 0
    return (norm - 1).pow(2).mean()


def uniform(shape, generator, device, dtype=torch.float32) -> torch.Tensor:
    """U[0, 1) drawn with ``generator`` (on its own device), moved to ``device``."""
    where = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=where, dtype=dtype).to(device)


@torch.no_grad()
def sample(
    generator_module: Generator,
    labels: torch.Tensor,
    *,
    noise_dim: int | None = None,
    rng: torch.Generator | None = None,
    chunk: int = 1024,
) -> torch.Tensor:
    """labels (n,) -> images (n, 1, H, W) in [0, 1], z ~ N(0, I) drawn with ``rng``.

    Runs in eval mode (batch norm uses its running statistics, so a batch of one class
    looks like samples from a mixed training batch) and restores the previous mode.
    ``noise_dim`` defaults to the module's; chunks bound the memory of large requests."""
    noise_dim = noise_dim or generator_module.noise_dim
    device = next(generator_module.parameters()).device
    labels = torch.as_tensor(labels, dtype=torch.long, device=device)
    was_training = generator_module.training
    generator_module.eval()
    try:
        where = rng.device if rng is not None else device
        out = []
        for part in labels.split(chunk):
            z = torch.randn(len(part), noise_dim, generator=rng, device=where).to(device)
            out.append(generator_module(z, part))
    finally:
        generator_module.train(was_training)
    if not out:
        H = generator_module.image_size
        return torch.zeros(0, 1, H, H, device=device)
    return torch.cat(out)

"""Convolutional VAE and latent-space perturbations for augmentation, torch only.

The VAE latent-augmentation paper: train a conv VAE on every training image, unlabelled;
encode the few labelled ones; perturb the codes (Gaussian noise, or interpolation /
extrapolation towards each of the k nearest same-class codes); decode the new codes into
images that keep the source's label.

Images are (B, 1, H, W) floats in [0, 1] with H = W = image_size (8 for scikit-learn's
digits, 28 for MNIST). The encoder is the paper's: two 5x5 stride-2 convolutions with 16
and 8 channels, a dense layer of ``hidden`` (1024) units, then the latent mean and log
variance (Z each); the decoder mirrors it. With padding 2 each convolution maps a side n to
ceil(n / 2): 8 -> 4 -> 2, 28 -> 14 -> 7. The transposed convolutions undo that exactly,
their output padding derived from the encoder's sizes, so any image_size works.

Latent codes are (n, Z) tensors. The perturbations are pure functions: randomness comes in
only through an explicit torch.Generator, so a caller that saves it can replay them.
Training loops live in the experiment (raygan.experiments.vae), not here.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

CHANNELS = (16, 8)  # the paper's two convolutions
KERNEL, STRIDE, PAD = 5, 2, 2


def _down(n: int) -> int:
    """Side after Conv2d(kernel 5, stride 2, padding 2): ceil(n / 2)."""
    return (n + 2 * PAD - KERNEL) // STRIDE + 1


class ConvVAE(nn.Module):
    def __init__(self, *, image_size: int, latent: int = 20, hidden: int = 1024):
        super().__init__()
        if image_size < 4 or latent < 1 or hidden < 1:
            raise ValueError(
                f"need image_size >= 4, latent >= 1, hidden >= 1; got {image_size}, {latent}, {hidden}"
            )
        self.image_size, self.latent = image_size, latent
        c1, c2 = CHANNELS
        s1 = _down(image_size)  # 4 for 8x8, 14 for 28x28
        s2 = _down(s1)  # 2 for 8x8, 7 for 28x28
        self.side = s2
        flat = c2 * s2 * s2  # 32 for 8x8, 392 for 28x28
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, KERNEL, stride=STRIDE, padding=PAD),  # (B, 16, s1, s1)
            nn.ReLU(),
            nn.Conv2d(c1, c2, KERNEL, stride=STRIDE, padding=PAD),  # (B, 8, s2, s2)
            nn.ReLU(),
            nn.Flatten(),  # (B, flat)
            nn.Linear(flat, hidden),
            nn.ReLU(),
        )
        self.to_mu = nn.Linear(hidden, latent)
        self.to_logvar = nn.Linear(hidden, latent)
        # A transposed conv maps n to 2n - 1 + output_padding; the output padding picks
        # which of the two sides that ceil(n / 2) merged (even or odd) comes back.
        self.decoder_dense = nn.Sequential(
            nn.Linear(latent, hidden),
            nn.ReLU(),
            nn.Linear(hidden, flat),
            nn.ReLU(),
        )
        self.decoder_conv = nn.Sequential(
            nn.ConvTranspose2d(
                c2, c1, KERNEL, stride=STRIDE, padding=PAD, output_padding=s1 - (2 * s2 - 1)
            ),  # (B, 16, s1, s1)
            nn.ReLU(),
            nn.ConvTranspose2d(
                c1, 1, KERNEL, stride=STRIDE, padding=PAD, output_padding=image_size - (2 * s1 - 1)
            ),  # (B, 1, H, W) logits
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, H, W) -> mean and log variance of q(z | x), each (B, Z)."""
        h = self.encoder(x)  # (B, hidden)
        return self.to_mu(h), self.to_logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """(B, Z) -> pixel logits (B, 1, H, W); the loss wants logits (stable BCE)."""
        h = self.decoder_dense(z).view(-1, CHANNELS[1], self.side, self.side)
        return self.decoder_conv(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, Z) -> images (B, 1, H, W) in (0, 1)."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 1, H, W) -> (reconstruction (B, 1, H, W) in (0, 1), mu (B, Z), logvar (B, Z)),
        decoded from one reparameterised draw of z."""
        mu, logvar = self.encode(x)
        return self.decode(sample_posterior(mu, logvar, generator=generator)), mu, logvar

    def loss(
        self, x: torch.Tensor, *, beta: float = 1.0, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, recon, kl), scalars, each the mean over the batch of a per-image sum:
        Bernoulli cross-entropy summed over pixels (the grey levels in [0, 1] are the
        targets) and KL(q(z | x) || N(0, I)) summed over latent dimensions; total =
        recon + beta * kl (beta 1: the VAE's negative ELBO)."""
        mu, logvar = self.encode(x)
        logits = self.decode_logits(sample_posterior(mu, logvar, generator=generator))
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)  # (B,)
        recon, kl = recon.mean(), kl.mean()
        return recon + beta * kl, recon, kl


def sample_posterior(
    mu: torch.Tensor, logvar: torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One draw z = mu + sigma * eps per row (the reparameterisation trick), (n, Z)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + (0.5 * logvar).exp() * eps


# ---- latent perturbations (the paper's three methods) ------------------------------------


def noise(z_class: torch.Tensor, *, alpha: float, rng: torch.Generator) -> torch.Tensor:
    """z + alpha * sigma * eps, eps ~ N(0, I): sigma (Z,) is the per-dimension standard
    deviation of these codes (one class's projected codes), so the noise is as wide as the
    class's own spread along each axis. (n, Z) -> (n, Z); one code alone gets no noise."""
    sigma = z_class.std(0, correction=0) if len(z_class) > 1 else torch.zeros_like(z_class[0])
    eps = torch.randn(z_class.shape, generator=rng, device=z_class.device, dtype=z_class.dtype)
    return z_class + alpha * sigma * eps


def interpolate(z: torch.Tensor, neighbours: torch.Tensor, *, alpha: float) -> torch.Tensor:
    """z + alpha (n - z): alpha 0 is z, 1 the neighbour. Shapes broadcast: (n, Z) with
    (n, Z), or (n, 1, Z) with (n, k, Z) for every neighbour at once."""
    return z + alpha * (neighbours - z)


def extrapolate(z: torch.Tensor, neighbours: torch.Tensor, *, alpha: float) -> torch.Tensor:
    """z + alpha (z - n): away from the neighbour, by alpha times the distance to it."""
    return z + alpha * (z - neighbours)


def nearest_same_class(z: torch.Tensor, y: torch.Tensor, *, k: int) -> torch.Tensor:
    """(n, k) long indices into z of each code's k nearest codes (Euclidean) of the same
    class, nearest first, never itself. Distances are taken class by class, so memory is
    the largest class squared, not n squared (MNIST's 55k codes would not fit)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    out = torch.empty(len(z), k, dtype=torch.long, device=z.device)
    for c in torch.unique(y):
        members = torch.nonzero(y == c).squeeze(1)  # (m,)
        if len(members) <= k:
            raise ValueError(
                f"class {int(c)} has {len(members)} samples: too few for k = {k} neighbours "
                f"each; choose k <= {len(members) - 1} or label more samples"
            )
        zc = z[members]
        dist = torch.cdist(zc, zc)  # (m, m)
        dist.fill_diagonal_(float("inf"))  # a code is not its own neighbour
        near = dist.topk(k, dim=1, largest=False).indices  # (m, k), nearest first
        out[members] = members[near]
    return out

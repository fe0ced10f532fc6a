"""Training conditional GANs: the cGAN paper's directed noise and the one training loop
every conditional-GAN experiment shares (augment, cluster_gan); torch only. The networks,
losses and sampling: ``raygan.models.cgan_networks``.

DirectedNoise is the cGAN paper's "directed" noise: per-class PCA of the training images,
then noise along each class's principal components, added to the real samples in training.
ConditionalGAN holds both networks and their optimisers and runs the training loop; the
experiments own the data, the checkpoints and the metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from raygan.models.cgan_networks import (
    Critic,
    Generator,
    d_loss_bce,
    d_loss_wgan,
    g_loss_bce,
    g_loss_wgan,
    gradient_penalty,
    sample,
    uniform,
)


class DirectedNoise:
    """The cGAN paper's class-directed noise (Sec. 3.2), fitted once on the training images.

    For a sample of class y, with that class's top principal components v_k (unit vectors in
    pixel space), their explained-variance ratios evr_k and standard deviations
    sigma_k = singular value / sqrt(n - 1):

        x' = clip(x + sum_k r_k * evr_k * sigma_k * v_k, 0, 1),   r_k ~ U[-c, c]

    The paper scales by r_k and evr_k; we also scale by sigma_k so that c is in units of the
    class's own spread (c = 1 moves a sample at most evr_k standard deviations along v_k)
    and means the same at 8x8 and 28x28. evr_k is relative to the class's total variance.
    A class keeps min(components, rank) components, rank <= n - 1 for n centred samples;
    a class with one sample, identical samples, or none gets no noise.
    """

    def __init__(self, components: torch.Tensor, weights: torch.Tensor, evr: torch.Tensor):
        self.components = components  # (num_classes, K, D) unit rows, zero rows = unused
        self.weights = weights  # (num_classes, K) evr_k * sigma_k, 0 for unused rows
        self.explained_variance_ratio = evr  # (num_classes, K)

    @classmethod
    def fit(
        cls,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        components: int = 10,
        num_classes: int | None = None,
    ) -> DirectedNoise:
        """x (n, ...) images, y (n,) labels -> fitted noise; tensors stay on x's device."""
        x = torch.as_tensor(x)
        y = torch.as_tensor(y, device=x.device).long()
        flat = x.reshape(len(x), -1).double()  # float64: small classes, tiny variances
        eps = torch.finfo(x.dtype if x.is_floating_point() else torch.float32).eps
        C = num_classes if num_classes is not None else int(y.max()) + 1
        K, D = max(components, 1), flat.shape[1]
        comps = torch.zeros(C, K, D, dtype=torch.float64, device=x.device)
        weights = torch.zeros(C, K, dtype=torch.float64, device=x.device)
        evrs = torch.zeros(C, K, dtype=torch.float64, device=x.device)
        for c in range(C):
            xc = flat[y == c]
            n = len(xc)
            if n < 2:
                continue
            # torch's SVD rather than scikit-learn's PCA: the tensors stay on x's device
            _, S, Vh = torch.linalg.svd(xc - xc.mean(0), full_matrices=False)
            # Rank as torch.linalg.matrix_rank counts it, at the input's precision: the
            # directions past it are rounding noise, not the class's spread.
            rank = int((S > S[0] * max(n, D) * eps).sum())
            k = min(K, n - 1, rank)
            if k == 0:
                continue
            total = S.pow(2).sum()
            comps[c, :k] = Vh[:k]
            evrs[c, :k] = S[:k].pow(2) / total
            weights[c, :k] = evrs[c, :k] * S[:k] / math.sqrt(n - 1)
        dtype = x.dtype if x.is_floating_point() else torch.float32
        return cls(comps.to(dtype), weights.to(dtype), evrs.to(dtype))

    def apply(
        self,
        x: torch.Tensor,
        labels: torch.Tensor,
        *,
        scale: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """x (B, 1, H, W), labels (B,) -> noisy copy clipped to [0, 1]; x itself when scale 0."""
        if scale == 0:
            return x
        if self.components.device != x.device:  # fitted elsewhere: move once, keep
            self.components = self.components.to(x.device)
            self.weights = self.weights.to(x.device)
        B = x.shape[0]
        K = self.weights.shape[1]
        r = (2 * uniform((B, K), generator, x.device, x.dtype) - 1) * scale  # (B, K) in [-c, c]
        w = r * self.weights[labels].to(x.dtype)  # (B, K)
        delta = torch.einsum("bk,bkd->bd", w, self.components[labels].to(x.dtype))  # (B, D)
        return (x + delta.view_as(x)).clamp(0, 1)


# ---- the training loop -----------------------------------------------------------------

LOSSES = ("bce", "wgan-gp")


class ConditionalGAN:
    """Generator, critic and their Adam optimisers, trained together: the one conditional-GAN
    training loop every study shares. Torch only: no I/O, no Ray. The caller owns the data,
    the random generator (every draw after weight init goes through it, so a resumed run
    continues identically) and what a non-finite loss means (``check``).

    ``n_critic`` critic updates per generator update, counted over the whole training, not
    per epoch: on small data an epoch can have fewer batches than ``n_critic``, and a
    per-epoch count would then never update the generator. The count is part of the state.
    Weights are initialised from torch's global generator: seed it first.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        image_size: int,
        arch: str = "mlp",
        loss: str = "wgan-gp",
        noise_dim: int = 64,
        hidden: int = 256,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.9),
        gp_lambda: float = 5.0,
        n_critic: int = 5,
        device: str | torch.device = "cpu",
    ):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if n_critic < 1 or gp_lambda < 0 or lr <= 0:
            raise ValueError(
                f"need n_critic >= 1, gp_lambda >= 0, lr > 0; got {n_critic}, {gp_lambda}, {lr}"
            )
        self.loss, self.gp_lambda, self.n_critic = loss, gp_lambda, n_critic
        self.noise_dim = noise_dim
        self.device = torch.device(device)
        self.gen = Generator(
            num_classes=num_classes,
            image_size=image_size,
            arch=arch,
            noise_dim=noise_dim,
            hidden=hidden,
        ).to(self.device)
        self.critic = Critic(
            num_classes=num_classes, image_size=image_size, arch=arch, hidden=hidden
        ).to(self.device)
        self.g_opt = torch.optim.Adam(self.gen.parameters(), lr=lr, betas=betas)
        self.c_opt = torch.optim.Adam(self.critic.parameters(), lr=lr, betas=betas)
        self.critic_steps = 0  # critic updates so far; G updates after every n_critic-th

    @classmethod
    def from_settings(
        cls, settings, *, num_classes: int, image_size: int, device: str | torch.device
    ) -> ConditionalGAN:
        """From a study's GAN settings: any object with arch, loss, noise_dim, hidden, lr,
        beta1, beta2, gp_lambda and n_critic (the experiments' Config dataclasses)."""
        return cls(
            num_classes=num_classes,
            image_size=image_size,
            arch=settings.arch,
            loss=settings.loss,
            noise_dim=settings.noise_dim,
            hidden=settings.hidden,
            lr=settings.lr,
            betas=(settings.beta1, settings.beta2),
            gp_lambda=settings.gp_lambda,
            n_critic=settings.n_critic,
            device=device,
        )

    def train_epoch(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        batch_size: int,
        rng: torch.Generator,
        noise: DirectedNoise | None = None,
        noise_scale: float = 0.0,
        check: Callable[[str, float], object] | None = None,
    ) -> tuple[float, float]:
        """One shuffled pass over x (n, 1, H, W), y (n,); returns the last batch's (critic
        loss, generator loss), the generator's 0.0 if it was not updated this epoch.
        ``noise`` (the cGAN paper's directed noise) is added to the real samples of every
        batch at ``noise_scale``. ``check(name, value)`` sees every loss before its update
        ("critic loss", "generator loss") and may raise to stop training."""
        order = torch.randperm(len(x), generator=rng, device=x.device)
        d_loss = g_loss = torch.zeros(())
        for idx in order.split(batch_size):
            real, labels = x[idx], y[idx]
            if noise is not None:  # the paper adds it to the training samples, each time
                real = noise.apply(real, labels, scale=noise_scale, generator=rng)
            fake = self.gen(self._z(len(idx), rng), labels)
            real_scores, fake_scores = self.critic(real, labels), self.critic(fake.detach(), labels)
            if self.loss == "bce":
                d_loss = d_loss_bce(real_scores, fake_scores)
            else:
                penalty = gradient_penalty(self.critic, real, fake.detach(), labels, generator=rng)
                d_loss = d_loss_wgan(real_scores, fake_scores) + self.gp_lambda * penalty
            if check is not None:
                check("critic loss", d_loss.item())
            self.c_opt.zero_grad()
            d_loss.backward()
            self.c_opt.step()
            self.critic_steps += 1
            if self.critic_steps % self.n_critic:
                continue
            fake_scores = self.critic(self.gen(self._z(len(idx), rng), labels), labels)
            g_loss = g_loss_bce(fake_scores) if self.loss == "bce" else g_loss_wgan(fake_scores)
            if check is not None:
                check("generator loss", g_loss.item())
            self.g_opt.zero_grad()
            g_loss.backward()
            self.g_opt.step()
        return d_loss.item(), g_loss.item()

    def generate(self, labels: torch.Tensor, *, rng: torch.Generator | None = None) -> torch.Tensor:
        """labels (n,) -> images (n, 1, H, W) in [0, 1], in eval mode (see ``sample``)."""
        return sample(self.gen, labels, noise_dim=self.noise_dim, rng=rng)

    def state_dict(self) -> dict:
        return {
            "gen": self.gen.state_dict(),
            "critic": self.critic.state_dict(),
            "g_opt": self.g_opt.state_dict(),
            "c_opt": self.c_opt.state_dict(),
            "critic_steps": self.critic_steps,
        }

    def load_state_dict(self, state: dict) -> None:
        self.gen.load_state_dict(state["gen"])
        self.critic.load_state_dict(state["critic"])
        self.g_opt.load_state_dict(state["g_opt"])
        self.c_opt.load_state_dict(state["c_opt"])
        self.critic_steps = int(state.get("critic_steps", 0))  # 0: saved before it existed

    def _z(self, n: int, rng: torch.Generator) -> torch.Tensor:
        where = rng.device if rng is not None else self.device
        return torch.randn(n, self.noise_dim, generator=rng, device=where).to(self.device)

"""SeqGAN on a small emoticon corpus: duplication magnification, copy penalty, temperature."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from raygan.data.kaomoji import Vocab, load_corpus
from raygan.data.text import PAD
from raygan.experiments.base import (
    Experiment,
    TrialDiverged,
    build_config,
    check_count,
    require_finite,
)
from raygan.experiments.checkpoint import (
    load_checkpoint,
    save_checkpoint,
    streams_kept,
    trial_stream,
)
from raygan.experiments.seqgan_settings import SeqGANConfig, SeqGANData, SeqGANDeclaration
from raygan.metrics.emoticon import emoticon_evaluation, emoticon_judgements, emoticon_reference
from raygan.metrics.emoticon_rules import EmoticonRules, copy_key
from raygan.models.seqgan import Discriminator, Generator, rollout_rewards


class SeqGANExperiment(SeqGANDeclaration, Experiment):
    # ---- lifecycle -------------------------------------------------------------------
    def setup(self, config: dict, data: dict, *, seed: int, device: str = "cpu") -> None:
        self.cfg = build_config(SeqGANConfig, config, where="fixed")
        self.data_cfg = build_config(SeqGANData, data, where="data")
        self.device = torch.device(device)
        self.seed = seed
        d = self.data_cfg
        corpus = load_corpus(
            source=d.source, emotion=d.emotion, size=d.size, seed=d.seed, max_len=d.max_len
        )
        self.corpus = corpus
        self.vocab = Vocab(corpus.train)
        self.length = max(len(t) for t in corpus.train) + 1  # + EOS
        self.train_seqs = self.vocab.encode(corpus.train, self.length).to(self.device)  # (n, L)
        self.rules = EmoticonRules.from_training(corpus.train)
        # skeletons, memorization reference and DCR baseline: built once, scored every round
        self.reference = emoticon_reference(corpus.train, corpus.heldout)
        self._reward_cache: dict[str, float] = {}  # rollouts repeat strings across rounds
        self.last_samples: list[str] = []
        self._judged: list[dict] = []  # the last step's samples, judged

        torch.manual_seed(seed)  # weight init
        cfg = self.cfg
        self.gen = Generator(len(self.vocab), cfg.emb_dim, cfg.hidden_dim).to(self.device)
        self.disc = Discriminator(len(self.vocab), cfg.emb_dim, cfg.hidden_dim).to(self.device)
        self.g_opt = torch.optim.Adam(self.gen.parameters(), lr=cfg.g_lr)
        self.d_opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.d_lr)
        # Every random draw after init goes through this generator, so save/load can
        # restore it and a resumed trial continues exactly where it stopped.
        self.rng = trial_stream(seed, self.device)
        self.steps_done = 0
        self.num_steps = cfg.rounds + 1  # step 0 = pre-training, then one step per round

    def step(self) -> dict[str, float]:
        try:
            return self._step()
        except RuntimeError as e:
            # torch refuses to sample from NaN probabilities: that is divergence too
            if "probability tensor contains" in str(e):
                raise TrialDiverged(
                    f"generator output is not finite at round {self.steps_done}"
                ) from e
            raise

    def _step(self) -> dict[str, float]:
        self.next_step()
        if self.steps_done == 0:
            mle_loss = self._pretrain_generator()
            d_loss, d_fake = self._train_discriminator(self.cfg.d_pretrain_epochs)
            mean_reward = 0.0
        else:
            mean_reward = (
                sum(self._policy_gradient_step() for _ in range(self.cfg.g_steps))
                / self.cfg.g_steps
            )
            for _ in range(self.cfg.d_steps):
                d_loss, d_fake = self._train_discriminator(self.cfg.d_epochs)
            with torch.no_grad():
                mle_loss = self.gen.mle_loss(self.train_seqs).item()
        self.steps_done += 1
        return {
            "round": float(self.steps_done - 1),
            **self.evaluate(),
            "mle_loss": float(mle_loss),
            "d_loss": float(d_loss),
            "d_fake": float(d_fake),
            "mean_reward": float(mean_reward),
        }

    def evaluate(self) -> dict[str, float]:
        """The emoticon metrics of ``eval_samples`` fresh samples (drawn from the trial's
        stream); their judgements are kept for ``samples``."""
        texts = self._sample(self.cfg.eval_samples, self.cfg, self.rng)
        metrics, self._judged = emoticon_evaluation(texts, self.reference, rules=self.rules)
        self.last_samples = texts
        return metrics

    # ---- samples ---------------------------------------------------------------------
    def samples(self) -> list[dict]:
        """The last step's ``eval_samples`` samples, judged (``emoticon_judgements``)."""
        return list(self._judged)

    def generate(self, n: int, *, seed: int, **sampling: Any) -> list[dict]:
        """``n`` samples at the trial's temperature and top_p, or those given, judged
        (``emoticon_judgements``)."""
        cfg = self.with_sampling(self.cfg, sampling)
        check_count(n)
        rng = torch.Generator(device=self.device).manual_seed(seed)
        with streams_kept(self.rng):
            texts = self._sample(n, cfg, rng)
        return emoticon_judgements(texts, self.reference, rules=self.rules)

    def evaluate_with(self, **sampling: Any) -> dict[str, float]:
        """The emoticon metrics (``EMOTICON_METRIC_KEYS``) ``step`` would report for the
        generator as it is, at the given temperature and top_p: the same draws from the
        trial's stream, which is then put back. The training's own numbers (losses) are
        not among them: they do not depend on sampling."""
        cfg = self.with_sampling(self.cfg, sampling)
        with streams_kept(self.rng):
            texts = self._sample(cfg.eval_samples, cfg, self.rng)
        return emoticon_evaluation(texts, self.reference, rules=self.rules)[0]

    def _sample(self, n: int, cfg: SeqGANConfig, rng: torch.Generator) -> list[str]:
        """``n`` strings from G in eval mode, at ``cfg``'s temperature and top_p."""
        if n == 0:
            return []
        self.gen.eval()
        try:
            seqs = self.gen.sample(
                n, self.length, temperature=cfg.temperature, top_p=cfg.top_p, generator=rng
            )
        finally:
            self.gen.train()
        return self.vocab.decode(seqs)

    def save(self, path: str) -> None:
        state = {
            "gen": self.gen.state_dict(),
            "disc": self.disc.state_dict(),
            "g_opt": self.g_opt.state_dict(),
            "d_opt": self.d_opt.state_dict(),
        }
        save_checkpoint(path, "seqgan.pt", state, rng=self.rng, steps_done=self.steps_done)

    def load(self, path: str) -> None:
        state, self.steps_done = load_checkpoint(
            path, "seqgan.pt", rng=self.rng, device=self.device
        )
        self.gen.load_state_dict(state["gen"])
        self.disc.load_state_dict(state["disc"])
        self.g_opt.load_state_dict(state["g_opt"])
        self.d_opt.load_state_dict(state["d_opt"])

    # ---- training --------------------------------------------------------------------
    def _reward_terms(self, seqs: torch.Tensor) -> torch.Tensor:
        """(n, L) -> (n,) what is added to D's reward of each sequence: minus copy_penalty
        for a near copy of a training face, by the rule the metrics use (``copy_key``),
        plus validity_reward for a valid emoticon that is no near copy."""
        out = []
        for text in self.vocab.decode(seqs):
            term = self._reward_cache.get(text)
            if term is None:
                copy = copy_key(text, self.rules) in self.reference.train_keys
                new_valid = not copy and self.rules.is_emoticon(text)
                term = self.cfg.validity_reward * new_valid - self.cfg.copy_penalty * copy
                self._reward_cache[text] = term
            out.append(term)
        return torch.tensor(out, dtype=torch.float32, device=seqs.device)

    def _batches(self, n: int):
        """Index batches over n items in a fresh random order."""
        order = torch.randperm(n, generator=self.rng, device=self.device)
        return order.split(self.cfg.batch_size)

    def _real(self, duplicate: bool) -> torch.Tensor:
        """The training set, repeated N times when duplication applies: (n*N, L)."""
        return self.train_seqs.repeat(self.cfg.duplication if duplicate else 1, 1)

    def _pretrain_generator(self) -> float:
        """MLE (teacher forcing); returns the last epoch's mean loss per token."""
        real = self._real(self.cfg.mle_duplicate)
        with torch.no_grad():
            last = self.gen.mle_loss(self.train_seqs).item()  # reported when mle_epochs = 0
        for _ in range(self.cfg.mle_epochs):
            total = 0.0
            for idx in self._batches(len(real)):
                loss = self.gen.mle_loss(real[idx])
                require_finite("MLE loss", loss.item())
                self.g_opt.zero_grad()
                loss.backward()
                self.g_opt.step()
                total += loss.item() * len(idx)
            last = total / len(real)
        return last

    def _train_discriminator(self, epochs: int) -> tuple[float, float]:
        """D on N copies of the real data vs N times as many fresh fakes (the paper's rule)."""
        real = self._real(True)
        fake = self.gen.sample(len(real), self.length, generator=self.rng)
        seqs = torch.cat([real, fake])
        labels = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).to(self.device)
        loss_sum, count = 0.0, 0
        for _ in range(epochs):
            loss_sum, count = 0.0, 0
            for idx in self._batches(len(seqs)):
                loss = F.binary_cross_entropy_with_logits(self.disc(seqs[idx]), labels[idx])
                require_finite("D loss", loss.item())
                self.d_opt.zero_grad()
                loss.backward()
                self.d_opt.step()
                loss_sum, count = loss_sum + loss.item() * len(idx), count + len(idx)
        with torch.no_grad():
            d_fake = torch.sigmoid(self.disc(fake[: self.cfg.batch_size])).mean().item()
        return (loss_sum / count if count else 0.0), d_fake

    def _policy_gradient_step(self) -> float:
        seqs = self.gen.sample(self.cfg.batch_size, self.length, generator=self.rng)
        rewards = rollout_rewards(
            self.gen,
            self.disc,
            seqs,
            num_rollouts=self.cfg.rollouts,
            copy_penalty=self.cfg.copy_penalty,
            terms=self._reward_terms,
            generator=self.rng,
        )
        mask = seqs != PAD
        log_probs, entropy = self.gen.log_probs(seqs)
        # PAD targets have log-probability -inf (G never emits PAD): zero them, not -inf * 0
        objective = log_probs.masked_fill(~mask, 0.0) * rewards  # (B, L)
        if self.cfg.entropy_bonus:  # left out at 0, so the paper's setting is unchanged
            objective = objective + self.cfg.entropy_bonus * entropy * mask
        loss = -objective.sum() / len(seqs)
        require_finite("policy-gradient loss", loss.item())
        self.g_opt.zero_grad()
        loss.backward()
        self.g_opt.step()
        return (rewards[mask].mean()).item()

"""SeqGAN (Yu et al. 2017) for short symbol sequences: torch modules and rollout rewards.

Token layout (raygan.data.text): PAD=0, BOS=1, EOS=2, characters from 3. A sequence
tensor is (B, L): characters, then EOS, then PAD. G is fed BOS first and never emits PAD
or BOS. A sequence that reaches L tokens without EOS is simply truncated.

Rollout rewards are computed in one batch for all prefixes x rollouts: the generator's LSTM
state after each prefix is computed once (teacher forcing over the sampled sequence), every
rollout then starts from its prefix's state, all rollouts advance together one time step at
a time, and a rollout leaves the batch as soon as it samples EOS. The discriminator scores
each distinct completion once. ``reference_rollout_rewards`` is the double loop of the
reference implementations (LantaoYu/SeqGAN), kept for tests and the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from raygan.data.text import BOS, EOS, PAD

NEVER_SAMPLED = (PAD, BOS)
# (n, L) complete sequences -> (n,) float added to D's reward (a copy penalty, a bonus)
RewardTerms = Callable[[torch.Tensor], torch.Tensor]


def lengths_of(seqs: torch.Tensor) -> torch.Tensor:
    """(B,) number of tokens up to and including the first EOS (L if none)."""
    B, L = seqs.shape
    is_end = seqs == EOS
    first = torch.where(
        is_end.any(1), is_end.float().argmax(1), torch.full((B,), L - 1, device=seqs.device)
    )
    return first + 1


def pad_after_eos(seqs: torch.Tensor) -> torch.Tensor:
    """Set every token after the first EOS to PAD."""
    L = seqs.shape[1]
    positions = torch.arange(L, device=seqs.device)
    return seqs.masked_fill(positions[None, :] >= lengths_of(seqs)[:, None], PAD)


class Generator(nn.Module):
    def __init__(self, vocab_size: int, emb_dim: int = 128, hidden_dim: int = 128):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, vocab_size)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., H) -> (..., V), with PAD and BOS ruled out."""
        out = self.head(hidden)
        out[..., list(NEVER_SAMPLED)] = float("-inf")
        return out

    def forward(self, tokens: torch.Tensor, state=None):
        """tokens (B, T) -> logits (B, T, V), (h, c) each (1, B, H)."""
        out, state = self.lstm(self.emb(tokens), state)
        return self.logits(out), state

    def log_probs(self, seqs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) sequences -> (B, L) log-probability of each token under teacher forcing,
        and (B, L) entropy of G's next-token distribution at each position."""
        inputs = torch.cat([torch.full_like(seqs[:, :1], BOS), seqs[:, :-1]], dim=1)
        logits, _ = self(inputs)
        logp = torch.log_softmax(logits, -1)  # (B, L, V); -inf at PAD and BOS
        chosen = logp.gather(2, seqs.unsqueeze(2)).squeeze(2)
        # PAD and BOS have probability 0: they add 0, not 0 * -inf, to the entropy
        finite = logp.masked_fill(torch.isinf(logp), 0.0)
        return chosen, -(finite.exp() * finite).sum(-1)

    def mle_loss(self, seqs: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per real token (EOS included, PAD ignored)."""
        inputs = torch.cat([torch.full_like(seqs[:, :1], BOS), seqs[:, :-1]], dim=1)
        logits, _ = self(inputs)
        return F.cross_entropy(logits.transpose(1, 2), seqs, ignore_index=PAD)

    def advance(self, tokens: torch.Tensor, state):
        """One time step for a flat batch: tokens (n,) -> output (n, H), state ((n, H), (n, H))."""
        h, c = state
        out, (h, c) = self.lstm(self.emb(tokens)[:, None, :], (h[None], c[None]))
        return out[:, 0], (h[0], c[0])

    @torch.no_grad()
    def sample(
        self,
        n: int,
        length: int,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """(n, length) sampled sequences; finished rows stop being computed.

        ``temperature`` divides the logits; ``top_p`` < 1 samples each token from the
        smallest set of most likely tokens whose probabilities reach ``top_p`` (nucleus
        sampling, Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration"),
        renormalised; 1.0 samples from the whole distribution."""
        device = self.head.weight.device
        H = self.lstm.hidden_size
        seqs = torch.full((n, length), PAD, dtype=torch.long, device=device)
        h = torch.zeros(n, H, device=device)
        c = torch.zeros(n, H, device=device)
        out, (h, c) = self.advance(torch.full((n,), BOS, dtype=torch.long, device=device), (h, c))
        rows = torch.arange(n, device=device)  # rows still running
        for t in range(length):
            probs = torch.softmax(self.logits(out) / temperature, -1)
            if top_p < 1.0:
                probs = nucleus(probs, top_p)
            tok = torch.multinomial(probs, 1, generator=generator)[:, 0]
            seqs[rows, t] = tok
            keep = tok != EOS
            if t == length - 1 or not keep.any():
                break
            rows, tok, h, c = rows[keep], tok[keep], h[keep], c[keep]
            out, (h, c) = self.advance(tok, (h, c))
        return seqs


def nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """(n, V) probabilities -> the same with every token outside the nucleus set to 0: the
    most likely tokens, in order, up to and including the one whose cumulative
    probability reaches ``top_p`` (so the most likely token always stays). Not
    renormalised: torch.multinomial takes weights."""
    sorted_p, order = probs.sort(-1, descending=True)
    outside = sorted_p.cumsum(-1) - sorted_p >= top_p  # mass before this token already enough
    return probs.scatter(-1, order, sorted_p.masked_fill(outside, 0.0))


class Discriminator(nn.Module):
    def __init__(self, vocab_size: int, emb_dim: int = 128, hidden_dim: int = 128):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, 1)

    def forward(self, seqs: torch.Tensor) -> torch.Tensor:
        """(B, L) -> (B,) logits of 'real'; reads each sequence up to its EOS only."""
        lengths = lengths_of(seqs)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.emb(seqs), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (h, _) = self.lstm(packed)
        return self.head(h[-1]).squeeze(1)


@torch.no_grad()
def score(
    disc: Discriminator,
    seqs: torch.Tensor,
    *,
    copy_penalty: float = 0.0,
    train_seqs: torch.Tensor | None = None,
    terms: RewardTerms | None = None,
    chunk: int = 4096,
) -> torch.Tensor:
    """(B, L) complete sequences -> (B,) reward: D's probability of real, plus
    ``terms(seqs)`` when given (the caller's copy penalty and bonuses, per sequence), else
    minus ``copy_penalty`` where the sequence equals a row of ``train_seqs``."""
    uniq, inverse = torch.unique(seqs, dim=0, return_inverse=True)  # many rollouts coincide
    reward = torch.cat([torch.sigmoid(disc(part)) for part in uniq.split(chunk)])
    if terms is not None:
        reward = reward + terms(uniq)
    elif copy_penalty and train_seqs is not None:
        reward = reward - copy_penalty * is_copy(uniq, train_seqs).float()
    return reward[inverse]


def is_copy(seqs: torch.Tensor, train_seqs: torch.Tensor, *, chunk: int = 2048) -> torch.Tensor:
    """(B,) bool: row equals some training row. Both (., L) padded the same way."""
    L = min(seqs.shape[1], train_seqs.shape[1])
    longer = (seqs[:, L:] != PAD).any(1) if seqs.shape[1] > L else None
    train = train_seqs[:, :L]
    hits = torch.cat(
        [(part[:, None, :L] == train[None]).all(2).any(1) for part in seqs.split(chunk)]
    )
    return hits & ~longer if longer is not None else hits


@torch.no_grad()
def rollout_rewards(
    gen: Generator,
    disc: Discriminator,
    seqs: torch.Tensor,
    *,
    num_rollouts: int,
    copy_penalty: float = 0.0,
    train_seqs: torch.Tensor | None = None,
    terms: RewardTerms | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Monte-Carlo rewards (B, L) for sampled sequences (B, L); 0 after each sequence's end.
    ``copy_penalty``, ``train_seqs`` and ``terms`` as in ``score``.

    reward[b, t-1] = mean over K rollouts of score(complete prefix seqs[b, :t]) for t < len,
    and score(seqs[b]) at the last token (t = len): SeqGAN's Q(Y_{1:t-1}, y_t).
    """
    B, L = seqs.shape
    K = num_rollouts
    device = seqs.device
    lengths = lengths_of(seqs)

    # LSTM output/state after reading BOS, y_0 .. y_{t-1}, for every t: (L, B, H) each.
    inputs = torch.cat([torch.full_like(seqs[:, :1], BOS), seqs[:, :-1]], dim=1)
    out_steps, h_steps, c_steps = [], [], []
    H = gen.lstm.hidden_size
    h = torch.zeros(B, H, device=device)
    c = torch.zeros(B, H, device=device)
    for t in range(L):
        out, (h, c) = gen.advance(inputs[:, t], (h, c))
        out_steps.append(out)
        h_steps.append(h)
        c_steps.append(c)
    outs, hs, cs = torch.stack(out_steps), torch.stack(h_steps), torch.stack(c_steps)

    # One rollout row per (b, t, k) with 1 <= t < len_b: its prefix is seqs[b, :t].
    b_idx, t_idx = torch.nonzero(
        torch.arange(1, L, device=device)[None, :] < lengths[:, None], as_tuple=True
    )
    t_idx = t_idx + 1
    b_idx = b_idx.repeat_interleave(K)
    t_idx = t_idx.repeat_interleave(K)
    R = b_idx.numel()
    buf = seqs[b_idx].clone()  # (R, L)
    buf[torch.arange(L, device=device)[None, :] >= t_idx[:, None]] = PAD
    # Rows wait until absolute time t; their state is their prefix's until then.
    out = outs[t_idx, b_idx]  # (R, H): predicts position t
    h = hs[t_idx, b_idx]
    c = cs[t_idx, b_idx]
    running = torch.ones(R, dtype=torch.bool, device=device)
    for s in range(1, L):
        rows = torch.nonzero(running & (t_idx <= s), as_tuple=True)[0]
        if rows.numel() == 0:
            if not (running & (t_idx > s)).any():
                break
            continue
        probs = torch.softmax(gen.logits(out[rows]), -1)
        tok = torch.multinomial(probs, 1, generator=generator)[:, 0]
        buf[rows, s] = tok
        done = tok == EOS
        running[rows[done]] = False
        go = rows[~done]
        if s < L - 1 and go.numel():
            o, (hn, cn) = gen.advance(tok[~done], (h[go], c[go]))
            out[go], h[go], c[go] = o, hn, cn

    rewards = torch.zeros(B * L, device=device)
    if R:
        r = score(disc, buf, copy_penalty=copy_penalty, train_seqs=train_seqs, terms=terms)
        rewards.index_add_(0, b_idx * L + (t_idx - 1), r / K)
    full = score(disc, seqs, copy_penalty=copy_penalty, train_seqs=train_seqs, terms=terms)
    rewards[torch.arange(B, device=device) * L + lengths - 1] = full
    return rewards.view(B, L)


@torch.no_grad()
def reference_rollout_rewards(
    gen: Generator,
    disc: Discriminator,
    seqs: torch.Tensor,
    *,
    num_rollouts: int,
    copy_penalty: float = 0.0,
    train_seqs: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The reference double loop: for each of K rollouts, for each prefix length t, re-run G
    over the teacher-forced prefix and sample to full length L, then call D; batch B."""
    B, L = seqs.shape
    lengths = lengths_of(seqs)
    positions = torch.arange(L, device=seqs.device)
    rewards = torch.zeros(B, L, device=seqs.device)
    for _ in range(num_rollouts):
        for t in range(1, L):
            inputs = torch.cat([torch.full_like(seqs[:, :1], BOS), seqs[:, : t - 1]], dim=1)
            out, state = gen.lstm(gen.emb(inputs))
            tokens = [seqs[:, :t]]
            tok = seqs[:, t - 1]
            for _s in range(t, L):
                out, state = gen.lstm(gen.emb(tok)[:, None, :], state)
                logits = gen.logits(out[:, -1])
                tok = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]
                tokens.append(tok[:, None])
            done = pad_after_eos(torch.cat(tokens, dim=1))
            r = score(disc, done, copy_penalty=copy_penalty, train_seqs=train_seqs)
            rewards[:, t - 1] += r / num_rollouts
    full = score(disc, seqs, copy_penalty=copy_penalty, train_seqs=train_seqs)
    rewards[torch.arange(B), lengths - 1] = full
    return rewards * (positions[None, :] < lengths[:, None])

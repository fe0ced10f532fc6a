"""Batched Monte-Carlo rollout vs the reference double loop, on the same trained G and D.

    python benchmarks/rollout.py [--device cpu|cuda] [--rollouts 16] [--batch 64] [--repeats 3]

The reference (LantaoYu/SeqGAN structure): for each of K rollouts, for each prefix length
t, re-run G over the teacher-forced prefix and sample to full length L, then call D on the
batch. Both run on the paper's model (128-d embedding + LSTM) after a short MLE fit to the
95 laughing kaomoji, so sequence lengths are realistic. Prints both times and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from raygan.data.kaomoji import Vocab, kaomoji_corpus
from raygan.models.seqgan import (
    PAD,
    Discriminator,
    Generator,
    reference_rollout_rewards,
    rollout_rewards,
)


def trained_models(device: str):
    torch.manual_seed(0)
    corpus = kaomoji_corpus()
    vocab = Vocab(corpus.train)
    L = max(map(len, corpus.train)) + 1
    train = vocab.encode(corpus.train, L).to(device)
    G = Generator(len(vocab)).to(device)
    D = Discriminator(len(vocab)).to(device)
    g_opt, d_opt = torch.optim.Adam(G.parameters(), 1e-2), torch.optim.Adam(D.parameters(), 1e-3)
    for _ in range(60):
        loss = G.mle_loss(train)
        g_opt.zero_grad()
        loss.backward()
        g_opt.step()
    for _ in range(10):
        fake = G.sample(len(train), L)
        labels = torch.cat([torch.ones(len(train)), torch.zeros(len(fake))]).to(device)
        loss = F.binary_cross_entropy_with_logits(D(torch.cat([train, fake])), labels)
        d_opt.zero_grad()
        loss.backward()
        d_opt.step()
    return G, D, train, L


def timed(fn, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--rollouts", type=int, default=16, help="K (default: 16)")
    ap.add_argument("--batch", type=int, default=64, help="B (default: 64)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each (default: 3)")
    args = ap.parse_args()

    G, D, train, L = trained_models(args.device)
    rng = torch.Generator(device=args.device).manual_seed(1)
    seqs = G.sample(args.batch, L, generator=rng)
    mask = seqs != PAD
    kw = dict(num_rollouts=args.rollouts, copy_penalty=0.5, train_seqs=train, generator=rng)
    fast_t, slow_t, fast_r, slow_r = [], [], [], []
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        fast_t.append(timed(lambda: fast_r.append(rollout_rewards(G, D, seqs, **kw)), args.device))
        slow_t.append(
            timed(lambda: slow_r.append(reference_rollout_rewards(G, D, seqs, **kw)), args.device)
        )
    fast, slow = statistics.median(fast_t), statistics.median(slow_t)
    mean_fast = torch.stack([r[mask].mean() for r in fast_r]).mean().item()
    mean_slow = torch.stack([r[mask].mean() for r in slow_r]).mean().item()
    print(
        f"device {args.device}, torch threads {torch.get_num_threads()}, K={args.rollouts}, "
        f"B={args.batch}, L={L}, mean sequence length {mask.sum(1).float().mean():.1f}"
    )
    print(
        f"reference loop : {slow:8.3f} s  (median of {args.repeats})  mean reward {mean_slow:.4f}"
    )
    print(
        f"batched rollout: {fast:8.3f} s  (median of {args.repeats})  mean reward {mean_fast:.4f}"
    )
    print(f"speed-up       : {slow / fast:8.1f}x")


if __name__ == "__main__":
    main()

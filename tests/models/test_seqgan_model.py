"""SeqGAN modules: sampling layout and the batched rollout against the reference loop."""

import pytest
import torch

from raygan.data.kaomoji import Vocab, kaomoji_corpus
from raygan.data.text import BOS, EOS, PAD
from raygan.models.seqgan import (
    Discriminator,
    Generator,
    is_copy,
    lengths_of,
    reference_rollout_rewards,
    rollout_rewards,
    score,
)


@pytest.fixture(scope="module")
def trained():
    """A small G fitted to real kaomoji and a D that tells them from G's samples, so rewards
    vary from prefix to prefix and the comparison means something."""
    torch.manual_seed(0)
    corpus = kaomoji_corpus(size=40, seed=3)
    vocab = Vocab(corpus.train)
    L = max(map(len, corpus.train)) + 1
    train = vocab.encode(corpus.train, L)
    G, D = Generator(len(vocab), 16, 32), Discriminator(len(vocab), 16, 32)
    g_opt = torch.optim.Adam(G.parameters(), 0.02)
    for _ in range(40):
        loss = G.mle_loss(train)
        g_opt.zero_grad()
        loss.backward()
        g_opt.step()
    d_opt = torch.optim.Adam(D.parameters(), 0.01)
    rng = torch.Generator().manual_seed(0)
    for _ in range(30):
        fake = G.sample(len(train), L, generator=rng)
        logits = D(torch.cat([train, fake]))
        labels = torch.cat([torch.ones(len(train)), torch.zeros(len(fake))])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        d_opt.zero_grad()
        loss.backward()
        d_opt.step()
    return G, D, train, L


def test_sample_layout(trained):
    G, _, _, L = trained
    seqs = G.sample(200, L, generator=torch.Generator().manual_seed(1))
    assert seqs.shape == (200, L)
    assert not (seqs == BOS).any()
    n = lengths_of(seqs)
    pos = torch.arange(L)[None, :]
    assert ((seqs == PAD) == (pos >= n[:, None])).all()  # PAD exactly after the end
    assert (seqs[pos < n[:, None]] != PAD).all()


def test_log_probs_and_entropy_of_each_position(trained):
    G, _, train, _ = trained
    chosen, entropy = G.log_probs(train)
    assert chosen.shape == entropy.shape == train.shape
    inputs = torch.cat([torch.full_like(train[:, :1], BOS), train[:, :-1]], dim=1)
    dist = torch.distributions.Categorical(logits=G(inputs)[0])  # PAD, BOS: probability 0
    real = train != PAD
    assert torch.allclose(chosen[real], dist.log_prob(train)[real], atol=1e-5)
    assert torch.allclose(entropy, dist.entropy(), atol=1e-5)
    assert (entropy > 0).all() and entropy.isfinite().all()
    entropy.sum().backward()  # the -inf of PAD and BOS must not turn the gradient into NaN
    assert all(p.grad.isfinite().all() for p in G.parameters())
    G.zero_grad()


def test_batched_rollout_matches_reference_loop(trained):
    G, D, _, L = trained
    rng = torch.Generator().manual_seed(2)
    seqs = G.sample(16, L, generator=rng)
    K = 32
    fast = rollout_rewards(G, D, seqs, num_rollouts=K, generator=rng)
    slow = reference_rollout_rewards(G, D, seqs, num_rollouts=K, generator=rng)
    n = lengths_of(seqs)
    valid = torch.arange(L)[None, :] < n[:, None]
    assert (fast[~valid] == 0).all() and (slow[~valid] == 0).all()
    # The last token's reward is D's score of the sequence itself, in both.
    last = (torch.arange(16), n - 1)
    assert torch.allclose(fast[last], slow[last])
    # Rollout cells: same expectation; both are K-sample means of the same Q.
    rollout = valid.clone()
    rollout[last] = False
    diff = fast[rollout] - slow[rollout]
    spread = torch.cat([fast[rollout], slow[rollout]]).std()
    assert spread > 0.05, "D must discriminate for this test to mean anything"
    assert diff.mean().abs() < 4 * diff.std() / diff.numel() ** 0.5 + 1e-3
    assert torch.corrcoef(torch.stack([fast[rollout], slow[rollout]]))[0, 1] > 0.8


def test_copy_penalty_hits_exact_copies_only(trained):
    G, D, train, L = trained
    plain = score(D, train)
    penalised = score(D, train, copy_penalty=0.5, train_seqs=train)
    assert torch.allclose(penalised, plain - 0.5)
    other = train.clone()
    other[:, 0] = train[0, 1]  # change the first symbol: no longer a copy (mostly)
    assert is_copy(train, train).all()
    assert is_copy(other, train).float().mean() < 0.5
    # a copy followed by extra symbols is not a copy
    longer = torch.full((1, L + 3), PAD)
    n = int(lengths_of(train[:1])[0])
    longer[0, : n - 1] = train[0, : n - 1]
    longer[0, n - 1 : n + 1] = train[0, 0]
    longer[0, n + 1] = EOS
    assert not is_copy(longer, train).any()


def test_rollout_penalty_lowers_rewards_of_copies(trained):
    G, D, train, L = trained
    rng = torch.Generator().manual_seed(5)
    seqs = train[:16]
    base = rollout_rewards(G, D, seqs, num_rollouts=4, generator=torch.Generator().manual_seed(5))
    pen = rollout_rewards(
        G, D, seqs, num_rollouts=4, copy_penalty=1.0, train_seqs=train, generator=rng
    )
    last = (torch.arange(16), lengths_of(seqs) - 1)
    assert torch.allclose(pen[last], base[last] - 1.0)


def test_nucleus_keeps_the_most_likely_tokens_up_to_top_p():
    from raygan.models.seqgan import nucleus

    probs = torch.tensor([[0.1, 0.5, 0.3, 0.1], [0.97, 0.01, 0.01, 0.01]])
    kept = nucleus(probs, 0.75)
    # 0.5 + 0.3 reach 0.75: the two 0.1s leave; a token that alone holds 0.97 stays alone
    assert torch.equal(kept[0], torch.tensor([0.0, 0.5, 0.3, 0.0]))
    assert torch.equal(kept[1], torch.tensor([0.97, 0.0, 0.0, 0.0]))
    assert torch.equal(nucleus(probs, 1.0), probs)  # every token is needed to reach 1


def test_top_p_narrows_what_the_generator_samples():
    torch.manual_seed(0)
    gen = Generator(12, 8, 8)
    with torch.no_grad():
        gen.head.bias.copy_(torch.linspace(0, 3, 12))  # a few tokens far more likely
    wide = gen.sample(400, 6, generator=torch.Generator().manual_seed(1))
    narrow = gen.sample(400, 6, top_p=0.5, generator=torch.Generator().manual_seed(1))
    assert len(narrow.unique()) < len(wide.unique())

"""Declaration of the SeqGAN emoticon family (no torch): its settings, metrics and
driver-side check. The training is in :mod:`raygan.experiments.seqgan`."""

from __future__ import annotations

from dataclasses import dataclass

from raygan.data.kaomoji import load_corpus
from raygan.experiments.base import Declaration
from raygan.metrics.keys import EMOTICON_METRIC_KEYS
from raygan.settings import setting


@dataclass
class SeqGANData:
    source: str = setting(
        "kaomoji",
        path_unless=("kaomoji",),
        help="'kaomoji' (embedded corpus) or a UTF-8 file, one emoticon a line",
    )
    emotion: list = setting(
        ["laugh"], help="kaomoji corpus: emotion labels, any of which selects a face"
    )
    size: int = setting(
        95, low=2, high=10_000, help="kaomoji corpus: training faces drawn (paper: 95)"
    )
    seed: int = setting(
        0, low=0, help="kaomoji corpus: seed of the draw; the rest of the core tier is held out"
    )
    max_len: int = setting(40, low=2, high=512, help="longest allowed emoticon, in characters")


@dataclass
class SeqGANConfig:
    # model (the paper: 128-d embedding + LSTM for both networks)
    emb_dim: int = setting(128, low=1, high=4096)
    hidden_dim: int = setting(128, low=1, high=4096)
    # the paper's knob: real data duplicated N times, N times as many fakes for D
    duplication: int = setting(1, low=1, high=1000)
    mle_duplicate: bool = setting(True, help="G's MLE pre-training also sees the duplicated data")
    # pre-training
    mle_epochs: int = setting(30, low=0, high=100_000)
    d_pretrain_epochs: int = setting(3, low=0, high=100_000)
    # adversarial training
    rounds: int = setting(10, low=0, high=100_000)
    g_steps: int = setting(1, low=1, high=1000, help="policy-gradient updates of G per round")
    d_steps: int = setting(1, low=1, high=1000, help="fresh fake sets D is trained on per round")
    d_epochs: int = setting(1, low=1, high=1000, help="epochs over each fresh set")
    rollouts: int = setting(16, low=1, high=1024, help="Monte-Carlo rollouts K per prefix")
    batch_size: int = setting(64, low=1, high=65_536)
    g_lr: float = setting(
        0.01, low=1e-8, high=10.0, help="Adam learning rate of G (MLE and adversarial)"
    )
    d_lr: float = setting(1e-3, low=1e-8, high=10.0, help="Adam learning rate of D")
    # beyond the paper
    copy_penalty: float = setting(
        0.0,
        low=0.0,
        high=100.0,
        help="subtracted from the reward of a rollout that is a near copy of a training "
        "face (its face is a training face's, as memorization counts copies)",
    )
    # Objective-reinforced GAN (Guimaraes et al. 2017, ORGAN): the reward mixes D's verdict
    # with the objective itself. Beyond the paper; 0 keeps its D-only reward. The study
    # does not search it: G learns to satisfy the lenient rule with garbled faces that no
    # real kaomoji resembles (docs/results.md).
    validity_reward: float = setting(
        0.0,
        low=0.0,
        high=100.0,
        help="added to the reward of a rollout that is a valid emoticon and no near copy "
        "of a training face (ORGAN-style); 0: D's reward only, as the paper",
    )
    temperature: float = setting(
        1.0, low=0.01, high=100.0, help="sampling temperature of evaluation samples"
    )
    top_p: float = setting(
        1.0,
        low=0.01,
        high=1.0,
        help="nucleus sampling of evaluation samples: each token from the most likely ones "
        "whose probabilities reach top_p (Holtzman et al. 2020); 1: the whole distribution",
    )
    # Under a copy penalty G leaves the training faces and, without this term, often
    # collapses within a round onto strings that are mostly invalid (docs/benchmarks.md).
    entropy_bonus: float = setting(
        0.0,
        low=0.0,
        high=100.0,
        help="weight of G's per-token entropy in the policy-gradient objective; 0: the paper's",
    )
    # evaluation
    eval_samples: int = setting(1000, low=1, high=1_000_000)


class SeqGANDeclaration(Declaration):
    Config = SeqGANConfig
    Data = SeqGANData
    # what raygan.metrics.emoticon scores a round's samples with, then the training's own
    metrics = (*EMOTICON_METRIC_KEYS, "mle_loss", "d_loss", "d_fake", "mean_reward")
    sample_kind = "text"
    # how evaluation samples are drawn from the trained generator, never how it trains
    sampling_settings = ("temperature", "top_p")

    @classmethod
    def check(cls, config: dict, data: dict) -> None:
        _, d = cls.build_settings(config, data)
        load_corpus(source=d.source, emotion=d.emotion, size=d.size, seed=d.seed, max_len=d.max_len)

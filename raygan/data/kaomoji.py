"""Emoticon corpora: the embedded kaomoji corpus, or a user's UTF-8 file.

The kaomoji come from the ``kaomoji-dataset`` package (CC BY 4.0, FontVibe and the sources
credited in its NOTICE). Its ``all()`` parses all 82k entries (~5 s, ~250 MB); a trial needs
only the ~11k ``core`` tier, so we filter the gzipped JSON lines as text before parsing and
cache the result once per process (Ray reuses worker processes across trials).
"""

from __future__ import annotations

import functools
import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from raygan.data import DataError
from raygan.data.text import EOS, PAD, drawn_text, normalize_text, text_lines

if TYPE_CHECKING:
    import torch

SPECIALS = ("<pad>", "<bos>", "<eos>")


@dataclass(frozen=True)
class EmoticonCorpus:
    train: tuple[str, ...]  # what the generator learns from
    heldout: tuple[str, ...]  # real emoticons never trained on: a validity signal rules can't fake
    source: str


@functools.cache
def _core_tier() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(text, emotions) of every core-tier kaomoji, in the package's order."""
    import kaomoji_dataset

    data = Path(kaomoji_dataset.__file__).parent / "data" / "kaomoji.jsonl.gz"
    out = []
    with gzip.open(data, "rt", encoding="utf-8") as fh:
        for line in fh:
            if '"tier":"core"' not in line:  # cheap text filter: skips ~85% of json.loads
                continue
            entry = json.loads(line)
            if entry.get("tier") == "core":
                text = normalize_text(entry["text"])
                out.append((text, tuple(entry.get("emotion") or ())))
    return tuple(out)


def kaomoji_corpus(
    *,
    emotion: list[str] | tuple[str, ...] = ("laugh",),
    size: int = 95,
    seed: int = 0,
    max_len: int = 40,
) -> EmoticonCorpus:
    """``size`` faces drawn with ``seed`` from the core tier carrying any of ``emotion``,
    in raygan's normal form (``raygan.data.text``).

    Every other core-tier face (any emotion) is the held-out set. Faces longer than
    ``max_len`` characters are left out of both.
    """
    wanted = set(emotion)
    faces = list(dict.fromkeys(t for t, _ in _core_tier() if len(t) <= max_len))
    pool = [t for t, emotions in _core_tier() if wanted & set(emotions) and len(t) <= max_len]
    pool = list(dict.fromkeys(pool))  # de-duplicate, keep order
    if len(pool) < size:
        raise DataError(
            f"data.size: {size} exceeds the {len(pool)} core-tier kaomoji with emotion "
            f"{sorted(wanted)} (max_len {max_len}); choose size <= {len(pool)}"
        )
    train = random.Random(seed).sample(pool, size)
    # a face that draws like a training one is no unseen face
    chosen = {drawn_text(t) for t in train}
    heldout = tuple(t for t in faces if drawn_text(t) not in chosen)
    return EmoticonCorpus(train=tuple(train), heldout=heldout, source="kaomoji")


def read_emoticon_file(path: str | Path, *, max_len: int = 40) -> EmoticonCorpus:
    """A UTF-8 file, one emoticon a line, each brought to raygan's normal form (NFC, see
    ``raygan.data.text``; leading byte-order marks dropped). Lines split at ``\n``,
    ``\r\n`` or ``\r``; trailing whitespace is dropped; blank lines are skipped; there is
    no held-out set. Raises DataError naming the file (and line) for an unreadable,
    UTF-16, binary or non-UTF-8 file or a face longer than ``max_len``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path}: a UTF-16 file (its byte-order mark); save it as UTF-8")
    nul = raw.find(b"\x00")
    if nul >= 0:  # valid UTF-8 can still be a binary file; no emoticon holds NUL
        raise DataError(
            f"{path}: a binary file (NUL byte at offset {nul}); "
            "expected UTF-8 text, one emoticon a line"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        at_line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{at_line}: not UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})"
        ) from None
    faces = []
    for number, line in enumerate(text_lines(normalize_text(text)), start=1):
        face = line.rstrip()  # trailing blanks are no part of a face, and would spoil exact copies
        if not face.strip():
            continue
        if len(face) > max_len:
            raise DataError(
                f"{path}:{number}: emoticon of {len(face)} characters; data.max_len is {max_len}"
            )
        faces.append(face)
    if not faces:
        raise DataError(f"{path}: no emoticons (empty, or blank lines only); expected one per line")
    return EmoticonCorpus(train=tuple(faces), heldout=(), source=str(path))


def load_corpus(*, source: str, emotion, size: int, seed: int, max_len: int) -> EmoticonCorpus:
    if source == "kaomoji":
        return kaomoji_corpus(emotion=emotion, size=size, seed=seed, max_len=max_len)
    return read_emoticon_file(source, max_len=max_len)


class Vocab:
    """Character vocabulary of a training set, with PAD/BOS/EOS."""

    def __init__(self, texts: tuple[str, ...] | list[str]):
        chars = sorted({c for t in texts for c in t})
        self.itos = list(SPECIALS) + chars
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, texts, length: int) -> torch.Tensor:
        """(n, length) long tensor: characters, then EOS, then PAD. No BOS: G is fed BOS itself."""
        import torch  # here, not at the top: the driver's corpus checks must not load torch

        out = torch.full((len(texts), length), PAD, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [self.stoi[c] for c in text] + [EOS]
            out[row, : len(ids)] = torch.tensor(ids[:length])
        return out

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Each row up to its first EOS (or PAD); specials dropped."""
        out = []
        for row in ids.tolist():
            chars = []
            for i in row:
                if i == EOS or i == PAD:
                    break
                if i > EOS:
                    chars.append(self.itos[i])
            out.append("".join(chars))
        return out

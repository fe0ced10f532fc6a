"""Where text enters raygan: one normal form for every string a study compares.

Unicode lets one face be written several ways: "ò" as one code point (NFC) or as "o" plus
a combining grave accent (NFD); a file saved by some editors starts with a byte-order
mark. Rules, vocabulary, copy checks and held-out hits compare strings, so every string
is brought to one form where it enters (a corpus file, the embedded corpus, the samples
handed to a metric): NFC, the form the W3C recommends for text on the web and the one
most text arrives in already. NFKC would go further (full-width to ASCII) but also turns
"´" and "ﾟ" into a space plus a combining mark, which splits eyes; the emoticon rules
fold width forms themselves (``raygan.metrics.emoticon_rules``).

Faces copied from web pages carry characters that draw nothing: "ლ(o◡oლ)" in the kaomoji
corpus ends in two U+FEFF, others hold a U+200B or U+200E. A generator learns them as it
learns any character, so the corpus keeps them, but a metric judges a sample as a reader
sees it (``drawn_text``): a sample that draws like a training face is its exact copy.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable
from typing import Final, Literal

NORMAL_FORM: Final[Literal["NFC"]] = "NFC"
BOM = "\ufeff"
# Characters that draw nothing: the zero-width space, byte-order mark (as zero-width
# no-break space), word joiner, soft hyphen, invisible operators, the marks and controls
# of bidirectional text, the combining grapheme joiner, Khmer's inherent vowels, the
# interlinear annotation marks and the musical beam and slur formats. Not every format
# character (Unicode's category Cf) is one: the zero-width joiners, tag characters and
# variation selectors change an emoji's drawing ("☺" and "☺️"), and U+0600-0605 and
# U+06DD draw a sign (a kaomoji's mouth in "(ಠ۝ಠ)").
INVISIBLE: Final = frozenset(
    "\u00ad\u034f\u061c\u17b4\u17b5\u180e\u200b\u200e\u200f\u202a\u202b\u202c"
    "\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u206a"
    "\u206b\u206c\u206d\u206e\u206f\ufeff\ufff9\ufffa\ufffb"
    "\U0001d173\U0001d174\U0001d175\U0001d176\U0001d177\U0001d178\U0001d179\U0001d17a"
)
PAD, BOS, EOS = 0, 1, 2  # special token ids of a character vocabulary; characters start at 3


def normalize_text(text: str) -> str:
    """``text`` in raygan's normal form: NFC, leading byte-order marks dropped."""
    return unicodedata.normalize(NORMAL_FORM, text.lstrip(BOM))


def drawn_text(text: str) -> str:
    """``text`` as a reader sees it: the normal form (``normalize_text``) without the
    format characters that draw nothing (``INVISIBLE``: U+FEFF, U+200B, U+200E, U+2060,
    ...), in NFC again (a dropped character may have parted a letter from its accent)."""
    text = normalize_text(text)
    if text.isascii() or INVISIBLE.isdisjoint(text):
        return text
    return unicodedata.normalize(NORMAL_FORM, "".join(c for c in text if c not in INVISIBLE))


def drawn_texts(texts: Iterable[str]) -> list[str]:
    return [drawn_text(t) for t in texts]


def text_lines(text: str) -> list[str]:
    """The lines of a text file's contents, split as Python's text files split them
    (``\\n``, ``\\r\\n`` or ``\\r``), not by ``str.splitlines``, which also breaks at form
    feeds, U+0085 and U+2028, characters a face may hold."""
    return [line.removesuffix("\n") for line in io.StringIO(text, newline=None)]

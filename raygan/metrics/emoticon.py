"""The kaomoji paper's emoticon definition as a rule check, and the metrics built on it.

A symbol sequence is an emoticon when all of these hold (paper, Sec. 4):
  I.   a pair of left and right outline brackets encloses the face;
  II.  the eyes inside are symmetric (the same symbol twice, or a mirror pair), or an
       asymmetric pair that also occurs in the training emoticons;
  III. any nose/mouth symbol lies between the eyes.

The paper gives no algorithm, so we parse like this:
1. Normalise a copy (the text itself is never changed): drop invisible format characters
   (BOM, zero-width space) and combining marks, so "ʔ̢̡" is still the outline "ʔ" and
   "•̀" the eye "•"; fold full-width ASCII and half-width katakana with FOLD; turn every
   space into " ". Precomposed letters stay whole ("ó" is not "o", nor "ヾ" "ヽ"): accented
   eye pairs are listed in MIRROR_EYES instead. All lexicon data below is in this form.
2. Outline candidates: a left outline symbol followed by its right partner with no outline
   symbol in between (nested faces pick the innermost). Outside the outline anything goes:
   arms, effects, a second face.
3. Inside, pick eyes at positions i < j such that the pair passes II, neither eye is a space
   or a MOUTHS symbol, and everything inside the outline but outside the eyes is edge
   material: DECORATIONS and ARMS anywhere, other symbols only as symmetric flanks read
   from the outside in (the "@" in "(@⌒ー⌒@)", "´"/"`" in "(´・ω・`)"), never a MOUTHS
   symbol (III). Everything between the eyes is mouth/nose and may be empty ("(^^)").
A string is an emoticon when some outline candidate has some such choice of eyes.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from raygan.metrics.memorization import exact_copy_rate

# --- Lexicon: every piece of kaomoji knowledge lives here, in normalised form. ----------

# Full-width forms are matched through this explicit fold, not NFKC: NFKC turns "´", "ﾟ"
# and "￣" into a space plus a combining mark, which would split eyes into two symbols.
FOLD: dict[int, str] = {c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}  # （＾＿＾） -> (^_^)
FOLD |= {c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFF61, 0xFF9E)}  # ･ﾉｰ -> ・ノー

# (left, right) outline brackets. "|" and "§" are their own partners ("§^。^§").
OUTLINE_PAIRS: tuple[tuple[str, str], ...] = (
    ("(", ")"),
    ("[", "]"),
    ("{", "}"),
    ("〔", "〕"),
    ("【", "】"),
    ("꒰", "꒱"),
    ("༼", "༽"),
    ("ʕ", "ʔ"),
    ("૮", "ა"),
    ("|", "|"),
    ("§", "§"),
)

# Eye pairs that are symmetric by reflection; order-free ("(>_<)" and "(<_>)" both pass).
# "◐"/"◑" is deliberately absent: the paper's rule II(b) lets training data vouch for it.
MIRROR_EYES: tuple[tuple[str, str], ...] = (
    (">", "<"),
    ("≧", "≦"),
    ("≥", "≤"),
    ("´", "`"),
    ("ˊ", "ˋ"),
    ("‘", "’"),
    ("/", "\\"),
    ("˃", "˂"),
    ("‹", "›"),
    ("«", "»"),
    ("❛", "❜"),
    ("◜", "◝"),
    ("◟", "◞"),
    ("ò", "ó"),
    ("ì", "í"),
    ("è", "é"),
    ("ù", "ú"),
)

# Mouth/nose symbols: never an eye and never outside the eyes (rule III).
MOUTHS: frozenset[str] = frozenset("_▽∇∀ωДд‿◡ᴥ益皿﹏ヮεз艸ゝ口ロڡ౪ʖ⊿ᆺᗜ")

# Cheeks, blush, sweat, tears, sparkles, accessories and spaces: allowed anywhere between
# outline and eyes, one-sided too ("(^_^;)", "(★´∀`)", "(^-^ )", "(⌐■_■)"). Some double
# as eyes ("(*_*)", "(●_●)"); that stays allowed.
DECORATIONS: frozenset[str] = frozenset(' *∗⁎✲✳๑✿❀〃"灬#;~〜★☆✧♪♡♥❤。॰●○⌐')

# Arms, hands and fists. Outside the outline they need no rule; these may also sit just
# inside it ("(ノ・∀・)ノ", "ヘ(^_^ヘ)", "ლ(╹◡╹ლ)", "(m~ー~)m", "(・ェ・o)").
ARMS: frozenset[str] = frozenset("ノヽヾゞヘლ╯╰╭╮┛┗┓┏┌┐⊃⊂つっσmoو٩۶งᕦᕤᕙᕗψ丿੭")

# -----------------------------------------------------------------------------------------

_RIGHT_OF = dict(OUTLINE_PAIRS)
_OUTLINE = frozenset(c for pair in OUTLINE_PAIRS for c in pair)
_MIRROR = frozenset(MIRROR_EYES) | frozenset((b, a) for a, b in MIRROR_EYES)
_EDGE = DECORATIONS | ARMS


@functools.lru_cache(maxsize=65536)
def _normalise(ch: str) -> str:
    """The normalised symbol for one character; "" for marks and invisible characters."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return ""
    if ch.isspace():
        return " "
    return FOLD.get(ord(ch), ch)


def symbols(text: str) -> list[str]:
    """``text`` as normalised symbols (see the module docstring, step 1)."""
    return [b for b in map(_normalise, text) if b]


def _insides(syms: list[str]) -> Iterable[list[str]]:
    """What each outline candidate encloses (step 2)."""
    last = -1  # index of the latest outline symbol
    for j, s in enumerate(syms):
        if s in _OUTLINE:
            if last >= 0 and _RIGHT_OF.get(syms[last]) == s:
                yield syms[last + 1 : j]
            last = j


def _symmetric(a: str, b: str) -> bool:
    return a == b or (a, b) in _MIRROR


def _can_be_eye(s: str) -> bool:
    return s != " " and s not in MOUTHS


def _has_face(inside: list[str], asymmetric: frozenset[tuple[str, str]]) -> bool:
    """Step 3: is there a choice of eyes in ``inside`` that satisfies II and III?"""
    n = len(inside)
    flanks_left: list[str] = []  # non-edge symbols left of the eye, outside in
    for i in range(n - 1):
        if i > 0:
            s = inside[i - 1]
            if s in MOUTHS:  # a mouth left of every later eye choice too
                return False
            if s not in _EDGE:
                flanks_left.append(s)
        left = inside[i]
        if not _can_be_eye(left):
            continue
        flanks_right: list[str] = []
        for j in range(n - 1, i, -1):
            if j < n - 1:
                s = inside[j + 1]
                if s in MOUTHS:
                    break
                if s not in _EDGE:
                    flanks_right.append(s)
                    if len(flanks_right) > len(flanks_left):
                        break
            right = inside[j]
            if (
                len(flanks_right) == len(flanks_left)
                and _can_be_eye(right)
                and (_symmetric(left, right) or (left, right) in asymmetric)
                and all(map(_symmetric, flanks_left, flanks_right))
            ):
                return True
    return False


def _plain_eyes(inside: list[str]) -> tuple[str, str] | None:
    """How we read a training face's eyes: the ends once spaces and arms are stripped.

    Decorations stay, since they double as eyes: "(。々°)" has eyes "。" and "°".
    """
    core = list(inside)
    while core and (core[0] == " " or core[0] in ARMS):
        core.pop(0)
    while core and (core[-1] == " " or core[-1] in ARMS):
        core.pop()
    if len(core) < 2 or not (_can_be_eye(core[0]) and _can_be_eye(core[-1])):
        return None
    return core[0], core[-1]


@dataclass(frozen=True)
class EmoticonRules:
    """The definition plus the asymmetric (left, right) eye pairs the training data vouches for."""

    asymmetric_eyes: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def from_training(cls, training: Iterable[str]) -> EmoticonRules:
        """Collect rule II(b)'s eye pairs from the training faces that need one."""
        pairs: set[tuple[str, str]] = set()
        for text in training:
            insides = list(_insides(symbols(text)))
            if any(_has_face(inside, frozenset()) for inside in insides):
                continue  # symmetric already; its eyes vouch for nothing new
            for inside in insides:
                eyes = _plain_eyes(inside)
                if eyes is not None and not _symmetric(*eyes):
                    pairs.add(eyes)
        return cls(frozenset(pairs))

    def is_emoticon(self, text: str) -> bool:
        return any(_has_face(inside, self.asymmetric_eyes) for inside in _insides(symbols(text)))


def _rules(training: Iterable[str] | EmoticonRules) -> EmoticonRules:
    return (
        training if isinstance(training, EmoticonRules) else EmoticonRules.from_training(training)
    )


def is_emoticon(text: str, training: Iterable[str] | EmoticonRules = ()) -> bool:
    """The paper's definition; ``training`` (faces or prebuilt rules) feeds rule II(b)."""
    return _rules(training).is_emoticon(text)


def _valid_flags(samples: Sequence[str], rules: EmoticonRules) -> list[bool]:
    # Generators repeat themselves a lot, so check each distinct string once.
    verdict = {s: rules.is_emoticon(s) for s in set(samples)}
    return [verdict[s] for s in samples]


def validity(samples: Sequence[str], training: Iterable[str] | EmoticonRules) -> float:
    """Share of ``samples`` that are emoticons (0.0 for none)."""
    if not samples:
        return 0.0
    return sum(_valid_flags(samples, _rules(training))) / len(samples)


def memorization(samples: Sequence[str], training: Iterable[str]) -> float:
    """Share of ``samples`` identical to a training emoticon: the paper's "regenerated" ratio."""
    return exact_copy_rate(samples, training)


def novel_validity(samples: Sequence[str], training: Iterable[str]) -> float:
    """Share of ``samples`` that are emoticons and not copies of a training emoticon."""
    training = list(training)
    flags = _valid_flags(samples, EmoticonRules.from_training(training))
    return _novel_share(samples, flags, set(training))


def _novel_share(samples: Sequence[str], flags: list[bool], seen: set[str]) -> float:
    if not samples:
        return 0.0
    return sum(ok and s not in seen for s, ok in zip(samples, flags, strict=True)) / len(samples)


def uniqueness(samples: Sequence[str]) -> float:
    """Distinct samples over generated samples (0.0 for none)."""
    return len(set(samples)) / len(samples) if samples else 0.0


def heldout_hits(samples: Sequence[str], heldout: Iterable[str]) -> float:
    """Share of ``samples`` that are real kaomoji from the held-out set: validity rules can't fake."""
    return exact_copy_rate(samples, heldout)


def emoticon_metrics(
    samples: Sequence[str],
    training: Sequence[str],
    heldout: Iterable[str] = (),
    *,
    rules: EmoticonRules | None = None,
) -> dict[str, float]:
    """All five metrics in one pass; pass ``rules`` to skip rebuilding them from ``training``."""
    rules = rules if rules is not None else EmoticonRules.from_training(training)
    seen = set(training)
    n = len(samples)
    flags = _valid_flags(samples, rules)
    return {
        "validity": sum(flags) / n if n else 0.0,
        "memorization": exact_copy_rate(samples, seen),
        "novel_validity": _novel_share(samples, flags, seen),
        "uniqueness": uniqueness(samples),
        "heldout_hits": heldout_hits(samples, heldout),
    }

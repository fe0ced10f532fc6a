"""The kaomoji paper's emoticon definition as a rule check, and the copy key built on it.

A symbol sequence is an emoticon when all of these hold (the kaomoji paper, DATA 2021, Sec. 4):
  I.   a pair of left and right outline brackets encloses the face;
  II.  the eyes inside are symmetric (the same symbol twice, or a mirror pair), or an
       asymmetric pair that also occurs in the training emoticons;
  III. any nose/mouth symbol lies between the eyes.

The paper gives no algorithm, so we parse like this:
1. Normalise a copy (the text itself is never changed): NFC; drop invisible format characters
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

Copies are judged on a string's copy key (``copy_key``): the skeleton of its face. The
metrics built on the rule and the key: ``raygan.metrics.emoticon``.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# --- Lexicon: every piece of kaomoji knowledge lives here, in normalised form. ----------

# Full-width forms are matched through this explicit fold, not NFKC: NFKC turns "´", "ﾟ"
# and "￣" into a space plus a combining mark, which would split eyes into two symbols.
FOLD: dict[int, str] = {c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}  # （＾＿＾） -> (^_^)
FOLD |= {c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFF61, 0xFF9E)}  # ･ﾉｰ -> ・ノー
# The half-width sound marks, an eye in "(ﾟ∀ﾟ)": NFKC makes them combining marks (which
# would vanish), so they fold to the spacing full-width forms, as do those combining marks
# where nothing precedes them to combine with ("(゜∀゜)" either way).
FOLD |= {0xFF9E: "\u309b", 0xFF9F: "\u309c", 0x3099: "\u309b", 0x309A: "\u309c"}
# Look-alikes that training faces use interchangeably: the full-width macron and the macron
# ("(*￣∇￣*)", "(*¯∇¯*)"), the modifier circumflex and the circumflex ("(ˆ_ˆ)", "(^_^)").
FOLD |= {0xFFE3: "\u00af", 0x02C6: "^"}
# Letters that draw nothing (Hangul fillers, the blank braille pattern): spaces.
BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

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
    if ord(ch) in FOLD:  # before the mark test: the sound marks fold to spacing forms
        return FOLD[ord(ch)]
    # marks, and characters that draw nothing: format, control, private-use, unassigned
    if unicodedata.combining(ch) or unicodedata.category(ch) in (
        "Mn",
        "Me",
        "Cf",
        "Cc",
        "Co",
        "Cn",
    ):
        return ""
    if ch.isspace() or ch in BLANKS:
        return " "
    return FOLD.get(ord(ch), ch)


def symbols(text: str) -> list[str]:
    """``text`` as normalised symbols (see the module docstring, step 1), after NFC, so an
    accent typed as a combining mark stays on its letter ("o" + U+0300 is the eye "ò")."""
    return [b for b in map(_normalise, unicodedata.normalize("NFC", text)) if b]


def skeleton(text: str) -> str:
    """A face's skeleton, the form in which copies are recognised: two faces with one
    skeleton are copies of each other ("near copies" when the strings differ).

    Steps: NFC (so an accent typed as a combining mark, "o" + U+0300, is composed onto
    its letter and kept as the eye "ò"), then ``symbols`` (full-width and half-width
    forms folded, remaining combining marks and invisible characters dropped), then every
    space dropped, then every run of a repeated symbol, or of a repeated unit of two or
    three symbols, collapsed to one ("^_^_^" -> "^_^"). So
    "（＾＿＿＿＾）" and "（＾＿＿＿＿＿＿＿＿＿＿＿＾）" both give "(^_^)", "(^-^ )" gives
    "(^-^)", while "(^o^)" stays apart from "(^_^)" and "(ò_ó)" from "(o_o)". A run of
    eyes collapses too: "(^^)" gives "(^)", as "(^^^)" does.

    Why not plain NFKC: it folds the full-width forms alike, but it turns "´", "￣" and "˚"
    into a space plus a combining mark, which, once spaces go, glues the mark onto the
    neighbouring symbol (or, once marks go, deletes an eye or eyebrow); and it folds
    symbols that are different eyes ("ᵒ" -> "o", "…" -> "...") together. ``symbols``
    folds only the full-width and half-width blocks, as the emoticon rules read faces.
    """
    syms = [s for s in symbols(unicodedata.normalize("NFC", text)) if s != " "]
    return "".join(_collapse_repeats(syms))


def _collapse_repeats(syms: list[str], *, longest: int = 3) -> list[str]:
    """Every run of a repeated unit of 1 to ``longest`` symbols collapsed to one unit:
    "^_^_^_^" -> "^_^", "・・・" -> "・". Repeating a stretch of a face makes no new face."""
    out = list(syms)
    changed = True
    while changed:
        changed = False
        for size in range(1, longest + 1):
            i = 0
            while i + 2 * size <= len(out):
                if out[i : i + size] == out[i + size : i + 2 * size]:
                    del out[i + size : i + 2 * size]
                    changed = True
                else:
                    i += 1
    return out


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
    return _eyes(inside, asymmetric) is not None


def _eyes(inside: list[str], asymmetric: frozenset[tuple[str, str]]) -> tuple[int, int] | None:
    """Step 3: the first choice (i, j) of eyes in ``inside`` that satisfies II and III,
    scanning left eyes left to right and right eyes right to left; None if there is none."""
    n = len(inside)
    flanks_left: list[str] = []  # non-edge symbols left of the eye, outside in
    for i in range(n - 1):
        if i > 0:
            s = inside[i - 1]
            if s in MOUTHS:  # a mouth left of every later eye choice too
                return None
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
                return i, j
    return None


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

    def face(self, text: str) -> str | None:
        """The skeleton of ``text``'s first face that passes the rule: its eyes and what
        lies between them, in round brackets (None for a string that is no emoticon).
        What a face is made of, not what it wears: arms and effects outside the outline,
        cheeks, arms and symmetric flanks between outline and eyes (the innermost pair of
        eyes is taken), and the kind of bracket are left out. "(^_^)v", "(^_^)=(ì_",
        "( ^_^ )", "(*^_^*)", "(o^_^o)", "ヽ(^_^ノ)" and "[^_^]" share the face "(^_^)".
        """
        syms = symbols(text)
        last = -1
        for j, s in enumerate(syms):
            if s in _OUTLINE:
                enclosed = last >= 0 and _RIGHT_OF.get(syms[last]) == s
                eyes = _eyes(syms[last + 1 : j], self.asymmetric_eyes) if enclosed else None
                if eyes is not None:
                    left, right = last + 1 + eyes[0], last + 1 + eyes[1]
                    # the innermost eyes: symmetric flanks ("(o^_^o)", "(´・ω・`)") are
                    # what a face wears, like its cheeks
                    while (
                        inner := _eyes(syms[left + 1 : right], self.asymmetric_eyes)
                    ) is not None:
                        left, right = left + 1 + inner[0], left + 1 + inner[1]
                    return skeleton("(" + "".join(syms[left : right + 1]) + ")")
                last = j
        return None


def copy_key(text: str, rules: EmoticonRules) -> str:
    """The form in which ``text`` is compared for copies: the skeleton of its face
    (``EmoticonRules.face``) when it has one, else the skeleton of the whole string.

    Why the face and not the whole string: the paper's rule lets anything stand outside
    the outline, so a training face with junk appended ("（＾＿＾）=(ì_") or new arms
    ("(^・^)v") would otherwise pass for a new emoticon, and a generator that appends
    varied junk to one face would make a new distinct emoticon of every sample. Why the
    eyes and mouth and not the whole outline: a cheek or a pair of symbols added inside
    the brackets ("(*^_^*)", "(o^_^o)") made a new face of every training face.
    """
    face = rules.face(text)
    return face if face is not None else skeleton(text)

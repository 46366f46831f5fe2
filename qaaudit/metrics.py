"""Answer-text metrics of the official SQuAD v1.1 and KorQuAD 1.0 evaluation scripts.

Both scripts compare a prediction with a gold answer after normalising the two
texts; KorQuAD's F1 counts characters instead of words because Korean words
carry particles (로제는 / 로제가) that would make word overlap far too harsh.

One deliberate deviation: when both normalised texts are empty (a gold such as
"the") F1 is 1.0, as in SQuAD 2.0's script, instead of v1.1's 0.0; a prediction
that matches a gold exactly must never score F1 below its exact match.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from typing import Callable, Iterable, Literal

from qaaudit.errors import InvalidArgument

__all__ = [
    "NORMALIZATIONS",
    "Normalization",
    "normalize_squad",
    "normalize_korquad",
    "normalize",
    "resolve_normalization",
    "exact_match",
    "f1",
    "best_over_golds",
    "detect_normalization",
]

Normalization = Literal["auto", "squad", "korquad"]
NORMALIZATIONS: tuple[str, ...] = ("auto", "squad", "korquad")

_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
# KorQuAD's ``remove_``: quotes and brackets become spaces (not deleted) so the
# words on either side stay apart before the ASCII punctuation is removed.
_KORQUAD_SPACED = re.compile("['\"《》<>〈〉()‘’]")
# Hangul syllables, jamo and compatibility jamo.
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff]")


def _remove_punc(text: str) -> str:
    return "".join(ch for ch in text if ch not in _PUNCT)


def normalize_squad(s: str) -> str:
    """SQuAD v1.1 ``normalize_answer``: lower, drop punctuation, drop a/an/the, fix white space."""
    return " ".join(_ARTICLES.sub(" ", _remove_punc(s.lower())).split())


def normalize_korquad(s: str) -> str:
    """KorQuAD 1.0 ``normalize_answer``: quotes/brackets to spaces, lower, drop punctuation, fix white space."""
    return " ".join(_remove_punc(_KORQUAD_SPACED.sub(" ", s).lower()).split())


def detect_normalization(text: str) -> str:
    """``"korquad"`` when ``text`` holds Hangul, else ``"squad"``."""
    return "korquad" if _HANGUL.search(text or "") else "squad"


def resolve_normalization(normalization: str, *texts: str) -> str:
    """Turn ``"auto"`` into ``"squad"``/``"korquad"`` by the script of ``texts``."""
    if normalization == "auto":
        return detect_normalization(" ".join(texts))
    if normalization not in ("squad", "korquad"):
        raise InvalidArgument(
            f"normalization {normalization!r} is not one of {', '.join(NORMALIZATIONS)}"
        )
    return normalization


def normalize(text: str, normalization: str = "auto") -> str:
    """Normalise ``text`` with the named scheme (``auto`` picks it from ``text``)."""
    mode = resolve_normalization(normalization, text)
    return normalize_korquad(text) if mode == "korquad" else normalize_squad(text)


def exact_match(prediction: str, gold: str, *, normalization: str = "auto") -> float:
    """1.0 when the normalised texts are equal, else 0.0."""
    mode = resolve_normalization(normalization, prediction, gold)
    return float(normalize(prediction, mode) == normalize(gold, mode))


def _units(text: str, mode: str) -> list[str]:
    tokens = normalize(text, mode).split()
    if mode == "korquad":
        # KorQuAD: the characters of the white-space tokens (spaces do not count).
        return [ch for tok in tokens for ch in tok]
    return tokens


def f1(prediction: str, gold: str, *, normalization: str = "auto") -> float:
    """Token F1 (SQuAD) or character F1 over normalised tokens (KorQuAD)."""
    mode = resolve_normalization(normalization, prediction, gold)
    pred, ref = _units(prediction, mode), _units(gold, mode)
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_over_golds(metric: Callable[..., float], prediction: str, golds: Iterable[str], **kw) -> float:
    """SQuAD's ``metric_max_over_ground_truths``: the best score over the gold answers (0.0 if none)."""
    return max((metric(prediction, g, **kw) for g in golds), default=0.0)

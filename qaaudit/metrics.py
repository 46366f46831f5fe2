"""Answer-text metrics of the official SQuAD v1.1, SQuAD v2.0 and KorQuAD 1.0 evaluation scripts.

The scripts compare a prediction with a gold answer after normalising the two
texts; KorQuAD's F1 counts characters instead of words because Korean words
carry particles (로제는 / 로제가) that would make word overlap far too harsh.

Each normalisation names the script whose rules every score follows, to the bit:

- ``squad``: ``evaluate-v1.1.py``. F1 is 0 whenever no token is shared, also where both
  texts normalise to empty (a gold ``"."`` or ``"the"``), even though EM is then 1.
- ``squad2``: ``evaluate-v2.0.py``. Golds that normalise to empty are dropped (none left:
  the only right answer is the empty one) and F1 is 1 where both token lists are empty.
- ``korquad``: KorQuAD 1.0 ``evaluate-v1.0.py``; like v1.1, with character F1.
- ``auto``: ``korquad`` where the texts it is given hold Hangul, else ``squad``.

A question without gold text (SQuAD 2.0's unanswerable ones) is scored with v2.0's rule
under every normalisation: only a prediction that normalises to empty is right.
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
    "score_answer",
]

Normalization = Literal["auto", "squad", "squad2", "korquad"]
NORMALIZATIONS: tuple[str, ...] = ("auto", "squad", "squad2", "korquad")

_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
# KorQuAD's ``remove_``: quotes and brackets become spaces (not deleted) so the
# words on either side stay apart before the ASCII punctuation is removed.
_KORQUAD_SPACED = re.compile("['\"《》<>〈〉()‘’]")
# Hangul syllables, jamo and compatibility jamo.
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff]")


_PUNCT_TABLE = {ord(ch): None for ch in _PUNCT}


def _remove_punc(text: str) -> str:
    # the scripts' "".join(ch for ch in text if ch not in exclude), in C
    return text.translate(_PUNCT_TABLE)


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
    if normalization not in ("squad", "squad2", "korquad"):
        raise InvalidArgument(
            f"normalization {normalization!r} is not one of {', '.join(NORMALIZATIONS)}"
        )
    return normalization


def normalize(text: str, normalization: str = "auto") -> str:
    """Normalise ``text`` with the named scheme (``auto`` picks it from ``text``)."""
    mode = resolve_normalization(normalization, text)
    return normalize_korquad(text) if mode == "korquad" else normalize_squad(text)   # v2.0 normalises as v1.1


def exact_match(prediction: str, gold: str, *, normalization: str = "auto") -> float:
    """1.0 when the normalised texts are equal, else 0.0."""
    mode = resolve_normalization(normalization, prediction, gold)
    return float(normalize(prediction, mode) == normalize(gold, mode))


def _split(normalized: str, mode: str) -> list[str]:
    tokens = normalized.split()
    if mode == "korquad":
        # KorQuAD: the characters of the white-space tokens (spaces do not count).
        return [ch for tok in tokens for ch in tok]
    return tokens


def _units(text: str, mode: str) -> list[str]:
    return _split(normalize(text, mode), mode)


def _f1_units(pred: list[str], ref: list[str], mode: str) -> float:
    if mode == "squad2" and (not pred or not ref):
        return float(pred == ref)   # v2.0: "if either is no-answer, then F1 is 1 if they agree"
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, gold: str, *, normalization: str = "auto") -> float:
    """Token F1 (SQuAD) or character F1 over normalised tokens (KorQuAD), as the named script computes it."""
    mode = resolve_normalization(normalization, prediction, gold)
    return _f1_units(_units(prediction, mode), _units(gold, mode), mode)


def best_over_golds(metric: Callable[..., float], prediction: str, golds: Iterable[str], **kw) -> float:
    """SQuAD's ``metric_max_over_ground_truths``: the best score over the gold answers (0.0 if none)."""
    return max((metric(prediction, g, **kw) for g in golds), default=0.0)


def score_answer(prediction: str, golds: Iterable[str], *, normalization: str = "auto",
                 context: str = "") -> tuple[float, float]:
    """(EM, F1) of ``prediction`` against the best of ``golds``, as the official script of ``normalization``.

    ``auto`` is resolved once per question, from the golds and ``context`` (a case's question and context:
    a KorQuAD answer such as ``FIDE`` has no Hangul, its paragraph has). No gold text: the only right
    answer is the empty one (SQuAD 2.0's rule for unanswerable questions).
    """
    refs = list(golds)
    mode = resolve_normalization(normalization, context, *refs)
    norm = normalize_korquad if mode == "korquad" else normalize_squad
    golds_n = [norm(g) for g in refs]   # each text normalised once (a dataset run scores every case 3-5 times)
    if mode == "squad2":
        golds_n = [g for g in golds_n if g]   # v2.0 drops golds that normalise to nothing
    pred_n = norm(prediction)
    if not golds_n and (mode == "squad2" or not refs):
        empty = float(not pred_n)
        return empty, empty
    pred_units = _split(pred_n, mode)
    em = max(float(pred_n == g) for g in golds_n)
    return em, max(_f1_units(pred_units, _split(g, mode), mode) for g in golds_n)

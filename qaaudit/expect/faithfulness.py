"""Faithfulness with ERASER's definitions (DeYoung et al. 2020), on the predicted span's probability.

The context tokens outside the predicted span are ranked by attribution (start
and end normalised attributions summed); the top ``top_percent`` % are the
rationale. Comprehensiveness removes the rationale's characters from the
context, sufficiency keeps only the rationale and the answer; both are
text-level edits that re-map the span's offsets, so the model is asked about
the same answer text. ``comprehensiveness = p_orig - p_removed`` (high: the
rationale mattered), ``sufficiency = p_orig - p_only_rationale`` (low: it was
enough).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from qaaudit.explanation import Answer, Explanation
from qaaudit.results import Verdict
from qaaudit.spec import FaithfulnessExpectation

from ._common import NO_ATTRIBUTIONS, finite, skipped

__all__ = ["rationale", "remove_spans", "keep_spans", "check_faithfulness"]

Span = tuple[int, int]


def rationale(explanation: Explanation, answer: Answer, top_percent: float) -> tuple[list[Span], int]:
    """Character spans of the top ``top_percent`` % context tokens outside the answer, and the pool size."""
    start, end = explanation.target("start").attributions, explanation.target("end").attributions
    pool = [i for i, (seg, off) in enumerate(zip(explanation.segments, explanation.offsets))
            if seg == "context" and off is not None and off[1] > off[0]
            and (off[1] <= answer.start or off[0] >= answer.end)]
    pool.sort(key=lambda i: start[i] + end[i], reverse=True)
    k = min(len(pool), max(1, math.ceil(len(pool) * top_percent / 100.0))) if pool else 0
    return [tuple(explanation.offsets[i]) for i in pool[:k]], len(pool)


def _merge(spans: Sequence[Span]) -> list[Span]:
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _apply(text: str, edits: Sequence[tuple[int, int, str]], span: Span) -> tuple[str, int, int]:
    """Replace ``text[s:e]`` by ``r`` for each edit (none inside ``span``) and re-map ``span``."""
    pieces, last, shift_start, shift_end = [], 0, 0, 0
    for s, e, r in sorted(edits):
        pieces.append(text[last:s])
        pieces.append(r)
        last = e
        change = len(r) - (e - s)
        if e <= span[0]:
            shift_start += change
        if e <= span[1]:
            shift_end += change
    pieces.append(text[last:])
    return "".join(pieces), span[0] + shift_start, span[1] + shift_end


def remove_spans(context: str, spans: Sequence[Span], answer: Span) -> tuple[str, int, int]:
    """Delete the characters of ``spans``; the new context and the answer's new offsets."""
    return _apply(context, [(s, e, "") for s, e in _merge(spans)], answer)


def keep_spans(context: str, spans: Sequence[Span], answer: Span) -> tuple[str, int, int]:
    """Keep only ``spans`` and the answer; gaps between kept parts become one space (or stay, if blank)."""
    kept = _merge([*spans, answer])
    edits, last = [], 0
    for i, (s, e) in enumerate(kept):
        gap = context[last:s]
        if i == 0:
            if gap:
                edits.append((last, s, ""))
        elif gap.strip():
            edits.append((last, s, " "))
        last = e
    if last < len(context):
        edits.append((last, len(context), ""))
    return _apply(context, edits, answer)


def check_faithfulness(expectation: FaithfulnessExpectation, explanation: Explanation | None,
                       answer: Answer | None, predictor: Any | None) -> list[Verdict]:
    """Comprehensiveness (``>=``) and sufficiency (``<=``) verdicts."""
    checks = [(n, v, op) for n, v, op in (("comprehensiveness", expectation.comprehensiveness, ">="),
                                          ("sufficiency", expectation.sufficiency, "<=")) if v is not None]
    first = checks[0] if checks else ("comprehensiveness", None, ">=")

    def skip(why: str) -> list[Verdict]:
        return [skipped(expectation, n, v, op, why) for n, v, op in checks] or [skipped(expectation, *first, why)]

    if explanation is None or not explanation.has_attributions:
        return skip(NO_ATTRIBUTIONS)
    answer = answer if answer is not None else explanation.answer
    if answer.is_null:
        return skip("the model predicted no answer, so there is no span whose probability could fall")
    if predictor is None:
        return skip("faithfulness needs the model to predict the edited contexts (no predictor given)")
    q, ctx, span = explanation.question, explanation.context, (answer.start, answer.end)
    spans, n = rationale(explanation, answer, expectation.top_percent)
    if not spans:
        return skip("the context has no token outside the predicted span to remove")
    p_orig = float(predictor.span_probability(q, ctx, *span))
    base = f"{len(spans)} of {n} context tokens (top {expectation.top_percent:g}%), p(orig) {p_orig:.3g}"
    out = []
    for name, threshold, op in checks:
        edit = remove_spans if name == "comprehensiveness" else keep_spans
        new_ctx, s, e = edit(ctx, spans, span)
        p_new = float(predictor.span_probability(q, new_ctx, s, e))
        value = p_orig - p_new
        passed = value >= threshold if op == ">=" else value <= threshold
        label = "removed" if name == "comprehensiveness" else "kept only"
        out.append(Verdict("faithfulness", name, passed, finite(value), threshold, op,
                           f"{label} {base}, p(edited) {p_new:.3g}", expectation.line))
    return out

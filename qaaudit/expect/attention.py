"""Attention: does the model read the question? The share of the attention from the predicted start/end token
that lands on a target (by default the whole question; ``keywords`` for the question's key words).

Averaged over the last ``layers`` layers, with the heads averaged (``head: mean``) or each layer's most focused
head (``head: focused``). The share is taken over question and context tokens, as ``focus`` takes its share:
special tokens ([CLS], [SEP], <s>) soak up much of the attention of every head, as a no-op, and carry no text an
auditor could point at. ``top_k`` asks whether a target token ranks among the k most attended of those tokens.
"""
from __future__ import annotations

from typing import Sequence

from qaaudit.explanation import Explanation
from qaaudit.results import Verdict
from qaaudit.spec import AttentionExpectation, Case

from ._common import content_tokens, skipped
from .focus import target_tokens

__all__ = ["attention_weights", "attention_tokens", "check_attention", "NO_ATTENTION"]

NO_ATTENTION = "no attention weights were recorded for this case (attribution setting `attention: true`)"


def attention_tokens(expectation: AttentionExpectation, case: Case, explanation: Explanation) -> list[int]:
    """Token indices of the explained window that the target covers (keywords: in the question)."""
    target = expectation.target
    if target.kind != "keywords":
        return target_tokens(target, case, explanation)
    out: set[int] = set()
    for word in target.keywords:
        at = explanation.question.find(word)
        while at >= 0:
            out.update(explanation.tokens_in_span(at, at + len(word), "question"))
            at = explanation.question.find(word, at + 1)
    return sorted(out)


def attention_weights(explanation: Explanation, position: str, layers: int, head: str) -> list[float] | None:
    """The attention from the ``position`` token to every token, averaged over the last ``layers`` layers."""
    att = (explanation.attention or {}).get(position) or {}
    rows: Sequence[Sequence[float]] = att.get("focused" if head == "focused" else "mean") or ()
    if not rows:
        return None
    last = rows[-min(layers, len(rows)):]
    return [sum(r[i] for r in last) / len(last) for i in range(len(last[0]))]


def check_attention(expectation: AttentionExpectation, case: Case, explanation: Explanation | None) -> list[Verdict]:
    """``share[start]``/``share[end]`` (and/or ``top_k[...]``) verdicts."""
    first = "share" if expectation.share is not None else "top_k"
    threshold = expectation.share if first == "share" else expectation.top_k
    op = ">=" if first == "share" else "<="
    if explanation is None or not explanation.attention:
        return [skipped(expectation, first, threshold, op, NO_ATTENTION)]
    tokens = attention_tokens(expectation, case, explanation)
    what = expectation.target.describe()
    if not tokens:
        return [skipped(expectation, first, threshold, op, f"the target ({what}) has no token in the explained window "
                                                          f"{explanation.window + 1} of {explanation.n_windows}")]
    pool = content_tokens(explanation)
    n_layers = int(explanation.attention.get("layers") or 0)
    used = min(expectation.layers, n_layers) if n_layers else expectation.layers
    heads = "heads averaged" if expectation.head == "mean" else "most focused head"
    detail = f"{what}: {len(tokens)} token(s), last {used} of {n_layers} layer(s), {heads}"
    out = []
    for position in expectation.positions:
        weights = attention_weights(explanation, position, expectation.layers, expectation.head)
        if weights is None:
            out.append(skipped(expectation, f"{first}[{position}]", threshold, op, NO_ATTENTION))
            continue
        wanted, total = set(tokens) & set(pool), sum(weights[i] for i in pool)
        if expectation.share is not None:
            share = sum(weights[i] for i in wanted) / total if total > 0 else 0.0
            out.append(Verdict("attention", f"share[{position}]", share >= expectation.share, share,
                               expectation.share, ">=", detail, expectation.line))
        if expectation.top_k is not None:
            order = sorted(pool, key=lambda i: weights[i], reverse=True)
            rank = next((r for r, i in enumerate(order, 1) if i in wanted), len(order) + 1)
            out.append(Verdict("attention", f"top_k[{position}]", rank <= expectation.top_k, rank, expectation.top_k,
                               "<=", f"best-ranked target token among {len(pool)}; {detail}", expectation.line))
    return out

"""Focus and avoid: how much of the attribution falls on a target span.

The share is taken over question and context tokens only: special tokens
([CLS], [SEP]) often soak up attribution under a pad baseline and carry no text
an auditor could point at. ``top_k`` asks whether any target token ranks among
the k most attributed of those tokens (by signed attribution for ``positive``
mass, by magnitude for ``absolute``).
"""
from __future__ import annotations

from qaaudit.explanation import Explanation
from qaaudit.results import Verdict
from qaaudit.spec import Case, FocusExpectation, SpanTarget

from ._common import NO_ATTRIBUTIONS, content_tokens, skipped

__all__ = ["target_tokens", "attribution_share", "best_rank", "check_focus"]


def target_tokens(target: SpanTarget, case: Case, explanation: Explanation) -> list[int]:
    """Token indices of the explained window that the target covers."""
    if target.kind == "question":
        return explanation.tokens_in_span(0, len(explanation.question), "question")
    if target.kind == "answer":
        spans = list(case.gold_spans)
    elif target.kind == "text":
        spans, at = [], explanation.context.find(target.text)
        while at >= 0:  # every occurrence: a distractor name may appear several times
            spans.append((at, at + len(target.text)))
            at = explanation.context.find(target.text, at + 1)
    else:
        spans = [(target.start, target.end)]
    out: set[int] = set()
    for s, e in spans:
        out.update(explanation.tokens_in_span(s, e, "context"))
    return sorted(out)


def attribution_share(scores: tuple[float, ...], tokens: list[int], pool: list[int], mass: str) -> float:
    """Share of the pool's positive (or absolute) attribution mass that falls on ``tokens``."""
    weight = (lambda v: abs(v)) if mass == "absolute" else (lambda v: max(v, 0.0))
    total = sum(weight(scores[i]) for i in pool)
    if total == 0.0:
        return 0.0
    chosen = set(tokens) & set(pool)
    return sum(weight(scores[i]) for i in chosen) / total


def best_rank(scores: tuple[float, ...], tokens: list[int], pool: list[int], mass: str) -> int:
    """1-based rank of the best-ranked target token among the pool."""
    key = (lambda i: abs(scores[i])) if mass == "absolute" else (lambda i: scores[i])
    order = sorted(pool, key=key, reverse=True)
    wanted = set(tokens)
    return next((r for r, i in enumerate(order, 1) if i in wanted), len(order) + 1)


def check_focus(expectation: FocusExpectation, case: Case, explanation: Explanation | None) -> list[Verdict]:
    """``share``/``top_k`` verdicts for each position (``share[start]``, ``share[end]``, ...)."""
    avoid = expectation.family == "avoid"
    op_share, op_rank = ("<=", ">") if avoid else (">=", "<=")
    first = "share" if expectation.share is not None else "top_k"
    if explanation is None or not explanation.has_attributions:
        return [skipped(expectation, first, expectation.share if first == "share" else expectation.top_k,
                        op_share if first == "share" else op_rank, NO_ATTRIBUTIONS)]
    tokens = target_tokens(expectation.target, case, explanation)
    what = expectation.target.describe()
    if not tokens:
        return [skipped(expectation, first, expectation.share if first == "share" else expectation.top_k,
                        op_share if first == "share" else op_rank,
                        f"the target ({what}) has no token in the explained window "
                        f"{explanation.window + 1} of {explanation.n_windows}")]
    pool = content_tokens(explanation)
    line, out = expectation.line, []
    for position in expectation.positions:
        scores = explanation.target(position).attributions
        if expectation.share is not None:
            share = attribution_share(scores, tokens, pool, expectation.mass)
            passed = share <= expectation.share if avoid else share >= expectation.share
            out.append(Verdict(expectation.family, f"share[{position}]", passed, share, expectation.share,
                               op_share, f"{what}: {len(tokens)} token(s), {expectation.mass} mass", line))
        if expectation.top_k is not None:
            rank = best_rank(scores, tokens, pool, expectation.mass)
            passed = rank > expectation.top_k if avoid else rank <= expectation.top_k
            out.append(Verdict(expectation.family, f"top_k[{position}]", passed, rank, expectation.top_k,
                               op_rank, f"best rank of a token of {what}", line))
    return out

"""Compact terminal text for failing cases: what failed, by how much, and what the model looked at."""
from __future__ import annotations

from typing import Any

__all__ = ["failure_message", "robustness_message", "top_tokens_line", "token_label", "top_attention_line"]


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)


_PIECE_MARKS = ("##", "\u2581", "\u0120")   # WordPiece continuation, SentencePiece and byte-level BPE word starts


def token_label(explanation: Any, position: str, i: int) -> str:
    """Token ``i`` as a reader knows it: its word, the piece when the word has several, and its part
    (``Paris (context)``, ``서울특별시 ‹서울› (context)``, ``[CLS] (special)``)."""
    t = explanation.target(position)
    part = explanation.segments[i] if i < len(explanation.segments) else "?"
    word = next((w for w in t.words if i in w.tokens), None)
    if word is None:
        return f"{explanation.tokens[i]} ({part})"
    piece = explanation.tokens[i]
    for mark in _PIECE_MARKS:
        piece = piece.removeprefix(mark)
    shown = word.text if len(word.tokens) == 1 or not piece else f"{word.text} \u2039{piece}\u203a"
    return f"{shown} ({part})"


def top_tokens_line(explanation: Any, position: str, k: int = 5) -> str:
    """The ``k`` most attributed tokens of a target, each with its word and part of the input."""
    t = explanation.target(position)
    parts = [f"{token_label(explanation, position, i)} {t.attributions[i]:+.2f}" for i in t.top_tokens(k)]
    return f"top-{k} {position} tokens: " + " · ".join(parts)


def top_attention_line(explanation: Any, position: str, k: int = 5, layers: int = 2) -> str:
    """The ``k`` question/context tokens the predicted ``position`` token attends to most (last ``layers`` layers,
    heads averaged)."""
    from qaaudit.expect.attention import attention_weights

    weights = attention_weights(explanation, position, layers, "mean") or []
    pool = [i for i, seg in enumerate(explanation.segments) if seg in ("question", "context") and i < len(weights)]
    top = sorted(pool, key=lambda i: weights[i], reverse=True)[:k]
    total = sum(weights[i] for i in pool) or 1.0
    n = min(layers, int((explanation.attention or {}).get("layers") or layers))
    parts = [f"{token_label(explanation, position, i)} {weights[i] / total:.0%}" for i in top]
    return f"attention from {position} (last {n} layers): " + " · ".join(parts)


def failure_message(case: Any, outcome: Any) -> str:
    lines = []
    for v in outcome.failed:
        where = f" (line {v.line})" if v.line else ""
        detail = f" - {v.detail}" if v.detail else ""
        lines.append(f"  FAILED {v.expectation}.{v.check}{where}: measured {_fmt(v.measured)}, "
                     f"expected {v.op} {_fmt(v.threshold)}{detail}")
    pred = outcome.prediction
    gold = " | ".join(repr(a.text) for a in case.answers) if case.answers else "(no answer)"
    if pred is not None:
        shown = "(no answer)" if pred.is_null else repr(pred.text)
        confidence = "unknown" if pred.score is None else f"{pred.score:.3f}"
        lines.append(f"  predicted: {shown}  confidence {confidence}")
    lines.append(f"  gold:      {gold}")
    exp = outcome.explanation
    if exp is not None and exp.has_attributions:
        for pos in ("start", "end"):
            t = exp.target(pos)
            lines.append(f"  {top_tokens_line(exp, pos)}  |delta| {t.abs_delta:.3g} (rel {t.rel_delta:.3g}, "
                         f"{t.n_steps} steps)")
    head = f"{len(outcome.failed)} expectation(s) failed for case {case.id!r} on model {outcome.model_name}"
    return "\n".join([head, *lines])


def robustness_message(case: Any, check: Any, outcome: Any) -> str:
    rob = outcome.robustness or {}
    lines = [f"robustness check {'+'.join(check.perturbations)} ({check.property}) failed for case {case.id!r}"]
    for v in outcome.failed:
        lines.append(f"  FAILED {v.expectation}.{v.check}: measured {_fmt(v.measured)}, expected {v.op} "
                     f"{_fmt(v.threshold)}" + (f" - {v.detail}" if v.detail else ""))
    minimal = rob.get("minimal")
    if minimal:
        for edit in minimal.get("diff") or ():
            lines.append(f"  edit: {edit}")
        op, vp = minimal.get("original_prediction"), minimal.get("variant_prediction")
        lines.append(f"  original prediction: {op!r}")
        lines.append(f"  variant prediction:  {vp!r}")
        if minimal.get("variant_question") and minimal.get("variant_question") != case.question:
            lines.append(f"  variant question: {minimal['variant_question']}")
        lines.append(f"  variant context:  {minimal.get('variant')}")
    if rob.get("reproduce"):
        lines.append(f"  reproduce: {rob['reproduce']}")
    return "\n".join(lines)

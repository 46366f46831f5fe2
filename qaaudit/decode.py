"""Turn start/end logits into answer spans, as transformers' QA pipeline did (numpy only).

Re-implements ``QuestionAnsweringPipeline.postprocess`` / ``select_starts_ends`` /
``decode_spans`` of transformers 4.57 (the pipeline is gone from transformers >= 5.3).
tests/test_decoder_parity.py checks it against that pipeline's answers on a golden file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qaaudit.encode import Encoding, Window
from qaaudit.errors import InvalidArgument
from qaaudit.explanation import Answer

__all__ = ["DecodeResult", "decode", "masked_probabilities", "MASKED_LOGIT"]

MASKED_LOGIT = -10000.0  # the pipeline's value for positions that may not be in the answer


@dataclass(frozen=True)
class DecodeResult:
    """The best answers (score descending) and the no-answer score of the pair."""

    answers: tuple[Answer, ...]
    null_score: float | None  # min over windows of p_start[0] * p_end[0]; None without windows


def _allowed(window: Window) -> np.ndarray:
    return ~window.p_mask & (window.attention_mask != 0)


def masked_probabilities(window: Window, logits: Any) -> np.ndarray:
    """Softmax of ``logits`` over ``window`` after setting disallowed positions to -10000."""
    logits = _as_float(logits)
    if logits.shape != (len(window),):
        raise InvalidArgument(f"logits of shape {logits.shape} do not match a window of {len(window)} tokens; "
                              "pass the logits of this window")
    masked = np.where(_allowed(window), logits, MASKED_LOGIT).astype(logits.dtype, copy=False)
    # Same order of operations as the pipeline (shift by the max, then divide by the sum), so
    # the float32 results match it bit for bit.
    exp = np.exp(masked - masked.max(axis=-1, keepdims=True))
    return exp / exp.sum()


def _as_float(x: Any) -> np.ndarray:
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    return arr


def _window_logits(encoding: Encoding, logits: Any, name: str) -> list[np.ndarray]:
    """One 1-D logit row per window, undoing the padding of ``Encoding.model_inputs``."""
    if isinstance(logits, (list, tuple)):
        rows = list(logits)
    else:
        arr = np.asarray(logits)
        rows = [arr] if arr.ndim == 1 else list(arr)
    if len(rows) != len(encoding.windows):
        raise InvalidArgument(f"{name} has {len(rows)} rows for {len(encoding.windows)} windows; pass one row of "
                              "logits per window (the model's output on encoding.model_inputs())")
    out = []
    for i, (row, window) in enumerate(zip(rows, encoding.windows)):
        row = _as_float(row).reshape(-1)
        n = len(window)
        if row.shape[0] < n:
            raise InvalidArgument(f"{name}[{i}] has {row.shape[0]} logits for a window of {n} tokens")
        out.append(row[:n] if encoding.padding_side == "right" else row[row.shape[0] - n:])
    return out


def _top_pairs(p_start: np.ndarray, p_end: np.ndarray, k: int, max_answer_len: int) -> tuple[np.ndarray, np.ndarray,
                                                                                              np.ndarray]:
    """Best ``k`` (start, end) pairs with start <= end < start + max_answer_len, by p_start * p_end."""
    n = p_start.shape[0]
    scores = np.tril(np.triu(np.outer(p_start, p_end)), max_answer_len - 1)
    flat = scores.reshape(-1)
    # Selection by the same numpy primitives as the pipeline, so that ties come out in its order.
    if k == 1:
        order = np.array([np.argmax(flat)])
    elif flat.size <= k:
        order = np.argsort(-flat)
    else:
        part = np.argpartition(-flat, k)[:k]
        order = part[np.argsort(-flat[part])]
    starts, ends = order // n, order % n
    return starts, ends, scores


def _char_span(window: Window, s: int, e: int, align_to_words: bool) -> tuple[int, int]:
    """Characters of tokens s..e: from the start of s's word to the end of e's word, else offsets."""
    if align_to_words:
        span = _word_chars(window, window.word_ids[s], first=True), _word_chars(window, window.word_ids[e], first=False)
        if span[0] is not None and span[1] is not None:
            return span  # type: ignore[return-value]
    # Tokenizers without words (or tokens outside the context's words) keep to offsets.
    return int(window.offsets[s, 0]), int(window.offsets[e, 1])


def _word_chars(window: Window, word: int | None, *, first: bool) -> int | None:
    """Start (``first``) or end character of ``word`` among the window's context tokens."""
    if word is None:
        return None
    idx = [i for i, (w, seq) in enumerate(zip(window.word_ids, window.sequence_ids))
           if w == word and seq == window.context_sequence]
    if not idx:
        return None
    return int(window.offsets[idx[0], 0]) if first else int(window.offsets[idx[-1], 1])


def decode(encoding: Encoding, start_logits: Any, end_logits: Any, *, top_k: int = 1, max_answer_len: int = 15,
           handle_impossible_answer: bool = False, align_to_words: bool = True) -> DecodeResult:
    """Best ``top_k`` answers of ``encoding`` from the model's start/end logits (one row per window)."""
    for name, value in (("top_k", top_k), ("max_answer_len", max_answer_len)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidArgument(f"{name} must be an integer >= 1, got {value!r}")
    starts_all = _window_logits(encoding, start_logits, "start_logits")
    ends_all = _window_logits(encoding, end_logits, "end_logits")
    # Over-fetch when aligning to words: several token pairs can land on the same words.
    k = top_k * 2 + 10 if align_to_words else top_k
    null_score: float | None = None
    found: list[dict[str, Any]] = []
    by_text: dict[str, dict[str, Any]] = {}
    context = encoding.context
    for w_index, (window, start_row, end_row) in enumerate(zip(encoding.windows, starts_all, ends_all)):
        p_start = masked_probabilities(window, start_row)
        p_end = masked_probabilities(window, end_row)
        # The pipeline reads the null score at position 0 ([CLS] for every supported tokenizer),
        # then zeroes it without renormalising so that [CLS] never starts a real answer.
        window_null = float(p_start[0] * p_end[0])
        null_score = window_null if null_score is None else min(null_score, window_null)
        p_start[0] = p_end[0] = 0.0
        starts, ends, scores = _top_pairs(p_start, p_end, int(k), int(max_answer_len))
        allowed = _allowed(window)
        # The pipeline's membership test also let position 0 through whenever any token is allowed.
        allowed[0] = allowed[0] or bool(allowed.any())
        for s, e in zip(starts.tolist(), ends.tolist()):
            if not (allowed[s] and allowed[e]):
                continue
            score = float(scores[s, e])
            c_start, c_end = _char_span(window, s, e, align_to_words)
            text = context[c_start:c_end]
            # Same text (case-insensitive) from another pair or window: one answer, scores added.
            seen = by_text.get(text.lower())
            if seen is not None:
                seen["score"] += score
                continue
            record = {"text": text, "start": c_start, "end": c_end, "score": score,
                      "token_start": s, "token_end": e, "window": w_index}
            by_text[text.lower()] = record
            found.append(record)
    answers = [Answer(**r) for r in found]
    if handle_impossible_answer and null_score is not None:
        answers.append(Answer(text="", start=0, end=0, score=null_score))
    answers.sort(key=lambda a: a.score, reverse=True)  # stable: equal scores keep their order
    return DecodeResult(answers=tuple(answers[:top_k]), null_score=null_score)

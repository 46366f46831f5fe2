"""Predict and explain: encode -> forward -> decode -> attribute, as one public API.

``predict``/``predict_batch`` give the answers the transformers QA pipeline gave;
``explain`` adds integrated-gradients attributions for the predicted start and end
in the window that holds the predicted span.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from qaaudit.attribute import (
    CompletenessTarget,
    IGCase,
    integrated_gradients,
    integrated_gradients_batch,
    layer_conductance,
    sub_embedding_attributions,
)
from qaaudit.attention import target_attention
from qaaudit.decode import decode, masked_probabilities
from qaaudit.encode import Encoding, encode, input_names_for
from qaaudit.errors import InvalidArgument
from qaaudit.explanation import Answer, Explanation, TargetAttribution, WordAttribution

__all__ = ["predict", "predict_batch", "explain", "explain_batch", "forward_windows", "encode_pair"]

# padded tokens per forward pass when predicting: an accelerator wants big batches; on a CPU a pass of 40k
# tokens ran 1.3-1.5x slower per token than passes of 2-8k (caches), measured on the demo model
_WINDOW_BUDGET = 16384
_WINDOW_BUDGET_CPU = 4096


def _window_budget(qa: Any) -> int:
    return _WINDOW_BUDGET_CPU if str(getattr(qa, "device", "cpu")).startswith("cpu") else _WINDOW_BUDGET


def _check_positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgument(f"{name}={value!r} must be an integer >= 1")


def encode_pair(qa: Any, question: str, context: str, max_seq_len: int | None = None,
                doc_stride: int | None = None) -> Encoding:
    """Encode one pair for ``qa`` with the inputs its model takes (ALBERT keeps its token types)."""
    return encode(qa.tokenizer, question, context, max_seq_len=max_seq_len or qa.max_seq_len, doc_stride=doc_stride,
                  input_names=input_names_for(qa.tokenizer, qa.config))



def _to_model(qa: Any, arrays: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v, device=qa.device) for k, v in arrays.items()}


def forward_windows(qa: Any, encodings: Sequence[Encoding]) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    """Start/end logits, one row per window (windows differ in length), for each encoding.

    The windows of all encodings are batched together, shortest first, so a batch pads little. Each window
    gets the logits it gets alone: a right-padding model sees padding only after a window's tokens (masked,
    positions unchanged); a left-padding one would see its window shifted right by the padding, and absolute
    position embeddings (DistilBERT, BERT) then move the logits, so its batches hold windows of one length.
    """
    items = [(i, w) for i, enc in enumerate(encodings) for w in range(len(enc.windows))]
    results: list[list[tuple[np.ndarray, np.ndarray] | None]] = [[None] * len(e.windows) for e in encodings]

    def width(k: int) -> int:
        return len(encodings[items[k][0]].windows[items[k][1]].input_ids)

    items.sort(key=lambda iw: len(encodings[iw[0]].windows[iw[1]].input_ids))
    equal_lengths = qa.tokenizer.padding_side == "left"
    budget = _window_budget(qa)
    lo = 0
    while lo < len(items):
        # shortest first, so the next window sets the padded width: count padded tokens, not the first row's
        hi = lo + 1
        while (hi < len(items) and (hi - lo + 1) * width(hi) <= budget
               and not (equal_lengths and width(hi) != width(lo))):
            hi += 1
        batch = items[lo:hi]
        lo = hi
        arrays = _stack([encodings[i].model_inputs([w]) for i, w in batch], qa.tokenizer)
        with torch.no_grad():
            out = qa.model(**_to_model(qa, arrays))
        s = out.start_logits.float().cpu().numpy()
        e = out.end_logits.float().cpu().numpy()
        for row, (i, w) in enumerate(batch):
            n = len(encodings[i].windows[w].input_ids)
            left = qa.tokenizer.padding_side == "left"
            sl = slice(s.shape[1] - n, None) if left else slice(0, n)
            results[i][w] = (s[row, sl], e[row, sl])
    return [([r[0] for r in res], [r[1] for r in res]) for res in results]


def _stack(parts: list[dict[str, np.ndarray]], tokenizer: Any) -> dict[str, np.ndarray]:
    """Pad single-window arrays of different lengths to one batch, on the tokenizer's padding side."""
    width = max(p["input_ids"].shape[1] for p in parts)
    left = tokenizer.padding_side == "left"
    pad_values = {"input_ids": tokenizer.pad_token_id or 0}
    out: dict[str, np.ndarray] = {}
    for key in parts[0]:
        rows = []
        for p in parts:
            a = p[key]
            pad = width - a.shape[1]
            spec = ((0, 0), (pad, 0)) if left else ((0, 0), (0, pad))
            rows.append(np.pad(a, spec, constant_values=pad_values.get(key, 0)))
        out[key] = np.concatenate(rows, 0)
    return out


def predict_batch(
    qa: Any,
    pairs: Sequence[tuple[str, str]],
    *,
    top_k: int = 1,
    max_answer_len: int = 15,
    handle_impossible_answer: bool = False,
    max_seq_len: int | None = None,
    doc_stride: int | None = None,
    align_to_words: bool = True,
) -> list[list[Answer]]:
    """Answers for many (question, context) pairs, windows batched across pairs."""
    _check_positive_int("top_k", top_k)
    _check_positive_int("max_answer_len", max_answer_len)
    encodings = [encode_pair(qa, q, c, max_seq_len, doc_stride) for q, c in pairs]
    logits = forward_windows(qa, encodings)
    return [
        list(decode(enc, s, e, top_k=top_k, max_answer_len=max_answer_len,
                    handle_impossible_answer=handle_impossible_answer, align_to_words=align_to_words).answers)
        for enc, (s, e) in zip(encodings, logits)
    ]


def predict(qa: Any, question: str, context: str, **kwargs: Any) -> list[Answer]:
    """Answers for one pair, best first (see :func:`predict_batch` for the options)."""
    return predict_batch(qa, [(question, context)], **kwargs)[0]


@dataclass(frozen=True)
class _Prepared:
    """A decoded pair and the window whose predicted start and end get explained."""

    question: str
    context: str
    enc: Encoding
    result: Any
    start_logits: list[np.ndarray]
    end_logits: list[np.ndarray]
    w: int
    s_idx: int
    e_idx: int
    inputs: dict[str, torch.Tensor]
    keep: torch.Tensor
    lo: int


def _prepare(qa: Any, question: str, context: str, enc: Encoding, logits: tuple[list[np.ndarray], list[np.ndarray]],
             decode_kw: Mapping[str, Any]) -> _Prepared:
    start_logits, end_logits = logits
    result = decode(enc, start_logits, end_logits, **decode_kw)
    best = result.answers[0]
    w = best.window if best.window is not None else 0
    window = enc.windows[w]
    s_idx = best.token_start if best.token_start is not None else window.cls_index
    e_idx = best.token_end if best.token_end is not None else window.cls_index
    inputs, keep, lo = _window_inputs(qa, enc, w)
    return _Prepared(question, context, enc, result, start_logits, end_logits, w, s_idx, e_idx, inputs, keep, lo)


def _decode_args(top_k: Any, max_answer_len: Any, handle_impossible_answer: bool, align_to_words: bool,
                 n_steps: Any) -> dict[str, Any]:
    """The checked decoding arguments of :func:`explain` / :func:`explain_batch`."""
    _check_positive_int("top_k", top_k)
    _check_positive_int("max_answer_len", max_answer_len)
    if n_steps is not None:
        _check_positive_int("n_steps", n_steps)
    return dict(top_k=top_k, max_answer_len=max_answer_len, handle_impossible_answer=handle_impossible_answer,
                align_to_words=align_to_words)


def explain(
    qa: Any,
    question: str,
    context: str,
    *,
    n_steps: int | None = None,
    target: CompletenessTarget | None = None,
    method: str | None = None,
    baseline: str = "pad",
    sub_embeddings: bool = False,
    layers: bool = False,
    attention: bool = False,
    autocast: str | None = None,
    top_k: int = 1,
    max_answer_len: int = 15,
    handle_impossible_answer: bool = False,
    max_seq_len: int | None = None,
    doc_stride: int | None = None,
    align_to_words: bool = True,
    chunk_size: int | None = None,
    aux_steps: int = 50,
    progress: Any = None,
) -> Explanation:
    """Predict and explain one pair with integrated gradients (start and end targets pinned).

    Give ``n_steps`` for a fixed rule, or ``target`` (default: |delta| <= 0.05 absolute
    and relative) to refine the integral until the completeness delta is small enough.
    ``sub_embeddings`` and ``layers`` add the tutorial's word/token-type/position
    attributions and per-layer conductance (``aux_steps`` steps each); ``attention`` the attention weights
    from the predicted start and end tokens per layer (one more forward pass). ``progress(done, planned)``
    reports integration steps as they finish.
    """
    decode_kw = _decode_args(top_k, max_answer_len, handle_impossible_answer, align_to_words, n_steps)
    enc = encode_pair(qa, question, context, max_seq_len, doc_stride)
    prep = _prepare(qa, question, context, enc, forward_windows(qa, [enc])[0], decode_kw)
    run = integrated_gradients(qa, prep.inputs, prep.s_idx - prep.lo, prep.e_idx - prep.lo, keep=prep.keep,
                               baseline=baseline, n_steps=n_steps, target=target, method=method,
                               chunk_size=chunk_size, autocast=autocast, progress=progress)
    return _assemble(qa, prep, run, baseline=baseline, sub_embeddings=sub_embeddings, layers=layers,
                     attention=attention, aux_steps=aux_steps, chunk_size=chunk_size, max_seq_len=max_seq_len,
                     doc_stride=doc_stride, decode_kw=decode_kw)


def explain_batch(
    qa: Any,
    pairs: Sequence[tuple[str, str]],
    *,
    n_steps: int | None = None,
    target: CompletenessTarget | None = None,
    method: str | None = None,
    baseline: str = "pad",
    sub_embeddings: bool = False,
    layers: bool = False,
    attention: bool = False,
    autocast: str | None = None,
    top_k: int = 1,
    max_answer_len: int = 15,
    handle_impossible_answer: bool = False,
    max_seq_len: int | None = None,
    doc_stride: int | None = None,
    align_to_words: bool = True,
    chunk_size: int | None = None,
    aux_steps: int = 50,
    token_budget: int | None = None,
) -> list[Explanation]:
    """:func:`explain` for many pairs, the integration steps of all pairs batched together.

    Each pair still gets its own steps (a completeness target refines per pair) and the same
    explanation as :func:`explain` up to float rounding; the model sees passes of rows from pairs of
    similar lengths (``token_budget`` tokens per pass). Faster on a GPU; on a CPU it measured no gain.
    """
    decode_kw = _decode_args(top_k, max_answer_len, handle_impossible_answer, align_to_words, n_steps)
    encodings = [encode_pair(qa, q, c, max_seq_len, doc_stride) for q, c in pairs]
    logits = forward_windows(qa, encodings)
    preps = [_prepare(qa, q, c, enc, lg, decode_kw) for (q, c), enc, lg in zip(pairs, encodings, logits)]
    runs = integrated_gradients_batch(
        qa, [IGCase(p.inputs, p.s_idx - p.lo, p.e_idx - p.lo, p.keep) for p in preps], baseline=baseline,
        n_steps=n_steps, target=target, method=method, autocast=autocast, token_budget=token_budget)
    return [_assemble(qa, prep, run, baseline=baseline, sub_embeddings=sub_embeddings, layers=layers,
                      attention=attention, aux_steps=aux_steps, chunk_size=chunk_size, max_seq_len=max_seq_len,
                      doc_stride=doc_stride, decode_kw=decode_kw) for prep, run in zip(preps, runs)]


def _assemble(qa: Any, prep: _Prepared, run: Any, *, baseline: str, sub_embeddings: bool, layers: bool,
              aux_steps: int, chunk_size: int | None, max_seq_len: int | None, doc_stride: int | None,
              decode_kw: Mapping[str, Any], attention: bool = False) -> Explanation:
    """The :class:`Explanation` of a prepared pair from its IG run (plus the optional extra attributions)."""
    enc, w, lo, inputs, keep = prep.enc, prep.w, prep.lo, prep.inputs, prep.keep
    s_idx, e_idx = prep.s_idx, prep.e_idx
    question, context = prep.question, prep.context
    window = enc.windows[w]
    best = prep.result.answers[0]
    n = inputs["input_ids"].shape[1]
    tokens = tuple(qa.tokenizer.convert_ids_to_tokens(window.input_ids[lo:lo + n].tolist()))
    segments = _segments(window, enc)[lo:lo + n]
    offsets = tuple(
        None if seg == "special" else (int(window.offsets[i][0]), int(window.offsets[i][1]))
        for i, seg in zip(range(lo, lo + n), segments)
    )
    probs = {"start": masked_probabilities(window, prep.start_logits[w]),
             "end": masked_probabilities(window, prep.end_logits[w])}
    logit_rows = {"start": prep.start_logits[w], "end": prep.end_logits[w]}
    targets = {}
    for pos, idx in (("start", s_idx), ("end", e_idx)):
        ig = run[pos]
        raw = ig.tokens
        norm = np.linalg.norm(raw)
        attr = raw / norm if norm > 0 else raw
        targets[pos] = TargetAttribution(
            position=pos, index=idx - lo, probability=float(probs[pos][idx]), logit=float(logit_rows[pos][idx]),
            attributions=tuple(float(x) for x in attr), raw=tuple(float(x) for x in raw),
            words=_words(window, segments, attr, lo, question, context),
            delta=float(ig.delta), f_input=ig.f_input, f_baseline=ig.f_baseline, n_steps=run.n_steps,
        )
    sub = lay = None
    if sub_embeddings:
        se = sub_embedding_attributions(qa, inputs, s_idx - lo, e_idx - lo, keep=keep, baseline=baseline,
                                        n_steps=aux_steps, chunk_size=chunk_size)
        sub = {name: {p: tuple(float(x) for x in v) for p, v in d.items()} for name, d in se.items()}
    if layers:
        lc = layer_conductance(qa, inputs, s_idx - lo, e_idx - lo, keep=keep, baseline=baseline,
                               n_steps=aux_steps, chunk_size=chunk_size)
        lay = {p: tuple(tuple(float(x) for x in row) for row in m) for p, m in lc.items()}
    att = target_attention(qa, inputs, s_idx - lo, e_idx - lo) if attention else None
    settings = dict(run.settings)
    settings.update(
        steps_history=[list(h) for h in run.history], converged=run.converged, max_seq_len=max_seq_len or qa.max_seq_len,
        doc_stride=doc_stride, max_answer_len=decode_kw["max_answer_len"],
        handle_impossible_answer=decode_kw["handle_impossible_answer"], align_to_words=decode_kw["align_to_words"],
        aux_steps=aux_steps if (sub_embeddings or layers) else None,
    )
    return Explanation(
        question=question, context=context, answer=best, answers=tuple(prep.result.answers),
        null_score=prep.result.null_score, tokens=tokens, offsets=offsets, segments=tuple(segments), window=w,
        n_windows=len(enc.windows), start=targets["start"], end=targets["end"], sub_embeddings=sub,
        layer_conductance=lay, settings=settings, attention=att,
    )


def _window_inputs(qa: Any, enc: Encoding, w: int) -> tuple[dict[str, torch.Tensor], torch.Tensor, int]:
    """One window as model inputs without its padding (attributions of padding are always zero)."""
    window = enc.windows[w]
    arrays = enc.model_inputs([w])
    mask = np.asarray(window.attention_mask).astype(bool)
    idx = np.nonzero(mask)[0]
    lo, hi = (int(idx[0]), int(idx[-1]) + 1) if len(idx) else (0, len(mask))
    if qa.tokenizer.padding_side == "left":
        lo = 0  # left-padded models compute positions from the padded layout; keep it as it is
    inputs = {k: torch.as_tensor(v[:, lo:hi], device=qa.device) for k, v in _to_model(qa, arrays).items()}
    special = np.array([sid is None for sid in window.sequence_ids[lo:hi]])
    keep = torch.as_tensor(special, device=qa.device).unsqueeze(0)
    return inputs, keep, lo


def _segments(window: Any, enc: Encoding) -> list[str]:
    question_seq = 0 if enc.question_first else 1
    return ["special" if sid is None else "question" if sid == question_seq else "context"
            for sid in window.sequence_ids]


def _words(window: Any, segments: list[str], attr: np.ndarray, lo: int, question: str,
           context: str) -> tuple[WordAttribution, ...]:
    """Merge sub-word pieces (##ing, ▁ prefixes) back into the words of the question and context."""
    groups: dict[tuple[str, int], list[int]] = {}
    order: list[tuple[str, int]] = []
    for j, seg in enumerate(segments):
        i = j + lo
        wid = window.word_ids[i]
        if seg == "special" or wid is None:
            continue
        key = (seg, wid)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(j)
    words = []
    for seg, _ in order:
        toks = groups[(seg, _)]
        s = min(int(window.offsets[j + lo][0]) for j in toks)
        e = max(int(window.offsets[j + lo][1]) for j in toks)
        text = (question if seg == "question" else context)[s:e]
        score = float(sum(attr[j] for j in toks))
        words.append(WordAttribution(text=text, segment=seg, start=s, end=e,
                                     score=score if math.isfinite(score) else 0.0, tokens=tuple(toks)))
    return tuple(words)

"""Batching never changes an answer: a window's logits in any batch are its logits alone.

A left-padding tokenizer (the DistilBERT fixture) pads on the left, which shifts every absolute position of a
shorter window in a batch of longer ones; qaaudit must give each window the logits it has when run alone.
Checked over many random pairs whose windows differ in length, against a forward of each window by itself.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import qaaudit
from qaaudit.explainer import encode_pair, forward_windows
from tinymodels import CORPUS

MAX_SEQ_LEN, DOC_STRIDE = 40, 12


def _pairs(seed: int, n: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    sentences = list(CORPUS)
    questions = ["Who wrote the novel?", "Where is the museum?", "서울의 인구는 몇 명인가요?",
                 "When was it built?", "한라산은 어디에 있나요?", "What is the name of the river?"]
    out = []
    for _ in range(n):
        k = rng.randint(1, 6)   # 1 to ~5 windows of 40 tokens: the last window of each is shorter
        out.append((rng.choice(questions), " ".join(rng.sample(sentences, k))))
    return out


def _alone(qa, enc, w):
    arrays = enc.model_inputs([w])
    with torch.no_grad():
        out = qa.model(**{k: torch.as_tensor(v) for k, v in arrays.items()})
    return out.start_logits[0].numpy(), out.end_logits[0].numpy()


@pytest.mark.parametrize("arch, padding_side", [("distilbert", "left"), ("bert", "left"), ("bert", "right")])
def test_batched_windows_get_their_logits_alone(tiny_checkpoint, arch, padding_side):
    qa = qaaudit.load_model(tiny_checkpoint(arch, padding_side=padding_side), device="cpu")
    assert qa.tokenizer.padding_side == padding_side
    pairs = _pairs(seed=len(arch) + len(padding_side), n=120)
    encodings = [encode_pair(qa, q, c, MAX_SEQ_LEN, DOC_STRIDE) for q, c in pairs]
    lengths = {len(w.input_ids) for e in encodings for w in e.windows}
    assert len(lengths) > 10   # the batch really mixes window lengths
    batched = forward_windows(qa, encodings)
    worst = 0.0
    for enc, (starts, ends) in zip(encodings, batched):
        for w in range(len(enc.windows)):
            s, e = _alone(qa, enc, w)
            assert starts[w].shape == s.shape and ends[w].shape == e.shape
            worst = max(worst, float(np.abs(starts[w] - s).max()), float(np.abs(ends[w] - e).max()))
    assert worst < 1e-4, f"a batched window's logits moved by {worst:.3g}"


@pytest.mark.parametrize("arch", ["distilbert", "bert"])
def test_predict_batch_gives_the_answers_of_predict_alone(tiny_checkpoint, arch):
    qa = qaaudit.load_model(tiny_checkpoint(arch, padding_side="left"), device="cpu")
    pairs = _pairs(seed=7, n=100)
    kw = dict(top_k=3, max_seq_len=MAX_SEQ_LEN, doc_stride=DOC_STRIDE)
    together = qaaudit.predict_batch(qa, pairs, **kw)
    # in a different order and in small batches too: no neighbour may change an answer
    order = list(range(len(pairs)))
    random.Random(3).shuffle(order)
    shuffled = qaaudit.predict_batch(qa, [pairs[i] for i in order], **kw)
    for i, (q, c) in enumerate(pairs):
        alone = qaaudit.predict(qa, q, c, **kw)
        for got in (together[i], shuffled[order.index(i)]):
            assert [(a.text, a.start, a.end) for a in got] == [(a.text, a.start, a.end) for a in alone]
            assert [a.score for a in got] == pytest.approx([a.score for a in alone], abs=1e-5)


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_a_forward_pass_holds_at_most_the_budget_of_padded_tokens(tiny_checkpoint, monkeypatch, padding_side):
    """Batches are cut by padded width x rows (the longest window sets the width), and every window is run once."""
    import qaaudit.explainer as explainer

    qa = qaaudit.load_model(tiny_checkpoint("bert", padding_side=padding_side), device="cpu")
    budget = 200
    monkeypatch.setattr(explainer, "_WINDOW_BUDGET_CPU", budget)
    shapes: list[tuple[int, int]] = []
    forward = qa.model.forward

    def recording(*args, **kwargs):
        shapes.append(tuple(kwargs["input_ids"].shape))
        return forward(*args, **kwargs)

    monkeypatch.setattr(qa.model, "forward", recording)
    encodings = [encode_pair(qa, q, c, MAX_SEQ_LEN, DOC_STRIDE) for q, c in _pairs(seed=11, n=60)]
    widths = [len(w.input_ids) for e in encodings for w in e.windows]
    batched = forward_windows(qa, encodings)
    assert sum(rows for rows, _ in shapes) == len(widths)                  # each window in exactly one pass
    assert all(rows * width <= budget or rows == 1 for rows, width in shapes)
    assert max(rows for rows, _ in shapes) > 1                              # and batches really form
    if padding_side == "left":   # windows of one length a batch: a left pad would shift absolute positions
        assert sorted(w for rows, w in shapes for _ in range(rows)) == sorted(widths)
    for enc, (starts, _) in list(zip(encodings, batched))[:10]:
        for w in range(len(enc.windows)):
            assert np.abs(starts[w] - _alone(qa, enc, w)[0]).max() < 1e-4

"""The public predict/explain API on tiny checkpoints: consistency, windows, words, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from qaaudit import (Explanation, InputError, InvalidArgument, explain, explain_batch, load_model, predict,
                     predict_batch)
from tinymodels import ARCHS

Q = "로제는 어디에서 태어났습니까?"
C = "로제는 뉴질랜드에서 태어났다. 그녀는 2016년 블랙핑크로 데뷔했다. Rose grew up in Melbourne, Australia."


@pytest.fixture(scope="module")
def bert(tiny_checkpoint):
    return load_model(tiny_checkpoint("bert"), device="cpu")


@pytest.mark.parametrize("arch", ARCHS)
def test_explanation_is_consistent_with_the_prediction(tiny_checkpoint, arch):
    qa = load_model(tiny_checkpoint(arch), device="cpu")
    exp = explain(qa, Q, C, n_steps=8)
    best = predict(qa, Q, C)[0]
    assert exp.answer == best
    assert C[exp.answer.start:exp.answer.end] == exp.answer.text
    n = len(exp.tokens)
    for target in (exp.start, exp.end):
        assert len(target.attributions) == len(target.raw) == n
        norm = np.linalg.norm(target.attributions)
        assert norm == pytest.approx(1.0, abs=1e-6) or norm == 0
        # the pinned target is the predicted token
        assert exp.segments[target.index] in ("context", "special")
        assert sum(target.raw) - (target.f_input - target.f_baseline) == pytest.approx(target.delta, abs=1e-6)
    assert exp.start.index == exp.answer.token_start and exp.end.index == exp.answer.token_end
    # every word's text is the text its offsets point at
    for w in exp.start.words:
        src = Q if w.segment == "question" else C
        assert src[w.start:w.end] == w.text
        assert w.score == pytest.approx(sum(exp.start.attributions[i] for i in w.tokens))


def test_words_merge_subword_pieces(bert):
    exp = explain(bert, Q, C, n_steps=4)
    pieces = [t for t in exp.tokens if t.startswith("##")]
    assert pieces, "the tiny vocabulary splits some words"
    words = exp.start.words
    assert len(words) < sum(1 for s in exp.segments if s != "special")
    assert {w.text for w in words if w.segment == "context"} >= {"뉴질랜드에서"} or any("뉴질랜드" in w.text for w in words)


def test_long_context_explained_in_the_window_holding_the_answer(bert):
    context = " ".join([C] * 30)
    exp = explain(bert, Q, context, n_steps=4, max_seq_len=64, doc_stride=16)
    assert exp.n_windows > 1
    assert len(exp.tokens) <= 64
    s, e = exp.offsets[exp.start.index], exp.offsets[exp.end.index]
    # answers are aligned to words, so the target tokens lie inside the answer's characters
    assert exp.answer.start <= s[0] < exp.answer.end and exp.answer.start < e[1] <= exp.answer.end


def test_adaptive_target_records_steps(bert):
    from qaaudit.attribute import CompletenessTarget

    exp = explain(bert, Q, C, target=CompletenessTarget(abs_delta=0.01, rel_delta=None))
    assert exp.settings["method"] == "adaptive"
    assert exp.start.n_steps == exp.settings["n_steps"] >= 17
    assert exp.settings["steps_history"][0][0] == 17  # the default first level
    if exp.settings["converged"]:
        assert exp.start.abs_delta <= 0.01 and exp.end.abs_delta <= 0.01


def test_sub_embeddings_and_layers_on_request(bert):
    exp = explain(bert, Q, C, n_steps=4, sub_embeddings=True, layers=True, aux_steps=8)
    assert set(exp.sub_embeddings) == {"word", "token_type", "position"}
    assert len(exp.sub_embeddings["word"]["start"]) == len(exp.tokens)
    assert len(exp.layer_conductance["end"]) == bert.config.num_hidden_layers
    plain = explain(bert, Q, C, n_steps=4)
    assert plain.sub_embeddings is None and plain.layer_conductance is None


def test_round_trips_through_json(bert):
    exp = explain(bert, Q, C, n_steps=4, layers=True, aux_steps=4)
    again = Explanation.from_dict(json.loads(json.dumps(exp.to_dict())))
    assert again == exp


def test_predict_batch_equals_one_at_a_time(bert):
    pairs = [(Q, C), ("Where did Rose grow up?", C), (Q, C[:20])]
    batched = predict_batch(bert, pairs, top_k=3)
    for pair, answers in zip(pairs, batched):
        single = predict(bert, *pair, top_k=3)
        assert [a.text for a in answers] == [a.text for a in single]
        assert np.allclose([a.score for a in answers], [a.score for a in single], atol=1e-6)


def test_explain_batch_equals_one_at_a_time(bert):
    pairs = [(Q, C), ("Where did Rose grow up?", C), (Q, C[:20]), (Q, C * 12)]  # the last one needs windows
    batched = explain_batch(bert, pairs, max_seq_len=64, doc_stride=16)
    assert len(batched) == len(pairs)
    for pair, exp in zip(pairs, batched):
        one = explain(bert, *pair, max_seq_len=64, doc_stride=16)
        # windows of several pairs are predicted in one padded pass: scores agree to float rounding only
        assert (exp.answer.text, exp.answer.start, exp.answer.end) == (one.answer.text, one.answer.start, one.answer.end)
        assert exp.answer.score == pytest.approx(one.answer.score, rel=1e-5)
        assert (exp.tokens, exp.window, exp.n_windows) == (one.tokens, one.window, one.n_windows)
        for p in ("start", "end"):
            a, b = np.array(getattr(exp, p).raw), np.array(getattr(one, p).raw)
            assert getattr(exp, p).n_steps == getattr(one, p).n_steps
            assert np.abs(a - b).max() <= 1e-4 * np.abs(b).max()
    assert explain_batch(bert, []) == []


def test_handle_impossible_answer_can_return_null(bert):
    answers = predict(bert, Q, C, handle_impossible_answer=True, top_k=2000)  # all candidates
    assert any(a.is_null for a in answers)
    null = next(a for a in answers if a.is_null)
    assert null.text == "" and null.start == null.end == 0


@pytest.mark.parametrize("question, context, match", [
    ("", C, "question"),
    ("   ", C, "question"),
    (Q, " \n", "context"),
    (None, C, "question"),
    (Q, 42, "context"),
])
def test_bad_text_input(bert, question, context, match):
    with pytest.raises(InputError, match=match):
        explain(bert, question, context, n_steps=2)


def test_question_longer_than_the_window(bert):
    with pytest.raises(InputError):
        predict(bert, " ".join(["로제는"] * 200), C, max_seq_len=64, doc_stride=16)


@pytest.mark.parametrize("kwargs, match", [
    ({"max_answer_len": 0}, "max_answer_len=0"),
    ({"n_steps": 0}, "n_steps=0"),
    ({"top_k": -1}, "top_k=-1"),
])
def test_bad_numbers(bert, kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        explain(bert, Q, C, **kwargs)

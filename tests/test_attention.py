"""Attention from the predicted start and end tokens: computed on every supported architecture (one extra forward
pass, eager attention where SDPA hides the weights), checked by the `attention` expectation, cached like the rest."""
from __future__ import annotations

import math
import re

import pytest
import torch

import qaaudit
import qaaudit.results
from qaaudit.errors import SpecError
from qaaudit.expect import evaluate_case
from qaaudit.expect.attention import attention_tokens, attention_weights, check_attention
from qaaudit.explainer import encode_pair
from qaaudit.explanation import Explanation
from qaaudit.session import case_settings
from qaaudit.spec import parse_audit
from tinymodels import ARCHS

pytest_plugins = ["pytester"]

QUESTION, CONTEXT = "Where is the Eiffel Tower?", "The Eiffel Tower is located in Paris, the capital of France."


@pytest.mark.parametrize("arch", ARCHS)
def test_attention_on_every_architecture(tiny_checkpoint, arch):
    """Rows of probabilities from the target tokens, equal to those of the same checkpoint loaded with eager
    attention by transformers itself; the model keeps its own attention; nothing else of the explanation moves."""
    from transformers import AutoModelForQuestionAnswering

    qa = qaaudit.load_model(tiny_checkpoint(arch), device="cpu")
    implementation = qa.model.config._attn_implementation
    plain = qaaudit.explain(qa, QUESTION, CONTEXT, n_steps=2)
    expl = qaaudit.explain(qa, QUESTION, CONTEXT, n_steps=2, attention=True)
    assert qa.model.config._attn_implementation == implementation
    assert expl.answer == plain.answer and expl.start.attributions == plain.start.attributions
    att = expl.attention
    n = len(expl.tokens)
    assert att["layers"] == qa.config.num_hidden_layers and att["heads"] == qa.config.num_attention_heads
    for pos, idx in (("start", expl.start.index), ("end", expl.end.index)):
        t = att[pos]
        assert t["token"] == idx
        assert len(t["mean"]) == len(t["focused"]) == att["layers"] and all(len(r) == n for r in t["mean"])
        for row in t["mean"] + t["focused"]:
            assert math.isclose(sum(row), 1.0, abs_tol=1e-4) and min(row) >= 0.0
        assert all(0 <= h < att["heads"] for h in t["focused_heads"])
    # the reference: transformers' eager attention on the same window, heads averaged
    ref = AutoModelForQuestionAnswering.from_pretrained(tiny_checkpoint(arch), attn_implementation="eager").eval()
    arrays = encode_pair(qa, QUESTION, CONTEXT).model_inputs([0])   # the inputs qaaudit gives the model
    n_real = int(arrays["attention_mask"].sum())
    inputs = {k: torch.as_tensor(v[:, :n_real]) for k, v in arrays.items()}
    assert qa.tokenizer.convert_ids_to_tokens(inputs["input_ids"][0].tolist()) == list(expl.tokens)
    with torch.no_grad():
        weights = ref(**inputs, output_attentions=True).attentions
    for layer, w in enumerate(weights):
        heads = w[0, :, expl.start.index, :]
        assert torch.allclose(torch.tensor(att["start"]["mean"][layer]), heads.mean(0), atol=1e-5)
        entropy = -(heads * heads.clamp_min(1e-12).log()).sum(-1)
        assert att["start"]["focused_heads"][layer] == int(entropy.argmin())


def test_attention_costs_one_forward_pass(tiny_checkpoint):
    qa = qaaudit.load_model(tiny_checkpoint("bert"), device="cpu")
    calls = []
    handle = qa.model.register_forward_pre_hook(lambda *a: calls.append(1))
    try:
        qaaudit.explain(qa, QUESTION, CONTEXT, n_steps=2)
        without = len(calls)
        calls.clear()
        qaaudit.explain(qa, QUESTION, CONTEXT, n_steps=2, attention=True)
    finally:
        handle.remove()
    assert len(calls) == without + 1


def test_attention_on_the_demo_model():
    qa = qaaudit.load_model(str(qaaudit.demo_model_path()), device="cpu")
    audit = parse_audit("""
cases:
  - id: capital
    question: 대한민국의 수도는 어디인가?
    context: 대한민국의 수도는 서울이다. 부산은 두 번째로 큰 도시이다.
    answer: 서울
    expect:
      attention: {target: {keywords: [수도]}, share: 0.0, layers: 1}
""", "demo.audit.yaml")
    case = audit.cases[0]
    expl = qaaudit.explain(qa, case.question, case.context, n_steps=4, attention=case.attribution.attention)
    assert expl.attention["layers"] == qa.config.num_hidden_layers
    verdicts = [v for v in evaluate_case(case, expl) if v.expectation == "attention"]
    assert [v.check for v in verdicts] == ["share[start]", "share[end]"]
    assert all(v.passed and 0.0 < v.measured < 1.0 for v in verdicts)   # the key word gets some attention
    assert "last 1 of" in verdicts[0].detail and "heads averaged" in verdicts[0].detail


# --------------------------------------------------------------------------- the expectation, on hand-made weights
def _explanation(rows_start, rows_end=None, focused=None) -> Explanation:
    """[CLS] where is paris ? [SEP] paris is big [SEP]: 10 tokens, question 1-4, context 6-8."""
    tokens = ["[CLS]", "where", "is", "paris", "?", "[SEP]", "paris", "is", "big", "[SEP]"]
    segs = ["special"] + ["question"] * 4 + ["special"] + ["context"] * 3 + ["special"]
    q, c = "where is paris ?", "paris is big"
    offs = [None, (0, 5), (6, 8), (9, 14), (15, 16), None, (0, 5), (6, 8), (9, 12), None]
    d = {"question": q, "context": c, "answer": {"text": "paris", "start": 0, "end": 5, "score": 0.9,
                                                 "token_start": 6, "token_end": 6, "window": 0},
         "answers": [], "tokens": tokens, "offsets": [list(o) if o else None for o in offs], "segments": segs,
         "attention": {"layers": len(rows_start), "heads": 2,
                       "start": {"token": 6, "mean": rows_start, "focused": focused or rows_start,
                                 "focused_heads": [0] * len(rows_start)},
                       "end": {"token": 6, "mean": rows_end or rows_start, "focused": focused or rows_start,
                               "focused_heads": [1] * len(rows_start)}}}
    return Explanation.from_dict(d)


def _case(expect: str):
    return parse_audit(f"""
cases:
  - id: c
    question: where is paris ?
    context: paris is big
    answer: paris
    expect:
      prediction: false
      attention: {expect}
""", "t.audit.yaml").cases[0]


UNIFORM = [0.1] * 10
#           CLS where is  paris ?   SEP paris is  big  SEP
LAST = [0.5, 0.0, 0.05, 0.2, 0.05, 0.1, 0.05, 0.0, 0.05, 0.0]


def test_share_is_over_question_and_context_tokens_of_the_last_layers():
    expl = _explanation([UNIFORM, LAST])
    case = _case("{target: {keywords: [paris]}, share: 0.5, layers: 1}")
    (s, e) = check_attention(case.expectations[0], case, expl)
    # last layer only: content mass 0 + .05 + .2 + .05 + .05 + 0 + .05 = .4, of which 'paris' (question) .2
    assert s.check == "share[start]" and s.measured == pytest.approx(0.5) and s.passed
    case = _case("{target: {keywords: [paris]}, share: 0.5, layers: 2}")
    (s, _) = check_attention(case.expectations[0], case, expl)
    # both layers averaged: paris (.1 + .2)/2 = .15 of content (.7 + .4)/2 = .55
    assert s.measured == pytest.approx(0.15 / 0.55) and not s.passed
    case = _case("{target: question, share: 0.5, layers: 1}")
    (s, _) = check_attention(case.expectations[0], case, expl)
    assert s.measured == pytest.approx(0.3 / 0.4) and s.passed
    assert attention_tokens(case.expectations[0], case, expl) == [1, 2, 3, 4]


def test_top_k_focused_head_and_position():
    expl = _explanation([LAST], focused=[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    case = _case("{target: {keywords: [paris]}, top_k: 1, layers: 1, position: start}")
    (v,) = check_attention(case.expectations[0], case, expl)
    assert v.check == "top_k[start]" and v.measured == 1 and v.passed
    case = _case("{target: {keywords: [paris]}, top_k: 2, layers: 1, head: focused, position: end}")
    (v,) = check_attention(case.expectations[0], case, expl)
    assert v.check == "top_k[end]" and not v.passed and "most focused head" in v.detail
    assert attention_weights(expl, "end", 1, "focused")[8] == 1.0


def test_without_attention_the_check_is_skipped():
    case = _case("{target: question, share: 0.1}")
    plain = Explanation.from_dict({**_explanation([LAST]).to_dict(), "attention": None})
    (v,) = check_attention(case.expectations[0], case, plain)
    assert v.passed is None and "attention: true" in v.detail
    (v,) = check_attention(case.expectations[0], case, None)
    assert v.passed is None


# --------------------------------------------------------------------------- the audit file
def test_an_attention_expectation_turns_the_pass_on_and_keys_the_cache():
    case = _case("true")
    assert case.attribution.attention and case.needs_attributions
    (exp,) = case.expectations
    assert exp.target.kind == "question" and exp.share == 0.3 and exp.layers == 2 and exp.head == "mean"
    assert case_settings(case)["attention"] is True
    plain = parse_audit("cases: [{id: c, question: q, context: c a, answer: a}]").cases[0]
    assert "attention" not in case_settings(plain)   # no key when off: existing cache entries stay valid
    on = parse_audit("cases: [{id: c, question: q, context: c a, answer: a, attribution: {attention: true}}]")
    assert case_settings(on.cases[0])["attention"] is True


@pytest.mark.parametrize("expect, where, message", [
    ("{target: {keywords: [rome]}, share: 0.3}", (9, 39), "attention keyword 'rome' of case 'c' does not occur in the question"),
    ("{target: question, share: 1.5}", (9, 38), "share"),
    ("{target: question, layers: 0}", (9, 39), "layers"),
    ("{target: question, share: 0.3, heads: mean}", (9, 38), "unknown key 'heads'"),
    ("{target: question, share: null}", (9, 18), "share"),
])
def test_bad_attention_expectations_point_at_their_line(expect, where, message):
    with pytest.raises(SpecError) as info:
        _case(expect)
    text = info.value.render()
    assert message in text
    line = where[0]
    assert re.search(rf"t\.audit\.yaml:{line}:\d+", text), text


def test_through_the_plugin_the_report_draws_it(pytester, tiny_checkpoint, preloaded_qaaudit):
    pytester.makefile(".audit.yaml", **{"audits/att": f"""
model: {tiny_checkpoint("roberta")}
cases:
  - id: eiffel
    question: {QUESTION}
    context: {CONTEXT}
    answer: Paris
    expect:
      prediction: false
      attention: {{target: {{keywords: [Eiffel, Tower]}}, share: 0.0}}
"""})
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-report", "r")
    assert result.ret == pytest.ExitCode.OK
    run = qaaudit.results.RunResult.read(pytester.path / "r" / "results.json")
    (case,) = run.cases
    assert [v.check for v in case.verdicts] == ["share[start]", "share[end]"]
    assert case.explanation["attention"]["layers"] == 2
    page = next((pytester.path / "r" / "cases").iterdir()).read_text(encoding="utf-8")
    assert '<table class="grid attention"' in page and '<table class="grid attention-focused"' in page

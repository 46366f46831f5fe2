"""Expectation checks on hand-made explanations and a fake predictor."""
from __future__ import annotations

import math

import pytest

from qaaudit.expect import evaluate_case
from qaaudit.expect.faithfulness import keep_spans, remove_spans
from qaaudit.explanation import Answer, Explanation, TargetAttribution
from qaaudit.spec import parse_audit

QUESTION = "Where was Rose born?"
CONTEXT = "Rose was born in Auckland. Lisa was born in Bangkok."


def _tokens(question: str, context: str):
    """Whitespace tokens ([CLS] q [SEP] c [SEP]) with offsets in their own segment."""
    toks, offs, segs = ["[CLS]"], [None], ["special"]
    for seg, text in (("question", question), ("context", context)):
        at = 0
        for word in text.split():
            at = text.index(word, at)
            toks.append(word)
            offs.append((at, at + len(word)))
            segs.append(seg)
            at += len(word)
        toks.append("[SEP]")
        offs.append(None)
        segs.append("special")
    return tuple(toks), tuple(offs), tuple(segs)


TOKENS, OFFSETS, SEGMENTS = _tokens(QUESTION, CONTEXT)
# [CLS] Where was Rose born? [SEP] Rose was born in Auckland. Lisa was born in Bangkok. [SEP]
#   0     1    2    3    4     5    6    7   8   9     10     11   12  13  14    15     16
AUCKLAND = 10


def _target(position: str, scores: dict[int, float], *, delta: float = 0.01, f_in: float = 5.0,
            f_base: float = 1.0) -> TargetAttribution:
    attr = tuple(scores.get(i, 0.0) for i in range(len(TOKENS)))
    return TargetAttribution(position, AUCKLAND, 0.9, f_in, attr, attr, (), delta, f_in, f_base, 32)


def _explanation(answer: Answer | None = None, scores: dict[int, float] | None = None,
                 attributions: bool = True, **target_kw) -> Explanation:
    answer = answer or Answer("Auckland", 17, 25, 0.9, AUCKLAND, AUCKLAND, 0)
    scores = scores if scores is not None else {AUCKLAND: 0.6, 3: 0.2, 11: 0.1, 14: -0.3, 0: 0.5}
    return Explanation(
        QUESTION, CONTEXT, answer, (answer,), -3.0, TOKENS, OFFSETS, SEGMENTS,
        start=_target("start", scores, **target_kw) if attributions else None,
        end=_target("end", scores, **target_kw) if attributions else None,
    )


def _case(expect: str, *, answer: str = "Auckland", extra: str = ""):
    if "prediction" not in expect:  # a gold answer alone implies a prediction check: turn it off here
        expect = expect.replace("{", "{prediction: false, ", 1)
    text = (f"cases:\n  - id: c\n    question: {QUESTION}\n    context: {CONTEXT}\n"
            f"    answer: {answer}\n{extra}    expect: {expect}\n")
    return parse_audit(text, "t.audit.yaml").cases[0]


def _by_check(verdicts):
    return {v.check: v for v in verdicts}


def test_prediction_exact_match_f1_offsets_confidence() -> None:
    case = _case("{prediction: {exact_match: true, f1: 0.5, offsets: true, min_confidence: 0.95}}")
    got = _by_check(evaluate_case(case, _explanation()))
    assert got["exact_match"].passed and got["exact_match"].measured == 1.0
    assert got["f1"].passed and got["offsets"].passed
    assert got["confidence"].passed is False and got["confidence"].measured == pytest.approx(0.9)
    assert all(v.line == 6 and v.expectation == "prediction" for v in got.values())


def test_prediction_partial_answer() -> None:
    case = _case("{prediction: {f1: 0.8}}", answer="in Auckland")
    wrong = Answer("Auckland. Lisa", 17, 31, 0.4, 10, 11, 0)
    (verdict,) = evaluate_case(case, None, prediction=wrong)
    # tokens [auckland, lisa] vs [in, auckland]: P = R = 1/2
    assert verdict.check == "f1" and verdict.measured == pytest.approx(0.5) and verdict.passed is False


def test_prediction_korean_uses_korquad() -> None:
    text = ("cases:\n  - id: k\n    question: 로제는 어디에서 태어났습니까?\n"
            "    context: 로제는 뉴질랜드에서 태어났다.\n    answer: 뉴질랜드\n    expect: {prediction: {f1: 0.7}}\n")
    case = parse_audit(text).cases[0]
    (verdict,) = evaluate_case(case, None, prediction=Answer("뉴질랜드에서", 4, 10, 0.8, 2, 3, 0))
    assert verdict.measured == pytest.approx(0.8) and verdict.passed  # character-level F1


def test_unanswerable() -> None:
    text = f"cases:\n  - id: u\n    question: Who is Jisoo?\n    context: {CONTEXT}\n    unanswerable: true\n"
    case = parse_audit(text).cases[0]
    null = Answer("", 0, 0, 0.7)
    (ok,) = evaluate_case(case, None, prediction=null)
    assert ok.check == "null" and ok.passed and ok.expectation == "unanswerable"
    (bad,) = evaluate_case(case, _explanation())
    assert bad.passed is False and bad.measured == "Auckland"


def test_focus_share_and_top_k_per_position() -> None:
    case = _case("{focus: {target: answer, share: 0.5, top_k: 1, position: both}}")
    got = _by_check(evaluate_case(case, _explanation()))
    assert set(got) == {"share[start]", "share[end]", "top_k[start]", "top_k[end]"}
    # positive mass over question+context tokens: 0.6 + 0.2 + 0.1 (CLS excluded, negatives ignored)
    assert got["share[start]"].measured == pytest.approx(0.6 / 0.9)
    assert got["share[start]"].passed and got["top_k[end]"].measured == 1 and got["top_k[end]"].passed


def test_focus_absolute_mass_and_question_target() -> None:
    case = _case("{focus: {target: question, share: 0.2, mass: absolute, position: start}}")
    (verdict,) = evaluate_case(case, _explanation())
    assert verdict.check == "share[start]"
    assert verdict.measured == pytest.approx(0.2 / 1.2) and verdict.passed is False


def test_focus_literal_text_and_range() -> None:
    case = _case("{focus: {target: {text: Lisa}, top_k: 2, position: end}}")
    (verdict,) = evaluate_case(case, _explanation())
    assert verdict.check == "top_k[end]" and verdict.measured == 3 and verdict.passed is False
    case = _case("{focus: {target: {start: 17, end: 26}, share: 0.6, position: start}}")
    (verdict,) = evaluate_case(case, _explanation())
    assert verdict.passed and verdict.measured == pytest.approx(0.6 / 0.9)


def test_avoid_every_occurrence() -> None:
    case = _case("{avoid: {target: {text: born in Bangkok}, share: 0.05, mass: absolute, position: start}}")
    (verdict,) = evaluate_case(case, _explanation())
    # "born in Bangkok" covers tokens 13, 14, 15: only 14 (-0.3) has mass -> 0.3 / 1.2
    assert verdict.op == "<=" and verdict.measured == pytest.approx(0.25) and verdict.passed is False
    case = _case("{avoid: {target: {text: Bangkok.}, top_k: 3, position: start}}")
    (verdict,) = evaluate_case(case, _explanation())
    assert verdict.op == ">" and verdict.passed


def test_attribution_checks_without_attributions_are_undecided() -> None:
    case = _case("{focus: {target: answer}, completeness: true, faithfulness: true}")
    verdicts = evaluate_case(case, _explanation(attributions=False))
    assert case.needs_attributions
    assert [v.passed for v in verdicts] == [None, None, None, None]
    assert all("no attributions" in v.detail for v in verdicts)


def test_completeness_abs_and_rel() -> None:
    case = _case("{completeness: {abs_delta: 0.05, rel_delta: 0.001}}")
    got = _by_check(evaluate_case(case, _explanation(delta=-0.02)))
    assert got["abs_delta[start]"].passed and got["abs_delta[end]"].measured == pytest.approx(0.02)
    assert got["rel_delta[start]"].measured == pytest.approx(0.005) and got["rel_delta[start]"].passed is False


def test_completeness_rel_delta_without_gap() -> None:
    case = _case("{completeness: {rel_delta: 0.1}}")
    verdicts = evaluate_case(case, _explanation(delta=0.1, f_in=2.0, f_base=2.0))
    assert all(v.passed is False and v.measured is None for v in verdicts)


def test_completeness_failure_names_the_target_that_would_refine_further() -> None:
    # the refinement stopped at 0.05 + 5% x |5 - 1| = 0.25: the check's 0.05 alone was never its goal
    case = _case("{completeness: {abs_delta: 0.05}}")
    exp = _explanation(delta=0.2)
    adaptive = dict(method="adaptive", converged=True, target={"abs_delta": 0.05, "rel_delta": 0.05})
    got = _by_check(evaluate_case(case, Explanation(**{**exp.__dict__, "settings": adaptive})))
    assert got["abs_delta[start]"].passed is False
    assert "|delta| <= 0.25" in got["abs_delta[start]"].detail
    assert "target: {abs_delta: 0.05, rel_delta: 0}" in got["abs_delta[start]"].detail
    # a target as strict as the check, a run that hit max_steps, or fixed steps: no such hint
    for settings in (dict(adaptive, target={"abs_delta": 0.05, "rel_delta": 0}), dict(adaptive, converged=False),
                     {"method": "gausslegendre", "n_steps": 50}):
        got = _by_check(evaluate_case(case, Explanation(**{**exp.__dict__, "settings": settings})))
        assert got["abs_delta[end]"].passed is False and "refinement" not in got["abs_delta[end]"].detail
    cc = dict(adaptive, method="clenshaw_curtis")  # the other refining rule stops at its target too
    got = _by_check(evaluate_case(case, Explanation(**{**exp.__dict__, "settings": cc})))
    assert "target: {abs_delta: 0.05, rel_delta: 0}" in got["abs_delta[start]"].detail
    rel = _by_check(evaluate_case(_case("{completeness: {rel_delta: 0.01}}"),
                                  Explanation(**{**exp.__dict__, "settings": adaptive})))
    assert "target: {abs_delta: 0, rel_delta: 0.01}" in rel["rel_delta[end]"].detail


def test_text_edits_remap_the_answer() -> None:
    text, answer = "aa bb CC dd ee", (6, 8)
    new, s, e = remove_spans(text, [(0, 2), (9, 11)], answer)
    assert new == " bb CC  ee" and new[s:e] == "CC"
    new, s, e = keep_spans(text, [(0, 2), (12, 14)], answer)
    assert new == "aa CC ee" and new[s:e] == "CC"


class FakePredictor:
    """p(span) falls with each of the rationale words missing from the context."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def span_probability(self, question: str, context: str, start: int, end: int) -> float:
        self.calls.append((context, start, end))
        assert context[start:end] == "Auckland"
        return 0.9 - 0.5 * ("Rose" not in context) - 0.1 * ("Lisa" not in context)


def test_faithfulness_comprehensiveness_and_sufficiency() -> None:
    case = _case("{faithfulness: {comprehensiveness: 0.3, sufficiency: 0.2, top_percent: 10}}")
    predictor = FakePredictor()
    got = _by_check(evaluate_case(case, _explanation(), predictor))
    # 9 context tokens outside "Auckland."; top 10% -> 1 token, by start+end attribution:
    # "Lisa" (0.1 + 0.1); removing it costs 0.1
    assert got["comprehensiveness"].measured == pytest.approx(0.1) and got["comprehensiveness"].passed is False
    # keeping only "Lisa" and the answer drops "Rose": 0.9 - 0.4
    assert got["sufficiency"].measured == pytest.approx(0.5) and got["sufficiency"].passed is False
    contexts = [c for c, _, _ in predictor.calls]
    assert contexts[0] == CONTEXT and "Lisa" not in contexts[1] and contexts[2] == "Auckland Lisa"


def test_faithfulness_needs_a_predictor_and_a_span() -> None:
    case = _case("{faithfulness: {comprehensiveness: 0.3}}")
    (verdict,) = evaluate_case(case, _explanation())
    assert verdict.passed is None and "predictor" in verdict.detail
    null = Answer("", 0, 0, 0.5)
    (verdict,) = evaluate_case(case, _explanation(answer=null), FakePredictor())
    assert verdict.passed is None and "no answer" in verdict.detail


def test_verdicts_are_json_safe() -> None:
    case = _case("{completeness: {rel_delta: 0.1}, focus: {target: answer, share: 0.1}}")
    for v in evaluate_case(case, _explanation(delta=0.1, f_in=2.0, f_base=2.0)):
        assert v.measured is None or isinstance(v.measured, str) or math.isfinite(v.measured)

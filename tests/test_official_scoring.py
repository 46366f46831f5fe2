"""Every path that scores an answer (metrics, verdicts, the gate's means, the summary, score_predictions) gives the
official scripts' numbers, bit for bit, under the normalisation the file or case chose.

The reference is the scripts' own logic, transcribed in tests/official_scripts.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from official_scripts import official_scores, v11_evaluate
from qaaudit.expect.prediction import check_prediction
from qaaudit.explanation import Answer
from qaaudit.gate import GateConfig, case_scores, evaluate_gate
from qaaudit.metrics import exact_match, f1, score_answer
from qaaudit.predictions import load_predictions, score_predictions
from qaaudit.results import CaseResult, RunResult
from qaaudit.spec import Case, GoldAnswer, PredictionExpectation
from qaaudit.squad import read_squad
from qaaudit.summary import summarize

DATA = Path(__file__).parent / "data" / "squad"

# pieces that exercise every rule of the scripts: articles, ASCII and Korean punctuation, the quotes and brackets
# KorQuAD turns into spaces, case, white space of several kinds, Hangul, accents, text that normalises to nothing
_PIECES = ["the", "The", "a", "an", "A", "theatre", "Paris", "paris", "France", "x", "x", ".", ",", "!", "'", '"',
           "(", ")", "《", "》", "〈", "〉", "<", ">", "‘", "’", "-", "로제", "는", "뉴질랜드", "블랙핑크", "FIDE",
           "Rosé", "ROSÉ", "1997", "'s", " ", "  ", "\t", "\n", "\u00a0", "", "an.", "《FIDE》"]
texts = st.lists(st.sampled_from(_PIECES), max_size=7).map(
    lambda parts: "".join(p if i % 2 else p + " " for i, p in enumerate(parts)))
golds_st = st.lists(texts, min_size=1, max_size=3)
NORMS = ("squad", "squad2", "korquad")


@settings(max_examples=600, deadline=None)
@given(prediction=texts, golds=golds_st, normalization=st.sampled_from(NORMS))
def test_score_answer_equals_the_official_script(prediction, golds, normalization):
    assert score_answer(prediction, golds, normalization=normalization) == \
        official_scores(normalization, prediction, golds)


@settings(max_examples=300, deadline=None)
@given(prediction=texts, gold=texts, normalization=st.sampled_from(("squad", "korquad")))
def test_single_gold_metrics_equal_the_official_script(prediction, gold, normalization):
    em, score = official_scores(normalization, prediction, [gold])
    assert exact_match(prediction, gold, normalization=normalization) == em
    assert f1(prediction, gold, normalization=normalization) == score


@pytest.mark.parametrize("normalization, expected", [
    ("squad", (1.0, 0.0)),     # v1.1: no shared token, F1 0, although the texts are equal
    ("korquad", (1.0, 0.0)),   # KorQuAD 1.0 likewise
    ("squad2", (1.0, 1.0)),    # v2.0: the gold "." is dropped; only the empty answer (or one like it) is right
])
def test_both_normalise_to_empty(normalization, expected):
    assert score_answer(".", ["."], normalization=normalization) == expected
    assert score_answer("!", ["."], normalization=normalization) == expected
    assert official_scores(normalization, ".", ["."]) == expected


def test_squad2_drops_golds_that_normalise_to_empty():
    # v1.1 credits "the" against the gold "the" (EM 1); v2.0 drops that gold and scores against "cat"
    assert score_answer("the", ["the", "cat"], normalization="squad") == (1.0, 0.0)
    assert score_answer("the", ["the", "cat"], normalization="squad2") == (0.0, 0.0)


def test_unanswerable_scored_as_squad2_everywhere():
    for normalization in ("auto",) + NORMS:
        assert score_answer("", [], normalization=normalization) == (1.0, 1.0)
        assert score_answer(" . ", [], normalization=normalization) == (1.0, 1.0)
        assert score_answer("Paris", [], normalization=normalization) == (0.0, 0.0)


def _case(question, context, golds, normalization, expect):
    return Case(id="c", line=3, question=question, context=context,
                answers=tuple(GoldAnswer(g) for g in golds), normalization=normalization, expectations=(expect,))


def _result(case, prediction_text, verdicts, normalization):
    return CaseResult(nodeid=f"a.audit.yaml::{case.id}", path="a.audit.yaml", line=case.line, case_id=case.id,
                      outcome="passed", question=case.question, context=case.context, gold=case.gold_texts,
                      prediction={"text": prediction_text, "start": 0, "end": 0}, verdicts=tuple(verdicts),
                      normalization=normalization)


# the KorQuAD examples: golds without Hangul in a Korean paragraph
KOREAN = [("국제 체스 연맹의 약칭은?", "국제 체스 연맹(《FIDE》)은 1924년에 세워졌다.", ["FIDE"], "《FIDE》"),
          ("약칭은?", "the FIDE 연맹", ["FIDE"], "the FIDE"),
          ("무엇인가?", "Tower 연맹의 the Tower", ["the Tower"], "Tower")]


@pytest.mark.parametrize("question, context, golds, prediction", KOREAN)
@pytest.mark.parametrize("normalization", ["korquad", "auto"])
@pytest.mark.parametrize("expect", [PredictionExpectation(4, exact_match=True), PredictionExpectation(4, f1=0.5),
                                    PredictionExpectation(4, offsets=True)])
def test_verdicts_gate_and_summary_use_the_cases_normalisation(question, context, golds, prediction, normalization,
                                                                  expect):
    case = _case(question, context, golds, normalization, expect)
    verdicts = check_prediction(expect, case, Answer(prediction, 0, len(prediction), 0.5))
    expected = official_scores("korquad", prediction, golds)   # auto: the case is Korean
    for v in verdicts:
        if v.check == "exact_match":
            assert v.measured == expected[0]
        if v.check == "f1":
            assert v.measured == expected[1]
    result = _result(case, prediction, verdicts, normalization)
    assert case_scores(result) == expected
    # through results.json and back
    run = RunResult(cases=(result,))
    again = RunResult.from_dict(json.loads(json.dumps(run.to_dict())))
    assert case_scores(again.cases[0]) == expected
    assert summarize(again)["overall"]["mean_f1"] == expected[1]
    verdict = evaluate_gate(again, GateConfig(min_mean_f1=0.0))
    assert verdict.numbers["mean_f1"] == expected[1] and verdict.numbers["mean_em"] == expected[0]


def test_explicit_squad_normalisation_is_kept_for_korean_text():
    case = _case("약칭은?", "the FIDE 연맹", ["FIDE"], "squad", PredictionExpectation(4, exact_match=True))
    result = _result(case, "the FIDE", (), "squad")
    assert case_scores(result) == official_scores("squad", "the FIDE", ["FIDE"]) == (1.0, 1.0)


@settings(max_examples=200, deadline=None)
@given(prediction=texts, golds=golds_st, normalization=st.sampled_from(NORMS))
def test_gate_fallback_equals_the_official_script(prediction, golds, normalization):
    # no verdict carries the numbers: the gate scores the recorded prediction itself
    case = CaseResult(nodeid="a::c", path="a", line=1, case_id="c", outcome="failed", context="ctx",
                      gold=tuple(golds), prediction={"text": prediction}, normalization=normalization)
    assert case_scores(case) == official_scores(normalization, prediction, golds)


@pytest.mark.parametrize("dataset, predictions", [
    ("squad_v11_small.json", "squad_v11_predictions.json"),
    ("korquad_v1_small.json", "korquad_v1_predictions.json"),
])
def test_score_predictions_defaults_to_the_datasets_script(dataset, predictions):
    data = read_squad(DATA / dataset)
    preds = load_predictions(DATA / predictions)
    assert score_predictions(preds, data).per_question == \
        score_predictions(preds, data.golds(), normalization=data.normalization).per_question
    if data.normalization == "squad":
        raw = json.loads((DATA / dataset).read_text(encoding="utf-8"))["data"]
        assert score_predictions(preds, data).official() == v11_evaluate(raw, {k: v.text for k, v in preds.items()})


def test_squad2_dataset_scored_with_v2_rules():
    data = read_squad(DATA / "squad_v20_small.json")
    assert data.normalization == "squad2"
    preds = {q.id: ("" if q.unanswerable else q.gold_texts[0]) for q in data.questions}
    scores = score_predictions(preds, data)
    for q in data.questions:
        assert scores.per_question[q.id] == official_scores("squad2", preds[q.id], list(q.gold_texts))


# ------------------------------------------------------------------------------------------ written files' modes
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_respect_the_umask(tmp_path, umask):
    import os
    import stat

    from qaaudit.report.writer import write_report
    from qaaudit.results import write_json_atomic
    from qaaudit.squad import import_squad, write_text_atomic

    old = os.umask(umask)
    try:
        write_json_atomic(tmp_path / "results.json", {"a": 1})
        write_text_atomic(tmp_path / "imported.audit.yaml", import_squad(DATA / "squad_v11_small.json"))
        case = CaseResult(nodeid="a.audit.yaml::c", path="a.audit.yaml", line=1, case_id="c", outcome="failed",
                          question="q", context="ctx", gold=("ctx",), prediction={"text": "x", "start": 0, "end": 1})
        write_report(RunResult(cases=(case,)), tmp_path / "report")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)   # noqa: E731
    assert mode(tmp_path / "results.json") == 0o666 & ~umask
    assert mode(tmp_path / "imported.audit.yaml") == 0o666 & ~umask
    assert mode(tmp_path / "report") == 0o777 & ~umask
    for p in (tmp_path / "report").rglob("*"):
        assert mode(p) == (0o777 if p.is_dir() else 0o666) & ~umask, p

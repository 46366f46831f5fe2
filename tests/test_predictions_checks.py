"""Checks of items done before issue 18's scoring work, verified from the outside: a predictions file without
scores leaves confidence unknown, offsets are checked only against answer_start, the gate shows the digits that
make a verdict visible, and a dataset source runs in predictions mode with EM/F1 in the summary."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from qaaudit.gate import _fmt_pair

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _preload(preloaded_qaaudit) -> None:
    """In-process runs re-import modules the first run imported (yaml's event classes among them)."""

CONTEXT = "Rosé was born in Auckland in 1997 and grew up in Melbourne."


@settings(max_examples=500, deadline=None)
@given(measured=st.floats(0, 1), threshold=st.floats(0, 1))
def test_shown_numbers_show_the_verdict(measured, threshold):
    a, b = _fmt_pair(measured, threshold, ">=")
    assert (float(a) >= float(b)) == (measured >= threshold)
    assert (float(a) == float(b)) == (measured == threshold)


def test_the_issues_gate_line():
    assert _fmt_pair(0.92196, 0.922, ">=") == ("0.92196", "0.922")


def test_no_score_is_unknown_and_offsets_need_answer_start(pytester):
    pytester.makefile(".audit.yaml", a=f"""
cases:
  - id: with-score
    question: Where was Rosé born?
    context: {CONTEXT}
    answers: [{{text: Auckland, start: 17}}]
    expect:
      prediction: {{exact_match: true, offsets: true, min_confidence: 0.99}}
  - id: without-score
    question: Where did she grow up?
    context: {CONTEXT}
    answer: Melbourne
    expect:
      prediction: {{exact_match: true, offsets: true, min_confidence: 0.99}}
""")
    pytester.makefile(".jsonl", preds='{"id": "with-score", "answer": "Auckland", "score": 0.5, "answer_start": 17}\n'
                                      '{"id": "without-score", "answer": "Melbourne"}\n')
    result = pytester.runpytest("--qaaudit-predictions=preds.jsonl", "--qaaudit-report=rep", "-p", "no:cacheprovider")
    data = json.loads((pytester.path / "rep" / "results.json").read_text(encoding="utf-8"))
    verdicts = {c["case_id"]: {v["check"]: v for v in c["verdicts"]} for c in data["cases"]}
    assert verdicts["with-score"]["confidence"]["passed"] is False            # 0.5 < 0.99
    assert verdicts["with-score"]["offsets"]["passed"] is True                # answer_start 17 given
    assert verdicts["without-score"]["confidence"]["passed"] is None          # unknown, not 1.0
    assert verdicts["without-score"]["offsets"]["passed"] is None             # no answer_start: not checked
    assert verdicts["without-score"]["exact_match"]["passed"] is True
    outcomes = {c["case_id"]: c["outcome"] for c in data["cases"]}
    assert outcomes == {"with-score": "failed", "without-score": "passed"}
    assert result.ret == 1
    overall = data["summary"]["overall"] if "summary" in data else None
    assert overall is not None and overall["mean_em"] == 1.0 and overall["pass_rate"] == 0.5


def test_a_dataset_source_in_predictions_mode(pytester):
    rows = [{"id": "k1", "question": "국제 체스 연맹의 약칭은?", "context": "국제 체스 연맹(《FIDE》)은 1924년에 세워졌다.",
             "answers": ["《FIDE》"]},
            {"id": "k2", "question": "언제 세워졌나?", "context": "국제 체스 연맹(《FIDE》)은 1924년에 세워졌다.",
             "answers": ["1924년"]}]
    pytester.makefile(".jsonl", data="\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    pytester.makefile(".audit.yaml", a="normalization: korquad\ndefaults:\n  expect:\n    prediction: {exact_match: true}\n"
                                      "datasets:\n  - path: data.jsonl\n    tags: [ko]\n")
    pytester.makefile(".json", preds=json.dumps({"k1": "FIDE", "k2": "1924"}, ensure_ascii=False))
    result = pytester.runpytest("--qaaudit-predictions=preds.json", "--qaaudit-report=rep", "-p", "no:cacheprovider",
                                "-m", "ko")
    result.assert_outcomes(passed=1, failed=1)   # 《FIDE》 = FIDE under KorQuAD's rules; 1924 != 1924년
    data = json.loads((pytester.path / "rep" / "results.json").read_text(encoding="utf-8"))
    by_id = {c["case_id"]: c for c in data["cases"]}
    assert by_id["k1"]["normalization"] == "korquad"
    overall = data["summary"]["overall"]
    # KorQuAD evaluate-v1.0.py: k1 EM 1 F1 1; k2 EM 0, F1 of 1924 vs 1924년: P=1, R=4/5 -> 8/9
    assert overall["mean_em"] == 0.5 and overall["mean_f1"] == pytest.approx((1 + 8 / 9) / 2, abs=1e-12)

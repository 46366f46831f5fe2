"""Release gating through the plugin: a baseline model, a baseline results file, a predictions file."""
from __future__ import annotations

import json

import pytest

import qaaudit

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.usefixtures("preloaded_qaaudit")

QUESTION = "Where was Rose born?"
CONTEXT = "Rose was born in Auckland in 1997. She grew up in Melbourne and debuted in Seoul in 2016."


def _audit(gold: str, model: str) -> str:
    return f"""
model: {model}
cases:
  - id: rose-born
    question: {QUESTION}
    context: {CONTEXT}
    answer: {json.dumps(gold)}
    expect:
      prediction: {{exact_match: true}}
  - id: always-fine
    question: {QUESTION}
    context: {CONTEXT}
    answer: Auckland
    expect:
      prediction: {{f1: 0.0}}
"""


@pytest.fixture
def two_models(tiny_checkpoint):
    """Two tiny models (different seeds) and a gold answer the first gets right and the second not."""
    for seed in range(1, 8):
        a, b = tiny_checkpoint("bert"), tiny_checkpoint("bert", seed=seed)
        pa = qaaudit.predict(qaaudit.load_model(a, device="cpu"), QUESTION, CONTEXT)[0]
        pb = qaaudit.predict(qaaudit.load_model(b, device="cpu"), QUESTION, CONTEXT)[0]
        if pa.text.lower() != pb.text.lower():
            return a, b, pa.text
    pytest.skip("no seed gave two tiny models with different answers")


def test_baseline_model_regression_fails_the_gate(pytester, two_models):
    released, candidate, gold = two_models
    pytester.makefile(".audit.yaml", gate=_audit(gold, str(candidate)))
    report = pytester.path / "rep"
    result = pytester.runpytest("--qaaudit-baseline", str(released), "--qaaudit-report", str(report),
                                "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*qaaudit gate: FAILED*", "*regression*"])
    assert result.ret == 1
    data = json.loads((report / "results.json").read_text(encoding="utf-8"))
    assert data["gate"]["passed"] is False
    statuses = {c["nodeid"].split("::")[-1]: c["status"] for c in data["baseline"]["cases"]}
    assert statuses["rose-born"] == "pass->fail" and statuses["always-fine"] == "pass->pass"


def test_baseline_results_file_and_a_fix(pytester, two_models):
    released, candidate, gold = two_models
    pytester.makefile(".audit.yaml", gate=_audit(gold, str(candidate)))
    # the released model's run, as CI would keep it
    first = pytester.runpytest("--qaaudit-model", str(released), "--qaaudit-report", "old", "-p", "no:cacheprovider")
    assert first.ret == 0
    # the candidate fails the case the released model passed: a regression, from the results file alone
    second = pytester.runpytest("--qaaudit-baseline-results", "old/results.json", "--qaaudit-report", "new",
                                "-p", "no:cacheprovider")
    second.stdout.fnmatch_lines(["*qaaudit gate: FAILED*"])
    assert second.ret == 1
    # the other way round it is a fix, and no regression: the gate passes although nothing is compared badly
    third = pytester.runpytest("--qaaudit-model", str(released), "--qaaudit-baseline-results", "new/results.json",
                               "--qaaudit-report", "third", "-p", "no:cacheprovider")
    third.stdout.fnmatch_lines(["*qaaudit gate: PASSED*"])
    assert third.ret == 0


def test_gate_tolerates_a_failure_it_allows(pytester, tiny_checkpoint):
    model = tiny_checkpoint("bert")
    pytester.makefile(".audit.yaml", gate=_audit("not the answer at all", str(model)).replace(
        "answer: \"not the answer at all\"", "answer: Auckland in 1997. She grew up"))
    pytester.makefile(".toml", pyproject="[tool.qaaudit.gate]\nmin_pass_rate = 0.5\n")
    tolerant = pytester.runpytest("--qaaudit-no-report", "-p", "no:cacheprovider")
    tolerant.stdout.fnmatch_lines(["*qaaudit gate: PASSED*"])
    assert tolerant.ret == 0  # one case failed, the gate allows half
    strict = pytester.runpytest("--qaaudit-no-report", "--qaaudit-min-pass-rate", "1.0", "-p", "no:cacheprovider")
    strict.stdout.fnmatch_lines(["*qaaudit gate: FAILED*"])
    assert strict.ret == 1


def test_predictions_file_is_audited_without_a_model(pytester, tiny_checkpoint):
    pytester.makefile(".audit.yaml", gate=_audit("Auckland", "/nonexistent/model/dir"))
    pytester.makefile(".json", preds=json.dumps({"rose-born": "Auckland", "always-fine": "Seoul"}))
    result = pytester.runpytest("--qaaudit-predictions", "preds.json", "--qaaudit-report", "rep", "-v",
                                "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    data = json.loads((pytester.path / "rep" / "results.json").read_text(encoding="utf-8"))
    assert {c["prediction"]["text"] for c in data["cases"]} == {"Auckland", "Seoul"}


def test_a_case_missing_from_the_predictions_file_scores_zero_and_is_listed(pytester):
    audit = _audit("Auckland", "/nonexistent/model/dir").replace("{f1: 0.0}", "{exact_match: true}")
    pytester.makefile(".audit.yaml", gate=audit)
    pytester.makefile(".json", preds=json.dumps({"rose-born": "Auckland", "unrelated-1": "x", "unrelated-2": "y"}))
    result = pytester.runpytest("--qaaudit-predictions=preds.json", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED       # the run goes on: one case fails, one passes
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*1 of 2 cases have no prediction in*preds.json*score 0*'always-fine'*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    data = json.loads((pytester.path / "reports" / "results.json").read_text(encoding="utf-8"))
    assert data["predictions"]["missing"] == ["always-fine"] and data["predictions"]["extra"] == 2
    case = next(c for c in data["cases"] if c["case_id"] == "always-fine")
    assert case["prediction"] is None
    assert [(v["check"], v["passed"], v["measured"]) for v in case["verdicts"]] == [("exact_match", False, 0.0)]
    assert any("no prediction" in note for note in data["notes"])
    assert data["summary"]["overall"]["mean_em"] == 0.5


def test_a_missing_unanswerable_prediction_is_wrong_too(pytester):
    """An empty answer would pass an unanswerable case; a missing prediction must not."""
    pytester.makefile(".audit.yaml", gate=f"""
cases:
  - id: nobody
    question: Who won?
    context: {CONTEXT}
    unanswerable: true
""")
    pytester.makefile(".json", preds=json.dumps({"other": ""}))
    result = pytester.runpytest("--qaaudit-predictions=preds.json", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)


def test_predictions_strict_keeps_the_usage_error(pytester):
    pytester.makefile(".audit.yaml", gate=_audit("Auckland", "/nonexistent/model/dir"))
    pytester.makefile(".json", preds=json.dumps({"rose-born": "Auckland", "unrelated-1": "x", "unrelated-2": "y"}))
    result = pytester.runpytest("--qaaudit-predictions=preds.json", "--qaaudit-predictions-strict",
                                "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*qaaudit:*preds.json*always-fine*strict*"])
    assert "Traceback" not in result.stderr.str()

"""The gate on hand-built runs: each setting passing and failing, config errors, baseline comparison."""
from __future__ import annotations

import json

import pytest

from qaaudit.errors import BaselineError, GateConfigError, InvalidArgument
from qaaudit.gate import (
    Comparison,
    GateConfig,
    compare,
    evaluate_gate,
    load_gate_config,
    parse_override,
    read_results,
    render_gate,
)
from qaaudit.results import CaseResult, RunResult, Verdict, write_json_atomic


def case(cid: str, outcome: str = "passed", *, path: str = "audits/facts.audit.yaml", tags=(), gold=("Paris",),
         answer: str | None = "Paris", score: float = 0.9, delta: float | None = None, verdicts=(),
         unanswerable: bool = False, kind: str = "case") -> CaseResult:
    expl = None
    if delta is not None:
        expl = {"start": {"delta": delta, "abs_delta": abs(delta)}, "end": {"delta": -delta / 2, "abs_delta": abs(delta) / 2}}
    return CaseResult(
        nodeid=f"{path}::{cid}", path=path, line=1, case_id=cid, outcome=outcome, kind=kind, tags=tuple(tags),
        gold=tuple(gold), unanswerable=unanswerable, verdicts=tuple(verdicts), explanation=expl,
        prediction=None if answer is None else {"text": answer, "start": 0, "end": len(answer), "score": score})


def run(*cases: CaseResult, model: str = "candidate") -> RunResult:
    return RunResult(cases=tuple(cases), model={"name": model})


# ------------------------------------------------------------------ each setting passes and fails

def test_empty_config_passes_and_says_nothing_was_checked():
    verdict = evaluate_gate(run(case("a", "failed")), None)
    assert verdict.passed and [c.name for c in verdict.checks] == ["run_complete"]
    assert "no gate settings configured: only that every selected item ran was checked" in render_gate(verdict)


def test_min_pass_rate_counts_xpassed_as_pass_and_leaves_xfailed_and_skipped_out():
    r = run(case("a"), case("b", "xpassed"), case("c", "failed"), case("d", "error"),
            case("e", "xfailed"), case("f", "skipped"))
    passing = evaluate_gate(r, GateConfig(min_pass_rate=0.5))
    failing = evaluate_gate(r, GateConfig(min_pass_rate=0.51))
    assert passing.passed and passing.numbers["pass_rate"] == 0.5
    assert not failing.passed
    assert failing.reasons == ("pass_rate = 0.5, required >= 0.51 "
                               "(2 of 4 counted items passed; 1 xfailed and 1 skipped not counted)",)


def test_min_pass_rate_with_no_counted_item_fails():
    verdict = evaluate_gate(run(case("a", "xfailed")), GateConfig(min_pass_rate=0.0))
    assert not verdict.passed and "nothing to measure" in verdict.reasons[0]


def test_min_pass_rate_by_tag():
    r = run(case("a", tags=["ko"]), case("b", "failed", tags=["ko"]), case("c", "failed", tags=["en"]))
    assert evaluate_gate(r, GateConfig(min_pass_rate_by_tag={"ko": 0.5})).passed
    verdict = evaluate_gate(r, GateConfig(min_pass_rate_by_tag={"ko": 0.5, "en": 0.5}))
    assert not verdict.passed
    assert verdict.reasons == ("pass_rate[tag=en] = 0, required >= 0.5 (0 of 1 counted items passed)",)
    unknown = evaluate_gate(r, GateConfig(min_pass_rate_by_tag={"kor": 0.1}))
    assert not unknown.passed and "no item carries the tag 'kor'" in unknown.reasons[0]


def test_min_pass_rate_by_file_matches_exact_path_glob_and_basename():
    r = run(case("a", path="audits/facts.audit.yaml"), case("b", "failed", path="audits/dates.audit.yaml"))
    assert evaluate_gate(r, GateConfig(min_pass_rate_by_file={"audits/facts.audit.yaml": 1.0})).passed
    assert evaluate_gate(r, GateConfig(min_pass_rate_by_file={"facts.audit.yaml": 1.0})).passed
    verdict = evaluate_gate(r, GateConfig(min_pass_rate_by_file={"audits/*.audit.yaml": 0.6}))
    assert not verdict.passed and verdict.numbers["pass_rate[file=audits/*.audit.yaml]"] == 0.5
    assert not evaluate_gate(r, GateConfig(min_pass_rate_by_file={"nope.audit.yaml": 0.1})).passed


def test_min_mean_em_and_f1_from_verdicts_or_computed_from_prediction_and_gold():
    r = run(
        # verdicts carry the numbers (they win over recomputation)
        case("a", verdicts=[Verdict("prediction", "exact_match", True, 1.0, 1.0),
                            Verdict("prediction", "f1", True, 1.0, 0.5)], answer="ignored"),
        # computed: "the Eiffel tower" vs gold "Eiffel Tower" -> EM 1, F1 1
        case("b", gold=("Eiffel Tower",), answer="the Eiffel tower"),
        # computed: "Paris France" vs "Paris" -> EM 0, F1 2/3
        case("c", answer="Paris France"),
        # no prediction at all: scores 0, as the official script scores an unanswered question
        case("d", "error", answer=None),
        # not counted: unanswerable, skipped, robustness items
        case("e", unanswerable=True, gold=()), case("f", "skipped"), case("g", kind="robustness", answer="x"),
    )
    verdict = evaluate_gate(r, GateConfig(min_mean_em=0.5, min_mean_f1=0.66))
    assert verdict.numbers["gold_cases"] == 4
    assert verdict.numbers["mean_em"] == pytest.approx(0.5)
    assert verdict.numbers["mean_f1"] == pytest.approx((1 + 1 + 2 / 3 + 0) / 4)
    assert verdict.passed
    failing = evaluate_gate(r, GateConfig(min_mean_em=0.75, min_mean_f1=0.7))
    assert not failing.passed and [c.name for c in failing.checks if not c.passed] == ["mean_em", "mean_f1"]


def test_mean_em_with_no_gold_cases_fails():
    verdict = evaluate_gate(run(case("a", unanswerable=True, gold=())), GateConfig(min_mean_em=0.1))
    assert not verdict.passed and "no case with a gold answer" in verdict.reasons[0]


def test_delta_limits():
    r = run(case("a", delta=0.02), case("b", delta=-0.1), case("c"))
    # targets: 0.02, 0.01, 0.1, 0.05 -> mean 0.045, worst 0.1 at b
    ok = evaluate_gate(r, GateConfig(max_mean_abs_delta=0.05, max_worst_abs_delta=0.1))
    assert ok.passed
    assert ok.numbers["mean_abs_delta"] == pytest.approx(0.045)
    bad = evaluate_gate(r, GateConfig(max_mean_abs_delta=0.04, max_worst_abs_delta=0.09))
    assert not bad.passed and len(bad.reasons) == 2
    assert "at audits/facts.audit.yaml::b" in bad.reasons[1]
    none = evaluate_gate(run(case("a")), GateConfig(max_worst_abs_delta=1.0))
    assert not none.passed and "no item has attributions" in none.reasons[0]


# ------------------------------------------------------------------ regressions

def two_runs():
    baseline = run(case("a"), case("b"), case("c", "failed"), case("d", "failed"), case("gone"), model="released")
    candidate = run(case("a"), case("b", "failed", answer="London", score=0.4), case("c"), case("d", "failed"),
                    case("new"))
    return candidate, baseline


def test_compare_classifies_every_case_and_lists_regressions_first():
    candidate, baseline = two_runs()
    cmp = compare(candidate, baseline)
    assert [(c.nodeid.split("::")[1], c.status) for c in cmp.cases] == [
        ("b", "pass->fail"), ("c", "fail->pass"), ("d", "fail->fail"), ("new", "new"), ("gone", "missing"),
        ("a", "pass->pass")]
    b = cmp.regressions[0]
    assert b.em_change == -1.0 and b.f1_change == -1.0
    assert b.confidence_change == pytest.approx(0.4 - 0.9)
    assert b.candidate["answer"] == "London" and b.baseline["answer"] == "Paris"
    d = cmp.to_dict()
    assert d["regressions"] == ["audits/facts.audit.yaml::b"] and d["counts"]["pass->fail"] == 1
    assert d["baseline_model"] == {"name": "released"}
    assert Comparison.from_dict(json.loads(json.dumps(d))).regressions[0].nodeid == b.nodeid


def test_compare_focus_change_from_share_verdicts():
    base = run(case("a", verdicts=[Verdict("focus", "share", True, 0.6, 0.3)]))
    cand = run(case("a", verdicts=[Verdict("focus", "share", True, 0.4, 0.3)]))
    assert compare(cand, base).cases[0].focus_change == pytest.approx(-0.2)


def test_a_regression_fails_the_gate_even_when_nothing_else_is_configured():
    candidate, baseline = two_runs()
    verdict = evaluate_gate(candidate, None, compare(candidate, baseline))
    assert not verdict.passed
    assert verdict.reasons[0].startswith("regressions = 1, required <= 0 (passed on the baseline, failed now: "
                                         "audits/facts.audit.yaml::b)")
    assert verdict.numbers["fixes"] == 1
    text = render_gate(verdict)
    assert text.startswith("qaaudit gate: FAILED\n  - regressions = 1")


def test_allowed_regressions_and_max_regressions():
    candidate, baseline = two_runs()
    cmp = compare(candidate, baseline)
    allowed = evaluate_gate(candidate, GateConfig(allow_regressions=("audits/facts.audit.yaml::b",)), cmp)
    assert allowed.passed and allowed.numbers["regressions_allowed"] == 1
    assert evaluate_gate(candidate, GateConfig(max_regressions=1), cmp).passed
    assert not evaluate_gate(candidate, GateConfig(max_regressions=0), cmp).passed


def test_max_regressions_without_a_baseline_fails():
    verdict = evaluate_gate(run(case("a")), GateConfig(max_regressions=2))
    assert not verdict.passed and "no baseline ran" in verdict.reasons[0]


def test_verdict_to_dict_is_json():
    candidate, baseline = two_runs()
    verdict = evaluate_gate(candidate, GateConfig(min_pass_rate=0.1), compare(candidate, baseline))
    d = json.loads(json.dumps(verdict.to_dict(), allow_nan=False))
    assert d["status"] == "FAILED" and d["settings"] == {"min_pass_rate": 0.1}
    assert [c["name"] for c in d["checks"]] == ["regressions", "run_complete", "pass_rate"]


# ------------------------------------------------------------------ settings

@pytest.mark.parametrize("kw, message", [
    ({"min_pass_rate": 1.5}, "min_pass_rate = 1.5 is outside [0, 1]"),
    ({"min_mean_f1": 85}, "write it as a fraction (0.85)"),
    ({"min_mean_em": "0.5"}, "min_mean_em = '0.5' must be a number"),
    ({"min_pass_rate_by_tag": {"ko": -0.1}}, "min_pass_rate_by_tag.ko = -0.1 is outside [0, 1]"),
    ({"min_pass_rate_by_file": {"": 0.5}}, "empty name"),
    ({"max_regressions": -1}, "max_regressions = -1 must be a whole number >= 0"),
    ({"max_regressions": True}, "must be a whole number"),
    ({"allow_regressions": ("case-1",)}, "'case-1' is not a node id"),
    ({"allow_regressions": ("a::b", "a::b")}, "lists a::b more than once"),
    ({"allow_regressions": ("a::b",), "max_regressions": 2}, "both tolerate regressions"),
    ({"max_mean_abs_delta": -0.1}, "must be a finite number >= 0"),
    ({"max_mean_abs_delta": 0.1, "max_worst_abs_delta": 0.01}, "probably swapped"),
])
def test_bad_settings_raise_gate_config_error(kw, message):
    with pytest.raises(GateConfigError, match=None) as info:
        GateConfig(**kw)
    assert message in str(info.value)


def test_allow_regressions_with_max_regressions_zero_is_fine():
    assert GateConfig(allow_regressions=("a::b",), max_regressions=0).max_regressions == 0


def test_load_from_pyproject_with_overrides(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.qaaudit.gate]\nmin_pass_rate = 0.9\nmin_pass_rate_by_tag = { korean = 0.8 }\n'
        'allow_regressions = ["audits/a.audit.yaml::x"]\n', encoding="utf-8")
    config = load_gate_config(tmp_path, {})
    assert config.min_pass_rate == 0.9 and dict(config.min_pass_rate_by_tag) == {"korean": 0.8}
    assert config.allow_regressions == ("audits/a.audit.yaml::x",)
    over = load_gate_config(tmp_path, dict([parse_override("min_pass_rate=0.5"),
                                            parse_override("min_pass_rate_by_tag.english=0.7"),
                                            parse_override("min_mean_f1 = 0.6")]))
    assert over.min_pass_rate == 0.5 and over.min_mean_f1 == 0.6
    assert dict(over.min_pass_rate_by_tag) == {"korean": 0.8, "english": 0.7}
    assert "command-line overrides" in over.source


def test_load_from_qaaudit_toml_and_none_when_unconfigured(tmp_path):
    assert load_gate_config(tmp_path, {}) is None
    (tmp_path / "pyproject.toml").write_text("[tool.other]\nx = 1\n", encoding="utf-8")
    assert load_gate_config(tmp_path, None) is None
    (tmp_path / "qaaudit.toml").write_text("[gate]\nmax_regressions = 0\nmin_mean_em = 0.7\n", encoding="utf-8")
    config = load_gate_config(tmp_path, {})
    assert config.max_regressions == 0 and config.min_mean_em == 0.7
    assert load_gate_config(tmp_path / "nowhere", {"max_regressions": "2"}).max_regressions == 2


def test_load_errors_name_the_file_and_the_remedy(tmp_path):
    (tmp_path / "qaaudit.toml").write_text("[gate]\nmin_pass_rat = 0.9\n", encoding="utf-8")
    with pytest.raises(GateConfigError, match=r"unknown gate setting 'min_pass_rat' in .*qaaudit.toml \[gate\]; "
                                              r"did you mean 'min_pass_rate'\?"):
        load_gate_config(tmp_path, {})
    (tmp_path / "qaaudit.toml").write_text("[gate]\nmin_pass_rate = 0.9\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.qaaudit.gate]\nmin_pass_rate = 0.8\n", encoding="utf-8")
    with pytest.raises(GateConfigError, match="found in both .* keep one of them"):
        load_gate_config(tmp_path, {})
    (tmp_path / "qaaudit.toml").unlink()
    (tmp_path / "pyproject.toml").write_text("[tool.qaaudit.gate\n", encoding="utf-8")
    with pytest.raises(GateConfigError, match="not valid TOML"):
        load_gate_config(tmp_path, {})
    with pytest.raises(GateConfigError, match="is not KEY=VALUE"):
        parse_override("min_pass_rate")
    with pytest.raises(GateConfigError, match=r"max_regressions = 'x' \(command line\)"):
        load_gate_config(tmp_path / "none", {"max_regressions": "x"})
    with pytest.raises(GateConfigError, match="did you mean 'max_regressions'"):
        load_gate_config(tmp_path / "none", {"max_regresions": "1"})


# ------------------------------------------------------------------ results files

def test_read_results_round_trip_and_errors(tmp_path):
    candidate, _ = two_runs()
    good = tmp_path / "results.json"
    write_json_atomic(good, candidate.to_dict())
    assert read_results(good, baseline=True).cases == candidate.cases
    with pytest.raises(BaselineError, match=r"'.*missing.json' does not exist .* results.json"):
        read_results(tmp_path / "missing.json", baseline=True)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(BaselineError, match=r"is not JSON \(line 1, column 2"):
        read_results(bad, baseline=True)
    bad.write_text('{"predictions": {}}', encoding="utf-8")
    with pytest.raises(BaselineError, match="not a qaaudit results.json"):
        read_results(bad, baseline=True)
    bad.write_text('{"schema": "qaaudit.results/0", "cases": []}', encoding="utf-8")
    with pytest.raises(BaselineError, match="has schema 'qaaudit.results/0'"):
        read_results(bad, baseline=True)
    bad.write_text('{"schema": "qaaudit.results/1", "cases": [{"nodeid": "x"}]}', encoding="utf-8")
    with pytest.raises(InvalidArgument, match="malformed case record"):
        read_results(bad)

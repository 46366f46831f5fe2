"""Template items through the plugin, driven from the outside with ``pytester``.

Verdicts are controlled with a predictions file (each generated case has its own id, ``template[i]``), so that
a template's pass rate is known exactly; the runs on the tiny random BERT prove the model path and that
generation is the same with and without xdist workers.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

NAMES = "[Ann, Bob, Cyd, Dee, Eve, Fay, Gus, Hal, Ivy, Jo]"


@pytest.fixture(scope="module", autouse=True)
def _preload(preloaded_qaaudit) -> None:
    """Every in-process run here needs torch imported beforehand: see the conftest fixture."""


def audit_text(model: Path | None = None, min_pass_rate: float = 0.8) -> str:
    head = f"model: {model}\n" if model is not None else ""
    return head + f"""\
lexicons:
  people: {NAMES}
templates:
  - id: lives-in
    capability: lookup
    context: "{{p}} lives in {{city}}. {{q}} lives in Oslo."
    question: "Where does {{p}} live?"
    answer: "{{city}}"
    slots: {{p: people, q: people, city: [Paris, Lima, Rome, Kyiv, Baku]}}
    distinct: [p, q]
    n: 10
    min_pass_rate: {min_pass_rate}
    tags: [english]
    expect:
      prediction: {{exact_match: true}}
      focus: {{target: {{slot: p}}, share: 0.0}}   # attribution on what filled p (skipped for a predictions file)
  - id: ko-born
    capability: numbers_dates
    context: "{{p:은/는}} {{y}}년에 태어났다."
    question: "{{p:은/는}} 몇 년에 태어났습니까?"
    answer: "{{y}}년"
    slots: {{p: korean_name, y: {{range: [1950, 1999]}}}}
    n: 6
    tags: [korean]
"""


def generated(pytester, ckpt=None) -> dict[str, list]:
    """The generated cases of the file (ids -> gold), as the spec builds them."""
    from qaaudit.spec import load_audit

    audit = load_audit(pytester.path / "audits" / "t.audit.yaml")
    return {t.id: t.cases for t in audit.templates}


def write(pytester, text: str, correct: dict[str, set[int]] | None = None) -> Path:
    (pytester.path / "audits").mkdir(exist_ok=True)
    (pytester.path / "audits" / "t.audit.yaml").write_text(text, encoding="utf-8")
    preds = {}
    for tid, cases in generated(pytester).items():
        for i, case in enumerate(cases):
            ok = correct is None or i in correct.get(tid, set(range(len(cases))))
            preds[case.id] = case.answers[0].text if ok else "Oslo"
    path = pytester.path / "preds.json"
    path.write_text(json.dumps(preds, ensure_ascii=False), encoding="utf-8")
    return path


def run(pytester, *args):
    return pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-predictions=preds.json", *args)


def test_one_item_per_template_with_k_and_m_on_tags_and_capability(pytester):
    write(pytester, audit_text())
    result = pytester.runpytest("audits", "--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["audits/t.audit.yaml::lives-in", "audits/t.audit.yaml::ko-born", "*2 tests collected*"])
    for args, expected in ((["-m", "lookup"], "lives-in"), (["-m", "numbers_dates"], "ko-born"),
                           (["-m", "korean"], "ko-born"), (["-k", "lives"], "lives-in")):
        result = pytester.runpytest("audits", "--collect-only", "-q", "-p", "no:cacheprovider", *args)
        result.stdout.fnmatch_lines([f"audits/t.audit.yaml::{expected}", "*1/2 tests collected*"])
        assert "PytestUnknownMarkWarning" not in result.stdout.str()


@pytest.mark.parametrize("wrong,threshold,passes", [(2, 0.8, True), (3, 0.8, False), (0, 1.0, True),
                                                    (1, 1.0, False), (10, 0.0, True)])
def test_verdict_is_the_pass_rate_of_the_generated_cases_against_min_pass_rate(pytester, wrong, threshold, passes):
    write(pytester, audit_text(min_pass_rate=threshold), {"lives-in": set(range(wrong, 10))})
    result = run(pytester, "-v", "-rf")
    line = "*::lives-in PASSED*" if passes else "*::lives-in FAILED*"
    result.stdout.fnmatch_lines([line, "*::ko-born PASSED*"])
    if not passes:
        out = result.stdout.str()
        assert f"{10 - wrong} of 10 generated cases passed" in out and f"required >= {threshold:.1%}" in out
        assert "predicted 'Oslo'" in out and "[0] p=" in out   # a failing case, with what filled its slots
    data = json.loads((pytester.path / "reports" / "results.json").read_text(encoding="utf-8"))
    row = {r["template"]: r for r in data["capabilities"]["templates"]}["lives-in"]
    assert (row["cases"], row["failed"]) == (10, wrong) and row["failure_rate"] == pytest.approx(wrong / 10)
    by_cap = data["capabilities"]["by_capability_language"]["lookup/en"]
    assert by_cap["tests"] == 1 and by_cap["cases"] == 10 and by_cap["worst_template"] == "lives-in"
    assert data["totals"]["total"] == 2   # items, not generated cases
    kinds = [c.get("kind", "case") for c in data["cases"]]
    assert kinds.count("template") == 2 and kinds.count("generated") == 16


def test_report_has_the_capability_table_and_a_page_for_every_failing_generated_case(pytester):
    write(pytester, audit_text(min_pass_rate=0.1), {"lives-in": {0, 1, 2}, "ko-born": {0, 1, 2, 3, 4}})
    run(pytester, "--qaaudit-report-pages=0")
    index = (pytester.path / "reports" / "index.html").read_text(encoding="utf-8")
    assert 'id="capabilities"' in index and "numbers_dates" in index and "lookup" in index
    pages = "".join(p.read_text(encoding="utf-8") for p in (pytester.path / "reports" / "cases").glob("*.html"))
    failing = [f"lives-in[{i}]" for i in range(3, 10)] + ["ko-born[5]"]
    for case_id in failing:
        assert f"t.audit.yaml::{case_id}" in pages
    assert "t.audit.yaml::lives-in[0]" not in pages   # a pass, and no passes were asked for


def test_last_failed_reruns_the_failing_template_only(pytester):
    pytester.makeini("[pytest]\n")
    write(pytester, audit_text(min_pass_rate=1.0), {"lives-in": set(range(1, 10))})
    pytester.runpytest("audits", "--qaaudit-predictions=preds.json").assert_outcomes(passed=1, failed=1)
    result = pytester.runpytest("audits", "--qaaudit-predictions=preds.json", "--lf", "-v")
    result.stdout.fnmatch_lines(["*::lives-in FAILED*"])
    result.assert_outcomes(failed=1)


def test_gate_min_pass_rate_by_capability(pytester):
    write(pytester, audit_text(min_pass_rate=0.0), {"lives-in": set(range(3, 10))})
    pytester.makefile(".toml", qaaudit="[gate]\nmin_pass_rate_by_capability = { lookup = 0.6, numbers_dates = 0.9 }\n")
    result = run(pytester)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*pass_rate[[]capability=lookup[]]*0.7*>=*0.6*ok*"])
    pytester.makefile(".toml", qaaudit="[gate]\nmin_pass_rate_by_capability = { \"lookup/en\" = 0.8, negation = 0.5 }\n")
    result = run(pytester)
    assert result.ret == 1
    out = result.stdout.str()
    assert "pass_rate[capability=lookup/en] = 0.7, required >= 0.8" in out
    assert "no template has this capability" in out


def test_template_xfail_is_an_xfail(pytester):
    text = audit_text(min_pass_rate=1.0).replace("    tags: [english]", "    tags: [english]\n    xfail: known")
    write(pytester, text, {"lives-in": set()})
    result = run(pytester, "-v")
    result.stdout.fnmatch_lines(["*::lives-in XFAIL*"])
    assert result.ret == 0


def test_runs_on_a_model_and_generates_the_same_cases_with_and_without_xdist(pytester, tiny_checkpoint):
    ckpt = tiny_checkpoint("bert")
    write(pytester, audit_text(model=ckpt, min_pass_rate=0.0))
    seen = []
    for extra in ([], ["-n", "2"]):
        out = f"rep{len(seen)}"
        result = pytester.runpytest_subprocess("audits", "-p", "no:cacheprovider", "--qaaudit-no-cache",
                                               f"--qaaudit-report={out}", "--qaaudit-report-pages=0", *extra)
        outcomes = result.parseoutcomes()
        assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 2 and "error" not in outcomes
        data = json.loads((pytester.path / out / "results.json").read_text(encoding="utf-8"))
        ctx = data["contexts"]
        seen.append(sorted((c["nodeid"], ctx[c["context"]], (c.get("prediction") or {}).get("text"))
                           for c in data["cases"] if c.get("kind") == "generated"))
        focus = [v for c in data["cases"] if c.get("kind") == "generated" for v in c["verdicts"]
                 if v["expectation"] == "focus"]
        assert len(focus) == 20 and all(v["passed"] is True and v["measured"] >= 0 for v in focus)
    assert len(seen[0]) == 16 and seen[0] == seen[1]


def test_robustness_checks_of_a_template_run_on_every_generated_case(pytester, tiny_checkpoint):
    ckpt = tiny_checkpoint("bert")
    text = f"""\
model: {ckpt}
templates:
  - id: lives
    capability: lookup
    context: "{{p}} lives in {{city}}."
    question: "Where does {{p}} live?"
    answer: "{{city}}"
    slots: {{p: [Ann, Bob, Cyd], city: [Paris, Lima]}}
    n: 3
    min_pass_rate: 0.0
    expect:
      prediction: {{f1: 0.0}}
    robustness:
      - {{perturbation: whitespace, property: invariance, examples: 2, f1: 0.0}}
"""
    (pytester.path / "audits").mkdir()
    (pytester.path / "audits" / "r.audit.yaml").write_text(text, encoding="utf-8")
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-cache", "--qaaudit-report-pages=0")
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "reports" / "results.json").read_text(encoding="utf-8"))
    gen = [c for c in data["cases"] if c.get("kind") == "generated"]
    assert len(gen) == 3
    assert all(any(v["expectation"] == "robustness" for v in c["verdicts"]) for c in gen)


def test_capability_numbers_and_template_changes_against_a_baseline():
    from qaaudit.capabilities import capability_table, template_changes
    from qaaudit.results import CaseResult, RunResult

    def run(failed: dict[str, int]) -> RunResult:
        cases = []
        for tid, (cap, lang) in {"a": ("negation", "ko"), "b": ("negation", "en"), "c": ("temporal", "ko")}.items():
            node = f"audits/x.audit.yaml::{tid}"
            cases.append(CaseResult(node, "audits/x.audit.yaml", 1, tid, "failed" if failed[tid] > 2 else "passed",
                                    kind="template", template={"id": tid, "capability": cap, "language": lang}))
            cases += [CaseResult(f"{node}[{i}]", "audits/x.audit.yaml", 1, f"{tid}[{i}]",
                                 "failed" if i < failed[tid] else "passed", kind="generated") for i in range(10)]
        return RunResult(cases=tuple(cases))

    now, before = run({"a": 4, "b": 1, "c": 0}), run({"a": 1, "b": 1, "c": 3})
    table = capability_table(now)
    assert table["by_capability"]["negation"]["cases"] == 20 and table["by_capability"]["negation"]["failed"] == 5
    assert table["by_capability_language"]["negation/ko"]["worst_template"] == "a"
    assert table["by_capability"]["negation"]["worst_template"] == "a"
    assert now.totals["total"] == 3
    changes = {c["template"]: c["change"] for c in template_changes(now, before)}
    assert changes == pytest.approx({"a": 0.3, "b": 0.0, "c": -0.3})
    assert [c["template"] for c in template_changes(now, before)] == ["a", "b", "c"]

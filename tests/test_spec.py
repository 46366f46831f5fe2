"""Audit files: specs built from valid files, located errors for invalid ones, JSON Schema."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from qaaudit.errors import SpecError
from qaaudit.schema import audit_schema
from qaaudit.spec import (
    AvoidExpectation,
    CompletenessExpectation,
    FaithfulnessExpectation,
    FocusExpectation,
    GoldAnswer,
    PredictionExpectation,
    SpanTarget,
    SpecErrors,
    UnanswerableExpectation,
    load_audit,
    parse_audit,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "audit-format.md"
CTX = "Rose was born in Auckland in 1997. Lisa was born in Bangkok."


def audit(body: str, head: str = "") -> Any:
    return parse_audit(textwrap.dedent(head) + "cases:\n" + textwrap.indent(textwrap.dedent(body), "  "),
                       "t.audit.yaml")


def error(body: str, head: str = "") -> SpecError:
    with pytest.raises(SpecError) as info:
        audit(body, head)
    return info.value


CASE = f"""\
- id: rose
  question: Where was Rose born?
  context: {CTX}
"""


def test_minimal_case_gets_an_implicit_exact_match() -> None:
    (case,) = audit(CASE + "  answer: Auckland\n").cases
    assert case.id == "rose" and case.line == 2 and case.answers == (GoldAnswer("Auckland"),)
    assert case.expectations == (PredictionExpectation(line=5, exact_match=True),)
    assert case.gold_spans == ((17, 25),) and not case.needs_attributions
    assert case.handle_impossible_answer is False and case.max_answer_len == 15


def test_full_case() -> None:
    (case,) = audit(CASE + """\
  answers: [Auckland, {text: "Auckland in 1997", start: 17}]
  tags: [english, lookup]
  xfail: the demo model misses years
  normalization: squad
  max_answer_len: 20
  attribution: {steps: 64, target: {rel_delta: 0.01}}
  expect:
    prediction: {f1: 0.9, offsets: true}
    focus:
      - {target: answer, share: 0.3}
      - {target: question, top_k: 3, position: end, mass: absolute}
    avoid: {target: {text: Lisa}, share: 0.1}
    completeness: {abs_delta: 0.05}
    faithfulness: {comprehensiveness: 0.1, top_percent: 10}
""").cases
    assert case.answers[1] == GoldAnswer("Auckland in 1997", 17)
    assert case.tags == ("english", "lookup") and case.xfail == "the demo model misses years"
    assert case.attribution.steps == 64 and case.attribution.rel_delta == 0.01 and case.attribution.abs_delta == 0.05
    exps = case.expectations
    assert exps[0] == PredictionExpectation(line=12, f1=0.9, offsets=True)  # f1 replaces the default EM
    assert exps[1] == FocusExpectation(line=14, target=SpanTarget("answer"), share=0.3)
    assert exps[2] == FocusExpectation(line=15, target=SpanTarget("question"), top_k=3, position="end",
                                       mass="absolute")
    assert exps[3] == AvoidExpectation(line=16, target=SpanTarget("text", text="Lisa"), share=0.1)
    assert exps[4] == CompletenessExpectation(line=17, abs_delta=0.05)
    assert exps[5] == FaithfulnessExpectation(line=18, comprehensiveness=0.1, top_percent=10.0)
    assert case.needs_attributions and exps[2].positions == ("end",)


def test_file_defaults_merge_into_cases() -> None:
    head = """\
    model: ./my-model
    normalization: squad
    defaults:
      max_answer_len: 30
      attribution: {method: riemann_trapezoid, baseline: zero}
      expect: {prediction: {f1: 0.7}, focus: {share: 0.4, position: start}, completeness: {abs_delta: 0.2}}
      robustness: [{perturbation: typos}]
    """
    file = audit(CASE + """\
  answer: Auckland
  max_answer_len: 5
  expect: {focus: {target: {start: 0, end: 4}}, completeness: true}
  robustness: [{perturbation: typos, examples: 5}, {perturbation: [distractor, reorder], f1: 0.5}]
""", head)
    assert file.model == "./my-model" and file.model_line == 1 and file.normalization == "squad"
    (case,) = file.cases
    assert case.max_answer_len == 5 and case.normalization == "squad"
    assert case.attribution.method == "riemann_trapezoid" and case.attribution.baseline == "zero"
    pred, focus, comp = case.expectations
    assert pred.f1 == 0.7 and not pred.exact_match
    assert focus.share == 0.4 and focus.position == "start" and focus.target == SpanTarget("range", "Rose", 0, 4)
    assert comp.abs_delta == 0.2 and comp.rel_delta is None
    # the case's `typos` replaces the file's; names identify the checks
    assert [(r.name, r.examples) for r in case.robustness] == [("typos", 5), ("distractor+reorder", None)]


def test_unanswerable_case() -> None:
    (case,) = audit(CASE + "  unanswerable: true\n").cases
    assert case.expectations == (UnanswerableExpectation(line=5),)
    assert case.handle_impossible_answer is True and case.answers == ()


def test_robustness_entries() -> None:
    (case,) = audit(CASE + """\
  answer: Auckland
  robustness:
    - {perturbation: rename_entity, property: directional, entity: Rose}
    - {perturbation: typos, property: attribution_stability, top_k: 3, max_edits: 2}
""").cases
    rename, stab = case.robustness
    assert rename.name == "rename_entity-directional" and rename.params == {"entity": "Rose"} and rename.line == 7
    assert stab.top_k == 3 and stab.overlap is None and stab.params == {"max_edits": 2}
    assert case.needs_attributions


# ----------------------------------------------------------------------------- errors
def test_unknown_key_did_you_mean() -> None:
    err = error(CASE + "  answer: Auckland\n  expect: {focus: {target: answer, shar: 0.3}}\n")
    assert (err.path, err.line, err.col) == ("t.audit.yaml", 6, 38)
    assert "unknown key 'shar'" in err.message and "did you mean 'share'?" in err.message
    assert str(err).startswith("t.audit.yaml:6:38: ")


def test_unknown_top_level_key() -> None:
    err = error(CASE + "  answer: Auckland\n", head="modle: x\n")
    assert err.line == 1 and "did you mean 'model'?" in err.message


@pytest.mark.parametrize(("snippet", "expected", "col"), [
    ("  answer: Auckland\n  expect: {focus: {target: answer, share: 1.5}}\n",
     "expect.focus.share must be a number in [0, 1], got 1.5", 45),
    ("  answer: Auckland\n  expect: {prediction: {f1: -0.1}}\n", "must be a number in [0, 1], got -0.1", 31),
    ("  answer: Auckland\n  expect: {completeness: {abs_delta: -1}}\n", "must be a number >= 0, got -1", 40),
    ("  answer: Auckland\n  attribution: {steps: 0}\n", "a whole number in [1, 4096], got 0", 26),
    ("  answer: Auckland\n  attribution: {steps: 100000}\n", "a whole number in [1, 4096], got 100000", 26),
    ("  answer: Auckland\n  attribution: {max_steps: " + "9" * 400 + "}\n", "max_steps must be a whole number", 30),
    ("  answer: Auckland\n  robustness: [{perturbation: typos, examples: 50000}]\n",
     "examples must be a whole number in [1, 10000], got 50000", 50),
    ("  answer: Auckland\n  expect: {focus: {target: answer, top_k: 0}}\n", "top_k must be a whole number in [1, ", 45),
    ("  answer: Auckland\n  expect: {faithfulness: {top_percent: 0}}\n", "number in (0, 100], got 0", 42),
    ("  answer: Auckland\n  expect: {faithfulness: {top_percent: 150}}\n", "number in (0, 100], got 150", 42),
    ("  answer: Auckland\n  normalization: korqad\n", "'korqad' is not one of auto, squad, squad2, korquad; did you mean 'korquad'?", 20),
    ("  answer: [Auckland]\n", "answer must be text or a mapping (text and start), got a list", 13),
    ("  answer: Auckland\n  tags: korean\n", "tags must be a list of text, got 'korean'", 11),
])
def test_wrong_values(snippet: str, expected: str, col: int) -> None:
    err = error(CASE + snippet)
    assert expected in err.message and err.col == col and err.hint


def test_missing_fields() -> None:
    err = error("- id: x\n  question: q\n  answer: a\n")
    assert "missing the required key 'context'" in err.message and err.line == 2
    assert error("[]", head="").message  # an empty list of cases
    err = error(CASE)
    assert "has no gold answer" in err.message and "unanswerable: true" in err.hint


def test_gold_answer_must_occur_in_the_context() -> None:
    err = error(CASE + "  answer: auckland\n")
    assert "'auckland'" in err.message and "does not occur in the context" in err.message
    assert err.line == 5 and "did you mean 'Auckland'?" in err.hint
    err = error(CASE + "  answer: {text: Auckland, start: 3}\n")
    assert "not at start 3" in err.message and "found 'e was bo' there" in err.message
    assert "it occurs at start 17" in err.hint and (err.line, err.col) == (5, 37)


def test_focus_targets_must_be_in_the_context() -> None:
    err = error(CASE + "  answer: Auckland\n  expect: {avoid: {target: {text: Lisaa}, share: 0.1}}\n")
    assert "text 'Lisaa'" in err.message and "did you mean 'Lisa" in err.hint
    err = error(CASE + "  answer: Auckland\n  expect: {focus: {target: {start: 10, end: 999}, share: 0.1}}\n")
    assert "outside the context" in err.message and f"<= {len(CTX)}" in err.hint
    err = error(CASE + "  unanswerable: true\n  expect: {focus: {target: answer, share: 0.1}}\n")
    assert "needs a gold answer" in err.message
    err = error(CASE + "  answer: Auckland\n  expect: {avoid: {share: 0.1}}\n")
    assert "needs a `target`" in err.message


def test_duplicate_ids_point_at_the_second() -> None:
    err = error(CASE + "  answer: Auckland\n" + CASE + "  answer: Bangkok\n")
    assert "duplicate case id 'rose'" in err.message and "line 2" in err.message and err.line == 6


def test_ids_may_be_any_unicode_but_not_empty() -> None:
    (case,) = audit(CASE.replace("id: rose", "id: 로제-출생지 🌹") + "  answer: Auckland\n").cases
    assert case.id == "로제-출생지 🌹"
    err = error(CASE.replace("id: rose", 'id: ""') + "  answer: Auckland\n")
    assert "id must be non-empty text" in err.message


def test_tags_must_be_marker_names() -> None:
    err = error(CASE + "  answer: Auckland\n  tags: [two words]\n")
    assert "cannot be a pytest marker" in err.message and "'two_words'" in err.hint
    err = error(CASE + "  answer: Auckland\n  tags: [xfail]\n")
    assert "pytest already uses" in err.message


def test_contradictions() -> None:
    err = error(CASE + "  answer: Auckland\n  unanswerable: true\n")
    assert "also gives `answer`" in err.message
    err = error(CASE + "  unanswerable: true\n  expect: {prediction: {f1: 0.5}}\n")
    assert "expect: {unanswerable: true}" in err.hint
    err = error(CASE + "  answer: Auckland\n  doc_stride: 128\n  max_seq_len: 64\n")
    assert "doc_stride 128 must be smaller than max_seq_len 64" in err.message


def test_robustness_errors() -> None:
    err = error(CASE + "  answer: Auckland\n  robustness: [{perturbation: typo}]\n")
    assert "'typo' is not one of" in err.message and "did you mean 'typos'?" in err.message
    err = error(CASE + "  answer: Auckland\n  robustness: [{perturbation: typos, overlap: 1.5}]\n")
    assert "overlap must be a number in [0, 1], got 1.5" in err.message
    err = error(CASE + "  answer: Auckland\n  robustness: [{perturbation: typos, property: directional}]\n")
    assert "directional check needs an edit" in err.message
    err = error(CASE + "  answer: Auckland\n  robustness: [{perturbation: typos, top_k: 3}]\n")
    assert "`top_k` does not apply to a invariance check" in err.message
    err = error(CASE + "  answer: Auckland\n  robustness:\n    - {perturbation: rename_entity, property: directional, entity: Jennie}\n")
    assert "'Jennie'" in err.message and "does not occur" in err.message and err.line == 7


def test_all_problems_are_reported_together() -> None:
    err = error(CASE + "  answer: Auckland\n  expect: {focus: {target: answer, share: 2}}\n"
                + CASE.replace("rose", "lisa") + "  answer: Bangkok\n  normalizaton: squad\n")
    assert isinstance(err, SpecErrors) and len(err.errors) == 2
    assert [e.line for e in err.errors] == [6, 11]
    assert "(2 problems in this file)" in str(err)


def test_load_audit_reads_files(tmp_path: Path) -> None:
    path = tmp_path / "x.audit.yaml"
    path.write_text("cases:\n" + textwrap.indent(CASE + "  answer: '1997'\n", "  "), encoding="utf-8")
    assert load_audit(path).cases[0].answers == (GoldAnswer("1997"),)
    path.write_text("cases:\n" + textwrap.indent(CASE + "  answer: 1997\n", "  "), encoding="utf-8")
    assert load_audit(path).cases[0].answers == (GoldAnswer("1997"),)  # unquoted: the text written


# ----------------------------------------------------------------------------- docs and schema
def _doc_example() -> str:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return max(blocks, key=len)


def test_documented_example_loads() -> None:
    file = parse_audit(_doc_example(), "docs/audit-format.md")
    families = {e.family for c in file.cases for e in c.expectations}
    assert families == {"prediction", "unanswerable", "focus", "avoid", "completeness", "faithfulness", "attention"}
    assert {r.property for c in file.cases for r in c.robustness} == {
        "invariance", "directional", "attribution_stability"}


def _validate(value: Any, schema: dict, where: str = "$") -> None:
    """A small JSON Schema (2020-12 subset) validator: jsonschema is not installed here."""
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                _validate(value, option, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: no option fits: {errors}")
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    kind = schema.get("type")
    checks = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    if kind in checks:
        assert isinstance(value, checks[kind]), f"{where}: {value!r} is not {kind}"
    if kind in ("number", "integer"):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: {value!r}"
        assert kind == "number" or value == int(value)
        assert value >= schema.get("minimum", value) and value <= schema.get("maximum", value)
        assert "exclusiveMinimum" not in schema or value > schema["exclusiveMinimum"]
    if kind == "string":
        assert len(value) >= schema.get("minLength", 0)
    if kind == "array":
        assert len(value) >= schema.get("minItems", 0)
        for i, item in enumerate(value):
            _validate(item, schema["items"], f"{where}[{i}]")
    if kind == "object":
        for key in schema.get("required", ()):
            assert key in value, f"{where}: missing {key}"
        for key, item in value.items():
            assert key in schema["properties"] or schema.get("additionalProperties", True), f"{where}.{key}"
            _validate(item, schema["properties"][key], f"{where}.{key}")


def test_documented_example_validates_against_the_json_schema() -> None:
    import json

    import yaml

    schema = audit_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    json.dumps(schema)  # plain JSON
    _validate(yaml.safe_load(_doc_example()), schema)
    with pytest.raises(AssertionError):
        _validate({"cases": [{"id": "x", "question": "q", "context": "c", "shar": 1}]}, schema)


def test_schema_and_validator_share_ranges() -> None:
    props = audit_schema()["properties"]["cases"]["items"]["properties"]
    focus = props["expect"]["properties"]["focus"]["anyOf"][1]["properties"]
    assert focus["share"]["minimum"] == 0 and focus["share"]["maximum"] == 1
    assert focus["mass"]["enum"] == ["positive", "absolute"]
    faith = props["expect"]["properties"]["faithfulness"]["anyOf"][1]["properties"]
    assert faith["top_percent"]["exclusiveMinimum"] == 0 and faith["top_percent"]["maximum"] == 100
    robust = props["robustness"]["items"]["properties"]
    assert "typos" in robust["perturbation"]["anyOf"][0]["enum"]


@pytest.mark.parametrize("value, expected", [("0.01", 0.01), ("null", None), (None, 0.02)])
def test_the_per_token_error_target_reaches_the_rule(value, expected):
    from qaaudit.session import AuditSession, SessionOptions, case_settings

    target = "{rel_delta: 0.03}" if value is None else f"{{rel_delta: 0.03, token_error: {value}}}"
    (case,) = audit(CASE + f"  answer: Auckland\n  attribution: {{target: {target}}}\n").cases
    assert case.attribution.token_error == expected and case.attribution.rel_delta == 0.03
    settings = case_settings(case)
    session = AuditSession.__new__(AuditSession)
    session.options = SessionOptions()
    rule = session._explain_kwargs(settings)["target"]
    assert (rule.token_error, rule.rel_delta) == (expected, 0.03)


def test_a_bad_per_token_error_target_is_an_error_at_its_line():
    err = error(CASE + "  answer: Auckland\n  attribution: {target: {token_error: -1}}\n")
    assert "t.audit.yaml:" in str(err) and "token_error" in str(err) and "-1" in str(err)

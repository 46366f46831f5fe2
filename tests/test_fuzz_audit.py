"""Fuzzing the audit format: every document is accepted, and then survives everything downstream of
collection (cache key, case page name, report), or rejected with a QAAuditError at a position. Nothing else.

Documents come from three sources: random structures whose keys are the format's own (so they get deep
into validation), random values of every type (unicode with controls, surrogates, bidi marks, huge and
non-finite numbers), and raw-text mutations of a valid file (bytes inserted, lines cut, doubled, indented).
"""
from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from qaaudit.cache import cache_key
from qaaudit.errors import QAAuditError, SpecError
from qaaudit.results import CaseResult, RunResult, Verdict
from qaaudit.schema import AUDIT, AnyOf, ListOf, Nullable, Record
from qaaudit.session import case_settings
from qaaudit.spec import parse_audit

SETTINGS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALID = """\
defaults:
  expect:
    prediction: {f1: 0.5}
cases:
  - id: rose-birthplace
    question: 로제는 어디에서 태어났습니까?
    context: 로제는 1997년 2월 11일 오클랜드에서 태어났다. 그녀는 가수이다.
    answer: 오클랜드
    tags: [korean, lookup]
    expect:
      focus: {target: answer, share: 0.2}
      completeness: {rel_delta: 0.05}
    robustness:
      - {perturbation: typos, examples: 5}
  - id: eiffel
    question: When was the Eiffel Tower completed?
    context: The Eiffel Tower was completed in 1889 in Paris.
    answers: [{text: "1889", start: 34}]
"""


def _keys(shape, seen=None) -> set[str]:
    """Every key name the format knows, at any depth."""
    seen = set() if seen is None else seen
    if isinstance(shape, Record):
        for name, f in shape.fields.items():
            seen.add(name)
            _keys(f.shape, seen)
    elif isinstance(shape, (ListOf,)):
        _keys(shape.item, seen)
    elif isinstance(shape, Nullable):
        _keys(shape.inner, seen)
    elif isinstance(shape, AnyOf):
        for o in shape.options:
            _keys(o, seen)
    return seen


KEYS = sorted(_keys(AUDIT))
# Text with everything a hostile file may hold: controls, surrogates, bidi marks, Hangul, combining marks.
WEIRD = st.text(alphabet=st.characters(codec=None, categories=None), max_size=12) | st.sampled_from(
    ["", " ", "\x00", "\x1b[31m", "\ud800", "a\u202eb", "\n", "로제", "::", "[x]", "-", "&a", "*a", "{}", "1e999"])
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
           | st.floats(allow_nan=True, allow_infinity=True) | WEIRD | st.sampled_from(KEYS))
KEY = st.sampled_from(KEYS) | WEIRD


def _tree(children):
    return st.lists(children, max_size=4) | st.dictionaries(KEY, children, max_size=6)


VALUES = st.recursive(SCALARS, _tree, max_leaves=40)
# A document shaped like an audit file: top-level keys of the format, cases as lists of mappings.
CASE = st.dictionaries(st.sampled_from(["id", "question", "context", "answer", "answers", "unanswerable", "tags",
                                        "expect", "robustness", "attribution", "xfail", "skip", "normalization"])
                       | KEY, VALUES, max_size=10)
DOCS = st.fixed_dictionaries({"cases": st.lists(CASE, max_size=3)},
                             optional={"defaults": VALUES, "model": VALUES, "normalization": VALUES})


@st.composite
def near_valid(draw) -> dict:
    """Cases the format accepts, with hostile text in every field a report, a cache key or a terminal shows."""
    printable = st.characters(exclude_categories=("Cc", "Cs"))   # what passes the loader: the report's problem
    text = st.text(alphabet=printable, min_size=1, max_size=30).filter(str.strip)
    name = st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp", "Zs", "Cf")), min_size=1,
                   max_size=12)
    cases = []
    for i in range(draw(st.integers(1, 3))):
        context = draw(text)
        a = draw(st.integers(0, len(context) - 1))
        b = draw(st.integers(a + 1, len(context)))
        case = {"id": draw(name | st.just(f"c{i}")), "question": draw(text), "context": context,
                "answer": context[a:b], "tags": draw(st.lists(st.just("korean") | st.just("한국어"), max_size=2))}
        if draw(st.booleans()):
            case["expect"] = draw(st.fixed_dictionaries({}, optional={
                "prediction": st.booleans() | st.fixed_dictionaries({}, optional={
                    "f1": st.floats(-1, 2), "exact_match": st.booleans(), "min_confidence": SCALARS}),
                "focus": st.fixed_dictionaries({"target": st.just("answer") | st.fixed_dictionaries(
                    {"text": st.just(context[a:b]) | WEIRD})}, optional={"share": SCALARS, "top_k": SCALARS}),
                "completeness": st.booleans() | st.fixed_dictionaries({}, optional={"abs_delta": SCALARS})}))
        if draw(st.booleans()):
            case["xfail"] = draw(WEIRD)
        cases.append(case)
    return {"cases": cases}


def _dump(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@st.composite
def mutations(draw) -> str:
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "dup", "indent", "replace"]))
        pos = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:pos] + draw(WEIRD | st.sampled_from(["\t", ": ", "- ", "&x ", "*x", "<<: *x\n", "!!binary ",
                                                             "[", "{", '"', "'", "#", "---\n"])) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 40)):]
        elif op == "dup":
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[: i + 1] + lines[i:])
        elif op == "indent":
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, len(lines) - 1))
            lines[i] = " " * draw(st.integers(1, 3)) + lines[i]
            text = "".join(lines)
        else:
            text = text[:pos] + draw(WEIRD) + text[pos + 1:]
    return text


def _downstream(audit, tmp_path) -> None:
    """What follows collection: cache keys, page names, results.json and the report."""
    from qaaudit.report import write_report
    from qaaudit.report.names import case_filename

    cases = []
    for case in audit.cases:
        cache_key(model="m", tokenizer="t", kind="explain", question=case.question, context=case.context,
                  settings=case_settings(case), version="fuzz")
        nodeid = f"audits/f.audit.yaml::{case.id}"
        name = case_filename(nodeid, case.id)
        assert "/" not in name and name.endswith(".html")
        gold = case.gold_texts
        text = gold[0] if gold else ""
        prediction = {"text": text, "start": 0, "end": len(text), "score": 0.5, "token_start": None,
                      "token_end": None, "window": None}
        cases.append(CaseResult(nodeid=nodeid, path="audits/f.audit.yaml", line=case.line, case_id=case.id,
                                outcome="failed", tags=case.tags, question=case.question, context=case.context,
                                gold=gold, unanswerable=case.unanswerable, prediction=prediction,
                                verdicts=(Verdict("prediction", "f1", False, 0.0, 0.5, ">=", case.id, case.line),),
                                message=f"{case.id}: {text}", xfail_reason=case.xfail or ""))
    run = RunResult(cases=tuple(cases), model={"name": str(audit.model)})
    json.dumps(run.to_dict(), ensure_ascii=False).encode("utf-8")
    if cases:
        out = tmp_path / "report"
        write_report(run, out)
        for page in out.rglob("*.html"):
            page.read_text(encoding="utf-8")


def _check(text: str, tmp_path) -> None:
    try:
        audit = parse_audit(text, "f.audit.yaml")
    except SpecError as exc:
        assert exc.path == "f.audit.yaml" and exc.line is not None, str(exc)
        assert len(str(exc)) < 20_000
        str(exc).encode("utf-8")   # printable: no surrogate reaches the terminal
        event("rejected")
        return
    except QAAuditError as exc:  # pragma: no cover - every file problem is a SpecError today
        raise AssertionError(f"a QAAuditError without a position: {exc!r}") from None
    event(f"accepted, {min(len(audit.cases), 2)}+ cases")
    _downstream(audit, tmp_path)


@SETTINGS
@given(doc=DOCS)
def test_structures_with_the_format_keys(doc, tmp_path_factory):
    _check(_dump(doc), tmp_path_factory.mktemp("fuzz"))


@SETTINGS
@given(doc=near_valid())
def test_accepted_cases_with_hostile_text(doc, tmp_path_factory):
    _check(_dump(doc), tmp_path_factory.mktemp("fuzz"))


@SETTINGS
@given(doc=VALUES)
def test_any_yaml_value(doc, tmp_path_factory):
    _check(_dump(doc), tmp_path_factory.mktemp("fuzz"))


@SETTINGS
@given(text=mutations())
@example(text=VALID)
@example(text=VALID.replace("오클랜드", '"\\ud800"', 1))
@example(text=VALID.replace("id: eiffel", 'id: "eif\\x00fel"'))
@example(text=VALID + "  - " + "[" * 2000 + "\n")
def test_raw_text_mutations(text, tmp_path_factory):
    _check(text, tmp_path_factory.mktemp("fuzz"))


def test_the_valid_document_goes_all_the_way(tmp_path):
    audit = parse_audit(VALID, "f.audit.yaml")
    assert [c.id for c in audit.cases] == ["rose-birthplace", "eiffel"]
    _downstream(audit, tmp_path)
    assert len(list((tmp_path / "report").rglob("*.html"))) >= 3

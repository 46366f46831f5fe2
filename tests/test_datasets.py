"""Datasets as sources of cases (`datasets:` in an audit file): selection, defaults, tags, origins, clean errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from official_scripts import official_scores
from qaaudit.datasets import read_dataset, select_questions
from qaaudit.errors import SpecError
from qaaudit.predictions import load_predictions, score_predictions
from qaaudit.spec import load_audit, parse_audit
from qaaudit.squad import read_squad

pytest_plugins = ["pytester"]
DATA = Path(__file__).parent / "data" / "squad"
FILES = ("squad_v11_small.json", "squad_v20_small.json", "korquad_v1_small.json")


@pytest.fixture()
def folder(tmp_path):
    for name in FILES:
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path


def _audit(folder: Path, body: str) -> Path:
    path = folder / "d.audit.yaml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize("name, normalization, tag", [
    ("squad_v11_small.json", "squad", "squad"), ("squad_v20_small.json", "squad2", "squad"),
    ("korquad_v1_small.json", "korquad", "korquad")])
def test_every_question_becomes_a_case(folder, name, normalization, tag):
    audit = load_audit(_audit(folder, f"defaults:\n  expect:\n    prediction: {{f1: 0.6}}\ndatasets:\n"
                                      f"  - path: {name}\n    tags: [dev]\n"))
    data = read_squad(DATA / name)
    assert [c.id for c in audit.cases] == [q.id for q in data.questions]
    for case, q in zip(audit.cases, data.questions):
        assert (case.question, case.context, case.unanswerable) == (q.question, q.context, q.unanswerable)
        assert case.gold_texts == q.gold_texts
        assert case.normalization == normalization
        assert case.origin == f"{name}#{q.id}" and case.line == 5
        assert case.tags[:2] == (tag, "dev")
        if q.unanswerable:
            assert [e.family for e in case.expectations] == ["unanswerable"] and case.handle_impossible_answer
        else:
            (e,) = case.expectations
            assert e.family == "prediction" and e.f1 == 0.6   # the file's defaults apply
            assert case.handle_impossible_answer == (normalization == "squad2")
            for a in case.answers:   # starts point at the text (off-by-one SQuAD starts are re-found)
                assert case.context[a.start:a.start + len(a.text)] == a.text


@settings(max_examples=40, deadline=None)
@given(limit=st.one_of(st.none(), st.integers(1, 40)), sample=st.one_of(st.none(), st.integers(1, 40)),
       seed=st.integers(0, 5), n_ids=st.one_of(st.none(), st.integers(1, 30)))
def test_selection(limit, sample, seed, n_ids):
    questions = read_squad(DATA / "squad_v11_small.json").questions
    ids = [q.id for q in questions][::-1][:n_ids] if n_ids else None
    got = select_questions(questions, ids=ids, limit=limit, sample=sample, seed=seed)
    pool = [q for q in questions if ids is None or q.id in ids][:limit]
    order = [q.id for q in questions]
    assert [order.index(q.id) for q in got] == sorted(order.index(q.id) for q in got)   # file order
    assert set(q.id for q in got) <= set(q.id for q in pool)
    assert len(got) == min(len(pool), sample or len(pool))
    assert got == select_questions(questions, ids=ids, limit=limit, sample=sample, seed=seed)   # deterministic


def test_entry_keys_and_normalization_override(folder):
    audit = load_audit(_audit(folder, "normalization: squad\ndatasets:\n  - path: korquad_v1_small.json\n"
                                      "    ids: [kr-05, kr-02]\n  - path: squad_v11_small.json\n    sample: 5\n"
                                      "    seed: 3\n    normalization: korquad\n"))
    assert [c.id for c in audit.cases[:2]] == ["kr-02", "kr-05"]
    assert {c.normalization for c in audit.cases[:2]} == {"squad"}      # the file chose it
    assert {c.normalization for c in audit.cases[2:]} == {"korquad"} and len(audit.cases) == 7


def test_hand_written_cases_and_datasets_together(folder):
    body = ("cases:\n  - id: mine\n    question: Who?\n    context: Rosé was born in Auckland.\n"
            "    answer: Rosé\ndatasets:\n  - path: squad_v11_small.json\n    limit: 2\n")
    assert [c.id for c in load_audit(_audit(folder, body)).cases] == ["mine", "sb50-01", "sb50-02"]
    clash = body.replace("id: mine", "id: sb50-02")
    with pytest.raises(SpecError, match="'sb50-02' of .*squad_v11_small.json#sb50-02 is used already"):
        load_audit(_audit(folder, clash))


def test_jsonl(folder):
    lines = [{"id": "a", "question": "Who?", "context": "Rosé was born in Auckland.", "answers": ["Auckland"]},
             {"id": 7, "question": "Where?", "context": "Seoul is big.", "answers": [{"text": "Seoul", "answer_start": 0}],
              "title": "Korea"},
             {"id": "n", "question": "Why?", "context": "Nothing here.", "answers": [], "is_impossible": True}]
    (folder / "d.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n")
    audit = load_audit(_audit(folder, "datasets:\n  - path: d.jsonl\n"))
    assert [(c.id, c.gold_texts, c.unanswerable) for c in audit.cases] == \
        [("a", ("Auckland",), False), ("7", ("Seoul",), False), ("n", (), True)]
    assert audit.cases[0].answers[0].start == 17 and audit.cases[1].tags == ("dataset", "korea")
    assert audit.cases[0].normalization == "auto"


def _error(folder, body) -> str:
    with pytest.raises(SpecError) as info:
        load_audit(_audit(folder, body))
    return str(info.value)


@pytest.mark.parametrize("line, message", [
    ('{"id": "a", "question": "Q", "context": "ctx"\n', r"d.jsonl:1:\d+: not valid JSON"),
    ('{"id": "a", "context": "ctx", "answers": ["ctx"]}\n', r"d.jsonl:1: question 'a': question: missing"),
    ('{"id": "a", "question": "Q", "context": "ctx", "answers": ["zzz"]}\n',
     r"d.jsonl:1: question 'a': answer 'zzz' does not occur in the context"),
    ('{"id": "a", "question": "Q", "context": "ctx", "answers": ["ctx"]}\n{"id": "a", "question": "Q", '
     '"context": "ctx", "answers": ["ctx"]}\n', r"d.jsonl:2: id 'a' is used again \(first at line 1\)"),
    ('{"id": "a", "question": "Q", "context": "ctx", "answers": [3]}\n', r"d.jsonl:1: question 'a': answers\[0\]"),
    ('["a"]\n', r"d.jsonl:1: expected an object"),
])
def test_jsonl_errors_name_the_file_line_and_question(folder, line, message):
    (folder / "d.jsonl").write_text(line, encoding="utf-8")
    text = _error(folder, "datasets:\n  - path: d.jsonl\n")
    assert text.startswith(str(folder / "d.audit.yaml") + ":2:")   # at the entry's path, in the audit file
    assert __import__("re").search(message, text), text


def test_squad_errors_name_the_question_id(folder):
    raw = json.loads((DATA / "squad_v11_small.json").read_text(encoding="utf-8"))
    qa = raw["data"][0]["paragraphs"][0]["qas"][1]
    del qa["question"]
    (folder / "broken.json").write_text(json.dumps(raw), encoding="utf-8")
    text = _error(folder, "datasets:\n  - path: broken.json\n")
    assert f"data[0].paragraphs[0].qas[1].question: missing (expected a string) (question id {qa['id']!r})" in text
    assert "broken.json" in text and qa["id"] in text
    raw = json.loads((DATA / "squad_v11_small.json").read_text(encoding="utf-8"))
    qa = raw["data"][1]["paragraphs"][0]["qas"][0]
    qa["answers"] = [{"text": "not in this paragraph at all", "answer_start": 0}]
    (folder / "broken.json").write_text(json.dumps(raw), encoding="utf-8")
    text = _error(folder, "datasets:\n  - path: broken.json\n")
    assert f"question {qa['id']!r}: answer 'not in this paragraph at all' does not occur in the context" in text
    assert "broken.json" in text
    (folder / "broken.json").write_text('{"data": [', encoding="utf-8")
    assert "not valid JSON" in _error(folder, "datasets:\n  - path: broken.json\n")


def test_entry_errors(folder):
    assert "does not exist" in _error(folder, "datasets:\n  - path: nowhere.json\n")
    assert "did you mean 'sb50-11'" in _error(folder, "datasets:\n  - path: squad_v11_small.json\n    ids: [sb50-1]\n")
    assert "both `limit` and `sample`" in _error(folder, "datasets:\n  - path: squad_v11_small.json\n"
                                                           "    limit: 2\n    sample: 2\n")
    assert "format" in _error(folder, "datasets:\n  - path: squad_v11_small.json\n    format: csv\n")
    assert "no `cases:`, `templates:` or `datasets:`" in str(pytest.raises(SpecError, parse_audit, "model: x\n").value)


def test_scores_of_a_dataset_run_equal_the_official_script(folder):
    # the dataset's cases, scored through the verdict path, against the official script on the same predictions
    from qaaudit.expect.prediction import check_prediction
    from qaaudit.explanation import Answer

    for name, preds in (("korquad_v1_small.json", "korquad_v1_predictions.json"),
                        ("squad_v11_small.json", "squad_v11_predictions.json")):
        audit = load_audit(_audit(folder, f"defaults:\n  expect:\n    prediction: {{exact_match: true, f1: 0.5}}\n"
                                          f"datasets:\n  - path: {name}\n"))
        predictions = load_predictions(DATA / preds)
        for case in audit.cases:
            if case.id not in predictions:
                continue
            text = predictions[case.id].text
            verdicts = check_prediction(case.expectations[0], case, Answer(text, 0, len(text), None))
            em, f1 = (v.measured for v in verdicts)
            assert (em, f1) == official_scores(case.normalization, text, list(case.gold_texts))
        assert score_predictions(predictions, read_dataset(folder / name).questions and read_squad(folder / name))


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\ud800", "\udfff"])
@pytest.mark.parametrize("field", ["question", "context", "answer"])
def test_a_text_no_report_could_write_is_an_error_naming_the_question(folder, char, field):
    """Valid JSON may carry any of these as escapes; a case that holds one would crash the report's writer."""
    row = {"id": "q-1", "question": "Where was Rose born?", "context": "Rose was born in Auckland.",
           "answers": [{"text": "Auckland", "answer_start": 17}]}
    if field == "answer":
        row["context"] = row["context"].replace("Auckland", "Auck" + char + "land")
        row["answers"] = [{"text": "Auck" + char + "land", "answer_start": 17}]
    else:
        row[field] = row[field] + char
    (folder / "hostile.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    text = _error(folder, "datasets:\n  - path: hostile.jsonl\n")
    assert "hostile.jsonl:1" in text and "'q-1'" in text and f"U+{ord(char):04X}" in text


@pytest.mark.usefixtures("preloaded_qaaudit")
def test_a_dataset_case_says_where_it_came_from_in_results_and_report(pytester):
    shutil.copy(DATA / "squad_v11_small.json", pytester.path / "dev.json")
    shutil.copy(DATA / "squad_v11_predictions.jsonl", pytester.path / "preds.jsonl")
    pytester.makefile(".audit.yaml", d="defaults:\n  expect:\n    prediction: {f1: 0.0}\n"
                                       "cases:\n  - id: mine\n    question: Who?\n    context: Ann did.\n"
                                       "    answer: Ann\ndatasets:\n  - path: dev.json\n    limit: 3\n")
    pytester.path.joinpath("preds.jsonl").open("a", encoding="utf-8").write('{"id": "mine", "answer": "Ann"}\n')
    r = pytester.runpytest("-p", "no:cacheprovider", "--qaaudit-predictions=preds.jsonl")
    assert r.ret == 0
    results = json.loads((pytester.path / "reports" / "results.json").read_text(encoding="utf-8"))
    origins = {c["case_id"]: c.get("origin") for c in results["cases"]}
    first = [q.id for q in read_dataset(pytester.path / "dev.json").questions[:3]]
    assert origins == {"mine": None, **{qid: f"dev.json#{qid}" for qid in first}}
    pages = "".join(p.read_text(encoding="utf-8") for p in (pytester.path / "reports").rglob("*.html"))
    assert all(f"from <span class=\"mono\"" in pages and f"dev.json#{qid}</span>" in pages for qid in first)

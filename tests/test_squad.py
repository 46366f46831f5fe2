"""SQuAD / KorQuAD import: round trip through YAML, selection, and errors that name the JSON path."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from qaaudit.errors import InvalidArgument, SquadFormatError
from qaaudit.squad import import_squad, read_squad, slugify_tag, write_text_atomic

DATA = Path(__file__).parent / "data" / "squad"


def source_questions(name: str) -> dict[str, dict]:
    raw = json.loads((DATA / name).read_text(encoding="utf-8"))
    return {qa["id"]: {**qa, "context": p["context"], "title": a["title"]}
            for a in raw["data"] for p in a["paragraphs"] for qa in p["qas"]}


@pytest.mark.parametrize("name, tag, normalization", [
    ("squad_v11_small.json", "squad", "squad"),
    ("squad_v20_small.json", "squad", "squad2"),
    ("korquad_v1_small.json", "korquad", "korquad"),
])
def test_import_round_trips_every_id_and_answer(name, tag, normalization):
    text = import_squad(DATA / name)
    doc = yaml.safe_load(text)
    source = source_questions(name)
    assert doc["normalization"] == normalization
    assert [c["id"] for c in doc["cases"]] == list(source)
    for case in doc["cases"]:
        qa = source[case["id"]]
        assert case["question"] == qa["question"] and case["context"] == qa["context"]
        assert case["tags"] == [tag, slugify_tag(qa["title"])]
        if qa.get("is_impossible"):
            assert case["unanswerable"] is True and "answers" not in case
        else:
            assert case["answers"] == [{"text": a["text"], "start": a["answer_start"]} for a in qa["answers"]]
            assert "unanswerable" not in case


def test_import_is_a_valid_audit_file_with_a_prediction_expectation():
    from qaaudit.spec import parse_audit

    audit = parse_audit(import_squad(DATA / "squad_v20_small.json"), "imported.audit.yaml")
    families = {c.id: [e.family for e in c.expectations] for c in audit.cases}
    assert families["56ddde6b9a695914005b9628"] == ["prediction"]
    assert families["5ad39d53604f3c001a3fe8d1"] == ["unanswerable"]
    assert audit.cases[0].expectations[0].exact_match is True
    assert audit.defaults.handle_impossible_answer is True


def test_korean_stays_readable_and_f1_threshold():
    text = import_squad(DATA / "korquad_v1_small.json", f1=0.8)
    assert "수도는 서울특별시이며" in text and "\\u" not in text
    assert yaml.safe_load(text)["defaults"]["expect"]["prediction"] == {"f1": 0.8}


def test_limit_seed_and_articles():
    first = yaml.safe_load(import_squad(DATA / "squad_v11_small.json", limit=3))
    assert [c["id"] for c in first["cases"]] == ["sb50-01", "sb50-02", "sb50-03"]
    a = yaml.safe_load(import_squad(DATA / "squad_v11_small.json", limit=5, seed=7))
    b = yaml.safe_load(import_squad(DATA / "squad_v11_small.json", limit=5, seed=7))
    ids = [c["id"] for c in a["cases"]]
    assert ids == [c["id"] for c in b["cases"]] and len(ids) == 5
    order = list(source_questions("squad_v11_small.json"))
    assert ids == sorted(ids, key=order.index)   # kept in file order
    only = yaml.safe_load(import_squad(DATA / "squad_v11_small.json", articles=["Apollo_program", "café_society"]))
    assert {c["tags"][1] for c in only["cases"]} == {"apollo_program", "café_society"}
    with pytest.raises(InvalidArgument, match="article 'Apolo_program' is not in the file; did you mean 'Apollo_program'"):
        import_squad(DATA / "squad_v11_small.json", articles=["Apolo_program"])
    with pytest.raises(InvalidArgument, match="limit 0 must be"):
        import_squad(DATA / "squad_v11_small.json", limit=0)


def test_progress_is_called_per_question():
    seen = []
    import_squad(DATA / "korquad_v1_small.json", limit=4, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_slugify_tag():
    assert slugify_tag("Super_Bowl_50") == "super_bowl_50"
    assert slugify_tag("1973 oil crisis") == "article_1973_oil_crisis"
    assert slugify_tag("대한민국 (국가)") == "대한민국_국가"
    assert slugify_tag("None") == "none" and slugify_tag("xfail") == "xfail_article"


def test_misaligned_answer_start_keeps_text_and_drops_start(tmp_path):
    raw = json.loads((DATA / "squad_v11_small.json").read_text(encoding="utf-8"))
    raw["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] += 1
    f = tmp_path / "s.json"
    f.write_text(json.dumps(raw), encoding="utf-8")
    text = import_squad(f, limit=1)
    assert "# note: sb50-01: answer 'Denver Broncos' is not at answer_start 178; start left out" in text
    assert yaml.safe_load(text)["cases"][0]["answers"][0] == {"text": "Denver Broncos"}


def mutate(tmp_path, edit) -> Path:
    raw = json.loads((DATA / "squad_v11_small.json").read_text(encoding="utf-8"))
    edit(raw)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    return f


@pytest.mark.parametrize("edit, message", [
    (lambda r: r["data"][2]["paragraphs"][0]["qas"][2]["answers"][0].__setitem__("answer_start", "12"),
     'data[2].paragraphs[0].qas[2].answers[0].answer_start: expected an integer, got "12"'),
    (lambda r: r["data"][1]["paragraphs"][0]["qas"][0].pop("question"),
     "data[1].paragraphs[0].qas[0].question: missing (expected a string)"),
    (lambda r: r["data"][0]["paragraphs"][0].__setitem__("qas", {}),
     "data[0].paragraphs[0].qas: expected a list of questions, got {}"),
    (lambda r: r["data"][0]["paragraphs"][0]["qas"][1].__setitem__("id", "sb50-01"),
     'data[0].paragraphs[0].qas[1].id: "sb50-01" is used again (first at data[0].paragraphs[0].qas[0])'),
    (lambda r: r["data"][0]["paragraphs"][0]["qas"][1].__setitem__("answers", []),
     "data[0].paragraphs[0].qas[1].answers: expected at least one answer (or is_impossible: true)"),
    (lambda r: r["data"][0]["paragraphs"][0]["qas"][1]["answers"][0].__setitem__("answer_start", 9999),
     "answers[0].answer_start: 9999 is outside the context"),
    (lambda r: r["data"][0]["paragraphs"][0]["qas"][1].__setitem__("is_impossible", "no"),
     'data[0].paragraphs[0].qas[1].is_impossible: expected true or false, got "no"'),
    (lambda r: r.__setitem__("data", {"x": 1}), 'data: expected a list of articles, got {"x": 1}'),
    (lambda r: r["data"].__setitem__(1, []), "data[1]: expected an article object"),
])
def test_malformed_files_name_the_json_path(tmp_path, edit, message):
    f = mutate(tmp_path, edit)
    with pytest.raises(SquadFormatError) as info:
        import_squad(f)
    assert str(info.value).startswith(f"{f}: ") and message in str(info.value)


def test_not_json_and_missing_file(tmp_path):
    f = tmp_path / "x.json"
    f.write_text('{"data": [', encoding="utf-8")
    with pytest.raises(SquadFormatError, match=r"x.json:1:11: not valid JSON"):
        read_squad(f)
    with pytest.raises(SquadFormatError, match="does not exist"):
        read_squad(tmp_path / "nope.json")
    f.write_text('{"version": "KorQuAD_2.0_dev", "data": []}', encoding="utf-8")
    with pytest.raises(SquadFormatError, match="only KorQuAD 1.0 is supported"):
        read_squad(f)


def test_read_squad_flavours():
    assert read_squad(DATA / "squad_v11_small.json").flavour == "SQuAD v1.1"
    assert read_squad(DATA / "squad_v20_small.json").flavour == "SQuAD v2.0"
    ko = read_squad(DATA / "korquad_v1_small.json")
    assert ko.flavour == "KorQuAD 1.0" and ko.normalization == "korquad" and len(ko.golds()) == 17


def test_write_text_atomic_refuses_to_overwrite(tmp_path):
    out = tmp_path / "audits" / "a.audit.yaml"
    write_text_atomic(out, "x: 1\n")
    with pytest.raises(InvalidArgument, match="already exists; choose another --out or pass --force"):
        write_text_atomic(out, "y: 2\n")
    write_text_atomic(out, "y: 2\n", overwrite=True)
    assert out.read_text() == "y: 2\n" and [p.name for p in out.parent.iterdir()] == ["a.audit.yaml"]

"""Predictions files: formats, errors with path and line, id matching, EM/F1 equal to the official scripts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from qaaudit.errors import PredictionsFileError
from qaaudit.predictions import PredictedAnswer, load_predictions, match_predictions, score_predictions
from qaaudit.squad import read_squad

DATA = Path(__file__).parent / "data" / "squad"
OFFICIAL = json.loads((DATA / "official_scores.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("key, predictions", [
    ("squad_v11", "squad_v11_predictions.json"),
    ("squad_v11", "squad_v11_predictions.jsonl"),
    ("korquad_v1", "korquad_v1_predictions.json"),
])
def test_em_f1_equal_the_official_scripts(key, predictions):
    expected = OFFICIAL[key]
    dataset = read_squad(DATA / expected["dataset"])
    scores = score_predictions(load_predictions(DATA / predictions), dataset.golds(),
                               normalization=dataset.normalization)
    # Same arithmetic in the same order as the scripts: equal to the last bit.
    assert scores.official() == {"exact_match": expected["exact_match"], "f1": expected["f1"]}
    for qid, numbers in expected["per_question"].items():
        em, f1 = scores.per_question[qid]
        assert (100.0 * em, 100.0 * f1) == pytest.approx((numbers["exact_match"], numbers["f1"]), abs=1e-12), qid
    assert scores.unanswered == (("sb50-10",) if key == "squad_v11" else ("kr-08",))


def test_unanswerable_questions_score_like_squad2():
    scores = score_predictions({"a": "", "b": "France"}, {"a": (), "b": ()})
    assert scores.per_question == {"a": (1.0, 1.0), "b": (0.0, 0.0)}


def test_formats_give_the_same_answers(tmp_path):
    official = load_predictions(DATA / "squad_v11_predictions.json")
    lines = load_predictions(DATA / "squad_v11_predictions.jsonl")
    assert {k: v.text for k, v in lines.items()} == {k: v.text for k, v in official.items()}
    assert lines["sb50-01"] == PredictedAnswer("the Denver Broncos", 0.5) and official["sb50-01"].score is None
    f = tmp_path / "hf.json"
    f.write_text(json.dumps([{"id": "q1", "prediction_text": "x"}, {"id": 7, "answer": "", "score": 1}]))
    assert load_predictions(f) == {"q1": PredictedAnswer("x"), "7": PredictedAnswer("", 1.0)}
    one = tmp_path / "one.jsonl"
    one.write_text('{"id": "q1", "answer": "Paris"}\n')
    assert load_predictions(one) == {"q1": PredictedAnswer("Paris")}


@pytest.mark.parametrize("content, message", [
    ('{"id": "a", "answer": "x"}\n{"id": "b", "answer": 3}\n', ":2: the answer of 'b' must be a string"),
    ('{"id": "a", "answer": "x"}\n{"id": "b" "answer": "y"}\n', ":2:12: not a JSON object"),
    ('{"id": "a", "answer": "x"}\n{"id": "a", "answer": "y"}\n', ":2: id 'a' appears again (first:1)"),
    ('{"id": "a", "answer": "x"}\n{"id": "b", "text": "y"}\n', ":2: unknown field 'text'"),
    ('{"id": "a", "answer": "x"}\n{"id": "b"}\n', ":2: record 'b' has no 'answer'"),
    ('{"id": "a", "answer": "x"}\n{"id": "b", "answer": "y", "score": "high"}\n', ":2: the score of 'b' must be a finite number"),
    ('{"id": "a", "answer": "x"}\n["b", "y"]\n', ':2: expected an object with id and answer, got ["b", "y"]'),
    ('{"q1": "x", "q2": ["y"]}', ": the answer of 'q2' must be a string"),
    ('{"q1": "x",\n "q2": }', ":2:8: not valid JSON"),
    ("   \n", ": the file is empty"),
    ('"just a string"', ": expected SQuAD's"),
])
def test_malformed_files_name_path_and_line(tmp_path, content, message):
    f = tmp_path / "preds.jsonl"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(PredictionsFileError) as info:
        load_predictions(f)
    assert str(info.value).startswith(str(f)) and message in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(PredictionsFileError, match="does not exist"):
        load_predictions(tmp_path / "nope.json")


def test_match_predictions_reports_how_many_and_a_few():
    preds = {f"q{i}": PredictedAnswer("x") for i in range(3)} | {"zz1": PredictedAnswer("y")}
    match = match_predictions(preds, [f"q{i}" for i in range(10)])
    assert match.matched == 3 and len(match.missing) == 7 and match.extra == ("zz1",)
    text = match.describe("preds.json", limit=2)
    assert text.startswith("7 of 10 audit cases have no prediction in preds.json (e.g. 'q3', 'q4', ... (5 more)); "
                           "1 predictions match no audit case (e.g. 'zz1')")
    assert isinstance(match.error("preds.json"), PredictionsFileError)
    full = match_predictions(preds, ["q0", "q1"])
    assert full.ok and full.error("p") is None and full.describe("p") == (
        "all 2 audit cases have a prediction in p; 2 predictions match no audit case (e.g. 'q2', 'zz1')")

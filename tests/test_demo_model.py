"""The shipped demo model loads offline and answers held-out Korean and English questions."""
from __future__ import annotations

import json

import pytest

from qaaudit.demo import DEMO_MODEL_NAME, demo_model_path
from qaaudit.demo.data import generate

MODEL_DIR = demo_model_path()


@pytest.fixture(scope="module")
def qa():
    assert (MODEL_DIR / "model.safetensors").is_file(), "the demo model is not trained: python -m qaaudit.demo.train"
    from qaaudit.model import load_model

    return load_model(MODEL_DIR, device="cpu")


def test_checkpoint_layout_and_size():
    names = {p.name for p in MODEL_DIR.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"} <= names
    assert not any(n.endswith(".bin") for n in names)  # safetensors only
    assert (MODEL_DIR / "model.safetensors").stat().st_size <= 10 * 1024 * 1024
    config = json.loads((MODEL_DIR / "config.json").read_text())
    assert config["architectures"] == ["ElectraForQuestionAnswering"]
    assert config["max_position_embeddings"] == 512 and config["pad_token_id"] == 0
    assert DEMO_MODEL_NAME in (MODEL_DIR / "README.md").read_text()


def test_parameter_count_fits_the_budget(qa):
    n = sum(p.numel() for p in qa.model.parameters())
    assert 500_000 < n <= 2_600_000
    assert not qa.model.training


def _heldout(lang: str, n: int):
    return [e for e in generate("test", 4 * n, seed=12345) if e.lang == lang and not e.unanswerable][:n]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_answers_held_out_questions(qa, lang):
    from qaaudit.explainer import predict_batch

    exs = _heldout(lang, 12)
    # align_to_words=False: the pipeline's word alignment would widen 광주 to 광주에서
    answers = predict_batch(qa, [(e.question, e.context) for e in exs], align_to_words=False)
    right = 0
    for e, (best, *_) in zip(exs, answers):
        assert e.context[best.start:best.end] == best.text  # offsets point into the context
        right += best.text == e.answers[0][0]
    # the model card claims >= 90% EM on the test split; allow one miss in a dozen here
    assert right >= 11, [(e.question, a[0].text, e.answers[0][0]) for e, a in zip(exs, answers)]


def test_answers_hand_written_questions(qa):
    from qaaudit.explainer import predict

    ko = ("남궁하린은 1991년 4월 9일 목포에서 태어난 대한민국의 화가이다. 도윤재는 일본의 가수로, "
          "1988년 2월 3일 오사카에서 태어났다. 도윤재는 2010년에 첫 작품을 발표하며 데뷔했다.")
    en = ("Orla Penhallow (born 2 May 1979) is a French novelist from Lyon. Born in Busan on March 8, 1990, "
          "Kaito Brisbee is a South Korean chef. Brisbee made a professional debut in 2015.")
    cases = [
        ("도윤재는 어디에서 태어났습니까?", ko, "오사카"),
        ("남궁하린의 직업은 무엇입니까?", ko, "화가"),
        ("Where was Kaito Brisbee born?", en, "Busan"),
        ("What is the profession of Orla Penhallow?", en, "novelist"),
    ]
    got = [predict(qa, q, c, align_to_words=False)[0].text for q, c, _ in cases]
    assert got == [gold for *_, gold in cases]


def test_unanswerable_questions_get_the_null_answer(qa):
    from qaaudit.explainer import predict_batch

    exs = [e for e in generate("test", 300, seed=99) if e.unanswerable][:10]
    answers = predict_batch(qa, [(e.question, e.context) for e in exs], handle_impossible_answer=True)
    assert sum(a[0].text == "" for a in answers) >= 7

"""The demo model's data generator: determinism, spans, split hygiene, Korean particles, tokenizer coverage."""
from __future__ import annotations

import random
import re

import pytest

from qaaudit.demo import demo_model_path
from qaaudit.demo.data import (
    LANGS,
    SPLITS,
    add_distractor,
    add_typos,
    alphabet,
    entity_names,
    generate,
    has_batchim,
    particle,
    reword_unseen,
    with_particle,
)


def test_generate_is_deterministic_and_seeded():
    assert generate("train", 60, seed=3) == generate("train", 60, seed=3)
    assert generate("train", 60, seed=3) != generate("train", 60, seed=4)
    assert generate("test", 30, seed=3) != generate("train", 30, seed=3)


def test_languages_alternate_and_ids_are_unique():
    exs = generate("dev", 100, seed=1)
    assert [e.lang for e in exs[:4]] == ["ko", "en", "ko", "en"]
    assert len({e.id for e in exs}) == len(exs)
    assert all(re.search("[가-힣]", e.context) for e in exs if e.lang == "ko")
    assert not any(re.search("[가-힣]", e.context) for e in exs if e.lang == "en")


@pytest.mark.parametrize("split", SPLITS)
def test_answers_are_spans_of_their_context(split):
    exs = generate(split, 400, seed=7)
    for e in exs:
        if e.unanswerable:
            assert e.answers == ()
        else:
            for text, start in e.answers:
                assert text and e.context[start:start + len(text)] == text
    rate = sum(e.unanswerable for e in exs) / len(exs)
    assert 0.05 <= rate <= 0.2


def test_paragraphs_hold_several_people_so_the_entity_must_be_matched():
    for e in generate("train", 100, seed=2):
        if e.lang == "ko":
            n = len(re.findall(r"태어|활동하는 |의 [가-힣 ]+이다\.", e.context))
        else:
            n = len(re.findall(r" is an? ", e.context))
        assert n >= 2, e.context


def test_unanswerable_questions_name_an_absent_entity_or_absent_fact():
    exs = [e for e in generate("train", 600, seed=5) if e.unanswerable]
    assert exs
    for e in exs:
        if e.entity not in e.context:
            continue  # absent entity
        assert e.fact in ("birth_place", "birth_date", "debut_year")


@pytest.mark.parametrize("lang", LANGS)
def test_dev_and_test_names_never_occur_in_train(lang):
    train = entity_names("train", lang)
    assert train and not (train & entity_names("test", lang)) and not (train & entity_names("dev", lang))
    blob = "\n".join(e.context for e in generate("train", 1500, seed=0) if e.lang == lang)
    people = [e.entity for e in generate("test", 300, seed=0)
              if e.lang == lang and e.fact in ("birth_place", "birth_date", "profession", "nationality")]
    assert people
    assert not [p for p in people if p in blob]


def test_some_question_templates_are_held_out_of_training():
    train_templates = {e.template for e in generate("train", 1500, seed=0)}
    test = generate("test", 1500, seed=0)
    heldout = {e.template for e in test if e.heldout_template}
    assert heldout and not (heldout & train_templates)
    assert 0.15 < sum(e.heldout_template for e in test) / len(test) < 0.5
    assert not any(e.heldout_template for e in generate("train", 500, seed=9))


def test_question_endings_do_not_give_the_fact_away():
    # each Korean ending style is used by several facts in training, so the model must read the key words
    endings: dict[str, set[str]] = {}
    for e in generate("train", 3000, seed=0):
        if e.lang == "ko" and not e.unanswerable:
            ending = next((x for x in ("습니까?", "입니까?", "나요?", "인가요?", "인가?") if e.question.endswith(x)), "bare")
            endings.setdefault(ending, set()).add(e.fact)
    assert {"습니까?", "나요?", "인가요?", "bare"} <= endings.keys()
    assert all(len(facts) >= 3 for facts in endings.values()), endings


def test_unseen_word_probe_asks_the_same_fact_with_words_no_split_uses():
    test = [e for e in generate("test", 400, seed=0) if not e.unanswerable]
    probes = [(e, reword_unseen(e)) for e in test]
    asked = [(e, p) for e, p in probes if p is not None]
    assert {e.lang for e, _ in asked} == set(LANGS) and len(asked) > len(test) // 3
    for e, p in asked:
        assert e.entity in p.question and p.question != e.question
        assert (p.answers, p.context, p.fact) == (e.answers, e.context, e.fact)
    corpus = " ".join(x.question + " " + x.context for split in SPLITS for x in generate(split, 1500, seed=0))
    for word in ("고향", "생일", "생업", "occupation", "birthday", "originally", "passport"):
        assert word not in corpus and any(word in p.question for _, p in asked), word
    assert reword_unseen(next(e for e in test if e.fact == "hq")) is None


@pytest.mark.parametrize("word,batchim", [("김서윤", True), ("박지아", False), ("서울", True), ("가수", False),
                                          ("1994년", True), ("7", True), ("5", False)])
def test_has_batchim(word, batchim):
    assert has_batchim(word) is batchim


@pytest.mark.parametrize("word,kind,expected", [
    ("김서윤", "은", "김서윤은"), ("박지아", "은", "박지아는"),
    ("최민준", "이", "최민준이"), ("이하나", "이", "이하나가"),
    ("한빛전자", "을", "한빛전자를"), ("새봄연구소", "을", "새봄연구소를"), ("종이열차", "과", "종이열차와"),
    ("부산", "으로", "부산으로"), ("서울", "으로", "서울로"), ("가수", "으로", "가수로"),
])
def test_particles_follow_the_final_consonant(word, kind, expected):
    assert with_particle(word, kind) == expected


def test_generated_korean_questions_use_the_right_particle():
    checked = 0
    for e in generate("train", 400, seed=11):
        if e.lang != "ko" or not e.entity:
            continue
        m = re.match(re.escape(e.entity) + "(은|는|이|가|을|를)", e.question)
        if m:
            kind = {"는": "은", "가": "이", "를": "을"}.get(m.group(1), m.group(1))
            assert m.group(1) == particle(e.entity, kind), e.question
            checked += 1
        for m in re.finditer(re.escape(e.entity) + "(은|는|이|가) ", e.context):
            assert m.group(1) == particle(e.entity, "은" if m.group(1) in "은는" else "이"), e.context
    assert checked > 50


def test_probes_keep_the_gold_answer_in_place():
    rng = random.Random(0)
    for e in generate("test", 60, seed=4):
        for p in (add_distractor(e, rng), add_typos(e, rng)):
            assert p.question == e.question and [t for t, _ in p.answers] == [t for t, _ in e.answers]
            for text, start in p.answers:
                assert p.context[start:start + len(text)] == text
        d = add_distractor(e, rng)
        assert len(d.context) > len(e.context)
        if e.entity:
            assert d.context.count(e.entity) == e.context.count(e.entity)


@pytest.fixture(scope="module")
def shipped_tokenizer():
    from transformers import AutoTokenizer

    path = demo_model_path()
    assert (path / "tokenizer.json").is_file(), "the demo model is not trained: python -m qaaudit.demo.train"
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def test_shipped_tokenizer_is_electra_style(shipped_tokenizer):
    tok = shipped_tokenizer
    assert tok.is_fast
    assert (tok.pad_token_id, tok.unk_token, tok.cls_token, tok.sep_token, tok.mask_token) == \
        (0, "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    enc = tok("질문", "문맥")
    assert enc["input_ids"][0] == tok.cls_token_id and enc["input_ids"][-1] == tok.sep_token_id
    assert set(enc["token_type_ids"]) == {0, 1}


def test_shipped_tokenizer_keeps_hangul_syllables_and_case(shipped_tokenizer):
    pieces = shipped_tokenizer.tokenize("광주에서 태어난 Mara Veldren")
    assert "".join(p.removeprefix("##") for p in pieces) == "광주에서태어난MaraVeldren"  # no jamo, no lowercasing


def test_no_unknown_token_on_generated_text(shipped_tokenizer):
    tok = shipped_tokenizer
    chars = sorted(alphabet() - {" "})
    assert tok.unk_token_id not in tok(" ".join(chars))["input_ids"]
    # as continuation pieces too (in words under WordPiece's 100-character limit)
    words = ["a" + "".join(chars[k:k + 40]) for k in range(0, len(chars), 40)]
    assert tok.unk_token_id not in tok(" ".join(words))["input_ids"]
    rng = random.Random(0)
    for split in SPLITS:
        for e in generate(split, 150, seed=21):
            for text in (e.question, e.context, add_typos(e, rng).context):
                assert tok.unk_token_id not in tok(text)["input_ids"], text


def test_answer_spans_fall_on_token_boundaries(shipped_tokenizer):
    tok = shipped_tokenizer
    for e in generate("test", 200, seed=8):
        if e.unanswerable:
            continue
        text, start = e.answers[0]
        offsets = tok(e.context, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
        assert start in {a for a, _ in offsets} and start + len(text) in {b for _, b in offsets}, (text, e.context)


def test_easy_curriculum_paragraphs_hold_two_people_and_leave_the_default_output_alone():
    easy = generate("train", 100, seed=2, easy=True)
    assert easy == generate("train", 100, seed=2, easy=True)
    assert easy != generate("train", 100, seed=2)
    assert generate("train", 50, seed=2, easy=False) == generate("train", 50, seed=2)
    for e in easy:
        if e.lang == "ko":
            n = len(re.findall(r"태어|활동하는 |의 [가-힣 ]+이다\.", e.context))
        else:
            n = len(re.findall(r" (?:is|works as) an? ", e.context))
        assert n >= 2, e.context
        assert e.fact in ("birth_place", "birth_date", "nationality", "profession", "debut_year", "who_born")
        for text, start in e.answers:
            assert e.context[start:start + len(text)] == text
    full = generate("train", 100, seed=2)
    assert sum(len(e.context) for e in easy) < 0.8 * sum(len(e.context) for e in full)



def test_training_curriculum_is_off_by_default_and_runs_when_asked(tmp_path):
    import json

    pytest.importorskip("torch")
    from qaaudit.demo import train

    small = ["--n-train", "300", "--steps", "20", "--threads", "1"]
    assert train.main(["--out", str(tmp_path / "plain"), *small]) == 0
    assert json.loads((tmp_path / "plain" / "train_log.json").read_text())["easy_steps"] == 0
    assert train.main(["--out", str(tmp_path / "cur"), *small, "--easy-steps", "10", "--n-easy", "200"]) == 0
    log = json.loads((tmp_path / "cur" / "train_log.json").read_text())
    assert log["easy_steps"] == 10 and log["n_easy"] == 200 and log["steps"] == 20

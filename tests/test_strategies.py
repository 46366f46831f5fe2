"""Perturbation strategies: gold spans re-mapped exactly after every edit, edits recorded, Korean rules."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qaaudit.errors import InvalidArgument
from qaaudit.strategies import (
    PERTURBATIONS,
    Perturbed,
    change_number,
    check_applicable,
    choose_particle,
    distractor,
    has_final_consonant,
    letter_case,
    map_span,
    perturb,
    rename_entity,
    rephrase,
    reorder,
    split_sentences,
    typos,
    word_diff,
)

EN = ("Who founded the Lumen Institute in 1987?",
      "The Lumen Institute was founded by Maria Keller in 1987. It studies light. Maria Keller retired in 2010. "
      "Dr. Ray Stone leads it today!",
      (("Maria Keller", 35), ("Maria Keller in 1987", 35)))
KO = ("루멘 연구소를 세운 사람은 누구인가요?",
      "루멘 연구소는 1987년에 김서준이 세웠다. 연구소는 빛을 연구한다.김서준은 2010년에 은퇴했다. 지금은 박하나가 이끈다.",
      (("김서준", 15),))
KO_NUM = ("루멘 연구소는 언제 세워졌습니까?", KO[1], (("1987년", 8),))
EN_NUM = ("When was the Lumen Institute founded?", EN[1], (("1987", 51),))
CASES = {"en": EN, "ko": KO, "en_num": EN_NUM, "ko_num": KO_NUM}
SETTINGS = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _replay(case, p: Perturbed) -> None:
    """Apply the recorded edits one by one to the original: spans hold after each, the end state matches."""
    q, c, answers = case
    state = Perturbed.from_case(q, c, answers)
    for edit in p.edits:
        text = state.question if edit.target == "question" else state.context
        assert text[edit.start:edit.end] == edit.before
        state = state.replace(edit.kind, edit.target, edit.start, edit.end, edit.after)
        for a_text, a_start in state.answers:
            assert state.context[a_start:a_start + len(a_text)] == a_text
    assert (state.question, state.context, state.answers) == (p.question, p.context, p.answers)


APPLICABLE = [(kind, name) for kind in PERTURBATIONS for name, case in CASES.items()
              if check_applicable(kind, *case) is None]


def test_every_perturbation_applies_somewhere():
    assert {k for k, _ in APPLICABLE} == set(PERTURBATIONS)


@pytest.mark.parametrize("kind,name", APPLICABLE)
@SETTINGS
@given(data=st.data())
def test_gold_spans_are_remapped_exactly(kind, name, data):
    case = CASES[name]
    p = data.draw(perturb(*case, (kind,)))
    _replay(case, p)
    assert 1 <= len(p.edits) or kind == "reorder"
    assert all(e.kind == kind for e in p.edits)
    if kind in ("rename_entity", "change_number"):
        # directional: the answer follows the edit
        assert [t for t, _ in p.answers] != [t for t, _ in case[2]]
    else:
        assert [t for t, _ in p.answers] == [t for t, _ in case[2]]


@pytest.mark.parametrize("name", ["en", "ko"])
@SETTINGS
@given(data=st.data())
def test_composed_edits_keep_spans(name, data):
    case = CASES[name]
    kinds = tuple(k for k, n in APPLICABLE if n == name and k != "change_number")
    p = data.draw(perturb(*case, kinds, params={"max_edits": 5}))
    _replay(case, p)


def test_minimal_example_is_one_small_edit():
    from hypothesis import find

    p = find(typos(*EN), lambda p: True, settings=settings(database=None, max_examples=5))
    assert len(p.edits) == 1
    assert p.edits[0].start == 0 or len(p.edits[0].before) <= 2


def test_distractor_never_contains_the_answer():
    pool = ["Maria Keller likes tea.", "Tea is popular."]

    @SETTINGS
    @given(distractor(*EN, params={"sentences": pool}))
    def check(p):
        assert all(e.after.strip() == "Tea is popular." for e in p.edits)

    check()


def test_reorder_keeps_the_answer_sentence_in_place():
    @SETTINGS
    @given(reorder(*EN))
    def check(p):
        sentences = [p.context[s:e] for s, e in split_sentences(p.context)]
        assert sentences[0].startswith("The Lumen Institute was founded")
        assert sorted(sentences) == sorted(EN[1][s:e] for s, e in split_sentences(EN[1]))

    check()


def test_sentence_splitting():
    en = "Dr. Ray Stone leads it. Is it big? Yes! It costs 3.5 dollars. J. K. Rowling wrote."
    assert [en[s:e] for s, e in split_sentences(en)] == [
        "Dr. Ray Stone leads it.", "Is it big?", "Yes!", "It costs 3.5 dollars.", "J. K. Rowling wrote."]
    ko = "연구소는 빛을 연구한다.김서준은 은퇴했다. 그는 1.5배 빨랐다. 정말요?"
    assert [ko[s:e] for s, e in split_sentences(ko)] == [
        "연구소는 빛을 연구한다.", "김서준은 은퇴했다.", "그는 1.5배 빨랐다.", "정말요?"]


@pytest.mark.parametrize("word,particle,expected", [
    ("서울", "는", "은"), ("부산", "가", "이"), ("대구", "은", "는"), ("대구", "이", "가"),
    ("김서준", "를", "을"), ("이서아", "을", "를"), ("이서아", "과", "와"), ("박지훈", "와", "과"),
    ("부산", "로", "으로"), ("서울", "으로", "로"), ("제주", "으로", "로"), ("2010", "는", "은"),
    ("1987", "이", "이"), ("2", "이", "가"), ("서울", "의", "의"),
])
def test_korean_particle_follows_the_final_consonant(word, particle, expected):
    assert choose_particle(word, particle) == expected


def test_has_final_consonant():
    assert has_final_consonant("김서준") and not has_final_consonant("이서아")
    assert has_final_consonant("서울") and not has_final_consonant("서울", rieul=True)


def test_korean_rename_rechooses_particles():
    case = ("연구소를 세운 사람은 누구인가요?", "김서준이 세웠다. 김서준은 은퇴했다. 김서준을 만났다. 김서준과 함께 갔다.", (("김서준", 0),))
    p = find_one(rename_entity(*case, params={"replacement": "이서아"}))
    assert p.context == "이서아가 세웠다. 이서아는 은퇴했다. 이서아를 만났다. 이서아와 함께 갔다."
    assert p.answers == (("이서아", 0),)
    back = find_one(rename_entity(p.question, p.context, p.answers, params={"replacement": "박지훈"}))
    assert back.context == "박지훈이 세웠다. 박지훈은 은퇴했다. 박지훈을 만났다. 박지훈과 함께 갔다."


def find_one(strategy):
    from hypothesis import find

    return find(strategy, lambda _: True, settings=settings(database=None, max_examples=1))


def test_english_rename_everywhere_in_question_and_context():
    p = find_one(rename_entity("Where did Maria Keller retire?", EN[1], (("Maria Keller", 35),),
                               params={"replacement": "Chen Wei"}))
    assert "Maria Keller" not in p.context and "Maria Keller" not in p.question
    assert p.context.count("Chen Wei") == 2 and p.answers == (("Chen Wei", 35),)


def test_change_number_keeps_dates_valid():
    case = ("When?", "It opened on March 28, 1987 and closed on 3월 12일.", (("March 28, 1987", 13),))

    @SETTINGS
    @given(change_number(*case))
    def check(p):
        text = p.answers[0][0]
        day, year = re.match(r"March (\d+), (\d+)", text).groups()
        assert 1 <= int(day) <= 28 and 1000 <= int(year) <= 2099
        assert (day, year) != ("28", "1987")

    check()


def test_korean_rephrase_endings_and_particles():
    @SETTINGS
    @given(rephrase("한국의 수도는 어디입니까?", "서울은 한국의 수도이다.", (("서울", 0),)))
    def check(p):
        assert p.question in {"한국의 수도는 어디인가요?", "한국의 수도는 어디야?", "한국의 수도는 어디예요?",
                              "한국의 수도가 어디입니까?"} or len(p.edits) > 1

    check()


def test_letter_case_only_outside_the_answer():
    @SETTINGS
    @given(letter_case(*EN))
    def check(p):
        assert p.context[35:47] == "Maria Keller"

    check()


def test_check_applicable_messages():
    msg = check_applicable("typo", *EN)
    assert "'typo'" in msg and "typos" in msg and "rename_entity" in msg
    msg = check_applicable("rename_entity", *EN, {"entity": "Lisa"})
    assert "'Lisa'" in msg and "does not occur" in msg
    msg = check_applicable("change_number", *EN[:2], EN[2][:1])
    assert "'Maria Keller'" in msg and "number" in msg
    assert "cased" in check_applicable("case", *KO)
    # one sentence: reorder is the identity there, allowed by design
    assert check_applicable("reorder", "Who?", "Ann sang.", (("Ann", 0),)) is None
    msg = check_applicable("typos", "Who?", "Ann sang.", (("Ann", 5),))
    assert "'Ann'" in msg and "character 5" in msg
    # answers as objects with a missing start (qaaudit.spec.GoldAnswer)
    from types import SimpleNamespace
    assert check_applicable("typos", "Who?", "Ann sang.", (SimpleNamespace(text="Ann", start=None),)) is None
    # an entity inside the answer only partly: untrackable
    msg = check_applicable("rename_entity", "Who?", "Ann Lee sang. Lee left.", (("Ann Lee", 0),), {"entity": "Lee"})
    assert msg is None  # 'Lee' inside 'Ann Lee' is contained: the answer becomes 'Ann <new>'
    msg = check_applicable("rename_entity", "Who?", "Ann Lee sang.", (("Ann", 0),), {"entity": "Ann Lee"})
    assert "cannot be tracked" in msg


def test_perturb_raises_user_errors():
    with pytest.raises(InvalidArgument, match="valid perturbations"):
        perturb(*EN, ("nope",))
    with pytest.raises(InvalidArgument, match="at least one"):
        perturb(*EN, ())


def test_map_span_and_word_diff():
    p = Perturbed.from_case("q", "aa bb cc", (("bb", 3),)).replace("typos", "context", 0, 0, "x")
    assert map_span(p.edits, "context", 3, 5) == (4, 6)
    assert word_diff("aa bb cc", "xaa bb cc") == "[-aa-] {+xaa+} bb cc"

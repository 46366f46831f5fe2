"""Metrics against values computed by hand from the SQuAD v1.1 and KorQuAD 1.0 scripts' definitions."""
from __future__ import annotations

import pytest

from qaaudit.errors import InvalidArgument
from qaaudit.metrics import (
    best_over_golds,
    detect_normalization,
    exact_match,
    f1,
    normalize_korquad,
    normalize_squad,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The  Eiffel Tower!", "eiffel tower"),
        ("an apple, a pear and THE plum.", "apple pear and plum"),
        ("theatre", "theatre"),               # articles only as whole words
        ("Don't", "dont"),                    # punctuation deleted, not spaced
        ("  \tNew\nZealand ", "new zealand"),
        ("", ""),
    ],
)
def test_normalize_squad(text: str, expected: str) -> None:
    assert normalize_squad(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("《블랙핑크》", "블랙핑크"),
        ("'로제'(Rosé)", "로제 rosé"),         # quotes and brackets become spaces
        ("뉴질랜드.", "뉴질랜드"),
        ("The Band", "the band"),             # no article removal in KorQuAD
        ("a-b", "ab"),                        # ASCII punctuation deleted
        ("‘오클랜드’ 시", "오클랜드 시"),
    ],
)
def test_normalize_korquad(text: str, expected: str) -> None:
    assert normalize_korquad(text) == expected


def test_exact_match() -> None:
    assert exact_match("the Eiffel tower.", "Eiffel Tower") == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0
    assert exact_match("《뉴질랜드》", "뉴질랜드") == 1.0
    # KorQuAD keeps the spaces: "뉴 질랜드" is not "뉴질랜드" for EM ...
    assert exact_match("뉴 질랜드", "뉴질랜드") == 0.0
    # ... but characters are the same, so F1 is perfect.
    assert f1("뉴 질랜드", "뉴질랜드") == 1.0


def test_squad_f1_by_hand() -> None:
    # pred tokens [eiffel, tower, in, paris], gold [eiffel, tower]: P=2/4, R=2/2, F1=2/3
    assert f1("The Eiffel Tower in Paris", "Eiffel Tower") == pytest.approx(2 / 3)
    # repeated tokens count with multiplicity: pred [a1, a1], gold [a1]: P=1/2 R=1 -> 2/3
    assert f1("x x", "x") == pytest.approx(2 / 3)
    assert f1("London", "Paris") == 0.0


def test_korquad_f1_is_character_level() -> None:
    # pred chars 뉴질랜드에서 (6), gold 뉴질랜드 (4): common 4, P=4/6, R=1, F1=0.8
    assert f1("뉴질랜드에서", "뉴질랜드") == pytest.approx(0.8)
    # SQuAD word F1 would give 0 here; character F1 gives partial credit.
    assert f1("뉴질랜드에서", "뉴질랜드", normalization="squad") == 0.0
    # chars of "로제 는" = 로 제 는 (spaces dropped), gold 로제: P=2/3 R=1 -> 0.8
    assert f1("로제 는", "로제", normalization="korquad") == pytest.approx(0.8)


def test_explicit_normalization_overrides_script() -> None:
    # With korquad, "the" is not removed and F1 is over characters.
    assert exact_match("the band", "band", normalization="korquad") == 0.0
    assert exact_match("the band", "band", normalization="squad") == 1.0
    # chars t h e b a n d (7) vs b a n d (4): common 4, P=4/7, R=1 -> 8/11
    assert f1("the band", "band", normalization="korquad") == pytest.approx(8 / 11)


def test_empty_texts() -> None:
    # evaluate-v1.1.py: no shared token is F1 0, also where both texts normalise to nothing
    assert f1("", "") == 0.0
    assert f1("the", "a") == 0.0
    assert exact_match("the", "a") == 1.0
    # evaluate-v2.0.py: both empty agree
    assert f1("", "", normalization="squad2") == 1.0
    assert f1("the", "a", normalization="squad2") == 1.0
    assert f1("", "Paris") == 0.0
    assert exact_match("", "") == 1.0


def test_best_over_golds() -> None:
    golds = ["Paris", "Paris, France", "the city of Paris"]
    assert best_over_golds(exact_match, "paris", golds) == 1.0
    assert best_over_golds(f1, "Paris France", golds[2:]) == pytest.approx(0.4)  # P=1/2 R=1/3
    assert best_over_golds(f1, "x", []) == 0.0
    assert best_over_golds(f1, "뉴질랜드에서", ["뉴질랜드", "오클랜드"], normalization="korquad") == pytest.approx(0.8)


def test_detect_normalization() -> None:
    assert detect_normalization("로제는 어디에서 태어났습니까?") == "korquad"
    assert detect_normalization("Where was Rosé born?") == "squad"
    assert detect_normalization("BLACKPINK 로제") == "korquad"
    assert detect_normalization("") == "squad"


def test_unknown_normalization() -> None:
    with pytest.raises(InvalidArgument, match="'sqad'"):
        f1("a", "b", normalization="sqad")

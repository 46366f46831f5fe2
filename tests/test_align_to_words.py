"""`align_to_words: auto` keeps Korean answers free of the particles their words carry."""
from __future__ import annotations

import pytest

from qaaudit.session import case_settings
from qaaudit.spec import parse_audit

TEMPLATE = """
cases:
  - id: c
    question: {q}
    context: {c}
    answer: {a}
{extra}"""


@pytest.mark.parametrize("q, c, a, extra, expected", [
    ("최태람은 어디에서 태어났습니까?", "최태람은 광주에서 태어났다.", "광주", "", False),
    ("Where was Rose born?", "Rose was born in Auckland.", "Auckland", "", True),
    ("최태람은 어디에서 태어났습니까?", "최태람은 광주에서 태어났다.", "광주에서", "    align_to_words: true\n", True),
    ("Where was Rose born?", "Rose was born in Auckland.", "Auckland", "    align_to_words: false\n", False),
])
def test_auto_alignment_follows_the_script(q, c, a, extra, expected):
    case = parse_audit(TEMPLATE.format(q=q, c=c, a=a, extra=extra)).cases[0]
    assert case.aligns_to_words is expected
    assert case_settings(case)["align_to_words"] is expected  # it reaches the decoder (and the cache key)


def test_file_default_applies_to_cases():
    text = "defaults:\n  align_to_words: false\n" + TEMPLATE.format(
        q="Where was Rose born?", c="Rose was born in Auckland.", a="Auckland", extra="")
    assert parse_audit(text).cases[0].aligns_to_words is False


def test_bad_value_is_a_located_error():
    from qaaudit.errors import SpecError

    with pytest.raises(SpecError) as err:
        parse_audit(TEMPLATE.format(q="Where?", c="In Auckland.", a="Auckland", extra="    align_to_words: maybe\n"),
                    "x.audit.yaml")
    assert "x.audit.yaml:7" in str(err.value) and "align_to_words" in str(err.value)

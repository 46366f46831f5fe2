"""Lexicons: built-in data files, user lexicons (inline, YAML, CSV, text), ranges, and their errors at file:line:col."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from qaaudit import lexicons
from qaaudit.errors import SpecError
from qaaudit.spec import load_audit, parse_audit

REQUIRED = ("korean_name", "korean_family_name", "korean_given_name", "english_name", "english_first_name",
            "english_family_name", "korean_city", "english_city", "korean_country", "english_country",
            "korean_profession", "english_profession", "korean_organization", "english_organization", "number",
            "year", "korean_date", "english_date", "korean_color", "english_color", "korean_comparative",
            "english_comparative")


def test_every_required_category_is_built_in_with_distinct_nonempty_entries():
    names = lexicons.builtin_names()
    for name in REQUIRED:
        assert name in names
        lex = lexicons.builtin(name)
        assert len(lex) == len(set(lex.texts)) > 0
        assert all(t.strip() == t and t for t in lex.texts), name


@pytest.mark.parametrize("name", ["korean_name", "english_name", "korean_given_name", "english_family_name",
                                  "korean_organization", "english_organization", "english_city", "korean_city"])
def test_large_categories_hold_several_hundred_or_more_entries(name):
    assert len(lexicons.builtin(name)) >= 150


def test_korean_names_mix_final_consonants_including_rieul():
    from qaaudit.korean import _final

    finals = {_final(n) for n in lexicons.builtin("korean_name").texts}
    assert finals == {None, "other", "rieul"}


def test_comparatives_have_the_fields_templates_use():
    assert {"text", "opposite"} <= lexicons.builtin("english_comparative").fields
    assert {"text", "question", "opposite", "opposite_question"} <= lexicons.builtin("korean_comparative").fields


def test_data_files_ship_as_package_data():
    text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"lexicons/*"' in text and '"suites/*/*"' in text
    assert all(p.suffix in lexicons.LEXICON_SUFFIXES for p in lexicons.DATA_DIR.iterdir() if p.is_file())


def _template(slot_value: str) -> str:
    return f"""\
templates:
  - id: t
    capability: lookup
    context: "{{p}} lives in Paris."
    question: "Where does {{p}} live?"
    answer: Paris
    slots: {{p: {slot_value}}}
    n: 3
"""


def test_user_lexicons_from_yaml_csv_and_text_files_next_to_the_audit_file(tmp_path):
    (tmp_path / "a.yaml").write_text("- Ann Lee\n- {text: Bob Roe, gender: m}\n- Cy Doe\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("name,gender\nAnn Lee,f\n\"Roe, Bob\",m\nCy Doe,m\n", encoding="utf-8")
    (tmp_path / "c.txt").write_text("# people\nAnn Lee\n\nBob Roe\nCy Doe\n", encoding="utf-8")
    for file, expected in (("a.yaml", {"Ann Lee", "Bob Roe", "Cy Doe"}), ("b.csv", {"Ann Lee", "Roe, Bob", "Cy Doe"}),
                           ("c.txt", {"Ann Lee", "Bob Roe", "Cy Doe"})):
        path = tmp_path / "x.audit.yaml"
        path.write_text(_template(file), encoding="utf-8")
        audit = load_audit(path)
        assert {v["p"] for v in audit.templates[0].values} == expected


def test_inline_file_lexicons_and_ranges():
    text = _template("people").replace("templates:", "lexicons:\n  people: [Ann, Bo, Cy, Di]\ntemplates:")
    audit = parse_audit(text, "x.audit.yaml")
    assert {v["p"] for v in audit.templates[0].values} <= {"Ann", "Bo", "Cy", "Di"}
    audit = parse_audit(_template("{range: [10, 12]}"), "x.audit.yaml")
    assert sorted(v["p"] for v in audit.templates[0].values) == ["10", "11", "12"]


def _error(text: str, path: str = "x.audit.yaml") -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_audit(text, path)
    return info.value


def _pos(text: str, needle: str) -> tuple[int, int]:
    for i, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return i, line.index(needle) + 1
    raise AssertionError(needle)


@pytest.mark.parametrize("wrong,expected", [("korean_nmae", "korean_name"), ("englsh_city", "english_city"),
                                            ("korean_cty", "korean_city")])
def test_unknown_lexicon_is_an_error_at_its_line_and_column_with_did_you_mean(wrong, expected):
    text = _template(wrong)
    err = _error(text)
    assert (err.line, err.col) == _pos(text, wrong)
    assert wrong in err.message and f"did you mean {expected!r}" in err.message


def test_error_inside_a_lexicon_file_points_into_that_file(tmp_path):
    (tmp_path / "people.yaml").write_text("- Ann\n- [not, text]\n", encoding="utf-8")
    path = tmp_path / "x.audit.yaml"
    path.write_text(_template("people.yaml"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_audit(path)
    assert "people.yaml:2:" in str(info.value)
    (tmp_path / "rows.csv").write_text("name\nAnn\nBo,extra\n", encoding="utf-8")
    path.write_text(_template("rows.csv"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_audit(path)
    assert "rows.csv:3:1" in str(info.value)


def test_missing_lexicon_file_is_an_error_at_the_slot(tmp_path):
    path = tmp_path / "x.audit.yaml"
    text = _template("nobody.csv")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_audit(path)
    assert (info.value.line, info.value.col) == _pos(text, "nobody.csv")
    assert re.search(r"nobody\.csv.*cannot be read", info.value.message)

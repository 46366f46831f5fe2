"""YAML loading with positions, and the errors for files that are not audit YAML."""
from __future__ import annotations

from pathlib import Path

import pytest

from qaaudit.errors import SpecError
from qaaudit.loader import Mark, YList, YMap, load_yaml, load_yaml_text

TEXT = """\
model: demo
# a comment
cases:
  - id: rose
    answer: 1997
    flag: no
    nested: {a: 1}
"""


def test_positions_of_keys_values_and_items() -> None:
    data = load_yaml_text(TEXT, "f.audit.yaml")
    assert isinstance(data, YMap)
    assert data == {"model": "demo", "cases": [{"id": "rose", "answer": 1997, "flag": False, "nested": {"a": 1}}]}
    assert data.key_mark("model") == Mark(1, 1, "model")
    assert data.value_mark("model") == Mark(1, 8, "demo")
    cases = data["cases"]
    assert isinstance(cases, YList)
    assert (cases.item_mark(0).line, cases.item_mark(0).col) == (4, 5)
    case = cases[0]
    assert (case.key_mark("answer").line, case.key_mark("answer").col) == (5, 5)
    assert (case.value_mark("answer").line, case.value_mark("answer").col) == (5, 13)
    # the source text of unquoted scalars survives YAML 1.1's typing
    assert case.value_mark("answer").raw == "1997"
    assert case.value_mark("flag").raw == "no"
    assert case["nested"].mark.line == 7


def test_quoted_scalar_has_no_raw() -> None:
    data = load_yaml_text('a: "1997"\n')
    assert data["a"] == "1997" and data.value_mark("a").raw is None


def test_merge_keys_may_be_overridden() -> None:
    data = load_yaml_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\n")
    assert data["other"] == {"x": 3, "y": 2}


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_yaml_text(text, "f.audit.yaml")
    return info.value


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(text: str) -> None:
    err = _error(text)
    assert "empty" in err.message and (err.path, err.line, err.col) == ("f.audit.yaml", 1, 1)
    assert "cases:" in err.hint


def test_invalid_yaml_points_at_the_problem() -> None:
    err = _error("cases:\n  - id: a\n    question: [unclosed\n")
    assert err.message.startswith("invalid YAML")
    assert err.line == 4 and err.col is not None
    assert str(err).startswith("f.audit.yaml:4:")


def test_tab_indentation_hint() -> None:
    err = _error("cases:\n\t- id: a\n")
    assert (err.line, err.col) == (2, 1) and "tabs" in err.hint


@pytest.mark.parametrize(("text", "what"), [("- a\n- b\n", "a list"), ("42\n", "the value 42")])
def test_top_level_must_be_a_mapping(text: str, what: str) -> None:
    err = _error(text)
    assert f"must be a mapping, not {what}" in err.message and err.line == 1


def test_duplicate_key() -> None:
    err = _error("cases: []\nmodel: a\nmodel: b\n")
    assert (err.line, err.col) == (3, 1)
    assert "duplicate key 'model'" in err.message and "line 2" in err.message


def test_several_documents() -> None:
    err = _error("a: 1\n---\nb: 2\n")
    assert err.line == 2 and "one YAML document" in err.hint


def test_load_yaml_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "x.audit.yaml"
    path.write_text("\ufeffcases: []\n", encoding="utf-8")  # a BOM is accepted
    assert load_yaml(path) == {"cases": []}


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_yaml(tmp_path / "nope.audit.yaml")
    bad = tmp_path / "bad.audit.yaml"
    bad.write_bytes(b"cases:\n  - id: \xff\n")
    with pytest.raises(SpecError, match="not UTF-8") as info:
        load_yaml(bad)
    assert info.value.line == 2

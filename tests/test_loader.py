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
    # the end of the file is where the parser noticed; the bracket left open is what to fix
    assert (err.line, err.col) == (3, 15)
    assert str(err).startswith("f.audit.yaml:3:15:")


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


# --- hostile input: every one a SpecError at a position, quickly -----------------------------------

def _bomb(levels: int, width: int = 9) -> str:
    lines = [f'a0: &a0 [{", ".join(["lol"] * width)}]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + f"\ncases: *a{levels - 1}\n"


@pytest.mark.parametrize("levels", [6, 9, 30])
def test_alias_bombs_stop_at_the_alias(levels: int) -> None:
    err = _error(_bomb(levels))
    assert "aliases expand" in err.message and err.line is not None and err.col is not None


def test_ordinary_aliases_and_merges_are_fine() -> None:
    cases = "\n".join(f"  - {{<<: *case, id: c{i}}}" for i in range(3000))
    data = load_yaml_text("base: &case {question: q, context: some text, answer: text}\ncases:\n" + cases + "\n")
    assert len(data["cases"]) == 3000 and data["cases"][2999]["answer"] == "text"


@pytest.mark.parametrize("text", ["cases: " + "[" * 1500 + "]" * 1500 + "\n",
                                  "cases: " + "{a: " * 200 + "1" + "}" * 200 + "\n",
                                  "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v\n"])
def test_deep_nesting_is_an_error_not_a_recursion_error(text: str) -> None:
    err = _error(text)
    assert err.line is not None and ("levels deep" in err.message or "nesting" in err.message)


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\ufffe"])
def test_raw_control_characters_are_located(char: str) -> None:
    err = _error(f"cases:\n  - id: 한국어{char}x\n")
    assert (err.line, err.col) == (2, 12) and f"U+{ord(char):04X}" in err.message


@pytest.mark.parametrize("escape", ["\\x00", "\\a", "\\e", "\\x7f", "\\x9b", "\\ud800", "\\udfff", "\\ud83d\\ude00"])
def test_escaped_control_characters_and_surrogates_are_located(escape: str) -> None:
    err = _error(f'cases:\n  - id: "a{escape}b"\n')
    assert err.line == 2 and err.col is not None


def test_valid_escapes_still_work() -> None:
    data = load_yaml_text('a: "tab\\there, \\u00e9, \\U0001F600, line\\nbreak"\n')
    assert data["a"] == "tab\there, é, \U0001F600, line\nbreak"


@pytest.mark.parametrize("text", ["a: !!python/object:os.system x\n", "a: !!binary aGk=\n", "a: !!set {x}\n",
                                  "a: !custom x\n"])
def test_unsupported_tags(text: str) -> None:
    err = _error(text)
    assert "tag" in err.message and err.line == 1


def test_an_undefined_alias() -> None:
    err = _error("a: *nope\n")
    assert "*nope" in err.message and (err.line, err.col) == (1, 4)


def test_data_reprs_stay_short() -> None:
    """pytest and debuggers repr values; a shared tree must never be expanded into text."""
    data = load_yaml_text("x: &x [1, 2, 3]\ny: [*x, *x, *x]\n")
    assert repr(data).startswith("<YMap") and repr(data["y"]).startswith("<YList") and len(repr(data)) < 80


def test_yaml_11_typing_is_kept() -> None:
    data = load_yaml_text("a: 1997\nb: no\nc: 1.5\nd: ~\ne: 2020-01-02\nf: '0x1A'\ng: 0x1A\n")
    assert data["a"] == 1997 and data["b"] is False and data["c"] == 1.5 and data["d"] is None
    assert str(data["e"]) == "2020-01-02" and data["f"] == "0x1A" and data["g"] == 26
    assert data.value_mark("e").raw == "2020-01-02"

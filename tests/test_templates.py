"""Templates: Korean particle agreement, slot filling, deterministic generation and the errors of a template."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from qaaudit.errors import SpecError
from qaaudit.korean import attach, choose_particle, hangul_syllable, has_final_consonant
from qaaudit.spec import parse_audit
from qaaudit.templates import derive_seed, fill, parse_placeholders

# -- particle agreement ------------------------------------------------------------------------
PAIRS = [("이", "가"), ("은", "는"), ("을", "를"), ("과", "와"), ("아", "야"), ("이나", "나"), ("이랑", "랑"),
         ("이에요", "예요"), ("이다", "다"), ("이었다", "였다")]
RIEUL = 8


def name_strategy(tail: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    syllable = st.builds(hangul_syllable, st.integers(0, 18), st.integers(0, 20), st.integers(0, 27))
    last = st.builds(hangul_syllable, st.integers(0, 18), st.integers(0, 20), tail)
    return st.builds(lambda head, end: "".join(head) + end, st.lists(syllable, max_size=3), last)


@settings(max_examples=300, deadline=None)
@given(name=name_strategy(st.integers(0, 27)), pair=st.sampled_from(PAIRS), written=st.integers(0, 1))
def test_particle_follows_the_final_consonant_of_any_hangul_word(name, pair, written):
    tail = (ord(name[-1]) - 0xAC00) % 28
    expected = pair[0] if tail else pair[1]
    assert choose_particle(name, pair[written]) == expected
    assert attach(name, f"{pair[0]}/{pair[1]}") == name + expected


@settings(max_examples=300, deadline=None)
@given(name=name_strategy(st.integers(0, 27)), written=st.sampled_from(["으로", "로"]))
def test_euro_ro_takes_ro_after_a_vowel_and_after_rieul(name, written):
    tail = (ord(name[-1]) - 0xAC00) % 28
    assert choose_particle(name, written) == ("으로" if tail not in (0, RIEUL) else "로")


@pytest.mark.parametrize("word,particle,expected", [
    ("김민준", "이", "이"), ("이서아", "이", "가"), ("최수일", "는", "은"), ("서울", "로", "로"), ("부산", "로", "으로"),
    ("광주", "으로", "로"), ("한결", "과", "과"), ("하늘", "를", "을"), ("민호", "야", "야"), ("지훈", "야", "아"),
    ("2024", "는", "는"), ("2023", "는", "은"), ("10", "이", "이"), ("7", "로", "로"), ("6", "로", "으로"),
    ("IBM", "은", "은"), ("BBC", "은", "는"), ("URL", "로", "로"), ("Kim", "은", "은"), ("Paul", "로", "로"),
    ("Mike", "는", "는"), ("Peter", "가", "가"), ("서울(Seoul)", "은", "은"), ("'부산'", "로", "으로"),
])
def test_non_hangul_and_bracketed_words(word, particle, expected):
    assert choose_particle(word, particle) == expected


def test_strategies_use_the_same_implementation():
    from qaaudit import korean, strategies

    assert strategies.choose_particle is korean.choose_particle
    assert strategies.has_final_consonant is korean.has_final_consonant
    assert has_final_consonant("서울") and not has_final_consonant("서울", rieul=True)


def test_fill_slots_fields_particles_and_literal_braces():
    values = {"p": {"text": "서울"}, "a": {"text": "older", "opposite": "younger"}}
    assert fill("{p:으로/로} {{x}} {a.opposite}", values) == "서울로 {x} younger"
    found, problems = parse_placeholders("{p:이/가} and {a.opposite} and {x:foo}")
    assert [f.slot for f in found] == ["p", "a"] and len(problems) == 1


# -- templates in audit files ------------------------------------------------------------------
BASE = """\
templates:
  - id: compare-age
    capability: comparison
    context: "{p1:이/가} {p2}보다 나이가 많다. {p2:은/는} {city}에서 태어났다."
    question: "{p2}보다 나이가 많은 사람은 누구입니까?"
    answer: "{p1}"
    slots: {p1: korean_name, p2: korean_name, city: korean_city}
    distinct: [p1, p2]
    n: 40
    min_pass_rate: 0.9
"""


def _cases(text: str = BASE, path: str = "x.audit.yaml"):
    return parse_audit(text, path).templates[0]


def test_generated_cases_agree_in_particles_are_distinct_and_hold_their_answer():
    t = _cases()
    assert len(t.cases) == 40 == len({(c.question, c.context) for c in t.cases})
    for case, values in zip(t.cases, t.values):
        p1, p2 = values["p1"], values["p2"]
        assert p1 != p2
        assert case.context.startswith(attach(p1, "이/가") + " " + p2 + "보다")
        assert attach(p2, "은/는") in case.context
        assert case.answers[0].text == p1 and p1 in case.context
        assert case.origin == f"template compare-age#{t.cases.index(case)}"
        assert case.id == f"compare-age[{t.cases.index(case)}]"
    assert t.capability == "comparison" and t.language == "ko" and t.min_pass_rate == 0.9


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_generation_is_a_function_of_file_name_template_and_seed(seed):
    text = BASE.replace("n: 40", f"n: 5\n    seed: {seed}")
    a, b = _cases(text), _cases(text)
    assert [c.context for c in a.cases] == [c.context for c in b.cases]
    assert derive_seed("x.audit.yaml", "compare-age", seed) != derive_seed("y.audit.yaml", "compare-age", seed)


def test_generation_is_the_same_in_other_processes_whatever_their_hash_seed(tmp_path):
    path = tmp_path / "x.audit.yaml"
    path.write_text(BASE, encoding="utf-8")
    code = ("import hashlib,sys;from qaaudit.spec import load_audit;t=load_audit(sys.argv[1]).templates[0];"
            "print(hashlib.sha256('|'.join(c.context for c in t.cases).encode()).hexdigest())")
    here = hashlib.sha256("|".join(c.context for c in _cases(BASE).cases).encode()).hexdigest()
    for hash_seed in ("0", "1", "12345"):
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert out.stdout.strip() == here


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_audit(text, "x.audit.yaml")
    return info.value


def _pos(text: str, needle: str) -> tuple[int, int]:
    for i, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return i, line.index(needle) + 1
    raise AssertionError(needle)


def test_answer_that_does_not_occur_in_the_context_is_an_error():
    text = BASE.replace('answer: "{p1}"', 'answer: "{city}시"')
    err = _error(text)
    assert "does not occur in the context" in err.message and "compare-age[0]" in err.message
    assert err.line == _pos(text, "answer:")[0]


def test_template_that_cannot_produce_n_distinct_cases_says_so():
    text = BASE.replace("korean_name, p2: korean_name, city: korean_city", "[가, 나, 다], p2: [가, 나], city: [서울]")
    err = _error(text)
    assert "cannot produce n = 40 distinct cases" in err.message and "only 4" in err.message
    assert "lower n to 4" in err.hint and err.line == _pos(text, "n: 40")[0]
    assert len(_cases(text.replace("n: 40", "n: 4")).cases) == 4


@pytest.mark.parametrize("old,new,needle,message", [
    ('question: "{p2}보다', 'question: "{p3}보다', "{p3}", "does not define; did you mean 'p"),
    ("{p2:은/는}", "{p2:은/ㄴ}", "{p2:은/ㄴ}", "not a Korean particle pair"),
    ("distinct: [p1, p2]", "distinct: [p1, p4]", "p4", "names 'p4', which is not a slot"),
    ("{city}에서", "{city.zip}에서", "{city.zip}", "no field 'zip'"),
    ("{city}에서", "{city에서", "{city에서", "a lone '{'"),
])
def test_slot_errors_at_line_and_column(old, new, needle, message):
    text = BASE.replace(old, new)
    err = _error(text)
    assert message in err.message
    assert (err.line, err.col) == _pos(text, needle)


def test_unused_slot_and_unknown_lexicon_are_reported_together():
    text = BASE.replace("city: korean_city}", "city: korean_city, extra: korean_cty}")
    with pytest.raises(SpecError) as info:
        parse_audit(text, "x.audit.yaml")
    rendered = info.value.render()
    assert "unknown lexicon 'korean_cty'" in rendered and "'extra' of template 'compare-age' is used nowhere" in rendered


def test_focus_on_a_slot_targets_the_filled_text():
    t = _cases(BASE + "    expect:\n      focus: {target: {slot: p1}, share: 0.2}\n")
    for case, values in zip(t.cases, t.values):
        focus = [e for e in case.expectations if e.family == "focus"][0]
        assert focus.target.kind == "text" and focus.target.text == values["p1"]


def test_slot_target_in_a_hand_written_case_is_an_error():
    text = ("cases:\n  - id: c\n    question: Q?\n    context: A b.\n    answer: A\n"
            "    expect:\n      focus: {target: {slot: p1}, share: 0.2}\n")
    err = _error(text)
    assert "names no slot of a template" in err.message and err.line == 7


def test_template_and_case_ids_share_one_namespace_and_files_need_cases_or_templates():
    text = BASE + "cases:\n  - {id: compare-age, question: Q?, context: A b., answer: A}\n"
    assert "duplicate id 'compare-age'" in _error(text).message
    assert "no `cases:`, `templates:` or `datasets:`" in _error("model: demo\n").message


def test_json_schema_describes_templates_and_lexicons():
    from qaaudit.schema import audit_schema

    schema = audit_schema()
    props = schema["properties"]
    assert "templates" in props and "lexicons" in props and "cases" not in schema.get("required", [])
    template = props["templates"]["items"]
    assert {"id", "capability", "context", "question", "slots"} <= set(template["required"])
    assert {"answer", "unanswerable", "distinct", "n", "seed", "tags", "min_pass_rate", "expect",
            "robustness"} <= set(template["properties"])
    json.dumps(schema)


def test_built_in_suite_has_twenty_templates_per_language_over_every_capability():
    from qaaudit.spec import load_audit
    from qaaudit.suites import suite_path

    by_lang: dict[str, set] = {}
    count: dict[str, int] = {}
    for path in sorted(suite_path("capabilities").glob("*.audit.yaml")):
        for t in load_audit(path).templates:
            by_lang.setdefault(t.language, set()).add(t.capability)
            count[t.language] = count.get(t.language, 0) + 1
    wanted = {"vocabulary", "taxonomy", "temporal", "negation", "coreference", "semantic_roles", "numbers_dates",
              "fairness"}
    assert by_lang["ko"] >= wanted and by_lang["en"] >= wanted
    assert count["ko"] >= 20 and count["en"] >= 20


@pytest.mark.parametrize("old,new,message", [
    ("p1: korean_name,", "p1: {range: [1, 1000000000]},", "holds more than 1,000,000 numbers"),
    ("p1: korean_name,", "p1: {range: [1, 2, 3]},", "must be [lo, hi]"),
    ("p1: korean_name,", "p1: {range: [9, 1]},", "is empty"),
    ("n: 40", "n: 100000000", "1 to 100,000"),
])
def test_hostile_sizes_are_errors_not_hangs(old, new, message):
    assert message in _error(BASE.replace(old, new)).render()


def test_init_suite_copies_the_built_in_suite_and_keeps_existing_files(tmp_path, capsys):
    from qaaudit.cli import main
    from qaaudit.spec import load_audit

    assert main(["init", "--suite", "capabilities", str(tmp_path)]) == 0
    files = sorted((tmp_path / "audits" / "capabilities").glob("*.audit.yaml"))
    assert [f.name for f in files] == ["en.audit.yaml", "ko.audit.yaml"]
    assert all(load_audit(f).templates for f in files)
    files[0].write_text("# mine\n", encoding="utf-8")
    assert main(["init", "--suite", "capabilities", str(tmp_path)]) == 0
    assert files[0].read_text(encoding="utf-8") == "# mine\n" and "kept" in capsys.readouterr().out
    assert main(["suite", "--list"]) == 0 and "capabilities" in capsys.readouterr().out
    assert main(["init", "--suite", "nosuch", str(tmp_path)]) != 0

"""The explanation cache: hits when nothing changed, misses when any key part changes."""
from __future__ import annotations

import json

import pytest

from qaaudit.cache import ExplanationCache, cache_key

BASE = dict(model="m" * 64, tokenizer="t" * 64, kind="explain", question="q", context="c",
            settings={"steps": None, "baseline": "pad"}, version="0.1.0")


def test_put_then_get(tmp_path):
    cache = ExplanationCache(tmp_path)
    key = cache_key(**BASE)
    assert cache.get(key) is None
    cache.put(key, {"answer": "뉴질랜드"})
    assert cache.get(key) == {"answer": "뉴질랜드"}
    assert (cache.hits, cache.misses) == (1, 1)
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")], "atomic writes leave no temporary files"


@pytest.mark.parametrize("part, value", [
    ("model", "x" * 64), ("tokenizer", "y" * 64), ("kind", "predict"), ("question", "q2"), ("context", "c2"),
    ("settings", {"steps": 16, "baseline": "pad"}), ("version", "0.2.0"),
])
def test_every_key_part_matters(part, value):
    assert cache_key(**dict(BASE, **{part: value})) != cache_key(**BASE)


def test_disabled_cache_stores_nothing(tmp_path):
    cache = ExplanationCache(tmp_path, enabled=False)
    cache.put("ab" * 32, {"x": 1})
    assert cache.get("ab" * 32) is None and not any(tmp_path.iterdir())


def test_corrupt_entry_is_a_miss(tmp_path):
    cache = ExplanationCache(tmp_path)
    key = cache_key(**BASE)
    cache.put(key, {"x": 1})
    next(tmp_path.rglob(f"{key}.json")).write_text("{not json")
    assert cache.get(key) is None


def test_clear(tmp_path):
    cache = ExplanationCache(tmp_path / "c")
    for i in range(3):
        cache.put(cache_key(**dict(BASE, question=str(i))), {"i": i})
    assert cache.clear() == 3
    assert cache.get(cache_key(**dict(BASE, question="0"))) is None


def test_session_reuses_cached_explanations(tiny_checkpoint, tmp_path):
    from qaaudit.session import AuditSession, SessionOptions

    session = AuditSession(SessionOptions(cache_dir=tmp_path / "cache", device="cpu"), tmp_path)
    qa = session.get_model(str(tiny_checkpoint("bert")))
    settings = {"steps": 4, "method": "gausslegendre", "baseline": "pad", "max_answer_len": 15}
    first = session.explanation(qa, "Where?", "Rose was born in Auckland.", settings, attributions=True)
    second = session.explanation(qa, "Where?", "Rose was born in Auckland.", settings, attributions=True)
    assert first == second and session.cache.hits == 1
    changed = session.explanation(qa, "Where?", "Rose was born in Auckland.", dict(settings, steps=8),
                                  attributions=True)
    assert session.cache.hits == 1 and changed.start.n_steps == 8


def test_prediction_reuses_a_cached_explanation(tiny_checkpoint, tmp_path):
    """A robustness item asks for the prediction its case already explained: no new entry, no forward pass."""
    from qaaudit.session import AuditSession, SessionOptions

    session = AuditSession(SessionOptions(cache_dir=tmp_path / "cache", device="cpu"), tmp_path)
    qa = session.get_model(str(tiny_checkpoint("bert")))
    settings = {"steps": 4, "method": "gausslegendre", "baseline": "pad", "max_answer_len": 15}
    full = session.explanation(qa, "Where?", "Rose was born in Auckland.", settings, attributions=True)
    entries = sorted(p.name for p in (tmp_path / "cache").rglob("*.json"))
    answer_only = session.explanation(qa, "Where?", "Rose was born in Auckland.", settings, attributions=False)
    assert answer_only.answer == full.answer
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*.json")) == entries
    # the other way round an explanation is still computed: a prediction entry has no attributions
    other = session.explanation(qa, "Who?", "Rose was born in Auckland.", settings, attributions=False)
    assert not other.has_attributions
    assert session.explanation(qa, "Who?", "Rose was born in Auckland.", settings, attributions=True).has_attributions


def test_without_the_cache_a_session_still_reuses_what_it_computed(tiny_checkpoint, tmp_path, monkeypatch):
    """--qaaudit-no-cache: nothing on disk, but a robustness check does not recompute its case's explanation."""
    import qaaudit.explainer as explainer
    from qaaudit.session import AuditSession, SessionOptions

    calls = []
    original = explainer.explain
    monkeypatch.setattr(explainer, "explain", lambda *a, **kw: calls.append(1) or original(*a, **kw))
    session = AuditSession(SessionOptions(cache=False, cache_dir=tmp_path / "cache", device="cpu"), tmp_path)
    qa = session.get_model(str(tiny_checkpoint("bert")))
    settings = {"steps": 4, "method": "gausslegendre", "baseline": "pad", "max_answer_len": 15}
    first = session.explanation(qa, "Where?", "Rose was born in Auckland.", settings, attributions=True)
    again = session.explanation(qa, "Where?", "Rose was born in Auckland.", settings, attributions=True)
    answer = session.explanation(qa, "Where?", "Rose was born in Auckland.", settings, attributions=False)
    assert first == again and answer.answer == first.answer and len(calls) == 1
    assert not (tmp_path / "cache").exists() and session.cache.hits == 0


def test_ci_profile_robustness_outcomes_are_cached_and_local_ones_are_not(tiny_checkpoint, tmp_path, monkeypatch):
    """Derandomized, a CI-profile check is a function of its inputs: a rerun skips hypothesis; a changed check or
    the local profile (fresh variants on purpose) runs it."""
    import qaaudit.robustness as robustness
    from qaaudit.session import AuditSession, SessionOptions
    from qaaudit.spec import parse_audit

    from test_plugin import good_yaml  # its first case has a whitespace check of 3 examples

    audit = parse_audit(good_yaml(tiny_checkpoint("bert")), tmp_path / "a.audit.yaml")
    case = audit.cases[0]
    check = case.robustness[0]
    options = SessionOptions(cache_dir=tmp_path / "cache", device="cpu")
    monkeypatch.setenv("CI", "true")
    first = AuditSession(options, tmp_path).run_robustness(case, audit, check)
    assert first.robustness["n_examples"] >= 1

    def refuse(*args, **kwargs):
        raise AssertionError("run_check was called")

    monkeypatch.setattr(robustness, "run_check", refuse)
    again = AuditSession(options, tmp_path).run_robustness(case, audit, check)  # a new process, the same cache
    assert again.robustness == first.robustness and again.verdicts == first.verdicts
    with pytest.raises(AssertionError, match="run_check was called"):  # more examples: another outcome
        AuditSession(options, tmp_path).run_robustness(case, audit, check, max_examples=5)
    monkeypatch.setenv("CI", "")
    with pytest.raises(AssertionError, match="run_check was called"):
        AuditSession(options, tmp_path).run_robustness(case, audit, check)


# --- faults: an entry that cannot be used is a miss; a cache that cannot be written is left alone --------

def _entry_path(root, key):
    return next(root.rglob(f"{key}.json"))


@pytest.mark.parametrize("text", [
    "{not json", "", "[1, 2]", "null", '"text"', '{"x": 1}',                                   # truncated, foreign
    '{"layout": "v3", "key": "%(key)s", "value": {"x": 1}}',                                  # another layout
    '{"layout": "%(layout)s", "key": "%(other)s", "value": {"x": 1}}',                        # another key's
    '{"layout": "%(layout)s", "key": "%(key)s", "value": [1]}',                               # not a mapping
    "[" * 100000,                                                                             # too deep to parse
])
def test_unusable_entries_are_misses_and_counted(tmp_path, text):
    from qaaudit.cache import _LAYOUT

    cache = ExplanationCache(tmp_path)
    key = cache_key(**BASE)
    cache.put(key, {"x": 1})
    _entry_path(tmp_path, key).write_text(text % {"key": key, "other": "0" * 64, "layout": _LAYOUT}
                                          if "%(" in text else text)
    assert cache.get(key) is None and cache.invalid == 1
    cache.put(key, {"x": 2})   # recomputed and replaced
    assert cache.get(key) == {"x": 2}


def test_a_decoder_rejecting_the_shape_is_a_miss(tmp_path):
    cache = ExplanationCache(tmp_path)
    key = cache_key(**BASE)
    cache.put(key, {"answer": {"text": 3}})
    assert cache.get_any(key, decode=lambda d: d["answer"]["start"]) is None
    assert cache.invalid == 1 and cache.hits == 0 and cache.misses == 1


def test_an_unwritable_cache_is_noted_not_raised(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "v4").write_text("a file where the layout folder should be")   # writes fail whatever the user is
    cache = ExplanationCache(root)
    cache.put(cache_key(**BASE), {"x": 1})
    assert cache.write_error is not None and cache.get(cache_key(**BASE)) is None
    cache.put(cache_key(**dict(BASE, question="q2")), {"x": 1})   # not tried again


def test_session_recomputes_and_replaces_a_wrong_shape_explanation(tiny_checkpoint, tmp_path):
    from qaaudit.session import AuditSession, SessionOptions

    session = AuditSession(SessionOptions(cache_dir=tmp_path / "cache", device="cpu"), tmp_path)
    qa = session.get_model(str(tiny_checkpoint("bert")))
    settings = {"steps": 4, "method": "gausslegendre", "baseline": "pad", "max_answer_len": 15}
    first = session.explanation(qa, "Where?", "Rose was born in Auckland.", settings, attributions=True)
    key = session.key_of(qa, "explain", "Where?", "Rose was born in Auckland.", settings)
    path = _entry_path(tmp_path / "cache", key)
    entry = json.loads(path.read_text())
    entry["value"]["start"]["attributions"] = entry["value"]["start"]["attributions"][:-1]   # valid JSON, wrong shape
    path.write_text(json.dumps(entry))
    again = session.explanation(qa, "Where?", "Rose was born in Auckland.", settings, attributions=True)
    assert again == first and session.cache.invalid == 1
    assert session.drain_cache_news() == {"invalid": 1} and session.drain_cache_news() is None
    third = AuditSession(SessionOptions(cache_dir=tmp_path / "cache", device="cpu"), tmp_path)
    assert third.explanation(third.get_model(str(tiny_checkpoint("bert"))), "Where?", "Rose was born in Auckland.",
                             settings, attributions=True) == first
    assert third.cache.invalid == 0 and third.cache.hits >= 1   # the replaced entry is used

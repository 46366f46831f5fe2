"""The robustness engine on fake predictors: batching, shrinking to a minimal edit, CI determinism."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pytest

from qaaudit.errors import InvalidArgument
from qaaudit.explanation import Answer, Explanation, TargetAttribution, WordAttribution
from qaaudit.robustness import SEED_ENV, robustness_settings, run_check, top_word_overlap
from qaaudit.strategies import Perturbed

POOL = ["Alpha is a letter.", "Beta is a letter too.", "The Zeta river is long.", "Gamma rays are bright."]


@dataclass(frozen=True)
class Spec:
    perturbations: tuple[str, ...]
    property: str = "invariance"
    examples: int | None = 30
    thresholds: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    line: int = 7


@dataclass(frozen=True)
class Case:
    question: str
    context: str
    answers: tuple


CASE = Case("What is the capital of France?",
            "Paris is the capital of France. It is a large city. Many people visit it every year.", (("Paris", 0),))


class ZetaFool:
    """Answers 'Paris' unless the context holds the word 'Zeta', then answers 'Zeta'."""

    def __init__(self, follow: str | None = None) -> None:
        self.batches: list[list[tuple[str, str]]] = []
        self.follow = follow

    def predict_batch(self, pairs):
        self.batches.append(list(pairs))
        out = []
        for _, c in pairs:
            word = "Zeta" if "Zeta" in c else (self.follow or "Paris")
            i = c.find(word)
            out.append(Answer(word, i, i + len(word), 0.9, 1, 1, 0) if i >= 0 else Answer("", 0, 0, 0.1))
        return out


def ci(n: int = 30):
    return robustness_settings(ci=True, max_examples=n)


def test_passing_check_predicts_everything_in_one_batch():
    fool = ZetaFool()
    out = run_check(Spec(("typos", "whitespace")), CASE, fool, settings=ci())
    assert out.passed and out.failures == 0 and out.minimal is None
    assert len(fool.batches) == 1
    assert len(fool.batches[0]) == out.n_examples + 1 and out.n_examples > 10   # variants + the original


def test_shrinks_to_the_single_zeta_distractor():
    fool = ZetaFool()
    spec = Spec(("typos", "distractor", "punctuation"), params={"sentences": POOL, "max_edits": 4}, examples=60)
    out = run_check(spec, CASE, fool, settings=ci(60))
    assert not out.passed and out.failures >= 1
    m = out.minimal
    assert [e.describe() for e in m.diff] == ["distractor context[0]: '' -> 'The Zeta river is long. '"]
    assert m.original_prediction.text == "Paris" and m.variant_prediction.text == "Zeta"
    assert m.expected == ("Paris",)
    assert "{+The Zeta river is long.+}" in m.word_diff
    assert "@reproduce_failure(" in out.reproduce and SEED_ENV in out.reproduce
    assert len(fool.batches[0]) > 1 and all(len(b) == 1 for b in fool.batches[1:])   # shrinking: one at a time
    text = out.message()
    assert "'Zeta'" in text and "'Paris'" in text and "reproduce" in text
    assert out.to_dict()["minimal"]["diff"] == [e.describe() for e in m.diff]


def test_ci_profile_gives_identical_runs():
    spec = Spec(("typos", "distractor"), params={"sentences": POOL})
    a, b = ZetaFool(), ZetaFool()
    first = run_check(spec, CASE, a, settings=ci())
    second = run_check(spec, CASE, b, settings=ci())
    assert a.batches == b.batches
    assert first.to_dict() == second.to_dict()


def test_ci_profile_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    s = robustness_settings(max_examples=5)
    assert s.derandomize and s.database is None and s.deadline is None and s.print_blob
    monkeypatch.setenv("CI", "false")
    local = robustness_settings(directory=tmp_path)
    assert not local.derandomize and str(tmp_path / ".hypothesis" / "examples") in repr(local.database)


def test_seed_env_replays_a_local_run(monkeypatch, tmp_path):
    monkeypatch.setenv(SEED_ENV, "12345")
    a, b = ZetaFool(), ZetaFool()
    spec = Spec(("typos",))
    run_check(spec, CASE, a, settings=robustness_settings(ci=False, max_examples=10, directory=tmp_path))
    run_check(spec, CASE, b, settings=robustness_settings(ci=False, max_examples=10, directory=tmp_path))
    assert a.batches == b.batches


def test_directional_rename_follows_the_new_name():
    spec = Spec(("rename_entity",), property="directional", params={"replacement": "Lisbon"}, examples=5)
    assert run_check(spec, CASE, ZetaFool(follow="Lisbon"), settings=ci(5)).passed
    stubborn = run_check(spec, CASE, ZetaFool(), settings=ci(5))
    assert not stubborn.passed
    assert stubborn.minimal.expected == ("Lisbon",) and stubborn.minimal.variant_prediction.text == ""


def test_invariance_with_f1_against_gold():
    spec = Spec(("distractor",), thresholds={"f1": 0.5}, params={"against": "gold", "sentences": POOL[:2]})
    assert run_check(spec, CASE, ZetaFool(), settings=ci(10)).passed


@pytest.mark.parametrize("spec,match", [
    (Spec(("typo",)), "valid perturbations"),
    (Spec(("typos",), thresholds={"f1": 1.5}), r"\[0, 1\]"),
    (Spec(("typos",), property="sideways"), "invariance, directional"),
    (Spec(("rename_entity",), property="directional", params={"entity": "Rome"}), "'Rome'"),
])
def test_bad_checks_raise_user_errors(spec, match):
    with pytest.raises(InvalidArgument, match=match):
        run_check(spec, CASE, ZetaFool(), settings=ci(5))


def test_bad_example_count():
    with pytest.raises(InvalidArgument, match="examples"):
        robustness_settings(max_examples=0)


# ------------------------------------------------------------------ attribution stability
_SCORES = {"capital": 10.0, "France.": 5.0, "Paris": 4.0}


def _explanation(question: str, context: str, hot: str) -> Explanation:
    """Word scores by identity: ``hot`` words (and all words after 'Zeta' in its sentence) score highest."""
    words, pos, zeta = [], 0, False
    for i, w in enumerate(context.split(" ")):
        zeta = (zeta or w == "Zeta") and not w.endswith(".")
        score = 20.0 if w.strip(".") == hot or zeta else _SCORES.get(w, 0.01)
        words.append(WordAttribution(w, "context", pos, pos + len(w), score, (i,)))
        pos += len(w) + 1
    target = TargetAttribution("start", 1, 0.9, 1.0, (), (), tuple(words), 0.0, 1.0, 0.0)
    answer = Answer("Paris", context.find("Paris"), context.find("Paris") + 5, 0.9, 1, 1, 0)
    return Explanation(question, context, answer, (answer,), None, (), (), (), start=target, end=target)


class Explainer(ZetaFool):
    def explain(self, question, context):
        return _explanation(question, context, "Zeta")


def test_attribution_stability_maps_words_through_edits():
    spec = Spec(("distractor",), property="attribution_stability", thresholds={"overlap": 0.6},
                params={"sentences": POOL, "top_k": 3})
    out = run_check(spec, CASE, Explainer(), settings=ci(10))
    assert not out.passed and "Zeta" in out.minimal.variant.context
    assert out.minimal.score < 0.6
    calm = Spec(("distractor",), property="attribution_stability", params={"sentences": POOL[:2], "top_k": 3})
    assert run_check(calm, CASE, Explainer(), settings=ci(10)).passed


def test_top_word_overlap_counts_renamed_words_as_the_same():
    base = Perturbed.from_case("q", "Ann sang well", (("Ann", 0),))
    variant = base.replace("rename_entity", "context", 0, 3, "Beatrice")
    a = _explanation("q", base.context, "Ann")
    b = _explanation("q", variant.context, "Beatrice")
    assert top_word_overlap(a, b, (), 2) == 0.5   # without the edit, 'Beatrice' does not line up with 'Ann'
    assert top_word_overlap(a, b, variant.edits, 2) == 1.0

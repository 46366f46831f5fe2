"""Run one property-based robustness check of a case through a ``Predictor``.

The examples are drawn first (hypothesis, seeded so that a CI run is reproducible),
predicted in one ``predict_batch`` call, and checked; only when one fails does
hypothesis run again with the same seed, predicting one variant at a time (cached),
and shrink the failure to the smallest failing edit.

Properties:
- ``invariance``: the variant's prediction matches the original prediction (carried
  through the edits) or the re-mapped gold answers (``against: gold``), by exact match
  or ``f1 >= x``;
- ``directional``: the prediction follows the edit: it matches the re-mapped gold
  answers (the new name or number), or the original prediction carried through the edit;
- ``attribution_stability``: of the variant's top-k attributed words, the share that
  map (through the edits) onto the original's top-k words is ``>= overlap``.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as Settings
from hypothesis.database import DirectoryBasedExampleDatabase

from qaaudit.errors import InvalidArgument
from qaaudit.explanation import Answer, Explanation
from qaaudit.strategies import Edit, Perturbed, check_applicable, map_span, normalize_answers, perturb, word_diff

__all__ = [
    "PROPERTIES",
    "DEFAULT_EXAMPLES",
    "SEED_ENV",
    "RobustnessSpecLike",
    "MinimalFailure",
    "RobustnessOutcome",
    "robustness_settings",
    "run_check",
    "top_word_overlap",
]

PROPERTIES: tuple[str, ...] = ("invariance", "directional", "attribution_stability")
DEFAULT_EXAMPLES = 50
DEFAULT_TOP_K = 5
DEFAULT_OVERLAP = 0.6
SEED_ENV = "QAAUDIT_ROBUSTNESS_SEED"   # replays a local run's examples (the seed is in ``reproduce``)


class RobustnessSpecLike(Protocol):
    """What ``run_check`` reads from a check (``qaaudit.spec.RobustnessSpec`` provides it).

    Thresholds and settings are looked up in ``thresholds`` and then ``params``:
    ``exact_match`` / ``f1`` / ``against`` (``prediction`` | ``gold``) / ``top_k`` / ``overlap``.
    """

    perturbations: tuple[str, ...]
    property: str
    examples: int | None
    params: Mapping[str, Any]
    line: int | None


@dataclass(frozen=True)
class MinimalFailure:
    """The smallest failing variant hypothesis found, with both predictions."""

    original: Perturbed
    variant: Perturbed
    original_prediction: Answer | None
    variant_prediction: Answer | None
    expected: tuple[str, ...]     # what the variant's prediction was compared with
    score: float                  # the measured metric (EM, F1 or overlap)

    @property
    def diff(self) -> tuple[Edit, ...]:
        return self.variant.edits

    @property
    def word_diff(self) -> str:
        parts = []
        if self.variant.question != self.original.question:
            parts.append("question: " + word_diff(self.original.question, self.variant.question))
        if self.variant.context != self.original.context:
            parts.append("context: " + word_diff(self.original.context, self.variant.context))
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "original": self.original.context, "original_question": self.original.question,
            "variant": self.variant.context, "variant_question": self.variant.question,
            "variant_answers": [list(a) for a in self.variant.answers],
            "diff": [e.describe() for e in self.diff], "edits": [e.to_dict() for e in self.diff],
            "word_diff": self.word_diff,
            "original_prediction": _text(self.original_prediction),
            "variant_prediction": _text(self.variant_prediction),
            "expected": list(self.expected), "score": self.score,
        }


@dataclass(frozen=True)
class RobustnessOutcome:
    """The result of one check: ``failures`` of ``n_examples`` distinct variants failed."""

    passed: bool
    n_examples: int
    failures: int
    minimal: MinimalFailure | None
    reproduce: str
    property: str = "invariance"
    metric: str = "exact_match"   # exact_match | f1 | overlap
    threshold: float = 1.0
    worst: float | None = None    # the lowest score over the examples
    seed: int | None = None
    perturbations: tuple[str, ...] = field(default=())

    def message(self) -> str:
        """A compact, human report (the diff, both predictions, the reproduction line)."""
        head = (f"robustness {'+'.join(self.perturbations)} ({self.property}, {self.metric} >= "
                f"{self.threshold:g}): {self.failures} of {self.n_examples} variants failed")
        if self.minimal is None:
            return head
        m = self.minimal
        lines = [head, "minimal failing edit:"]
        lines += [f"  {e.describe()}" for e in m.diff]
        lines += [f"  {line}" for line in m.word_diff.splitlines()]
        lines.append(f"  original prediction: {_text(m.original_prediction)!r}; variant prediction: "
                     f"{_text(m.variant_prediction)!r}; expected: {' | '.join(map(repr, m.expected))} "
                     f"({self.metric} = {m.score:.3g})")
        lines.append(f"  reproduce: {self.reproduce}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "n_examples": self.n_examples, "failures": self.failures,
            "minimal": self.minimal.to_dict() if self.minimal else None, "reproduce": self.reproduce,
            "property": self.property, "metric": self.metric, "threshold": self.threshold,
            "worst": self.worst, "seed": self.seed, "perturbations": list(self.perturbations),
        }


def _text(answer: Answer | None) -> str | None:
    return None if answer is None else answer.text


# --------------------------------------------------------------------------- settings
def _is_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def robustness_settings(ci: bool | None = None, max_examples: int | None = None, *,
                        directory: str | os.PathLike | None = None) -> Settings:
    """Hypothesis settings for robustness checks.

    CI profile (``ci=True``, default when ``CI=true``): derandomized, no deadline, no
    example database, reproduction blobs printed. Local profile: random seeds and the
    example database under ``<directory or .>/.hypothesis/examples`` so a failure
    replays first on the next run.
    """
    if ci is None:
        ci = _is_ci()
    n = DEFAULT_EXAMPLES if max_examples is None else max_examples
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InvalidArgument(f"max_examples must be an integer >= 1, got {max_examples!r}; "
                              "set `examples:` of the check (or the command-line option) to a positive count")
    common = dict(
        max_examples=n, deadline=None, print_blob=True,
        # each example is a model call: slow by design, and the strategies may skip edits
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                               HealthCheck.nested_given],
    )
    if ci:
        return Settings(derandomize=True, database=None, **common)
    base = Path(directory) if directory is not None else Path(".")
    return Settings(derandomize=False,
                    database=DirectoryBasedExampleDatabase(str(base / ".hypothesis" / "examples")), **common)


# --------------------------------------------------------------------------- the check
@dataclass(frozen=True)
class _Rule:
    property: str
    metric: str
    threshold: float
    against: str
    top_k: int


def _rule(spec: Any) -> _Rule:
    opts: dict[str, Any] = {**dict(getattr(spec, "params", None) or {}), **dict(getattr(spec, "thresholds", None) or {})}
    for key in ("f1", "exact_match", "against", "top_k", "overlap"):   # attributes, as qaaudit.spec gives them
        if opts.get(key) is None and getattr(spec, key, None) is not None:
            opts[key] = getattr(spec, key)
    prop = getattr(spec, "property", "invariance")
    if prop not in PROPERTIES:
        raise InvalidArgument(f"unknown robustness property {prop!r}; use one of {', '.join(PROPERTIES)}")
    default_against = "gold" if prop == "directional" else "prediction"
    against = opts.get("against") or default_against
    if against not in ("prediction", "gold"):
        raise InvalidArgument(f"against must be 'prediction' or 'gold', got {against!r}")
    if prop == "attribution_stability":
        metric, threshold = "overlap", opts.get("overlap", DEFAULT_OVERLAP)
    elif opts.get("f1") is not None:
        metric, threshold = "f1", opts["f1"]
    else:
        metric, threshold = "exact_match", 1.0
    if not isinstance(threshold, (int, float)) or not 0.0 <= float(threshold) <= 1.0:
        raise InvalidArgument(f"{metric} threshold must be in [0, 1], got {threshold!r}; use a fraction such as 0.8")
    top_k = opts.get("top_k") or DEFAULT_TOP_K
    if not isinstance(top_k, int) or top_k < 1:
        raise InvalidArgument(f"top_k must be an integer >= 1, got {top_k!r}")
    return _Rule(prop, metric, float(threshold), against, top_k)


def _check_seed(ci: bool, digest: bytes) -> int:
    """$QAAUDIT_ROBUSTNESS_SEED when set; CI: a seed fixed by the check itself; local: a fresh one."""
    env = os.environ.get(SEED_ENV)
    if env:
        try:
            return int(env)
        except ValueError:
            raise InvalidArgument(f"{SEED_ENV} must be an integer, got {env!r}; copy it from a reproduce line") from None
    return int.from_bytes(digest[:8], "big") if ci else random.getrandbits(63)


class _Judge:
    """Predicts (cached, batched where possible) and scores variants against the rule."""

    def __init__(self, predictor: Any, rule: _Rule, base: Perturbed, original: Any,
                 normalization: str = "auto") -> None:
        self.predictor, self.rule, self.base, self.normalization = predictor, rule, base, normalization
        self.answers: dict[tuple[str, str], Answer] = {}
        self.explanations: dict[tuple[str, str], Explanation] = {}
        if isinstance(original, Explanation):
            self.answers[(base.question, base.context)] = original.answer
            if original.has_attributions:
                self.explanations[(base.question, base.context)] = original
        elif isinstance(original, Answer):
            self.answers[(base.question, base.context)] = original

    def predict_many(self, items: Sequence[Perturbed]) -> None:
        """Fill the cache for ``items`` (and the original) in one ``predict_batch`` call."""
        if self.rule.property == "attribution_stability":
            return  # explanations come one by one: the Predictor has no batched explain
        keys = list(dict.fromkeys([(self.base.question, self.base.context)] + [(p.question, p.context) for p in items]))
        todo = [k for k in keys if k not in self.answers]
        if todo:
            for key, answer in zip(todo, self.predictor.predict_batch(todo)):
                self.answers[key] = answer

    def answer(self, p: Perturbed) -> Answer:
        key = (p.question, p.context)
        if key not in self.answers:
            if self.rule.property == "attribution_stability":
                self.answers[key] = self.explain(p).answer
            else:
                self.answers[key] = self.predictor.predict_batch([key])[0]
        return self.answers[key]

    def explain(self, p: Perturbed) -> Explanation:
        key = (p.question, p.context)
        if key not in self.explanations:
            self.explanations[key] = self.predictor.explain(*key)
        return self.explanations[key]

    def expected(self, p: Perturbed) -> tuple[str, ...]:
        if self.rule.against == "gold":
            return tuple(t for t, _ in p.answers)
        orig = self.answer(self.base)
        if orig.is_null or orig.start == orig.end:
            return ("",)
        span = map_span(p.edits, "context", orig.start, orig.end)
        # an edit that cuts the predicted span: compare with the text as it was
        return (p.context[span[0]:span[1]] if span else orig.text,)

    def score(self, p: Perturbed) -> float:
        if self.rule.property == "attribution_stability":
            return top_word_overlap(self.explain(self.base), self.explain(p), p.edits, self.rule.top_k)
        from qaaudit.metrics import exact_match, f1, normalize, resolve_normalization

        prediction = self.answer(p).text
        golds = self.expected(p)
        if not any(golds):   # no answer expected: only the null answer matches
            return 1.0 if not prediction.strip() else 0.0
        # the case's normalisation; two answers that both normalise to nothing ("." and ".") agree here, since
        # this compares answers with each other rather than reproducing an official score
        mode = resolve_normalization(self.normalization, self.base.question, self.base.context, *golds)
        metric = f1 if self.rule.metric == "f1" else exact_match
        return max(1.0 if not normalize(prediction, mode) and not normalize(g, mode) else
                   metric(prediction, g, normalization=mode) for g in golds)

    def fails(self, p: Perturbed) -> bool:
        return self.score(p) < self.rule.threshold - 1e-12


class _Failed(AssertionError):
    pass


def run_check(spec: RobustnessSpecLike, case: Any, predictor: Any, *, original: Answer | Explanation | None = None,
              settings: Settings | None = None) -> RobustnessOutcome:
    """Run one robustness check of ``case`` (``.question``, ``.context``, ``.answers``) through ``predictor``.

    ``original`` is the case's prediction (or explanation) when the caller has it already.
    ``settings.max_examples`` is the number of examples; without settings,
    ``robustness_settings(max_examples=spec.examples)`` (CI profile under ``CI=true``).
    """
    rule = _rule(spec)
    perts = tuple(spec.perturbations)
    question, context = case.question, case.context
    answers = normalize_answers(context, getattr(case, "answers", ()) or ())
    params = dict(getattr(spec, "params", None) or {})
    for pert in perts:
        why = check_applicable(pert, question, context, answers, params)
        if why is not None:
            raise InvalidArgument(f"robustness check at line {getattr(spec, 'line', None)}: {why}")
    cfg = settings if settings is not None else robustness_settings(max_examples=getattr(spec, "examples", None))
    ci = cfg.derandomize
    digest = hashlib.sha256(repr((perts, rule, question, context, answers, sorted(params.items(), key=str)))
                            .encode()).digest()
    run_seed = _check_seed(ci, digest)
    strategy = perturb(question, context, answers, perts, params=params)
    base = Perturbed.from_case(question, context, answers)
    judge = _Judge(predictor, rule, base, original, getattr(case, "normalization", "auto"))

    # 1. draw the examples (no model call), 2. predict them in one batch, 3. check
    variants = _draw(strategy, cfg, run_seed, digest)
    variants = [v for v in variants if v.edits and (v.question, v.context) != (question, context)]
    judge.predict_many(variants)
    scores = [judge.score(v) for v in variants]
    failing = [v for v, s in zip(variants, scores) if s < rule.threshold - 1e-12]
    common = dict(property=rule.property, metric=rule.metric, threshold=rule.threshold,
                  worst=min(scores) if scores else None, seed=run_seed, perturbations=perts)
    reproduce = f"{SEED_ENV}={run_seed}" + (" (CI profile: derandomized, the same on every run)" if ci else "")
    if not failing:
        return RobustnessOutcome(True, len(variants), 0, None, reproduce, **common)

    # 4. shrink: hypothesis replays the same seed, one prediction at a time, and minimises
    minimal, blob = _shrink(strategy, cfg, run_seed, digest, judge)
    if minimal is None:   # the replay did not meet the failure again (a non-deterministic model?)
        minimal = min(failing, key=lambda v: (len(v.edits), len(v.context)))
    if blob:
        reproduce += f"; {blob}"
    found = MinimalFailure(base, minimal, judge.answer(base), judge.answer(minimal),
                           judge.expected(minimal) if rule.property != "attribution_stability" else (),
                           judge.score(minimal))
    return RobustnessOutcome(False, len(variants), len(failing), found, reproduce, **common)


def _draw(strategy: Any, cfg: Settings, run_seed: int, digest: bytes) -> list[Perturbed]:
    """``cfg.max_examples`` examples of ``strategy`` for ``run_seed``, without calling the model."""
    seen: dict[tuple[str, str], Perturbed] = {}

    @seed(run_seed)
    @Settings(cfg, database=None, phases=(Phase.generate,))
    @given(strategy)
    def collect(p: Perturbed) -> None:
        seen.setdefault((p.question, p.context), p)

    collect.hypothesis.inner_test._hypothesis_internal_add_digest = digest + b".draw"
    collect()
    return list(seen.values())


_BLOB = re.compile(r"@reproduce_failure\([^)]*\)")


def _shrink(strategy: Any, cfg: Settings, run_seed: int, digest: bytes,
            judge: _Judge) -> tuple[Perturbed | None, str | None]:
    """Let hypothesis find and minimise a failing variant; the last failing call is the minimal one."""
    last: list[Perturbed] = []

    @seed(run_seed)
    @Settings(cfg, phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink), print_blob=True)
    @given(strategy)
    def holds(p: Perturbed) -> None:
        if p.edits and judge.fails(p):
            last.append(p)
            raise _Failed(f"robustness property fails for {[e.describe() for e in p.edits]}")

    # a database key per check, so a local rerun replays this check's failure first
    holds.hypothesis.inner_test._hypothesis_internal_add_digest = digest
    try:
        holds()
    except _Failed as exc:
        notes = "\n".join(getattr(exc, "__notes__", ()) or ())
        m = _BLOB.search(notes)
        return (last[-1] if last else None), (m.group(0) if m else None)
    return None, None


# --------------------------------------------------------------------------- attributions
def _word_scores(exp: Explanation) -> dict[tuple[str, int, int], float]:
    """Start + end attribution per (segment, start, end) word of the question and context."""
    scores: dict[tuple[str, int, int], float] = {}
    for target in (exp.start, exp.end):
        for w in (target.words if target else ()):
            if w.segment in ("question", "context"):
                key = (w.segment, w.start, w.end)
                scores[key] = scores.get(key, 0.0) + w.score
    return scores


def _map_back(edits: Sequence[Edit], target: str, pos: int) -> int | None:
    """A character position of the edited ``target`` text in the original; None inside inserted text."""
    for ed in reversed(edits):
        if ed.target != target:
            continue
        if pos < ed.start:
            continue
        if pos >= ed.start + len(ed.after):
            pos += len(ed.before) - len(ed.after)
        elif ed.before:
            pos = ed.start   # a replaced word maps onto the word it replaced
        else:
            return None      # inserted text (a distractor) has no original
    return pos


def top_word_overlap(original: Explanation, variant: Explanation, edits: Sequence[Edit], k: int) -> float:
    """Share of the original's top-``k`` attributed words that are among the variant's top-``k`` (mapped back)."""
    orig = sorted(_word_scores(original).items(), key=lambda kv: kv[1], reverse=True)[:k]
    var = sorted(_word_scores(variant).items(), key=lambda kv: kv[1], reverse=True)[:k]
    if not orig:
        return 1.0
    mapped = {(seg, _map_back(edits, seg, s)) for (seg, s, _e), _ in var}
    hits = sum(1 for (seg, s, e), _ in orig if any(ms == seg and mp is not None and s <= mp < e for ms, mp in mapped))
    return hits / len(orig)

"""Validated, frozen specs of an audit file: ``load_audit(path) -> AuditFile``.

``qaaudit.schema`` checks the shape of every value; this module adds what spans
several fields (gold answers occur in the context, case ids are unique, the
file's defaults merge into each case) and builds the frozen specs the plugin,
``qaaudit.expect`` and the robustness checks read. Every problem of a file is
reported together, each at its ``file:line:col``.
"""
from __future__ import annotations

import builtins
import difflib
import keyword
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence, Union

from qaaudit.errors import SpecError
from qaaudit.loader import Mark, YList, YMap, load_yaml, load_yaml_text
from qaaudit.schema import AUDIT, PERTURBATION_PARAMS, Problems

__all__ = [
    "BUILTIN_THRESHOLDS",
    "THRESHOLD_GROUPS",
    "SpecErrors",
    "GoldAnswer",
    "SpanTarget",
    "PredictionExpectation",
    "UnanswerableExpectation",
    "FocusExpectation",
    "AvoidExpectation",
    "CompletenessExpectation",
    "FaithfulnessExpectation",
    "AttentionExpectation",
    "Expectation",
    "RobustnessSpec",
    "AttributionSettings",
    "Defaults",
    "Case",
    "AuditFile",
    "load_audit",
    "parse_audit",
]

# Thresholds used where neither the case nor the file's `defaults.expect` gives one.
BUILTIN_THRESHOLDS: Mapping[str, Mapping[str, Any]] = {
    "prediction": {"exact_match": True},
    "focus": {"target": "answer", "share": 0.25, "mass": "positive", "position": "both"},
    "avoid": {"share": 0.1, "mass": "positive", "position": "both"},
    "completeness": {"rel_delta": 0.1},
    "faithfulness": {"comprehensiveness": 0.2, "sufficiency": 0.3, "top_percent": 20.0},
    "attention": {"target": "question", "share": 0.3, "layers": 2, "head": "mean", "position": "both"},
}
# Thresholds that stand in for one another: a layer (file defaults, case) that sets any of a
# group replaces the whole group of the layer below, so `f1: 0.8` in a case drops a default
# `exact_match: true` instead of adding to it. Other keys fill in one by one.
THRESHOLD_GROUPS: Mapping[str, tuple[str, ...]] = {
    "prediction": ("exact_match", "f1"),
    "focus": ("share", "top_k"),
    "avoid": ("share", "top_k"),
    "completeness": ("abs_delta", "rel_delta"),
    "faithfulness": ("comprehensiveness", "sufficiency"),
    "attention": ("share", "top_k"),
}
# Markers pytest gives a meaning of its own; a tag with one of these names would change the run.
_RESERVED_TAGS = {"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings"}
_DIRECTIONAL = ("rename_entity", "change_number")


class SpecErrors(SpecError):
    """Several problems of one file; ``errors`` holds each, the first gives the location."""

    def __init__(self, errors: Sequence[SpecError]) -> None:
        self.errors = tuple(errors)
        first = self.errors[0]
        super().__init__(first.message, path=first.path, line=first.line, col=first.col, hint=first.hint)

    def render(self) -> str:
        parts = [SpecError.render(e) for e in self.errors]
        if len(parts) > 1:
            parts.append(f"({len(parts)} problems in this file)")
        return "\n".join(parts)


@dataclass(frozen=True)
class GoldAnswer:
    """A gold answer; ``start`` is its character offset when the file gives one."""

    text: str
    start: int | None = None

    def span(self, context: str) -> tuple[int, int] | None:
        """Its character span: the given start, else the first occurrence."""
        start = self.start if self.start is not None else context.find(self.text)
        return None if start < 0 else (start, start + len(self.text))


@dataclass(frozen=True)
class SpanTarget:
    """What a focus/avoid expectation looks at.

    ``kind``: ``answer`` (the gold spans), ``question`` (the whole question),
    ``text`` (every occurrence of ``text`` in the context), ``range``
    (``context[start:end]``) or, for attention, ``keywords`` (every occurrence of each of
    ``keywords`` in the question).
    """

    kind: str
    text: str | None = None
    start: int | None = None
    end: int | None = None
    keywords: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "text":
            return f"text {self.text!r}"
        if self.kind == "keywords":
            return "question keywords " + ", ".join(map(repr, self.keywords))
        if self.kind == "range":
            return f"characters [{self.start}, {self.end})"
        return self.kind


@dataclass(frozen=True)
class PredictionExpectation:
    family: ClassVar[str] = "prediction"
    line: int | None
    exact_match: bool = False
    f1: float | None = None
    offsets: bool = False
    min_confidence: float | None = None


@dataclass(frozen=True)
class UnanswerableExpectation:
    family: ClassVar[str] = "unanswerable"
    line: int | None


@dataclass(frozen=True)
class FocusExpectation:
    """The target's share of attribution >= ``share``, and/or a target token among the ``top_k``."""

    family: ClassVar[str] = "focus"
    line: int | None
    target: SpanTarget
    share: float | None = None
    top_k: int | None = None
    mass: str = "positive"      # positive | absolute
    position: str = "both"      # start | end | both

    @property
    def positions(self) -> tuple[str, ...]:
        return ("start", "end") if self.position == "both" else (self.position,)


@dataclass(frozen=True)
class AvoidExpectation(FocusExpectation):
    """The target's share of attribution <= ``share``, and/or no target token among the ``top_k``."""

    family: ClassVar[str] = "avoid"


@dataclass(frozen=True)
class CompletenessExpectation:
    family: ClassVar[str] = "completeness"
    line: int | None
    abs_delta: float | None = None
    rel_delta: float | None = None


@dataclass(frozen=True)
class FaithfulnessExpectation:
    family: ClassVar[str] = "faithfulness"
    line: int | None
    comprehensiveness: float | None = None
    sufficiency: float | None = None
    top_percent: float = 20.0


@dataclass(frozen=True)
class AttentionExpectation:
    """The attention from the predicted start/end token, over the last ``layers`` layers, that lands on the target:
    its share of the attention on question and context tokens >= ``share``, and/or a target token in the ``top_k``."""

    family: ClassVar[str] = "attention"
    line: int | None
    target: SpanTarget
    share: float | None = None
    top_k: int | None = None
    layers: int = 2             # the last n layers, averaged
    head: str = "mean"          # mean (heads averaged) | focused (each layer's most focused head)
    position: str = "both"

    @property
    def positions(self) -> tuple[str, ...]:
        return ("start", "end") if self.position == "both" else (self.position,)


Expectation = Union[PredictionExpectation, UnanswerableExpectation, FocusExpectation, AvoidExpectation,
                    CompletenessExpectation, FaithfulnessExpectation, AttentionExpectation]
_NEEDS_ATTRIBUTIONS = ("focus", "avoid", "completeness", "faithfulness", "attention")


@dataclass(frozen=True)
class RobustnessSpec:
    """One property-based check; ``name`` is unique within its case (``robust[<name>]``)."""

    line: int | None
    name: str
    perturbations: tuple[str, ...]
    property: str = "invariance"
    examples: int | None = None
    f1: float | None = None
    exact_match: bool | None = None
    against: str = "prediction"
    top_k: int | None = None
    overlap: float | None = None
    xfail: str | None = None
    skip: str | None = None
    # perturbation parameters for qaaudit.strategies (max_edits, entity, names, number, ...)
    params: Mapping[str, Any] = field(default_factory=dict)

    @builtins.property  # the field `property` shadows the builtin in this class body
    def entity(self) -> str | None:
        return self.params.get("entity")


@dataclass(frozen=True)
class AttributionSettings:
    """Integrated-gradients settings (see ``qaaudit.explainer.explain``)."""

    steps: int | None = None
    abs_delta: float | None = 0.05   # completeness target of adaptive steps
    rel_delta: float | None = 0.05
    token_error: float | None = 0.02  # the adaptive rule's per-token error estimate (CompletenessTarget)
    max_steps: int = 129
    method: str = "gausslegendre"
    baseline: str = "pad"
    sub_embeddings: bool = False
    layers: bool = False
    attention: bool = False          # attention weights from the predicted start/end tokens (one more forward)
    autocast: bool | str | None = None


@dataclass(frozen=True)
class Defaults:
    attribution: AttributionSettings = AttributionSettings()
    max_answer_len: int = 15
    handle_impossible_answer: bool = False
    max_seq_len: int | None = None
    doc_stride: int | None = None
    align_to_words: bool | str = "auto"
    expect: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    robustness: tuple[RobustnessSpec, ...] = ()
    expect_off: frozenset = frozenset()   # families a file turned off with `family: false`


_HANGUL_SYLLABLE = re.compile("[\uac00-\ud7a3]")


@dataclass(frozen=True)
class Case:
    id: str
    line: int
    question: str
    context: str
    answers: tuple[GoldAnswer, ...]
    unanswerable: bool = False
    tags: tuple[str, ...] = ()
    xfail: str | None = None
    skip: str | None = None
    normalization: str = "auto"
    expectations: tuple[Expectation, ...] = ()
    robustness: tuple[RobustnessSpec, ...] = ()
    attribution: AttributionSettings = AttributionSettings()
    max_answer_len: int = 15
    handle_impossible_answer: bool = False
    max_seq_len: int | None = None
    doc_stride: int | None = None
    align_to_words: bool | str = "auto"
    # where a case not written in the audit file comes from: "dataset path#question id", "template id#index"
    origin: str = ""

    @property
    def aligns_to_words(self) -> bool:
        """``auto``: the pipeline's word alignment, except for Hangul text, where words carry particles."""
        if self.align_to_words == "auto":
            return _HANGUL_SYLLABLE.search(self.context) is None   # (a regex: called per item, on long contexts)
        return bool(self.align_to_words)

    @property
    def needs_attributions(self) -> bool:
        return any(e.family in _NEEDS_ATTRIBUTIONS for e in self.expectations) or any(
            r.property == "attribution_stability" for r in self.robustness)

    @property
    def gold_texts(self) -> tuple[str, ...]:
        return tuple(a.text for a in self.answers)

    @property
    def gold_spans(self) -> tuple[tuple[int, int], ...]:
        return tuple(s for s in (a.span(self.context) for a in self.answers) if s is not None)


@dataclass(frozen=True)
class AuditFile:
    path: str
    model: str | None
    model_line: int | None
    normalization: str
    defaults: Defaults
    cases: tuple[Case, ...]
    templates: tuple[Any, ...] = ()   # qaaudit.templates.Template, each with its generated cases


# ---------------------------------------------------------------------------------------------
def load_audit(path: str | os.PathLike) -> AuditFile:
    """Read and validate an audit file; raises ``SpecError`` (``SpecErrors`` for several problems)."""
    return _build(load_yaml(path), str(path))


def parse_audit(text: str, path: str | os.PathLike = "<string>") -> AuditFile:
    """Validate audit YAML given as text (``path`` only names it in messages)."""
    return _build(load_yaml_text(text, path), str(path))


def _build(data: YMap, path: str) -> AuditFile:
    problems = Problems(path)
    checked = AUDIT.check(data, data.mark, "", problems)
    if problems:  # shapes first: the cross-field checks below rely on them
        _raise(problems)
    builder = _Builder(path, problems)
    audit = builder.audit(checked)
    if problems:
        _raise(problems)
    return audit


def _raise(problems: Problems) -> None:
    errors = sorted(problems.errors, key=lambda e: (e.line or 0, e.col or 0))
    raise errors[0] if len(errors) == 1 else SpecErrors(errors)


def _layer(base: Mapping[str, Any], top: Mapping[str, Any], family: str) -> dict[str, Any]:
    group = THRESHOLD_GROUPS.get(family, ())
    out = dict(base)
    if any(k in top for k in group):
        for k in group:
            out.pop(k, None)
    out.update(top)
    return out


def _closest(text: str, context: str) -> str:
    """The passage of ``context`` most like ``text``, as a hint (empty when nothing is close)."""
    starts = [0] + [m.end() for m in re.finditer(r"\s+", context)]
    windows = {context[s:s + len(text)].strip() for s in starts}
    close = difflib.get_close_matches(text, [w for w in windows if w], n=1, cutoff=0.5)
    if close:
        return f"did you mean {close[0]!r}?"
    lowered = context.lower().find(text.lower())
    if lowered >= 0:
        return f"did you mean {context[lowered:lowered + len(text)]!r}?"
    return ""


class _Builder:
    """Turns checked YAML into specs, adding each cross-field problem to ``problems``."""

    def __init__(self, path: str, problems: Problems) -> None:
        self.path = path
        self.problems = problems
        self.question = ""      # of the case being built (attention keywords are looked up in it)

    def add(self, message: str, mark: Mark | None, hint: str | None = None) -> None:
        self.problems.add(message, mark, hint)

    # -- file ---------------------------------------------------------------------------------
    def audit(self, data: YMap) -> AuditFile:
        raw_defaults = data.get("defaults", YMap())
        defaults = self.defaults(raw_defaults)
        normalization = data.get("normalization", "auto")
        cases: list[Case] = []
        seen: dict[str, int] = {}
        raw_cases: YList = data.get("cases", YList())
        if not any(key in data for key in ("cases", "templates", "datasets")):
            self.add("the file has no `cases:`, `templates:` or `datasets:`", data.mark,
                     "add `cases:` (hand-written cases), `templates:` (cases generated from lexicons) or "
                     "`datasets: [{path: dev.json}]` (the questions of a SQuAD/KorQuAD file)")
        for i, raw in enumerate(raw_cases):
            case = self.case(raw, raw_cases.item_mark(i), defaults, raw_defaults, normalization)
            if case is None:
                continue
            if case.id in seen:
                self.add(f"duplicate case id {case.id!r} (first used by the case at line {seen[case.id]})",
                         raw.value_mark("id"), "give every case its own id: it names the pytest item")
                continue
            seen[case.id] = case.line
            cases.append(case)
        from qaaudit.datasets import dataset_cases

        for case, mark in dataset_cases(self, data, self.path, defaults, raw_defaults, data.get("normalization")):
            if case.id in seen:
                self.add(f"case id {case.id!r} of {case.origin} is used already (by the case at line {seen[case.id]})",
                         mark, "give every case its own id: question ids must differ from the other cases' and "
                               "datasets' ids (or choose the questions with `ids:`)")
                continue
            seen[case.id] = case.line
            cases.append(case)
        templates = self.templates(data, defaults, raw_defaults, normalization, seen)
        return AuditFile(path=self.path, model=data.get("model"),
                         model_line=data.value_mark("model").line if "model" in data else None,
                         normalization=normalization, defaults=defaults, cases=tuple(cases), templates=templates)

    def templates(self, data: YMap, defaults: Defaults, raw_defaults: YMap, normalization: str,
                  seen: dict[str, int]) -> tuple[Any, ...]:
        """The file's templates, each with its generated cases (``qaaudit.templates``)."""
        if "templates" not in data:
            return ()
        from qaaudit.templates import TemplateBuilder

        builder = TemplateBuilder(
            self.path, self.add, lambda raw, mark: self.case(raw, mark, defaults, raw_defaults, normalization),
            lambda: len(self.problems.errors), data.get("lexicons"), raw_defaults.get("min_pass_rate"))
        out = []
        raw_templates: YList = data["templates"]
        for i, raw in enumerate(raw_templates):
            mark = raw_templates.item_mark(i)
            if raw["id"] in seen:
                self.add(f"duplicate id {raw['id']!r} (first used at line {seen[raw['id']]})", raw.value_mark("id"),
                         "give every case and template its own id: it names the pytest item")
                continue
            seen[raw["id"]] = mark.line
            template = builder.template(raw, mark, Path(self.path).name)
            if template is not None:
                out.append(template)
        return tuple(out)

    def defaults(self, raw: YMap) -> Defaults:
        expect = {}
        off = set()
        for family, value in raw.get("expect", {}).items():
            if value is False:   # e.g. `prediction: false`: no case gets it unless it asks
                off.add(family)
                continue
            expect[family] = _layer(BUILTIN_THRESHOLDS.get(family, {}), value if isinstance(value, Mapping) else {},
                                    family)
        robustness = []
        for i, item in enumerate(raw.get("robustness", ())):
            robustness.append(self.robustness_entry(item, raw["robustness"].item_mark(i)))
        return Defaults(
            attribution=self.attribution(AttributionSettings(), raw.get("attribution")),
            max_answer_len=raw.get("max_answer_len", 15),
            handle_impossible_answer=raw.get("handle_impossible_answer", False),
            max_seq_len=raw.get("max_seq_len"), doc_stride=raw.get("doc_stride"),
            align_to_words=raw.get("align_to_words", "auto"),
            expect=expect, robustness=tuple(robustness), expect_off=frozenset(off),
        )

    def attribution(self, base: AttributionSettings, raw: YMap | None) -> AttributionSettings:
        if not raw:
            return base
        kw = {k: v for k, v in raw.items() if k != "target"}
        kw.update(raw.get("target", {}))
        return AttributionSettings(**{**base.__dict__, **kw})

    def case_attribution(self, base: AttributionSettings, raw: YMap | None,
                         expectations: Sequence[Any]) -> AttributionSettings:
        """A case's settings; an attention expectation needs the attention pass, so it turns it on."""
        settings = self.attribution(base, raw)
        if not settings.attention and any(e.family == "attention" for e in expectations):
            settings = AttributionSettings(**{**settings.__dict__, "attention": True})
        return settings

    # -- case ---------------------------------------------------------------------------------
    def case(self, raw: YMap, mark: Mark, defaults: Defaults, raw_defaults: YMap,
             file_normalization: str) -> Case | None:
        context, question = raw["context"], raw["question"]
        self.question = question
        where = f"case {raw['id']!r}"
        known_problems = len(self.problems.errors)
        if "::" in raw["id"]:
            self.add(f"case id {raw['id']!r} holds '::', which separates the parts of a pytest node id",
                     raw.value_mark("id"), f"write it as {raw['id'].replace('::', '-')!r}")
        answers = self.answers(raw, context, where)
        unanswerable = raw.get("unanswerable", False)
        if unanswerable and answers:
            key = "answer" if "answer" in raw else "answers"
            self.add(f"{where} is `unanswerable: true` but also gives `{key}`", raw.key_mark(key),
                     f"remove `{key}:` or `unanswerable: true`")
        elif not unanswerable and not answers and not ("answer" in raw or "answers" in raw):
            self.add(f"{where} has no gold answer", raw.mark,
                     "add `answer: <text from the context>` (or `unanswerable: true` if the context holds none)")
        max_seq_len = raw.get("max_seq_len", defaults.max_seq_len)
        doc_stride = raw.get("doc_stride", defaults.doc_stride)
        if max_seq_len is not None and doc_stride is not None and doc_stride >= max_seq_len:
            self.add(f"doc_stride {doc_stride} must be smaller than max_seq_len {max_seq_len}",
                     raw.value_mark("doc_stride") if "doc_stride" in raw else raw.mark,
                     "the stride is the overlap of two windows: use about a quarter of max_seq_len")
        expectations = self.expectations(raw, answers, unanswerable, context, defaults, where)
        handle = raw.get("handle_impossible_answer")
        if handle is None:  # the null answer must be allowed to win where the case expects it
            handle = True if unanswerable or any(e.family == "unanswerable" for e in expectations) \
                else defaults.handle_impossible_answer
        robustness = self.case_robustness(raw, defaults, question, context, answers, where)
        if not expectations and not robustness and len(self.problems.errors) == known_problems:
            # a case that checks nothing would pass whatever the model does
            self.add(f"{where} checks nothing: it has no expectation and no robustness check", raw.mark,
                     "remove `prediction: false` (here or in defaults.expect), or add an expectation such as "
                     "`expect: {prediction: {f1: 0.8}}`")
        return Case(
            id=raw["id"], line=mark.line, question=question, context=context, answers=answers,
            unanswerable=unanswerable, tags=self.tags(raw),
            xfail=raw.get("xfail"), skip=raw.get("skip"),
            normalization=raw.get("normalization", file_normalization),
            expectations=expectations,
            robustness=robustness,
            attribution=self.case_attribution(defaults.attribution, raw.get("attribution"), expectations),
            max_answer_len=raw.get("max_answer_len", defaults.max_answer_len),
            handle_impossible_answer=handle, max_seq_len=max_seq_len, doc_stride=doc_stride,
            align_to_words=raw.get("align_to_words", defaults.align_to_words),
        )

    def answers(self, raw: YMap, context: str, where: str) -> tuple[GoldAnswer, ...]:
        if "answer" in raw and "answers" in raw:
            self.add(f"{where} gives both `answer` and `answers`", raw.key_mark("answers"),
                     "put every acceptable answer in `answers:` and remove `answer:`")
        items: list[tuple[Any, Mark]] = []
        if "answer" in raw:
            items.append((raw["answer"], raw.value_mark("answer")))
        for i, item in enumerate(raw.get("answers", ())):
            items.append((item, raw["answers"].item_mark(i)))
        out = []
        for item, mark in items:
            gold = GoldAnswer(item) if isinstance(item, str) else GoldAnswer(item["text"], item.get("start"))
            if self.gold_ok(gold, context, item, mark, where):
                out.append(gold)
        return tuple(out)

    def gold_ok(self, gold: GoldAnswer, context: str, item: Any, mark: Mark, where: str) -> bool:
        if gold.start is None:
            if gold.text in context:
                return True
            hint = _closest(gold.text, context)
            self.add(f"gold answer {gold.text!r} of {where} does not occur in the context", mark,
                     (hint + " " if hint else "") + "copy the answer from the context exactly (it is extractive QA)")
            return False
        found = context[gold.start:gold.start + len(gold.text)]
        if found == gold.text:
            return True
        elsewhere = context.find(gold.text)
        smark = item.value_mark("start") if isinstance(item, YMap) else mark
        if elsewhere >= 0:
            hint = f"it occurs at start {elsewhere}: write `start: {elsewhere}` or leave `start` out"
        else:
            hint = "the text does not occur in the context at all; copy it from the context exactly"
        self.add(f"gold answer {gold.text!r} is not at start {gold.start} of the context of {where} "
                 f"(found {found!r} there)", smark, hint)
        return False

    def tags(self, raw: YMap) -> tuple[str, ...]:
        out = []
        for i, tag in enumerate(raw.get("tags", ())):
            mark = raw["tags"].item_mark(i)
            if not tag.isidentifier() or keyword.iskeyword(tag) or tag in ("and", "or", "not"):
                fixed = re.sub(r"\W", "_", tag)
                fixed = fixed if fixed.isidentifier() and not keyword.iskeyword(fixed) else f"tag_{fixed}"
                self.add(f"tag {tag!r} cannot be a pytest marker (markers are names: letters, digits, _)",
                         mark, f"did you mean {fixed!r}?")
            elif tag in _RESERVED_TAGS:
                self.add(f"tag {tag!r} is a marker pytest already uses", mark,
                         f"use the case's `{tag}:` key for that, or another tag name such as '{tag}_case'"
                         if tag in ("skip", "xfail") else f"choose another name, e.g. '{tag}_case'")
            else:
                out.append(tag)
        return tuple(dict.fromkeys(out))

    # -- expectations ---------------------------------------------------------------------------
    def expectations(self, raw: YMap, answers: tuple[GoldAnswer, ...], unanswerable: bool, context: str,
                     defaults: Defaults, where: str) -> tuple[Expectation, ...]:
        expect: YMap = raw.get("expect", YMap())
        out: list[Expectation] = []
        prediction = expect.get("prediction")
        if expect.get("unanswerable"):
            if answers:
                self.add(f"{where} expects `unanswerable` but gives a gold answer",
                         expect.key_mark("unanswerable"), "remove the gold answer or this expectation")
            out.append(UnanswerableExpectation(expect.key_mark("unanswerable").line))
        elif unanswerable and prediction not in (None, False):
            self.add(f"{where} is unanswerable, so `expect.prediction` has no gold answer to compare with",
                     expect.key_mark("prediction"), "use `expect: {unanswerable: true}` instead")
        elif unanswerable:  # `unanswerable: true` alone means: expect the null answer
            out.append(UnanswerableExpectation(raw.key_mark("unanswerable").line))
        if answers and prediction is not False and not (prediction is None and "prediction" in defaults.expect_off):
            key = "prediction" if prediction is not None else ("answer" if "answer" in raw else "answers")
            line = expect.key_mark(key).line if prediction is not None else raw.key_mark(key).line
            settings = self.merged("prediction", prediction, defaults)
            if not settings.get("exact_match") and settings.get("f1") is None \
                    and not settings.get("offsets") and settings.get("min_confidence") is None:
                self.add(f"expect.prediction of {where} checks nothing", expect.value_mark("prediction"),
                         "set `exact_match: true` or `f1: 0.8`")
            out.append(PredictionExpectation(line, exact_match=bool(settings.get("exact_match")),
                                             f1=settings.get("f1"), offsets=bool(settings.get("offsets")),
                                             min_confidence=settings.get("min_confidence")))
        for family, cls in (("focus", FocusExpectation), ("avoid", AvoidExpectation)):
            value = expect.get(family)
            if value is None or value is False:
                continue
            entries = [(v, value.item_mark(i)) for i, v in enumerate(value)] if isinstance(value, YList) \
                else [(value, expect.key_mark(family))]
            for item, mark in entries:
                spec = self.span_expectation(cls, item, mark, defaults, answers, context, where)
                if spec is not None:
                    out.append(spec)
        value = expect.get("attention")
        if value is not None and value is not False:
            entries = [(v, value.item_mark(i)) for i, v in enumerate(value)] if isinstance(value, YList) \
                else [(value, expect.key_mark("attention"))]
            for item, mark in entries:
                spec = self.attention_expectation(item, mark, defaults, answers, context, where)
                if spec is not None:
                    out.append(spec)
        for family, cls, keys in (
            ("completeness", CompletenessExpectation, ("abs_delta", "rel_delta")),
            ("faithfulness", FaithfulnessExpectation, ("comprehensiveness", "sufficiency", "top_percent")),
        ):
            value = expect.get(family)
            if value is None or value is False:
                continue
            settings = self.merged(family, value, defaults)
            spec = cls(expect.key_mark(family).line, **{k: settings[k] for k in keys if k in settings})
            if family == "faithfulness" and not answers and unanswerable:
                self.add(f"faithfulness of {where} needs a predicted span, but the case is unanswerable",
                         expect.key_mark(family), "remove `faithfulness` from this case")
            out.append(spec)
        return tuple(out)

    def merged(self, family: str, value: Any, defaults: Defaults) -> dict[str, Any]:
        base = defaults.expect.get(family) or dict(BUILTIN_THRESHOLDS.get(family, {}))
        return _layer(base, value if isinstance(value, Mapping) else {}, family)

    def span_expectation(self, cls: type, item: Any, mark: Mark, defaults: Defaults,
                         answers: tuple[GoldAnswer, ...], context: str, where: str) -> FocusExpectation | None:
        family = cls.family
        settings = self.merged(family, item, defaults)
        if "target" not in settings:
            self.add(f"{family} of {where} needs a `target`", mark,
                     "add `target: {text: <a text of the context>}` (or answer, question, {start:, end:})")
            return None
        if settings.get("share") is None and settings.get("top_k") is None:
            self.add(f"{family} of {where} sets neither `share` nor `top_k`", mark, "add `share: 0.3` or `top_k: 5`")
            return None
        tmark = item.value_mark("target") if isinstance(item, YMap) and "target" in item else mark
        target = self.target(settings["target"], tmark, answers, context, family, where)
        if target is None:
            return None
        return cls(mark.line, target=target, share=settings.get("share"), top_k=settings.get("top_k"),
                   mass=settings.get("mass", "positive"), position=settings.get("position", "both"))

    def attention_expectation(self, item: Any, mark: Mark, defaults: Defaults, answers: tuple[GoldAnswer, ...],
                              context: str, where: str) -> AttentionExpectation | None:
        settings = self.merged("attention", item, defaults)
        if settings.get("share") is None and settings.get("top_k") is None:
            self.add(f"attention of {where} sets neither `share` nor `top_k`", mark, "add `share: 0.3` or `top_k: 5`")
            return None
        tmark = item.value_mark("target") if isinstance(item, YMap) and "target" in item else mark
        raw = settings["target"]
        if isinstance(raw, Mapping) and "keywords" in raw:
            missing = [(i, k) for i, k in enumerate(raw["keywords"]) if k not in self.question]
            for i, k in missing:
                hint = _closest(k, self.question)
                self.add(f"attention keyword {k!r} of {where} does not occur in the question", raw["keywords"].item_mark(i)
                         if isinstance(raw["keywords"], YList) else tmark,
                         (hint + " " if hint else "") + "copy the key word from the question exactly")
            target = None if missing else SpanTarget("keywords", keywords=tuple(raw["keywords"]))
        else:
            target = self.target(raw, tmark, answers, context, "attention", where)
        if target is None:
            return None
        return AttentionExpectation(mark.line, target=target, share=settings.get("share"), top_k=settings.get("top_k"),
                                    layers=settings.get("layers", 2), head=settings.get("head", "mean"),
                                    position=settings.get("position", "both"))

    def target(self, value: Any, mark: Mark, answers: tuple[GoldAnswer, ...], context: str, family: str,
               where: str) -> SpanTarget | None:
        if value == "answer":
            if not answers:
                self.add(f"{family} target 'answer' of {where} needs a gold answer", mark,
                         "target a text of the context instead: `target: {text: ...}`")
                return None
            return SpanTarget("answer")
        if value == "question":
            return SpanTarget("question")
        if "slot" in value:
            self.add(f"{family} target {{slot: {value['slot']!r}}} of {where} names no slot of a template",
                     value.value_mark("slot"), "`{slot: ...}` targets are for templates (a slot their `slots:` "
                     "define); a hand-written case names the text: `target: {text: ...}`")
            return None
        if "text" in value:
            text = value["text"]
            if text not in context:
                hint = _closest(text, context)
                self.add(f"{family} target text {text!r} of {where} does not occur in the context",
                         value.value_mark("text"), (hint + " " if hint else "") + "copy the text from the context exactly")
                return None
            return SpanTarget("text", text=text)
        start, end = value["start"], value["end"]
        if not start < end <= len(context):
            self.add(f"{family} target range [{start}, {end}) of {where} is outside the context "
                     f"(it has {len(context)} characters) or empty", value.mark,
                     f"use 0 <= start < end <= {len(context)}")
            return None
        return SpanTarget("range", text=context[start:end], start=start, end=end)

    # -- robustness ---------------------------------------------------------------------------
    def robustness_entry(self, raw: YMap, mark: Mark) -> RobustnessSpec:
        perts = raw["perturbation"]
        perts = tuple(perts) if isinstance(perts, list) else (perts,)
        prop = raw.get("property", "invariance")
        misplaced = {"invariance": ("top_k", "overlap"), "directional": ("top_k", "overlap"),
                     "attribution_stability": ("f1", "exact_match", "against")}[prop]
        for key in misplaced:
            if key in raw:
                self.add(f"`{key}` does not apply to a {prop} check", raw.key_mark(key),
                         f"remove `{key}` or change `property`")
        if prop == "directional" and not any(p in _DIRECTIONAL for p in perts):
            self.add(f"a directional check needs an edit that changes the answer ({', '.join(_DIRECTIONAL)}), "
                     f"got {', '.join(perts)}", raw.value_mark("perturbation"),
                     "use `property: invariance` for edits that must not change the answer")
        for key, owners in PERTURBATION_PARAMS.items():
            if key in raw and owners is not None and not any(p in owners for p in perts):
                self.add(f"`{key}` applies only to {', '.join(owners)}, not to {', '.join(perts)}",
                         raw.key_mark(key), f"remove `{key}` or add the perturbation it belongs to")
        name = raw.get("name") or "+".join(perts) + ("" if prop == "invariance" else f"-{prop}")
        return RobustnessSpec(
            line=mark.line, name=name, perturbations=perts, property=prop, examples=raw.get("examples"),
            f1=raw.get("f1"), exact_match=raw.get("exact_match"), against=raw.get("against", "prediction"),
            # unset thresholds stay None: qaaudit.robustness owns their defaults (top_k 5, overlap 0.6)
            top_k=raw.get("top_k"), overlap=raw.get("overlap"),
            xfail=raw.get("xfail"), skip=raw.get("skip"),
            params={k: (tuple(v) if isinstance(v, list) else v) for k, v in raw.items() if k in PERTURBATION_PARAMS},
        )

    def case_robustness(self, raw: YMap, defaults: Defaults, question: str, context: str,
                        answers: tuple[GoldAnswer, ...], where: str) -> tuple[RobustnessSpec, ...]:
        entries: dict[str, RobustnessSpec] = {d.name: d for d in defaults.robustness}
        own: dict[str, int] = {}
        items = raw.get("robustness", YList())
        for i, item in enumerate(items):
            spec = self.robustness_entry(item, items.item_mark(i))
            if spec.name in own:
                self.add(f"{where} has two robustness checks named {spec.name!r} (first at line {own[spec.name]})",
                         items.item_mark(i), "give one of them a `name:`")
                continue
            own[spec.name] = spec.line
            entries[spec.name] = spec  # a case's check replaces the file default of the same name
        for spec in entries.values():
            if spec.against == "gold" and not answers:
                self.add(f"robustness check {spec.name!r} of {where} compares with the gold answer, "
                         "but the case has none", Mark(spec.line or 1, 1), "use `against: prediction`")
            self.applicable(spec, question, context, answers, where)
        return tuple(entries.values())

    def applicable(self, spec: RobustnessSpec, question: str, context: str,
                   answers: tuple[GoldAnswer, ...], where: str) -> None:
        mark = Mark(spec.line or 1, 1)
        try:
            from qaaudit import strategies  # lazy: it imports hypothesis
        except ImportError:
            strategies = None
        check = getattr(strategies, "check_applicable", None)
        if check is None:  # until strategies exists: the one check that needs no strategy
            if spec.entity is not None and spec.entity not in context:
                self.add(f"entity {spec.entity!r} to rename does not occur in the context of {where}", mark,
                         (_closest(spec.entity, context) + " ").lstrip() + "name a text of the context exactly")
            return
        golds = tuple((a.text, span[0]) for a in answers if (span := a.span(context)) is not None)
        for pert in spec.perturbations:
            message = check(pert, question, context, golds, dict(spec.params))
            if message:
                self.add(f"robustness check {spec.name!r} of {where}: {message}", mark,
                         "change the check's settings, or move it to the cases it applies to")

"""The shape of an audit file, written once: it validates loaded YAML and exports JSON Schema.

Each field of the format is declared here with its type, range and a short
description (the ``AUDIT`` table). ``check`` walks the positioned YAML from
``qaaudit.loader`` and reports every problem at its ``file:line:col``;
``audit_schema()`` turns the same table into JSON Schema (draft 2020-12) for
editors. Meaning that spans several fields (a gold answer must occur in the
context, ids are unique, defaults merge into cases) lives in ``qaaudit.spec``.
"""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from qaaudit.errors import SpecError
from qaaudit.loader import Mark, YList, YMap

__all__ = [
    "INVALID",
    "Problems",
    "Shape",
    "Text",
    "Number",
    "Boolean",
    "Choice",
    "Nullable",
    "Field",
    "Record",
    "ListOf",
    "AnyOf",
    "MapOf",
    "did_you_mean",
    "perturbation_names",
    "FALLBACK_PERTURBATIONS",
    "PROPERTIES",
    "METHODS",
    "BASELINES",
    "PERTURBATION_PARAMS",
    "AUDIT",
    "audit_schema",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Used until qaaudit.strategies exists; it then owns the list.
FALLBACK_PERTURBATIONS = (
    "distractor", "reorder", "typos", "whitespace", "punctuation", "case", "rephrase", "rename_entity",
    "change_number",
)
PROPERTIES = ("invariance", "directional", "attribution_stability")
# Captum's integration methods for IntegratedGradients.
METHODS = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "clenshaw_curtis",
           "adaptive")
BASELINES = ("pad", "zero", "mask", "unk")
# Perturbation parameters and the perturbations they belong to (None: every perturbation).
PERTURBATION_PARAMS: Mapping[str, tuple[str, ...] | None] = {
    "max_edits": None,
    "sentences": ("distractor",),
    "entity": ("rename_entity",),
    "names": ("rename_entity",),
    "entity_type": ("rename_entity",),
    "number": ("change_number",),
}


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()  # what a check returns for a value it reported as wrong


def perturbation_names() -> tuple[str, ...]:
    """The perturbations ``qaaudit.strategies`` offers (a fixed list until that module exists)."""
    try:
        from qaaudit.strategies import PERTURBATIONS  # lazy: strategies pulls in hypothesis
    except ImportError:
        return FALLBACK_PERTURBATIONS
    return tuple(PERTURBATIONS)


def did_you_mean(value: str, choices: Sequence[str]) -> str:
    """`` did you mean 'x'?`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" did you mean {close[0]!r}?" if close else ""


@dataclass
class Problems:
    """Collects every problem of a file, so that one run shows them all."""

    path: str
    errors: list[SpecError] = field(default_factory=list)

    def add(self, message: str, mark: Mark | None, hint: str | None = None) -> None:
        self.errors.append(SpecError(message, path=self.path, line=mark.line if mark else None,
                                     col=mark.col if mark else None, hint=hint))

    def __bool__(self) -> bool:
        return bool(self.errors)


def _show(value: Any) -> str:
    if isinstance(value, YMap):
        return "a mapping"
    if isinstance(value, YList):
        return "a list"
    if value is None:
        return "null (nothing)"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


class Shape:
    """One kind of value in the format."""

    label = "a value"
    doc = ""

    def accepts(self, value: Any) -> bool:  # coarse kind test used to pick an AnyOf branch
        return True

    def check(self, value: Any, mark: Mark, where: str, problems: Problems) -> Any:
        raise NotImplementedError

    def json(self) -> dict[str, Any]:
        raise NotImplementedError

    def wrong(self, value: Any, mark: Mark, where: str, problems: Problems, hint: str | None = None) -> Any:
        problems.add(f"{where} must be {self.label}, got {_show(value)}", mark, hint)
        return INVALID


_NOT_IN_NAMES = re.compile("[\t\n\r\x85\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Text(Shape):
    """A string. Unquoted YAML numbers, booleans and dates are taken as the text written.

    ``single_line``: a name that becomes part of a node id or a file name, and reaches the terminal:
    no line breaks, tabs or bidirectional controls (which would reorder what the terminal shows).
    """

    nonempty: bool = True
    single_line: bool = False
    label = "text"

    def accepts(self, value: Any) -> bool:
        return not isinstance(value, (YMap, YList)) and value is not None

    def check(self, value: Any, mark: Mark, where: str, problems: Problems) -> Any:
        if not isinstance(value, str):
            if mark.raw is None or isinstance(value, (YMap, YList)) or value is None:
                return self.wrong(value, mark, where, problems, hint="write the text in quotes")
            value = mark.raw  # `answer: 1997` means the text "1997", `answer: no` the text "no"
        if self.nonempty and not value.strip():
            problems.add(f"{where} must be non-empty text, got {value!r}", mark, "write some text here")
            return INVALID
        if self.single_line:
            bad = _NOT_IN_NAMES.search(value)
            if bad is not None:
                problems.add(f"{where} {value!r} holds U+{ord(bad.group()):04X}; a name must be one line of "
                             f"visible text", mark, "remove the line break, tab or direction mark")
                return INVALID
            if value != value.strip():
                problems.add(f"{where} {value!r} starts or ends with white space", mark,
                             f"write {value.strip()!r}")
                return INVALID
        return value

    def json(self) -> dict[str, Any]:
        return {"type": "string", **({"minLength": 1} if self.nonempty else {})}


@dataclass
class Number(Shape):
    """A number in a range; ``integer`` for counts."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    integer: bool = False
    hint: str | None = None

    @property
    def label(self) -> str:  # type: ignore[override]
        kind = "a whole number" if self.integer else "a number"
        if self.lo is not None and self.hi is not None:
            return f"{kind} in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}]"
        if self.lo is not None:
            return f"{kind} {'>' if self.lo_open else '>='} {self.lo:g}"
        return kind

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def check(self, value: Any, mark: Mark, where: str, problems: Problems) -> Any:
        try:
            ok = self.accepts(value) and math.isfinite(value)
        except OverflowError:   # an integer too large for a float: out of every range
            ok = False
        if ok and self.integer and value != int(value):
            ok = False
        if ok and self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            ok = False
        if ok and self.hi is not None and value > self.hi:
            ok = False
        if not ok:
            return self.wrong(value, mark, where, problems, self.hint)
        return int(value) if self.integer else float(value)

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        if self.lo is not None:
            out["exclusiveMinimum" if self.lo_open else "minimum"] = self.lo
        if self.hi is not None:
            out["maximum"] = self.hi
        return out


class Boolean(Shape):
    label = "true or false"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def check(self, value: Any, mark: Mark, where: str, problems: Problems) -> Any:
        return value if isinstance(value, bool) else self.wrong(value, mark, where, problems)

    def json(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass
class Choice(Shape):
    """One of a fixed set of names (``values`` may be a function, for lists owned elsewhere)."""

    values: Sequence[str] | Callable[[], Sequence[str]]

    def names(self) -> tuple[str, ...]:
        return tuple(self.values() if callable(self.values) else self.values)

    @property
    def label(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.names())

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def check(self, value: Any, mark: Mark, where: str, problems: Problems) -> Any:
        names = self.names()
        if isinstance(value, str) and value in names:
            return value
        if isinstance(value, str):
            problems.add(f"{where} {value!r} is not {self.label};{did_you_mean(value, names)}".rstrip(";"),
                         mark, f"use one of: {', '.join(names)}")
            return INVALID
        return self.wrong(value, mark, where, problems, f"use one of: {', '.join(names)}")

    def json(self) -> dict[str, Any]:
        return {"enum": list(self.names())}


@dataclass
class Nullable(Shape):
    inner: Shape

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"{self.inner.label} or null"

    def accepts(self, value: Any) -> bool:
        return value is None or self.inner.accepts(value)

    def check(self, value: Any, mark: Mark, where: str, problems: Problems) -> Any:
        return None if value is None else self.inner.check(value, mark, where, problems)

    def json(self) -> dict[str, Any]:
        return {"anyOf": [self.inner.json(), {"type": "null"}]}


@dataclass(frozen=True)
class Field:
    shape: Shape
    doc: str = ""
    required: bool = False


@dataclass
class Record(Shape):
    """A mapping with known keys; an unknown key gets a "did you mean" suggestion."""

    fields: Mapping[str, Field]
    what: str = "mapping"
    doc: str = ""

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"a mapping ({self.what})"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, YMap)

    def fit(self, value: YMap) -> int:
        """How many of the value's keys this record knows (to pick among mapping shapes)."""
        return sum(1 for k in value if k in self.fields)

    def check(self, value: Any, mark: Mark, where: str, problems: Problems) -> Any:
        if not isinstance(value, YMap):
            return self.wrong(value, mark, where, problems)
        out = YMap(mark=value.mark)
        known = list(self.fields)
        for key, item in value.items():
            spec = self.fields.get(key) if isinstance(key, str) else None
            if spec is None:
                problems.add(f"unknown key {key!r} in {where or 'the top level'};{did_you_mean(key, known)}".rstrip(";"),
                             value.key_mark(key), f"valid keys here: {', '.join(known)}")
                continue
            checked = spec.shape.check(item, value.value_mark(key), _join(where, key), problems)
            out.key_marks[key] = value.key_mark(key)
            out.value_marks[key] = value.value_mark(key)
            out[key] = checked
        for key, spec in self.fields.items():
            if spec.required and key not in value:
                problems.add(f"{where or 'the top level'} is missing the required key {key!r}", value.mark,
                             f"add `{key}:` ({spec.doc or spec.shape.label})")
        return out

    def json(self) -> dict[str, Any]:
        props = {}
        for key, spec in self.fields.items():
            props[key] = dict(spec.shape.json())
            if spec.doc:
                props[key]["description"] = spec.doc
        out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
        required = [k for k, s in self.fields.items() if s.required]
        if required:
            out["required"] = required
        if self.doc:
            out["description"] = self.doc
        return out


@dataclass
class ListOf(Shape):
    item: Shape
    min_items: int = 0

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"a list of {self.item.label}" if self.min_items == 0 else f"a non-empty list of {self.item.label}"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, YList)

    def check(self, value: Any, mark: Mark, where: str, problems: Problems) -> Any:
        if not isinstance(value, YList):
            shown = mark.raw if mark.raw is not None else value
            hint = f"write a list, e.g. [{shown}]" if not isinstance(value, YMap) else "write a list: [..., ...]"
            return self.wrong(value, mark, where, problems, hint)
        if len(value) < self.min_items:
            problems.add(f"{where} must hold at least {self.min_items} item(s), got an empty list",
                         value.mark, f"add at least one item under `{where.rsplit('.', 1)[-1]}:`")
        out = YList(mark=value.mark)
        for i, item in enumerate(value):
            out.append(self.item.check(item, value.item_mark(i), f"{where}[{i}]", problems))
            out.item_marks.append(value.item_mark(i))
        return out

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array", "items": self.item.json()}
        if self.min_items:
            out["minItems"] = self.min_items
        return out


@dataclass
class AnyOf(Shape):
    """Several accepted shapes, told apart by the kind of value (text, mapping, list, ...)."""

    options: Sequence[Shape]
    hint: str | None = None

    @property
    def label(self) -> str:  # type: ignore[override]
        return " or ".join(o.label for o in self.options)

    def accepts(self, value: Any) -> bool:
        return any(o.accepts(value) for o in self.options)

    def check(self, value: Any, mark: Mark, where: str, problems: Problems) -> Any:
        fits = [o for o in self.options if o.accepts(value)]
        if not fits:
            return self.wrong(value, mark, where, problems, self.hint or "see docs/audit-format.md for this key")
        if len(fits) > 1 and isinstance(value, YMap):
            fits.sort(key=lambda o: -o.fit(value) if isinstance(o, Record) else 0)
        return fits[0].check(value, mark, where, problems)

    def json(self) -> dict[str, Any]:
        return {"anyOf": [o.json() for o in self.options]}


@dataclass
class MapOf(Shape):
    """A mapping from names the user chooses (slot and lexicon names) to values of one shape."""

    value: Shape
    what: str = "name: value"

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"a mapping ({self.what})"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, YMap)

    def check(self, value: Any, mark: Mark, where: str, problems: Problems) -> Any:
        if not isinstance(value, YMap):
            return self.wrong(value, mark, where, problems)
        out = YMap(mark=value.mark)
        for key, item in value.items():
            if not isinstance(key, str) or not re.fullmatch(r"[^\W\d]\w*", key):
                problems.add(f"{where} has the name {key!r}; names are letters, digits and _ (not first a digit)",
                             value.key_mark(key), "rename it, e.g. p1, city, 이름")
                continue
            out.key_marks[key] = value.key_mark(key)
            out.value_marks[key] = value.value_mark(key)
            out[key] = self.value.check(item, value.value_mark(key), _join(where, key), problems)
        return out

    def json(self) -> dict[str, Any]:
        return {"type": "object", "propertyNames": {"pattern": r"^[^\W\d]\w*$"},
                "additionalProperties": self.value.json()}


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


# ---------------------------------------------------------------------------------------------
# The audit format. Ranges are named once here and drive both validation and JSON Schema.
FRACTION = Number(0, 1, hint="a fraction between 0 and 1: write 0.3 for 30%")
PROB_DIFF = Number(-1, 1, hint="a difference of two probabilities, between -1 and 1")
DELTA = Number(0, hint="a tolerance on the convergence delta: 0 or more")
# every count has a ceiling: a typo of a few zeros must be an error at its line, not a run that never ends
COUNT = Number(1, 1_000_000, integer=True, hint="a whole number in [1, 1000000]")
STEPS = Number(1, 4096, integer=True,
               hint="a whole number in [1, 4096]; trained models need about 32-128 integration steps")
EXAMPLES = Number(1, 10_000, integer=True, hint="a whole number in [1, 10000]")
OFFSET = Number(0, integer=True, hint="a character offset: a whole number, 0 or more")
PERCENT = Number(0, 100, lo_open=True, hint="a percentage in (0, 100]: write 20 for the top 20%")
NORMALIZATION = Choice(("auto", "squad", "squad2", "korquad"))
POSITION = Choice(("start", "end", "both"))
MASS = Choice(("positive", "absolute"))

GOLD = Record({
    "text": Field(Text(), "the answer, exactly as written in the context", required=True),
    "start": Field(OFFSET, "character offset of the answer in the context"),
}, what="text and start")
ANSWER = AnyOf([Text(), GOLD], hint="several acceptable answers go in `answers: [..., ...]`")

TARGET = AnyOf([
    Choice(("answer", "question")),
    Record({"text": Field(Text(), "a literal text of the context (every occurrence counts)", required=True)},
           what="text"),
    Record({"start": Field(OFFSET, "first character in the context", required=True),
            "end": Field(OFFSET, "character after the last one (exclusive)", required=True)},
           what="start and end"),
    Record({"slot": Field(Text(single_line=True), "templates: the tokens of the text that filled this slot",
                          required=True)}, what="slot"),
])


def _span_record(what: str, doc: str) -> Record:
    return Record({
        "target": Field(TARGET, "answer | question | {text: ...} | {start: .., end: ..} | {slot: ...} (templates)"),
        "share": Field(FRACTION, f"share of the attribution mass: {doc}"),
        "top_k": Field(COUNT, "check membership among the k most attributed tokens"),
        "mass": Field(MASS, "positive (default): share of the positive mass; absolute: of |attribution|"),
        "position": Field(POSITION, "which target logit's attribution: start, end or both (default)"),
    }, what=what)


FOCUS = _span_record("target, share, top_k, mass, position", ">= this")
AVOID = _span_record("target, share, top_k, mass, position", "<= this")
ATTENTION = Record({
    "target": Field(AnyOf([*TARGET.options, Record({"keywords": Field(
        ListOf(Text(), 1), "texts of the question (every occurrence of each counts)", required=True)},
        what="keywords")]), "question (default) | answer | {keywords: [...]} | {text: ...} | {start: .., end: ..}"),
    "share": Field(FRACTION, "share of the attention (from the predicted start/end token, on question and context "
                             "tokens) that lands on the target: >= this"),
    "top_k": Field(COUNT, "a target token among the k most attended tokens"),
    "layers": Field(COUNT, "average over the last n layers (default 2)"),
    "head": Field(Choice(("mean", "focused")), "mean: heads averaged (default); focused: each layer's most focused head"),
    "position": Field(POSITION, "attention from the predicted start, end or both (default)"),
}, what="target, share, top_k, layers, head, position")


def _family(record: Record) -> AnyOf:
    # `prediction: true` asks for the family with the file's default thresholds; false turns it off.
    return AnyOf([Boolean(), record])


PREDICTION = Record({
    "exact_match": Field(Boolean(), "the prediction must match a gold answer after normalisation"),
    "f1": Field(FRACTION, "F1 against the best gold answer >= this"),
    "offsets": Field(Boolean(), "the predicted character span must equal a gold span"),
    "min_confidence": Field(FRACTION, "the answer's score >= this"),
}, what="exact_match, f1, offsets, min_confidence")
COMPLETENESS = Record({
    "abs_delta": Field(DELTA, "|delta| <= this"),
    "rel_delta": Field(DELTA, "|delta| / |F(x) - F(baseline)| <= this"),
}, what="abs_delta, rel_delta")
FAITHFULNESS = Record({
    "comprehensiveness": Field(PROB_DIFF, "p(orig) - p(without top tokens) >= this"),
    "sufficiency": Field(PROB_DIFF, "p(orig) - p(only top tokens) <= this"),
    "top_percent": Field(PERCENT, "how many context tokens count as top, in % (default 20)"),
}, what="comprehensiveness, sufficiency, top_percent")


def _expect(in_case: bool) -> Record:
    # In `defaults.expect` each family is one mapping of default thresholds; a case may also say
    # `focus: true` (defaults only) or give several focus/avoid mappings in a list.
    fields = {"prediction": Field(_family(PREDICTION), "exact match / F1 / offsets / confidence")}
    if in_case:
        fields["unanswerable"] = Field(Boolean(), "the model must return no answer")
    fields["focus"] = Field(AnyOf([Boolean(), FOCUS, ListOf(FOCUS, 1)]) if in_case else FOCUS,
                            "attribution concentrates on a span")
    fields["avoid"] = Field(AnyOf([AVOID, ListOf(AVOID, 1)]) if in_case else AVOID,
                            "attribution stays off a span")
    fields["attention"] = Field(AnyOf([Boolean(), ATTENTION, ListOf(ATTENTION, 1)]) if in_case else ATTENTION,
                                "the attention from the answer tokens lands on a target (the question's key words)")
    fields["completeness"] = Field(_family(COMPLETENESS), "integrated-gradients convergence delta")
    fields["faithfulness"] = Field(_family(FAITHFULNESS), "ERASER comprehensiveness and sufficiency")
    return Record(fields, what=", ".join(fields))


ROBUSTNESS = Record({
    "perturbation": Field(AnyOf([Choice(perturbation_names), ListOf(Choice(perturbation_names), 1)]),
                          "one perturbation or a list applied together", required=True),
    "property": Field(Choice(PROPERTIES), "invariance (default), directional or attribution_stability"),
    "name": Field(Text(single_line=True), "name of the check in the node id (default: the perturbations)"),
    "examples": Field(EXAMPLES, "how many perturbed examples hypothesis tries"),
    "f1": Field(FRACTION, "invariance: F1 >= this (default: exact match)"),
    "exact_match": Field(Boolean(), "invariance: exact match required"),
    "against": Field(Choice(("prediction", "gold")), "invariance: compare with the original prediction or gold"),
    # perturbation parameters (qaaudit.strategies.PARAM_KEYS), given beside the check's settings
    "max_edits": Field(EXAMPLES, "most edits in one example (default 3)"),
    "sentences": Field(ListOf(Text(), 1), "distractor: sentences to insert instead of the templates"),
    "entity": Field(Text(), "rename_entity: the text to rename everywhere (default: the gold answer)"),
    "names": Field(ListOf(Text(), 1), "rename_entity: replacement names to choose from"),
    "entity_type": Field(Choice(("person", "place", "organization")), "rename_entity: built-in name pool"),
    "number": Field(Text(), "change_number: the number to change (default: one in the gold answer)"),
    "top_k": Field(COUNT, "attribution_stability: size of the top-token sets (default 5)"),
    "overlap": Field(FRACTION, "attribution_stability: overlap of the top-k sets >= this (default 0.6)"),
    "xfail": Field(Text(), "expected failure, with the reason"),
    "skip": Field(Text(), "skip this check, with the reason"),
}, what="perturbation, property, examples, ...")

ATTRIBUTION = Record({
    "steps": Field(Nullable(STEPS), "integration steps; null: adaptive until the target delta is met"),
    "target": Field(Record({"abs_delta": Field(Nullable(DELTA)), "rel_delta": Field(Nullable(DELTA)),
                            "token_error": Field(Nullable(DELTA))},
                           what="abs_delta, rel_delta, token_error"), "completeness target of adaptive steps"),
    "max_steps": Field(STEPS, "upper bound of adaptive steps"),
    "method": Field(Choice(METHODS), "Captum integration method"),
    "baseline": Field(Choice(BASELINES), "reference input"),
    "sub_embeddings": Field(Boolean(), "also attribute word/position/type embeddings"),
    "layers": Field(Boolean(), "also compute layer conductance"),
    "attention": Field(Boolean(), "also record the attention from the predicted start and end tokens per layer"),
    "autocast": Field(Nullable(AnyOf([Boolean(), Choice(("bf16", "fp16", "bfloat16", "float16"))])), "mixed precision"),
}, what="steps, target, max_steps, method, baseline, ...")

_RUN = {
    "max_answer_len": Field(COUNT, "longest answer in tokens (pipeline default 15)"),
    "handle_impossible_answer": Field(Boolean(), "let the null answer win (SQuAD 2.0 models)"),
    "max_seq_len": Field(Nullable(COUNT), "window length in tokens (null: the model's)"),
    "doc_stride": Field(Nullable(COUNT), "overlap of windows in tokens (null: the pipeline's)"),
    "align_to_words": Field(AnyOf([Boolean(), Choice(("auto",))]),
                            "widen answers to whole words as the pipeline did; auto: not for Hangul text, "
                            "where it would swallow particles (광주 -> 광주에서)"),
}

DEFAULTS = Record({
    "attribution": Field(ATTRIBUTION, "integrated-gradients settings"),
    **_RUN,
    "expect": Field(_expect(False), "default thresholds of each expectation family"),
    "robustness": Field(ListOf(ROBUSTNESS), "robustness checks applied to every case"),
    "min_pass_rate": Field(FRACTION, "templates: the pass rate of its generated cases a template needs (default 1)"),
}, what="attribution, expect, robustness, max_answer_len, ...")

CASE = Record({
    "id": Field(Text(single_line=True), "unique name of the case (the pytest node id)", required=True),
    "question": Field(Text(), required=True),
    "context": Field(Text(), required=True),
    "answer": Field(ANSWER, "the gold answer: text, or {text, start}"),
    "answers": Field(ListOf(ANSWER, 1), "several acceptable gold answers"),
    "unanswerable": Field(Boolean(), "the context holds no answer"),
    "tags": Field(ListOf(Text()), "pytest markers"),
    "xfail": Field(Text(), "expected failure, with the reason"),
    "skip": Field(Text(), "skip the case, with the reason"),
    "normalization": Field(NORMALIZATION, "answer normalisation for EM/F1"),
    "expect": Field(_expect(True), "what must hold"),
    "robustness": Field(ListOf(ROBUSTNESS), "property-based robustness checks"),
    "attribution": Field(ATTRIBUTION, "overrides of the file's attribution settings"),
    **_RUN,
}, what="id, question, context, answer, expect, ...", doc="one audited question")

_ENTRY = AnyOf([Text(), MapOf(Text(), what="text: ..., field: ...")])
_LEXICON = AnyOf([
    Text(single_line=True),
    ListOf(_ENTRY, 1),
    Record({"range": Field(ListOf(Number(integer=True)), "[lo, hi]: the whole numbers lo..hi", required=True),
            "step": Field(COUNT, "every step-th number (default 1)")}, what="range, step"),
    Record({"file": Field(Text(single_line=True), "a .yaml, .csv or .txt file next to the audit file",
                          required=True)}, what="file"),
    Record({"lexicon": Field(Text(single_line=True), "a lexicon name", required=True)}, what="lexicon"),
], hint="a lexicon name (korean_name), a file (names.yaml), a list [a, b] or {range: [1, 100]}")
_TEMPLATE_TEXT = Text()
TEMPLATE = Record({
    "id": Field(Text(single_line=True), "unique name of the template (the pytest node id)", required=True),
    "capability": Field(Text(single_line=True), "what it tests (comparison, negation, ...): a row of the capability "
                                                "table and a pytest marker", required=True),
    "description": Field(Text(), "one line on what the template tests"),
    "language": Field(Text(single_line=True), "the capability table's language column (default: ko for Hangul "
                                              "text, else en)"),
    "context": Field(_TEMPLATE_TEXT, "with {slot}, {slot:이/가}, {slot.field}", required=True),
    "question": Field(_TEMPLATE_TEXT, "with slots", required=True),
    "answer": Field(Text(), "the gold answer, with slots; it must occur in each generated context"),
    "answers": Field(ListOf(Text(), 1), "several acceptable gold answers, with slots"),
    "unanswerable": Field(Boolean(), "the generated contexts hold no answer"),
    "slots": Field(MapOf(_LEXICON, what="slot: lexicon"), "what fills each slot", required=True),
    "distinct": Field(ListOf(AnyOf([Text(single_line=True), ListOf(Text(single_line=True), 2)])),
                      "slots that take different values in each case ([p1, p2], or several groups [[a, b], [c, d]])"),
    "n": Field(Number(1, 100_000, integer=True, hint="a whole number of cases, 1 to 100,000"),
               "how many distinct cases to generate (default 20)"),
    "seed": Field(Number(0, integer=True, hint="a whole number, 0 or more"), "seed of the draw (default 0)"),
    "tags": Field(ListOf(Text()), "pytest markers"),
    "min_pass_rate": Field(FRACTION, "share of the generated cases that must pass (default: defaults.min_pass_rate, "
                                     "else 1)"),
    "xfail": Field(Text(), "expected failure, with the reason"),
    "skip": Field(Text(), "skip the template, with the reason"),
    "normalization": Field(NORMALIZATION, "answer normalisation for EM/F1"),
    "expect": Field(_expect(True), "what must hold for each generated case"),
    "robustness": Field(ListOf(ROBUSTNESS), "robustness checks of each generated case"),
    "attribution": Field(ATTRIBUTION, "overrides of the file's attribution settings"),
    **_RUN,
}, what="id, capability, context, question, answer, slots, n, ...", doc="a template that generates cases")
DATASET = Record({
    "path": Field(Text(single_line=True), "a SQuAD v1.1/v2.0 or KorQuAD 1.0 JSON file or a JSON-lines file, "
                                          "relative to the audit file", required=True),
    "format": Field(Choice(("auto", "squad", "korquad", "jsonl")),
                    "auto (default): jsonl for .jsonl/.ndjson files, else SQuAD/KorQuAD JSON by its version"),
    "limit": Field(COUNT, "the first n questions"),
    "sample": Field(COUNT, "a random n questions (kept in file order), drawn with `seed`"),
    "seed": Field(Number(0, integer=True, hint="a whole number, 0 or more"), "seed of `sample` (default 0)"),
    "ids": Field(ListOf(Text(single_line=True), 1), "only these question ids"),
    "tags": Field(ListOf(Text()), "pytest markers added to every case of the dataset"),
    "normalization": Field(NORMALIZATION, "default: the file's normalization if set, else the dataset's script"),
}, what="path, format, limit, sample, seed, ids, tags, normalization", doc="a dataset whose questions are cases")

AUDIT = Record({
    "model": Field(Text(single_line=True), "path or hub id (the command line's --qaaudit-model wins)"),
    "normalization": Field(NORMALIZATION, "auto (default): KorQuAD's for Hangul, else SQuAD's"),
    "defaults": Field(DEFAULTS, "settings and thresholds for every case"),
    "lexicons": Field(MapOf(_LEXICON, what="name: entries or file"), "the file's own lexicons for template slots"),
    "cases": Field(ListOf(CASE, 1), "hand-written cases (a file needs cases, templates, datasets or several)"),
    "templates": Field(ListOf(TEMPLATE, 1), "templates that generate cases from lexicons"),
    "datasets": Field(ListOf(DATASET, 1), "datasets whose questions become cases (qaaudit/datasets.py)"),
}, what="model, normalization, defaults, lexicons, cases, templates, datasets", doc="a qaaudit audit file")


def audit_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of audit files, for editors (yaml-language-server)."""
    schema = AUDIT.json()
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": "https://qaaudit.dev/schema/audit.json",
            "title": "qaaudit audit file", **schema}

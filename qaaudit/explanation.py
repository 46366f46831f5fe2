"""Plain data types for predictions and their explanations.

No torch or transformers here: expectations, the report and the gate work on
these values alone, and they round-trip through JSON (cache, results.json).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

__all__ = ["Answer", "WordAttribution", "TargetAttribution", "Explanation", "check_explanation"]


@dataclass(frozen=True)
class Answer:
    """One answer candidate. ``start``/``end`` are character offsets in the context (end exclusive).

    The null answer (``handle_impossible_answer``) has empty text, ``start == end == 0``
    and no token indices.
    """

    text: str
    start: int
    end: int
    score: float | None    # None: unknown (a predictions file without scores)
    token_start: int | None = None  # index inside ``window``
    token_end: int | None = None
    window: int | None = None

    @property
    def is_null(self) -> bool:
        return self.token_start is None and self.text == ""

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end, "score": self.score,
                "token_start": self.token_start, "token_end": self.token_end, "window": self.window}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Answer":
        return cls(**{k: d.get(k) for k in ("text", "start", "end", "score", "token_start", "token_end", "window")})


@dataclass(frozen=True)
class WordAttribution:
    """Attribution of a whole word (its sub-word pieces merged) of the question or context."""

    text: str
    segment: str  # "question" | "context" | "special"
    start: int    # character offsets in that segment's text
    end: int
    score: float  # sum of the normalised token attributions of its pieces
    tokens: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "segment": self.segment, "start": self.start, "end": self.end,
                "score": self.score, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "WordAttribution":
        return cls(d["text"], d["segment"], d["start"], d["end"], d["score"], tuple(d["tokens"]))


@dataclass(frozen=True)
class TargetAttribution:
    """Integrated-gradients attribution for one target (the start or the end logit)."""

    position: str            # "start" | "end"
    index: int               # pinned target token index in the explained window
    probability: float       # softmax probability of that index (pipeline masking)
    logit: float
    attributions: tuple[float, ...]  # per token: hidden dim summed, L2-normalised, sign kept
    raw: tuple[float, ...]           # per token: hidden dim summed, not normalised
    words: tuple[WordAttribution, ...]
    delta: float             # signed convergence delta, as Captum returns it
    f_input: float           # F(x): target logit at the input
    f_baseline: float        # F(baseline)
    n_steps: int = 0

    @property
    def abs_delta(self) -> float:
        return abs(self.delta)

    @property
    def rel_delta(self) -> float:
        """|delta| relative to |F(x) - F(baseline)| (inf when the two are equal)."""
        gap = abs(self.f_input - self.f_baseline)
        if gap == 0.0:
            return 0.0 if self.delta == 0.0 else math.inf
        return abs(self.delta) / gap

    def top_tokens(self, k: int = 5, *, absolute: bool = False) -> list[int]:
        key = (lambda i: abs(self.attributions[i])) if absolute else (lambda i: self.attributions[i])
        return sorted(range(len(self.attributions)), key=key, reverse=True)[:k]

    def to_dict(self) -> dict[str, Any]:
        # by hand, not dataclasses.asdict: asdict rebuilds every float of the attribution tuples, which made
        # writing a cached run's results a third of its time
        d = {"position": self.position, "index": self.index, "probability": self.probability, "logit": self.logit,
             "attributions": list(self.attributions), "raw": list(self.raw),
             "words": [w.to_dict() for w in self.words], "delta": self.delta, "f_input": self.f_input,
             "f_baseline": self.f_baseline, "n_steps": self.n_steps}
        d["abs_delta"] = self.abs_delta
        d["rel_delta"] = self.rel_delta if math.isfinite(self.rel_delta) else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TargetAttribution":
        return cls(
            position=d["position"], index=d["index"], probability=d["probability"], logit=d["logit"],
            attributions=tuple(d["attributions"]), raw=tuple(d["raw"]),
            words=tuple(WordAttribution.from_dict(w) for w in d["words"]),
            delta=d["delta"], f_input=d["f_input"], f_baseline=d["f_baseline"], n_steps=d.get("n_steps", 0),
        )


@dataclass(frozen=True)
class Explanation:
    """A prediction for one question/context pair and, when computed, its attributions.

    Token-level fields describe the window that holds the predicted span
    (``window`` of ``n_windows``); ``offsets[i]`` are character offsets of token
    ``i`` in the text of ``segments[i]`` (None for special tokens and padding).
    """

    question: str
    context: str
    answer: Answer
    answers: tuple[Answer, ...]
    null_score: float | None
    tokens: tuple[str, ...]
    offsets: tuple[tuple[int, int] | None, ...]
    segments: tuple[str, ...]
    window: int = 0
    n_windows: int = 1
    start: TargetAttribution | None = None
    end: TargetAttribution | None = None
    sub_embeddings: Mapping[str, Mapping[str, tuple[float, ...]]] | None = None
    layer_conductance: Mapping[str, tuple[tuple[float, ...], ...]] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    # per target: attention from its token, layers x tokens (heads averaged, and the most focused head)
    attention: Mapping[str, Any] | None = None

    @property
    def has_attributions(self) -> bool:
        return self.start is not None and self.end is not None

    def target(self, position: str) -> TargetAttribution:
        t = self.start if position == "start" else self.end if position == "end" else None
        if t is None:
            raise ValueError(f"no attribution for position {position!r} in this explanation")
        return t

    def tokens_in_span(self, start: int, end: int, segment: str = "context") -> list[int]:
        """Indices of the tokens of ``segment`` that overlap characters [start, end)."""
        out = []
        for i, (seg, off) in enumerate(zip(self.segments, self.offsets)):
            if seg != segment or off is None:
                continue
            s, e = off
            if s < end and e > start and e > s:
                out.append(i)
        return out

    def _repr_html_(self) -> str:
        """Jupyter's view: the report's heatmaps, convergence delta and words (inline styles, no script)."""
        from qaaudit.notebook import explanation_html

        return explanation_html(self)

    def visualize(self, *parts: str, gold: Sequence[str] = (), path: Any = None) -> Any:
        """Display ``parts`` (``start``, ``end``, ``words``, ``tokens``, ``sub_embeddings``, ``layers``, or
        ``all``) in a notebook, as transformers-interpret's ``visualize()`` does; see :func:`qaaudit.show`."""
        from qaaudit.notebook import show

        return show(self, *parts, gold=gold, path=path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "context": self.context,
            "answer": self.answer.to_dict(),
            "answers": [a.to_dict() for a in self.answers],
            "null_score": self.null_score,
            "tokens": list(self.tokens),
            "offsets": [list(o) if o is not None else None for o in self.offsets],
            "segments": list(self.segments),
            "window": self.window,
            "n_windows": self.n_windows,
            "start": self.start.to_dict() if self.start else None,
            "end": self.end.to_dict() if self.end else None,
            "sub_embeddings": _plain(self.sub_embeddings),
            "layer_conductance": _plain(self.layer_conductance),
            "settings": _plain(self.settings),
            "attention": _plain(self.attention),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Explanation":
        def tup(x):
            return tuple(tup(v) for v in x) if isinstance(x, (list, tuple)) else x

        sub = d.get("sub_embeddings")
        lc = d.get("layer_conductance")
        return cls(
            question=d["question"], context=d["context"], answer=Answer.from_dict(d["answer"]),
            answers=tuple(Answer.from_dict(a) for a in d["answers"]), null_score=d.get("null_score"),
            tokens=tuple(d["tokens"]),
            offsets=tuple(tuple(o) if o is not None else None for o in d["offsets"]),
            segments=tuple(d["segments"]), window=d.get("window", 0), n_windows=d.get("n_windows", 1),
            start=TargetAttribution.from_dict(d["start"]) if d.get("start") else None,
            end=TargetAttribution.from_dict(d["end"]) if d.get("end") else None,
            sub_embeddings={k: {p: tup(v) for p, v in m.items()} for k, m in sub.items()} if sub else None,
            layer_conductance={k: tup(v) for k, v in lc.items()} if lc else None,
            settings=dict(d.get("settings") or {}),
            attention=d.get("attention") or None,
        )


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_explanation(exp: Explanation) -> Explanation:
    """``exp`` itself if its parts fit together, else ValueError: an entry read back from the cache or a
    results file may be truncated, foreign or of an older shape, and must not fail a case later on."""
    n = len(exp.tokens)
    if not (isinstance(exp.question, str) and isinstance(exp.context, str)):
        raise ValueError("question and context must be text")
    if len(exp.offsets) != n or len(exp.segments) != n or not all(isinstance(t, str) for t in exp.tokens):
        raise ValueError("tokens, offsets and segments differ in length")
    for a in (exp.answer, *exp.answers):
        if not (isinstance(a.text, str) and isinstance(a.start, int) and isinstance(a.end, int)
                and (a.score is None or _is_number(a.score))):
            raise ValueError("an answer has fields of the wrong type")
    for o in exp.offsets:
        if o is not None and not (len(o) == 2 and all(isinstance(v, int) for v in o)):
            raise ValueError("an offset is not a pair of integers")
    for t in (exp.start, exp.end):
        if t is None:
            continue
        if len(t.attributions) != n or len(t.raw) != n or not 0 <= t.index < max(n, 1):
            raise ValueError(f"the {t.position} attributions do not match the tokens")
        if not all(_is_number(v) for v in (*t.attributions, *t.raw, t.delta, t.f_input, t.f_baseline,
                                           t.probability, t.logit)):
            raise ValueError(f"the {t.position} attributions hold values that are not numbers")
    if (exp.start is None) != (exp.end is None):
        raise ValueError("only one of the start and end attributions is present")
    return exp


def _plain(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x

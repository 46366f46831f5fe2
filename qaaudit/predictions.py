"""Predictions files: answers of a model served elsewhere, read, matched to cases and scored.

Accepted formats (picked from the content, not the name):

- SQuAD's official format, one JSON object ``{"question_id": "answer text", ...}``;
- JSON lines, one object per line: ``{"id": ..., "answer": ...}`` (or ``"prediction_text"``
  as Hugging Face's ``squad`` metric writes it), with an optional ``"score"`` and ``"answer_start"``;
- a JSON list of such objects.

Scores follow the official evaluation scripts: the mean over all gold
questions, an unanswered question scoring 0.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from qaaudit.errors import PredictionsFileError

__all__ = [
    "PredictedAnswer",
    "PredictionMatch",
    "PredictionScores",
    "load_predictions",
    "match_predictions",
    "score_predictions",
]

_TEXT_KEYS = ("answer", "prediction_text")
_RECORD_KEYS = frozenset(("id", "score", "answer_start", *_TEXT_KEYS))
_FORMATS = ('SQuAD\'s {"question_id": "answer text"} object, or JSON lines of '
            '{"id": ..., "answer": ..., "score": ...}')


@dataclass(frozen=True)
class PredictedAnswer:
    """One predicted answer; ``score`` is the model's confidence when the file gives one."""

    text: str
    score: float | None = None
    start: int | None = None   # character offset in the context, when the file gives ``answer_start``


def _fail(path: Path, where: str, what: str) -> PredictionsFileError:
    return PredictionsFileError(f"{path}{where}: {what}")


def _record(path: Path, where: str, obj: Any) -> tuple[str, PredictedAnswer]:
    """One JSON-lines / list record -> (id, answer)."""
    if not isinstance(obj, dict):
        raise _fail(path, where, f"expected an object with id and answer, got {json.dumps(obj)[:60]}")
    unknown = sorted(set(obj) - _RECORD_KEYS)
    if unknown:
        raise _fail(path, where, f"unknown field {unknown[0]!r}; a record has id, answer (or prediction_text) "
                                 f"and optionally score and answer_start")
    qid = obj.get("id")
    if isinstance(qid, int) and not isinstance(qid, bool):
        qid = str(qid)
    if not isinstance(qid, str) or not qid:
        raise _fail(path, where, f"'id' must be a non-empty string, got {qid!r}")
    texts = [obj[k] for k in _TEXT_KEYS if k in obj]
    if not texts:
        raise _fail(path, where, f"record {qid!r} has no 'answer' (or 'prediction_text')")
    if len(texts) == 2 and texts[0] != texts[1]:
        raise _fail(path, where, f"record {qid!r} has both 'answer' and 'prediction_text' and they differ; keep one")
    if not isinstance(texts[0], str):
        raise _fail(path, where, f"the answer of {qid!r} must be a string (\"\" for no answer), got {texts[0]!r}")
    score = obj.get("score")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise _fail(path, where, f"the score of {qid!r} must be a finite number or null, got {score!r}")
        score = float(score)
    start = obj.get("answer_start")
    if start is not None and (isinstance(start, bool) or not isinstance(start, int) or start < 0):
        raise _fail(path, where, f"the answer_start of {qid!r} must be a character offset (a whole number >= 0) "
                                 f"or null, got {start!r}")
    return qid, PredictedAnswer(texts[0], score, start)


def _add(out: dict[str, PredictedAnswer], seen: dict[str, str], path: Path, where: str,
         qid: str, answer: PredictedAnswer) -> None:
    if qid in out:
        raise _fail(path, where, f"id {qid!r} appears again (first{seen[qid]}); keep one prediction per question")
    out[qid] = answer
    seen[qid] = where


def load_predictions(path: str | os.PathLike) -> Mapping[str, PredictedAnswer]:
    """Read a predictions file; a malformed one raises PredictionsFileError naming the path and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PredictionsFileError(f"predictions file {str(p)!r} does not exist; pass {_FORMATS}") from None
    except UnicodeDecodeError as exc:
        raise PredictionsFileError(f"{p}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise PredictionsFileError(f"predictions file {str(p)!r} cannot be read ({exc.strerror})") from None
    if not text.strip():
        raise PredictionsFileError(f"{p}: the file is empty; expected {_FORMATS}")
    out: dict[str, PredictedAnswer] = {}
    seen: dict[str, str] = {}
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        # "Extra data" after a first complete value is what JSON lines look like to json.loads.
        if exc.msg != "Extra data":
            raise _fail(p, f":{exc.lineno}:{exc.colno}", f"not valid JSON ({exc.msg}); expected {_FORMATS}") from None
        whole = None
    single_record = isinstance(whole, dict) and "id" in whole and set(whole) <= _RECORD_KEYS \
        and any(k in whole for k in _TEXT_KEYS)
    if isinstance(whole, dict) and not single_record:
        for qid, value in whole.items():
            if not isinstance(value, str):
                raise _fail(p, "", f"the answer of {qid!r} must be a string (SQuAD's official format maps "
                                   f"question id to answer text), got {json.dumps(value)[:60]}")
            out[qid] = PredictedAnswer(value)
        return out
    if isinstance(whole, list):
        for i, obj in enumerate(whole):
            _add(out, seen, p, f"[{i}]", *_record(p, f"[{i}]", obj))
        return out
    if whole is not None and not single_record:
        raise _fail(p, "", f"expected {_FORMATS}, got a JSON {type(whole).__name__}")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f":{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(p, f"{where}:{exc.colno}", f"not a JSON object ({exc.msg}); JSON lines hold one "
                                                   f"object per line") from None
        _add(out, seen, p, where, *_record(p, where, obj))
    return out


@dataclass(frozen=True)
class PredictionMatch:
    """How a predictions file lines up with the audit cases."""

    matched: int
    missing: tuple[str, ...]   # case ids without a prediction
    extra: tuple[str, ...]     # prediction ids that match no case

    @property
    def ok(self) -> bool:
        return not self.missing

    def describe(self, source: str = "the predictions file", limit: int = 5) -> str:
        """One or two sentences: how many are unmatched and a few examples of each."""
        def some(ids: Sequence[str]) -> str:
            shown = ", ".join(repr(i) for i in ids[:limit])
            return shown + (f", ... ({len(ids) - limit} more)" if len(ids) > limit else "")

        total = self.matched + len(self.missing)
        if self.missing:
            parts = [f"{len(self.missing)} of {total} audit cases have no prediction in {source} "
                     f"(e.g. {some(self.missing)})"]
        else:
            parts = [f"all {total} audit cases have a prediction in {source}"]
        if self.extra:
            parts.append(f"{len(self.extra)} predictions match no audit case (e.g. {some(self.extra)})")
        hint = "; the file's ids must be the cases' ids (SQuAD question ids when imported with qaaudit import squad)"
        return "; ".join(parts) + (hint if self.missing else "")

    def error(self, source: str) -> PredictionsFileError | None:
        """The error to raise when cases lack predictions (None when every case has one)."""
        return None if self.ok else PredictionsFileError(self.describe(source))


def match_predictions(predictions: Mapping[str, Any], case_ids: Iterable[str]) -> PredictionMatch:
    """Compare the file's ids with the cases' ids (order kept, for stable examples)."""
    ids = list(dict.fromkeys(case_ids))
    wanted = set(ids)
    missing = tuple(i for i in ids if i not in predictions)
    extra = tuple(i for i in predictions if i not in wanted)
    return PredictionMatch(len(ids) - len(missing), missing, extra)


@dataclass(frozen=True)
class PredictionScores:
    """EM/F1 over questions with golds, as the official scripts compute them (fractions in [0, 1])."""

    total: int
    em_sum: float
    f1_sum: float
    unanswered: tuple[str, ...]
    per_question: Mapping[str, tuple[float, float]] = field(default_factory=dict)   # id -> (EM, F1)

    @property
    def exact_match(self) -> float:
        return self.em_sum / self.total if self.total else 0.0

    @property
    def f1(self) -> float:
        return self.f1_sum / self.total if self.total else 0.0

    def official(self) -> dict[str, float]:
        """``{"exact_match", "f1"}`` in percent, with the official scripts' arithmetic (100 * sum / total)."""
        if not self.total:
            return {"exact_match": 0.0, "f1": 0.0}
        return {"exact_match": 100.0 * self.em_sum / self.total, "f1": 100.0 * self.f1_sum / self.total}


def score_predictions(predictions: Mapping[str, PredictedAnswer | str],
                      golds: Mapping[str, Sequence[str]] | Any, *, normalization: str | None = None) -> PredictionScores:
    """Mean EM/F1 over ``golds`` (question id -> gold texts, or a ``SquadDataset``), in the order given.

    ``normalization`` (``squad``, ``squad2``, ``korquad`` or ``auto``) names the official script whose rules
    score every question (:func:`qaaudit.metrics.score_answer`); by default the dataset's own (``korquad`` for
    KorQuAD, ``squad2`` for SQuAD 2.0, ``squad`` for v1.1), ``auto`` for a plain mapping (resolved per
    question from its golds and, with a dataset, its question and context). A question without a prediction
    scores 0 (as the official scripts); one with no gold text (unanswerable) is right only for an empty
    prediction, as in SQuAD 2.0's script.
    """
    from qaaudit.metrics import score_answer

    texts_of: dict[str, str] = {}
    if hasattr(golds, "questions") and hasattr(golds, "golds"):   # a SquadDataset
        if normalization is None:
            normalization = golds.normalization
        texts_of = {q.id: f"{q.question} {q.context}" for q in golds.questions}
        golds = golds.golds()
    normalization = normalization or "auto"
    em_sum = f1_sum = 0.0
    per: dict[str, tuple[float, float]] = {}
    unanswered = []
    for qid, texts in golds.items():
        pred = predictions.get(qid)
        if pred is None:
            unanswered.append(qid)
            per[qid] = (0.0, 0.0)
            continue
        text = pred.text if isinstance(pred, PredictedAnswer) else pred
        em, fs = score_answer(text, texts, normalization=normalization, context=texts_of.get(qid, ""))
        per[qid] = (em, fs)
        em_sum += em
        f1_sum += fs
    return PredictionScores(len(golds), em_sum, f1_sum, tuple(unanswered), per)

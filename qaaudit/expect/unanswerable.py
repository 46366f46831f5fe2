"""Unanswerable expectation: the null answer must win."""
from __future__ import annotations

from qaaudit.explanation import Answer
from qaaudit.results import Verdict
from qaaudit.spec import UnanswerableExpectation

__all__ = ["check_unanswerable"]


def check_unanswerable(expectation: UnanswerableExpectation, answer: Answer,
                       null_score: float | None = None) -> list[Verdict]:
    measured = "null answer" if answer.is_null else answer.text
    detail = "no score" if answer.score is None else f"score {answer.score:.3g}"
    if null_score is not None:
        detail += f", null score {null_score:.3g}"
    return [Verdict("unanswerable", "null", answer.is_null, measured, "null answer", "is", detail,
                    expectation.line)]

"""Pure expectation checks: ``evaluate_case(case, explanation, predictor, prediction) -> Verdicts``.

One module per family; none of them loads a model. Checks that need
attributions return ``passed=None`` verdicts when the explanation has none, and
faithfulness asks the ``Predictor`` (``span_probability``) for edited contexts.
"""
from __future__ import annotations

from typing import Any

from qaaudit.explanation import Answer, Explanation
from qaaudit.results import Verdict
from qaaudit.spec import Case

from .attention import check_attention
from .completeness import check_completeness
from .faithfulness import check_faithfulness
from .focus import check_focus
from .prediction import check_prediction
from .unanswerable import check_unanswerable

__all__ = [
    "evaluate_case",
    "check_prediction",
    "check_unanswerable",
    "check_focus",
    "check_completeness",
    "check_faithfulness",
    "check_attention",
]


def evaluate_case(case: Case, explanation: Explanation | None, predictor: Any | None = None,
                  prediction: Answer | None = None) -> tuple[Verdict, ...]:
    """Every verdict of the case's expectations, in the order the file lists them.

    ``prediction`` defaults to ``explanation.answer``; one of the two is required.
    """
    answer = prediction if prediction is not None else explanation.answer if explanation is not None else None
    if answer is None:
        raise ValueError("evaluate_case needs an explanation or a prediction")
    out: list[Verdict] = []
    for exp in case.expectations:
        family = exp.family
        if family == "prediction":
            out += check_prediction(exp, case, answer)
        elif family == "unanswerable":
            out += check_unanswerable(exp, answer, explanation.null_score if explanation is not None else None)
        elif family in ("focus", "avoid"):
            out += check_focus(exp, case, explanation)
        elif family == "completeness":
            out += check_completeness(exp, explanation)
        elif family == "faithfulness":
            out += check_faithfulness(exp, explanation, answer, predictor)
        elif family == "attention":
            out += check_attention(exp, case, explanation)
        else:  # a new spec family without a check is a bug, not a user error
            raise NotImplementedError(f"no check for expectation family {family!r}")
    return tuple(out)

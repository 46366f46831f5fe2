"""Prediction expectations: exact match / F1 against the best gold, offsets, confidence."""
from __future__ import annotations

from qaaudit.explanation import Answer
from qaaudit.metrics import resolve_normalization, score_answer
from qaaudit.results import Verdict
from qaaudit.spec import Case, PredictionExpectation

__all__ = ["check_prediction"]


def check_prediction(expectation: PredictionExpectation, case: Case, answer: Answer) -> list[Verdict]:
    """One verdict per threshold the expectation sets."""
    golds = case.gold_texts
    # auto: KorQuAD's normalisation when the case (question, context, golds) is Korean; resolved as the gate,
    # the summary and the report resolve it, so every path gives one number
    mode = resolve_normalization(case.normalization, case.question, case.context, *golds)
    text = "" if answer.is_null else answer.text
    # the prediction and the golds are in the case's record and printed beside every verdict; repeating them
    # here made a third of a dataset run's results.json
    detail = f"{mode} normalisation"
    line = expectation.line
    out = []
    em, score = score_answer(text, golds, normalization=mode) if golds else (0.0, 0.0)
    if expectation.exact_match:
        out.append(Verdict("prediction", "exact_match", em == 1.0, em, 1.0, "==", detail, line))
    if expectation.f1 is not None:
        out.append(Verdict("prediction", "f1", score >= expectation.f1, score, expectation.f1, ">=", detail, line))
    if expectation.offsets:
        spans = case.gold_spans
        got = (answer.start, answer.end)
        out.append(Verdict("prediction", "offsets", not answer.is_null and got in spans,
                           f"[{got[0]}, {got[1]})", " | ".join(f"[{s}, {e})" for s, e in spans), "in",
                           detail, line))
    if expectation.min_confidence is not None:
        if answer.score is None:  # unknown is not 1.0: a predictions file without scores cannot pass this
            out.append(Verdict("prediction", "confidence", None, None, expectation.min_confidence, ">=",
                               "the prediction has no score (the predictions file gives none); not checked", line))
        else:
            out.append(Verdict("prediction", "confidence", answer.score >= expectation.min_confidence,
                               float(answer.score), expectation.min_confidence, ">=", detail, line))
    return out

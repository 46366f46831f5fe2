"""A synthetic SQuAD v1.1-shaped dev set and predictions, and the run a predictions audit of it records.

Nothing is downloaded. The shape follows the real dev set: 10,570 questions on 2,114 paragraphs of 48
articles (five questions a paragraph), contexts of 80-160 words (~790 characters), three gold answers per
question (sometimes a shorter variant), 24-hex-digit ids, article titles as tags. Predictions are exact
for a share ``em`` of the questions, one word too long for half the rest and a wrong span otherwise, each with
a score.

``predictions_run`` scores them with qaaudit's own checks (``qaaudit.expect.evaluate_case`` on
``exact_match: true``, as ``qaaudit import squad`` writes) and records each item as the plugin would, failure
message included, so a report written from it is the report of ``pytest --qaaudit-predictions`` on that file.
"""
from __future__ import annotations

import random
from typing import Any

__all__ = ["synthetic_squad", "predictions_run", "SQUAD_DEV_QUESTIONS"]

SQUAD_DEV_QUESTIONS = 10570
_LETTERS = "etaoinshrdlucmfwypvbgk"


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_LETTERS) for _ in range(rng.choice((2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10))))


def synthetic_squad(n_questions: int = SQUAD_DEV_QUESTIONS, *, n_articles: int = 48, per_paragraph: int = 5,
                    em: float = 0.8, seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(SQuAD v1.1 JSON, predictions as ``{"id", "answer", "score"}`` records)."""
    rng = random.Random(seed)
    data, preds, made = [], [], 0
    paragraphs = -(-n_questions // per_paragraph)
    per_article = -(-paragraphs // n_articles)
    for _ in range(n_articles):
        title = "_".join(_word(rng).capitalize() for _ in range(rng.choice((1, 2, 3))))
        paras = []
        for _ in range(per_article):
            if made >= n_questions:
                break
            words = [_word(rng) for _ in range(rng.randint(80, 160))]
            for i in range(0, len(words), rng.randint(12, 25)):
                words[i] = words[i].capitalize()
            context = " ".join(words) + "."
            qas = []
            for _ in range(per_paragraph):
                if made >= n_questions:
                    break
                i, n = rng.randrange(len(words) - 5), rng.choice((1, 1, 2, 2, 3, 4))
                start = len(" ".join(words[:i])) + (1 if i else 0)
                text = " ".join(words[i:i + n])
                golds = [{"text": text, "answer_start": start}]
                for _ in range(2):
                    shorter = n > 1 and rng.random() < 0.3
                    golds.append({"text": " ".join(words[i:i + n - 1]) if shorter else text, "answer_start": start})
                qid = f"{rng.getrandbits(96):024x}"
                qas.append({"id": qid, "question": " ".join(_word(rng) for _ in range(rng.randint(6, 14))).capitalize()
                            + "?", "answers": golds})
                r = rng.random()
                if r < em:
                    pred, score = text, rng.uniform(0.5, 1.0)
                elif r < em + (1 - em) / 2:
                    pred, score = " ".join(words[i:i + n + 1]), rng.uniform(0.2, 0.9)
                else:
                    j = rng.randrange(len(words) - 3)
                    pred, score = " ".join(words[j:j + rng.randint(1, 3)]), rng.uniform(0.0, 0.6)
                preds.append({"id": qid, "answer": pred, "score": round(score, 4)})
                made += 1
            paras.append({"context": context, "qas": qas})
        data.append({"title": title, "paragraphs": paras})
    return {"version": "1.1", "data": data}, preds


def predictions_run(n_questions: int = SQUAD_DEV_QUESTIONS, *, em: float = 0.8, seed: int = 0,
                    path: str = "audits/squad_dev.audit.yaml") -> Any:
    """The RunResult of auditing :func:`synthetic_squad`'s predictions with ``exact_match: true``."""
    from qaaudit.expect import evaluate_case
    from qaaudit.explanation import Answer
    from qaaudit.render import failure_message
    from qaaudit.results import CaseResult, RunResult
    from qaaudit.session import CaseOutcome
    from qaaudit.spec import Case, GoldAnswer, PredictionExpectation
    from qaaudit.squad import slugify_tag

    dataset, preds = synthetic_squad(n_questions, em=em, seed=seed)
    by_id = {p["id"]: p for p in preds}
    cases, line = [], 9
    for article in dataset["data"]:
        tag = slugify_tag(article["title"])
        for para in article["paragraphs"]:
            context = para["context"]
            for qa in para["qas"]:
                golds = tuple(GoldAnswer(a["text"], a["answer_start"]) for a in qa["answers"])
                case = Case(id=qa["id"], line=line, question=qa["question"], context=context, answers=golds,
                            tags=("squad", tag), normalization="squad",
                            expectations=(PredictionExpectation(line + 12, exact_match=True),))
                p = by_id[qa["id"]]
                start = max(context.find(p["answer"]), 0)
                answer = Answer(p["answer"], start, start + len(p["answer"]), p["score"], 0, 0)
                verdicts = evaluate_case(case, None, prediction=answer)
                outcome = CaseOutcome(verdicts, None, answer, "predictions file")
                failed = any(v.passed is False for v in verdicts)
                message = (f"{path.rsplit('/', 1)[-1]}:{line}: case {case.id!r}\n{failure_message(case, outcome)}"
                           if failed else "")
                cases.append(CaseResult(
                    nodeid=f"{path}::{case.id}", path=path, line=line, case_id=case.id,
                    outcome="failed" if failed else "passed", tags=case.tags, verdicts=verdicts,
                    question=case.question, context=context, gold=tuple(g.text for g in golds),
                    prediction=answer.to_dict(), message=message, duration=0.0004))
                line += 12 + 2 * len(golds) + context.count(" ") // 14
    return RunResult(cases=tuple(cases), model={"name": "predictions file", "path": "predictions.jsonl"},
                     versions={"qaaudit": "bench"}, started="2026-01-01T00:00:00+00:00", duration=60.0)

"""Running a template: its generated cases predicted together, each checked, and one verdict for the template.

CheckList's way: a template (a test) passes or fails as a whole, on the share of its generated cases that pass
(``min_pass_rate``). Cases whose expectations need attributions are explained one by one, as a hand-written case
is; the others are predicted in one batch. For the report, the failing cases are explained too (up to
``EXPLAIN_FAILURES`` per template: a failing capability may fail hundreds of cases, and each explanation costs
dozens of forward passes), so their pages show what the model looked at.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["TemplateOutcome", "run_template", "template_message", "template_payload", "EXPLAIN_FAILURES",
           "SHOWN_FAILURES"]

EXPLAIN_FAILURES = 5    # failing generated cases per template explained for their report pages
SHOWN_FAILURES = 5      # failing generated cases in the terminal's failure message


@dataclass
class TemplateOutcome:
    """The outcomes of a template's generated cases (``outcomes[i]`` of ``template.cases[i]``) and its verdict."""

    template: Any
    outcomes: list[Any]
    model_name: str
    baseline: "TemplateOutcome | None" = None
    duration: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def failed_indices(self) -> list[int]:
        return [i for i, o in enumerate(self.outcomes) if o.failed]

    @property
    def n(self) -> int:
        return len(self.outcomes)

    @property
    def passed_count(self) -> int:
        return self.n - len(self.failed_indices)

    @property
    def pass_rate(self) -> float:
        return self.passed_count / self.n if self.n else 1.0

    @property
    def failed(self) -> tuple[Any, ...]:
        """The verdict of the template: one Verdict when its pass rate is below ``min_pass_rate``."""
        v = self.verdict
        return (v,) if v.passed is False else ()

    @property
    def verdict(self) -> Any:
        from qaaudit.results import Verdict

        t = self.template
        return Verdict("template", "pass_rate", self.pass_rate >= t.min_pass_rate, self.pass_rate, t.min_pass_rate,
                       ">=", f"{self.passed_count} of {self.n} generated cases passed", t.line)


def _predict_all(session: Any, ref: Any, cases: Sequence[Any]) -> list[Any]:
    """Each case's answer, predicted in batches of cases that share their settings (through the cache)."""
    from qaaudit.session import ModelPredictor, case_settings

    groups: dict[str, list[int]] = {}
    settings_of: dict[str, dict] = {}
    for i, case in enumerate(cases):
        s = case_settings(case)
        key = repr(sorted(s.items()))
        groups.setdefault(key, []).append(i)
        settings_of[key] = s
    answers: list[Any] = [None] * len(cases)
    for key, members in groups.items():
        predictor = ModelPredictor(session, ref, settings_of[key])
        got = predictor.predict_batch([(cases[i].question, cases[i].context) for i in members])
        for i, answer in zip(members, got):
            answers[i] = answer
    return answers


def _robustness(session: Any, case: Any, audit: Any) -> tuple[Any, ...]:
    """The verdicts of a generated case's robustness checks (a template's `robustness:`), run as a case's checks
    are; a check marked xfail does not fail the case (its verdicts are kept, as skipped, with the reason)."""
    from qaaudit.results import Verdict

    out: list[Any] = []
    for check in case.robustness:
        if check.skip:
            continue
        result = session.run_robustness(case, audit, check)
        for v in result.verdicts:
            if check.xfail and v.passed is False:
                v = Verdict(v.expectation, v.check, None, v.measured, v.threshold, v.op,
                            f"xfail: {check.xfail}", v.line)
            out.append(v)
    return tuple(out)


def _run_on(session: Any, ref: Any, name: str, cases: Sequence[Any], explain_failures: bool,
            audit: Any = None) -> list[Any]:
    from qaaudit.expect import evaluate_case
    from qaaudit.session import CaseOutcome, ModelPredictor, answer_only, case_settings

    answers = _predict_all(session, ref, [c for c in cases if not c.needs_attributions])
    by_case = iter(answers)
    outcomes: list[Any] = []
    explained = 0
    for case in cases:
        settings = case_settings(case)
        predictor = ModelPredictor(session, ref, settings)
        if case.needs_attributions:
            exp = session.explanation(ref, case.question, case.context, settings, attributions=True)
            verdicts = tuple(evaluate_case(case, exp, predictor=predictor, prediction=exp.answer))
            if case.robustness and audit is not None:
                verdicts += _robustness(session, case, audit)
            outcomes.append(CaseOutcome(verdicts, exp, exp.answer, name))
            continue
        answer = next(by_case)
        exp = answer_only(case.question, case.context, [answer], settings)
        verdicts = tuple(evaluate_case(case, exp, predictor=predictor, prediction=answer))
        if case.robustness and audit is not None:
            verdicts += _robustness(session, case, audit)
        outcome = CaseOutcome(verdicts, None, answer, name)
        if outcome.failed and explain_failures and explained < EXPLAIN_FAILURES:
            explained += 1
            outcome.explanation = session.explanation(ref, case.question, case.context, settings, attributions=True)
        outcomes.append(outcome)
    return outcomes


def run_template(session: Any, template: Any, audit: Any) -> TemplateOutcome:
    """Every generated case of ``template`` on the session's model (and its baseline, when one is set)."""
    if session._predictions is not None or session.options.predictions_path is not None:
        outcomes = [session.run_case(case, audit) for case in template.cases]
        for case, o in zip(template.cases, outcomes):
            if case.robustness:   # needs the model: recorded as skipped, as for a hand-written case
                o.verdicts = o.verdicts + _robustness(session, case, audit)
        return TemplateOutcome(template, outcomes, "predictions file")
    name = session.model_name_for(getattr(audit, "model", None))
    ref = session.get_model(name, base_dir=Path(audit.path).parent)
    outcome = TemplateOutcome(template, _run_on(session, ref, name, template.cases, session.options.explain_all,
                                                audit), name)
    if session.options.baseline_model:
        bname = session.options.baseline_model
        bref = session.get_model(bname)
        outcome.baseline = TemplateOutcome(template, _run_on(session, bref, bname, template.cases, False), bname)
    return outcome


def _fmt_answer(answer: Any) -> str:
    if answer is None:
        return "(no prediction)"
    return "(no answer)" if not answer.text else repr(answer.text)


def template_message(outcome: TemplateOutcome) -> str:
    """The failure text of a template item: its rate against the threshold and a few failing cases."""
    t = outcome.template
    failed = outcome.failed_indices
    lines = [f"template {t.id!r} ({t.capability}, {t.language}) on model {outcome.model_name}: "
             f"{outcome.passed_count} of {outcome.n} generated cases passed, pass rate {outcome.pass_rate:.1%}, "
             f"required >= {t.min_pass_rate:.1%} (failure rate {1 - outcome.pass_rate:.1%})"]
    for i in failed[:SHOWN_FAILURES]:
        case, o = t.cases[i], outcome.outcomes[i]
        gold = " | ".join(repr(a.text) for a in case.answers) if case.answers else "(no answer)"
        slots = ", ".join(f"{k}={v}" for k, v in t.values[i].items())
        lines.append(f"  [{i}] {slots}")
        lines.append(f"      question: {case.question}")
        lines.append(f"      context:  {case.context}")
        lines.append(f"      predicted {_fmt_answer(o.prediction)}, gold {gold}; failed: "
                     + ", ".join(f"{v.expectation}.{v.check} {_num(v.measured)} {v.op} {_num(v.threshold)}"
                                 for v in o.failed))
    if len(failed) > SHOWN_FAILURES:
        lines.append(f"  ... and {len(failed) - SHOWN_FAILURES} more failing generated cases (the report lists all)")
    return "\n".join(lines)


def _num(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)


def _side(outcome: Any) -> dict[str, Any]:
    from dataclasses import asdict

    exp = outcome.explanation
    return {"verdicts": [asdict(v) for v in outcome.verdicts],
            "prediction": outcome.prediction.to_dict() if outcome.prediction is not None else None,
            "explanation": exp.to_dict() if exp is not None else None, "model": outcome.model_name}


def template_payload(item: Any, base: Mapping[str, Any]) -> dict[str, Any]:
    """The template item's facts for its report: the template's numbers and each generated case as a payload."""
    t = item.template
    payload = dict(base, kind="template", template={
        "id": t.id, "capability": t.capability, "language": t.language, "n": t.n, "seed": t.seed,
        "min_pass_rate": t.min_pass_rate, "description": t.description})
    outcome: TemplateOutcome | None = getattr(item, "outcome_data", None)
    if outcome is None:
        return payload
    payload["template"].update(passed=outcome.passed_count, failed=len(outcome.failed_indices),
                               pass_rate=outcome.pass_rate)
    payload["candidate"] = {"verdicts": [_asdict(outcome.verdict)], "prediction": None, "explanation": None,
                            "model": outcome.model_name, "duration": outcome.duration}
    if outcome.baseline is not None:
        b = outcome.baseline
        payload["template"]["baseline_pass_rate"] = b.pass_rate
        payload["baseline"] = {"verdicts": [_asdict(b.verdict)], "prediction": None, "explanation": None,
                               "model": b.model_name}
    generated = []
    for i, (case, o) in enumerate(zip(t.cases, outcome.outcomes)):
        g = {"nodeid": f"{item.nodeid}[{i}]", "path": base["path"], "line": t.line, "case_id": case.id,
             "kind": "generated", "tags": list(case.tags), "question": case.question, "context": case.context,
             "gold": [a.text for a in case.answers], "unanswerable": bool(case.unanswerable),
             "slots": dict(t.values[i]), "candidate": _side(o)}
        if outcome.baseline is not None:
            g["baseline"] = _side(outcome.baseline.outcomes[i])
        generated.append(g)
    payload["generated"] = generated
    return payload


def _asdict(v: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(v)

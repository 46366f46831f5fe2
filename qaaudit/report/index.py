"""What the index shows: the run at a glance, the gate, the comparison, plots, the case table and counts.

Read from the records only; per-case EM/F1 are the gate's (``gate.case_scores``) and the summary follows the
gate's rules, so the index, the terminal and ``qaaudit gate`` never disagree.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any, Mapping, Sequence

from markupsafe import Markup

from qaaudit.results import OUTCOMES, CaseResult, RunResult, Verdict

from . import plots
from .compare import STATUS_ORDER, CaseComparison, status_label
from .pages import PagePlan
from .table import PAGE_SIZE, STATE_CHARS, case_numbers, table_data, why as _why

__all__ = ["EXPECTATION_ORDER", "OUTCOME_ORDER", "index_view", "order_cases", "expectation_states", "summary_numbers"]

EXPECTATION_ORDER = ("prediction", "unanswerable", "focus", "avoid", "attention", "completeness", "faithfulness",
                     "robustness")
# Failures first: what a reviewer must look at comes before what went as planned.
OUTCOME_ORDER = ("failed", "error", "not_run", "xpassed", "xfailed", "skipped", "passed")
COMPARISON_ROWS = 500    # comparisons listed on the index; the case table's filter reaches every one
_GATE_SHOWN = ("passed", "status", "reasons", "checks", "numbers", "settings", "comparison")
_UNCHANGED = ("pass->pass", "fail->fail")


def _sort_key(c: CaseResult) -> tuple:
    rank = OUTCOME_ORDER.index(c.outcome) if c.outcome in OUTCOME_ORDER else len(OUTCOME_ORDER)
    return rank, c.path, c.line, c.nodeid


def order_cases(run: RunResult) -> list[CaseResult]:
    """The index's order: failures first, then by file and line."""
    return sorted(run.cases, key=_sort_key)


def _state(vs: Sequence[Verdict]) -> str:
    if any(v.passed is False for v in vs):
        return "failed"
    if vs and all(v.passed is None for v in vs):
        return "skipped"
    return "passed"


def expectation_states(case: CaseResult, families: Sequence[str]) -> list[tuple[str, str]]:
    """(family, state) for each family the case checked: passed, failed or skipped."""
    by: dict[str, list[Verdict]] = defaultdict(list)
    for v in case.verdicts:
        by[v.expectation].append(v)
    return [(f, _state(by[f])) for f in families if by.get(f)]


def _groups(run: RunResult) -> tuple[dict[str, Counter], dict[str, Counter]]:
    by_file: dict[str, Counter] = defaultdict(Counter)
    by_tag: dict[str, Counter] = defaultdict(Counter)
    for c in run.items:
        by_file[c.path][c.outcome] += 1
        for t in c.tags:
            by_tag[t][c.outcome] += 1
    return by_file, by_tag


def _counts(groups: Mapping[str, Counter], outcomes: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for k in sorted(groups):
        g = groups[k]
        counted = g.get("passed", 0) + g.get("failed", 0) + g.get("error", 0) + g.get("xpassed", 0)
        out.append({"name": k, "counts": [g.get(o, 0) for o in outcomes], "total": sum(g.values()),
                    "rate": (g.get("passed", 0) + g.get("xpassed", 0)) / counted if counted else None})
    return out


def _json_script(data: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block: ``<``, ``>`` and ``&`` escaped, so no text in
    it can close the element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _comparison_rows(run: RunResult, comparison: Mapping[str, CaseComparison], links: Mapping[str, str]) -> list[dict]:
    cur = {c.nodeid: c for c in run.cases}
    rows = []
    for nodeid, comp in comparison.items():
        cand, base = cur.get(nodeid), comp.baseline
        if comp.change is not None:   # the gate's own numbers, so report and terminal agree
            ch = comp.change
            diff = {"em": ch.em_change, "f1": ch.f1_change, "confidence": ch.confidence_change,
                    "focus": ch.focus_change}
        else:
            cn, bn = (case_numbers(cand) if cand else {}), (case_numbers(base) if base else {})
            diff = {k: (cn[k] - bn[k]) if cn.get(k) is not None and bn.get(k) is not None else None
                    for k in ("em", "f1", "confidence")}
            diff["focus"] = None
        rows.append({"nodeid": nodeid, "status": comp.status, "label": status_label(comp.status),
                     "page": links.get(nodeid), "diff": diff,
                     "candidate_outcome": cand.outcome if cand else (comp.change.candidate_outcome
                                                                    if comp.change else None),
                     "baseline_outcome": base.outcome if base else (comp.change.baseline_outcome
                                                                   if comp.change else None)})
    rows.sort(key=lambda r: (STATUS_ORDER.index(r["status"]), r["nodeid"]))
    return rows


def _first_page(ordered: Sequence[CaseResult], plan: PagePlan, families: Sequence[str],
                comparison: Mapping[str, CaseComparison] | None, numbers: Mapping[str, dict]) -> list[dict[str, Any]]:
    out = []
    for c in ordered[:PAGE_SIZE]:
        comp = comparison.get(c.nodeid) if comparison else None
        pred = (c.prediction or {}).get("text")
        out.append({"outcome": c.outcome, "case_id": c.case_id, "href": plan.links.get(c.nodeid), "path": c.path,
                    "line": c.line, "tags": list(c.tags), "states": expectation_states(c, families),
                    "prediction": pred if isinstance(pred, str) else None,
                    "check": c.check_name if c.kind != "case" else None, "xfail": c.xfail_reason, "why": _why(c),
                    "question": c.question,
                    "status": comp.status if comp else "", "status_label": status_label(comp.status) if comp else "",
                    **numbers[c.nodeid]})
    return out


def _pages_note(plan: PagePlan, total: int) -> str:
    if plan.pages == "all" or plan.n_pages == total:
        text = f"Every item has a case page ({plan.n_pages})."
    else:
        text = (f"Case pages: {plan.n_pages} of {total} items — every item that did not pass, and "
                f"{plan.sampled} of {plan.passed} passes (a sample that stays the same from run to run); "
                "results.json holds them all. Run with --qaaudit-report-pages=all for a page per item, "
                "or =N for N sampled passes.")
    if plan.shared:
        text += f" Pages share {len(plan.files)} files (up to {max(len(c) for _, c in plan.files)} items each)."
    return text


def summary_numbers(run: RunResult, numbers: Mapping[str, dict]) -> dict[str, Any]:
    """The gate's run-level numbers (``gate.evaluate_gate`` computes the same), from per-case numbers already
    worked out: pass rate without xfailed and skipped items, mean EM/F1 over cases with a gold answer that ran."""
    counted = [c for c in run.items if c.outcome not in ("xfailed", "skipped")]
    scored = [numbers[c.nodeid] for c in run.cases if c.kind == "case" and c.outcome != "skipped"
              and numbers[c.nodeid]["em"] is not None]
    deltas = [n[k] for n in numbers.values() for k in ("delta_start", "delta_end") if n[k] is not None]
    return {"pass_rate": sum(c.passed for c in counted) / len(counted) if counted else None,
            "mean_em": sum(n["em"] for n in scored) / len(scored) if scored else None,
            "mean_f1": sum(n["f1"] for n in scored) / len(scored) if scored else None,
            "gold_cases": len(scored), "worst_abs_delta": max(deltas, default=None)}


def index_view(run: RunResult, plan: PagePlan, comparison: Mapping[str, CaseComparison] | None,
               *, baseline_label: str = "baseline") -> dict[str, Any]:
    """Everything ``index.html`` shows."""
    ordered = order_cases(run)
    numbers = {c.nodeid: case_numbers(c) for c in run.cases}   # EM/F1 once per case: F1 is costly to score
    families = [f for f in EXPECTATION_ORDER if any(v.expectation == f for c in run.cases for v in c.verdicts)]
    families += sorted({v.expectation for c in run.cases for v in c.verdicts} - set(families))
    states = {c.nodeid: "".join(STATE_CHARS[s] for s in _family_states(c, families)) for c in run.cases}
    by_file, by_tag = _groups(run)
    comp_rows = _comparison_rows(run, comparison, plan.links) if comparison else []
    status_counts = Counter(r["status"] for r in comp_rows)
    changed = [r for r in comp_rows if r["status"] not in _UNCHANGED]
    gate = dict(run.gate) if run.gate is not None else None
    summary = summary_numbers(run, numbers)
    count_outcomes = [o for o in OUTCOMES if run.totals.get(o)]
    nums = [numbers[c.nodeid] for c in run.cases]
    deltas = [n[k] for n in nums for k in ("delta_start", "delta_end") if n[k] is not None]
    data = table_data(ordered, plan.links, families, states, comparison, list(OUTCOME_ORDER), list(STATUS_ORDER),
                      numbers)
    data["with_deltas"] = bool(deltas)
    return {
        "run": run, "totals": run.totals, "outcomes": OUTCOMES, "families": families,
        "summary": summary,
        "by_file": _counts(by_file, count_outcomes), "by_tag": _counts(by_tag, count_outcomes),
        "count_outcomes": count_outcomes,
        "plot_tags": plots.pass_rate_bars(by_tag), "plot_files": plots.pass_rate_bars(by_file),
        "plot_f1": plots.histogram([n["f1"] for c, n in zip(run.cases, nums) if c.kind == "case" and c.gold],
                                   exact_ends=True),
        "plot_confidence": plots.histogram([n["confidence"] for n in nums], unit="items"),
        "plot_delta": plots.delta_histogram(deltas),
        "tags": sorted(by_tag), "files": sorted(by_file), "with_deltas": bool(deltas),
        "present_outcomes": [o for o in OUTCOME_ORDER if run.totals.get(o)],
        "first_rows": _first_page(ordered, plan, families, comparison, numbers),
        "table_json": _json_script(data), "pages_note": _pages_note(plan, len(run.cases)),
        "gate": gate, "gate_checks": [c for c in (gate or {}).get("checks") or () if isinstance(c, Mapping)],
        "gate_numbers": dict((gate or {}).get("numbers") or {}),
        "gate_settings": dict((gate or {}).get("settings") or {}),
        # the comparison has its own section; the rest is shown as it comes
        "gate_extra": {k: v for k, v in (gate or {}).items() if k not in _GATE_SHOWN},
        # a few hundred comparisons are listed whole; beyond, only the changed ones (the table filters the rest)
        "comparison": comp_rows if len(comp_rows) <= COMPARISON_ROWS else changed[:COMPARISON_ROWS],
        "comparison_all": bool(comp_rows), "comparison_hidden": len(comp_rows) > COMPARISON_ROWS,
        "comparison_cut": len(changed) > COMPARISON_ROWS,
        "baseline_label": baseline_label,
        "capabilities": _capabilities(run, plan),
        "status_counts": [(s, status_label(s), status_counts[s]) for s in STATUS_ORDER if status_counts.get(s)],
    }


def _family_states(case: CaseResult, families: Sequence[str]) -> list[str]:
    got = dict(expectation_states(case, families))
    return [got.get(f, "") for f in families]


def _capabilities(run: RunResult, plan: PagePlan) -> dict[str, Any] | None:
    """The capability table (capability x language) and the templates' rows, with links to their pages."""
    table = run.extra.get("capabilities") if isinstance(run.extra.get("capabilities"), Mapping) else None
    if table is None:
        from qaaudit.capabilities import capability_table

        table = capability_table(run)
    if not table:
        return None
    templates = [dict(r, page=plan.links.get(r["nodeid"])) for r in table.get("templates") or ()]
    templates.sort(key=lambda r: (-(r["failure_rate"] or 0), r["capability"], r["template"]))
    by_name = {r["template"]: r for r in templates}
    rows = [dict(v, worst_page=(by_name.get(v.get("worst_template")) or {}).get("page"))
            for v in (table.get("by_capability_language") or {}).values()]
    return {"rows": rows, "templates": templates, "overall": table.get("overall") or {},
            "changes": list(table.get("template_changes") or ())}

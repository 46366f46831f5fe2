"""The capability table: failure rates per template and per capability x language, as CheckList's suite summary.

Plain data in, plain data out (no torch). Read from a run's records: each template item's record carries its
numbers (``CaseResult.template``), each generated case its own record (kind ``generated``, node id
``<template item>[i]``). ``results.json`` holds :func:`capability_table` under ``capabilities``; the report
draws it on the index; the gate's ``min_pass_rate_by_capability`` reads :func:`capability_rates`.

A capability's failure rate is over its generated cases (CheckList's way: over all the cases of its tests).
For the gate, the cases of templates that were xfailed, skipped or did not run are left out, as the gate leaves
out xfailed and skipped items.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Mapping

from qaaudit.results import CaseResult, RunResult

__all__ = ["template_rows", "capability_table", "capability_rates", "capability_gate_checks", "template_changes"]

_NOT_COUNTED = ("xfailed", "skipped", "not_run", "error")


def _generated_by_template(run: RunResult) -> dict[str, list[CaseResult]]:
    out: dict[str, list[CaseResult]] = defaultdict(list)
    for c in run.cases:
        if c.kind == "generated":
            out[c.nodeid.rsplit("[", 1)[0]].append(c)
    return out


def template_rows(run: RunResult) -> list[dict[str, Any]]:
    """One row per template item: capability, language, cases, failed, failure rate, threshold, outcome."""
    generated = _generated_by_template(run)
    rows = []
    for c in run.cases:
        if c.kind != "template":
            continue
        info = dict(c.template or {})
        cases = generated.get(c.nodeid, [])
        failed = sum(1 for g in cases if g.outcome == "failed")
        rows.append({
            "nodeid": c.nodeid, "template": info.get("id", c.case_id), "capability": info.get("capability", "?"),
            "language": info.get("language", "?"), "outcome": c.outcome, "cases": len(cases), "failed": failed,
            "failure_rate": failed / len(cases) if cases else None,
            "min_pass_rate": info.get("min_pass_rate"), "xfail_reason": c.xfail_reason,
            "baseline_failure_rate": (1 - info["baseline_pass_rate"]) if info.get("baseline_pass_rate") is not None
            else None,
        })
    return rows


def _group(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    rows = list(rows)
    cases = sum(r["cases"] for r in rows)
    failed = sum(r["failed"] for r in rows)
    rated = [r for r in rows if r["failure_rate"] is not None]
    worst = max(rated, key=lambda r: (r["failure_rate"], r["template"]), default=None)
    counted = [r for r in rows if r["outcome"] not in _NOT_COUNTED]
    c_cases = sum(r["cases"] for r in counted)
    c_failed = sum(r["failed"] for r in counted)
    return {"tests": len(rows), "cases": cases, "failed": failed, "failure_rate": failed / cases if cases else None,
            "pass_rate": 1 - failed / cases if cases else None,
            "tests_failed": sum(1 for r in rows if r["outcome"] in ("failed", "error", "xfailed")),
            "worst_template": worst["template"] if worst else None,
            "worst_failure_rate": worst["failure_rate"] if worst else None,
            "counted_cases": c_cases, "counted_pass_rate": 1 - c_failed / c_cases if c_cases else None}


def capability_table(run: RunResult) -> dict[str, Any] | None:
    """``{"templates": [...], "by_capability": {cap: {...}}, "by_capability_language": {"cap/lang": {...}},
    "overall": {...}}``, or None for a run without templates."""
    rows = template_rows(run)
    if not rows:
        return None
    by_cap: dict[str, list] = defaultdict(list)
    by_cap_lang: dict[str, list] = defaultdict(list)
    for r in rows:
        by_cap[r["capability"]].append(r)
        by_cap_lang[f"{r['capability']}/{r['language']}"].append(r)
    return {"templates": rows, "overall": _group(rows),
            "by_capability": {k: _group(v) for k, v in sorted(by_cap.items())},
            "by_capability_language": {k: dict(_group(v), capability=k.split("/")[0], language=k.split("/", 1)[1])
                                       for k, v in sorted(by_cap_lang.items())}}


def capability_rates(run: RunResult) -> dict[str, dict[str, Any]]:
    """Gate numbers per capability and per ``capability/language``."""
    table = capability_table(run) or {}
    return {**table.get("by_capability", {}), **table.get("by_capability_language", {})}


def capability_gate_checks(run: RunResult, thresholds: Mapping[str, float], numbers: dict[str, Any]) -> list[Any]:
    """The gate's ``min_pass_rate_by_capability`` checks (a name no template carries fails: it measures nothing)."""
    from qaaudit.gate import GateCheck

    rates = capability_rates(run)
    checks = []
    for name, threshold in thresholds.items():
        group = rates.get(name)
        key = f"pass_rate[capability={name}]"
        if group is None or group["counted_pass_rate"] is None:
            known = ", ".join(sorted(rates)) or "none"
            why = ("no template has this capability" if group is None else
                   "its templates were xfailed, skipped or did not run")
            checks.append(GateCheck(key, None, ">=", threshold, False,
                                    f"{why}; check min_pass_rate_by_capability (capabilities in this run: {known})"))
            numbers[key] = None
            continue
        rate = group["counted_pass_rate"]
        numbers[key] = rate
        detail = f"over {group['counted_cases']} generated cases of {group['tests']} templates"
        checks.append(GateCheck(key, rate, ">=", threshold, rate >= threshold, detail))
    return checks


def template_changes(candidate: RunResult, baseline: RunResult) -> list[dict[str, Any]]:
    """Per template in both runs: the failure rate before and now and the change (now - before), largest
    increase first."""
    before = {_tail(r["nodeid"]): r for r in template_rows(baseline)}
    out = []
    for r in template_rows(candidate):
        b = before.get(_tail(r["nodeid"]))
        if b is None or r["failure_rate"] is None or b["failure_rate"] is None:
            continue
        out.append({"nodeid": r["nodeid"], "template": r["template"], "capability": r["capability"],
                    "language": r["language"], "baseline_failure_rate": b["failure_rate"],
                    "failure_rate": r["failure_rate"], "change": r["failure_rate"] - b["failure_rate"]})
    out.sort(key=lambda x: (-x["change"], x["nodeid"]))
    return out


def _tail(nodeid: str) -> str:
    path, sep, rest = nodeid.partition("::")
    return path.rsplit("/", 1)[-1] + sep + rest

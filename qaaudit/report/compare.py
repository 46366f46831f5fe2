"""Baseline-versus-candidate classification of cases, as the report shows it.

The report accepts a ready comparison (per node id: status and the baseline's
CaseResult) or a baseline RunResult, which it classifies with ``compare_runs``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from qaaudit.results import CaseResult, RunResult

__all__ = ["CaseComparison", "STATUS_ORDER", "classify", "compare_runs", "normalize_comparison"]

# Regressions first: they are what blocks a release.
STATUS_ORDER = ("regression", "fix", "fail->fail", "new", "removed", "skipped", "pass->pass")


@dataclass(frozen=True)
class CaseComparison:
    """One case on both models: ``status`` is one of ``STATUS_ORDER``; ``baseline`` may be absent."""

    status: str
    baseline: CaseResult | None = None


def _state(c: CaseResult | None) -> str | None:
    if c is None:
        return None
    if c.outcome == "skipped":
        return "skip"
    return "pass" if c.passed else "fail"


def classify(baseline: CaseResult | None, candidate: CaseResult | None) -> str:
    """pass->pass, fail->fail, regression (pass->fail), fix (fail->pass), new, removed or skipped."""
    b, c = _state(baseline), _state(candidate)
    if b is None:
        return "new"
    if c is None:
        return "removed"
    if "skip" in (b, c):
        return "skipped"
    return {("pass", "pass"): "pass->pass", ("fail", "fail"): "fail->fail",
            ("pass", "fail"): "regression", ("fail", "pass"): "fix"}[(b, c)]


def compare_runs(baseline: RunResult, candidate: RunResult) -> dict[str, CaseComparison]:
    """Classify every candidate case against the baseline case with the same node id."""
    base = {c.nodeid: c for c in baseline.cases}
    out = {c.nodeid: CaseComparison(classify(base.get(c.nodeid), c), base.get(c.nodeid)) for c in candidate.cases}
    seen = {c.nodeid for c in candidate.cases}
    out.update({n: CaseComparison("removed", b) for n, b in base.items() if n not in seen})
    return out


def normalize_comparison(comparison: Any, candidate: RunResult) -> dict[str, CaseComparison] | None:
    """Accept None, a baseline RunResult, or a mapping node id -> CaseComparison / dict."""
    if comparison is None:
        return None
    if isinstance(comparison, RunResult):
        return compare_runs(comparison, candidate)
    if not isinstance(comparison, Mapping):
        raise TypeError(f"comparison must be a RunResult or a mapping, not {type(comparison).__name__}")
    out = {}
    for nodeid, item in comparison.items():
        if isinstance(item, CaseComparison):
            out[nodeid] = item
            continue
        base = item.get("baseline")
        if isinstance(base, Mapping):
            base = CaseResult.from_dict(base)
        status = item.get("status")
        if status not in STATUS_ORDER:
            raise ValueError(f"comparison status {status!r} for {nodeid!r} is not one of {STATUS_ORDER}")
        out[nodeid] = CaseComparison(status, base)
    return out

"""The index's case table as data: one compact row per item, for the page's script to filter, sort and page.

Ten thousand rows of HTML made a 9 MB index that took seconds to open; the same rows as JSON arrays
are a fifth of that, and the browser draws one page of them at a time. The first page is also written as
HTML, so the index shows the failures at once, and still does where scripts are off.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from qaaudit import gate
from qaaudit.results import CaseResult

from .compare import CaseComparison, status_label

__all__ = ["COLUMNS", "PAGE_SIZE", "case_numbers", "table_data", "why", "STATE_CHARS"]

PAGE_SIZE = 100
# The fields of a row, in order (index.js reads them by these names); those most often empty come last, and a
# row stops at its last non-empty field (a predictions run has no deltas: 10,570 rows of nulls were 0.4 MB).
COLUMNS = ("outcome", "id", "href", "file", "line", "tags", "states", "prediction", "em", "f1", "confidence",
           "question", "why", "delta_start", "delta_end", "steps", "status", "check", "xfail", "nodeid")
STATE_CHARS = {"passed": "p", "failed": "f", "skipped": "s", "": "-"}


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else float(f"{x:.{digits}g}")


def case_numbers(case: CaseResult) -> dict[str, float | None]:
    """EM/F1 as the gate scores them (so an EM-only case shows its F1), confidence, |delta| start/end, steps."""
    nums: dict[str, float | None] = {"em": None, "f1": None, "confidence": None, "delta_start": None,
                                     "delta_end": None, "steps": None}
    scores = gate.case_scores(case) if case.kind == "case" else None
    if scores is not None:
        nums["em"], nums["f1"] = scores
    nums["confidence"] = _finite((case.prediction or {}).get("score"))
    e = case.explanation or {}
    for pos in ("start", "end"):
        t = e.get(pos)
        if isinstance(t, Mapping) and _finite(t.get("delta")) is not None:
            nums[f"delta_{pos}"] = abs(float(t["delta"]))
            nums["steps"] = nums["steps"] or _finite(t.get("n_steps")) or None
    if nums["steps"] is None:
        nums["steps"] = _finite((e.get("settings") or {}).get("n_steps"))
    if nums["confidence"] is None and isinstance(e.get("answer"), Mapping):
        nums["confidence"] = _finite(e["answer"].get("score"))
    return nums


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def why(case: CaseResult) -> str:
    """The first failed check and its numbers (``exact_match: 0 == 1``), what a reviewer scanning failures
    looks for; the details are on the case page."""
    if case.passed:
        return ""
    failed = [v for v in case.verdicts if v.passed is False]
    if failed:
        v = failed[0]
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"{v.expectation}.{v.check}: {_fmt(v.measured)}, expected {v.op} {_fmt(v.threshold)}{more}"
    return case.message.strip().splitlines()[0][:160] if case.message.strip() else ""


def table_data(ordered: Sequence[CaseResult], links: Mapping[str, str], families: Sequence[str],
               states: Mapping[str, str], comparison: Mapping[str, CaseComparison] | None,
               outcomes: Sequence[str], statuses: Sequence[str],
               numbers: Mapping[str, Mapping[str, float | None]] | None = None) -> dict[str, Any]:
    """``{"columns", "files", "tags", "families", "outcomes", "statuses", "rows"}``: files, tags, outcomes and
    statuses by index, so a row repeats none of them; ``states`` maps a node id to one character per family."""
    files: dict[str, int] = {}
    tags: dict[str, int] = {}
    rows = []
    for c in ordered:
        n = numbers[c.nodeid] if numbers is not None else case_numbers(c)
        comp = comparison.get(c.nodeid) if comparison else None
        pred = (c.prediction or {}).get("text")
        row = [
            outcomes.index(c.outcome) if c.outcome in outcomes else len(outcomes) - 1, c.case_id,
            links.get(c.nodeid), files.setdefault(c.path, len(files)), c.line,
            [tags.setdefault(t, len(tags)) for t in c.tags], states[c.nodeid],
            pred if isinstance(pred, str) else None,
            _round(n["em"], 4), _round(n["f1"], 4), _round(n["confidence"], 4), c.question, why(c) or None,
            _round(n["delta_start"], 3), _round(n["delta_end"], 3), n["steps"],
            statuses.index(comp.status) if comp is not None else None,
            c.check_name if c.kind != "case" else None, c.xfail_reason or None,
            None if c.nodeid == f"{c.path}::{c.case_id}" else c.nodeid,
        ]
        while row[-1] is None:
            row.pop()
        rows.append(row)
    return {"columns": list(COLUMNS), "files": list(files), "tags": list(tags), "families": list(families),
            "outcomes": list(outcomes), "statuses": list(statuses),
            "status_labels": [status_label(s) for s in statuses], "page_size": PAGE_SIZE, "rows": rows}

"""The numbers every run reports, gate or no gate: pass rates and mean EM/F1, overall, per file and per tag.

Plain data in, plain data out (no torch): the plugin prints :func:`render_summary` at the end of a run and
writes :func:`summarize` into ``results.json``; the report and ``qaaudit merge`` read the same numbers.
Pass rates count as the gate does (``passed``/``xpassed`` pass, ``failed``/``error``/``not_run`` fail,
``xfailed`` and ``skipped`` are left out); EM/F1 are means over the cases with a gold answer.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from qaaudit.results import CaseResult, RunResult

__all__ = ["summarize", "render_summary", "group_numbers"]

_SHOWN_GROUPS = 8   # per file / per tag lines in the terminal; results.json has all


def group_numbers(cases: Iterable[CaseResult], scores: Mapping[int, Any] | None = None) -> dict[str, Any]:
    """Counts, pass rate and mean EM/F1 of a group of items (``scores``: ``id(case)`` -> its case_scores)."""
    from qaaudit.gate import case_scores

    items = list(cases)
    score = (lambda c: scores[id(c)]) if scores is not None else case_scores
    counted = passed = 0
    for c in items:
        if c.outcome in ("xfailed", "skipped"):
            continue
        counted += 1
        passed += c.outcome in ("passed", "xpassed")
    scored = [s for c in items if c.kind == "case" and c.outcome not in ("skipped",) for s in [score(c)] if s]
    return {
        "items": len(items), "counted": counted, "passed": passed,
        "pass_rate": passed / counted if counted else None,
        "gold_cases": len(scored),
        "mean_em": sum(s[0] for s in scored) / len(scored) if scored else None,
        "mean_f1": sum(s[1] for s in scored) / len(scored) if scored else None,
    }


def summarize(run: RunResult) -> dict[str, Any]:
    """``{"overall": {...}, "by_file": {path: {...}}, "by_tag": {tag: {...}}}`` for results.json."""
    by_file: dict[str, list[CaseResult]] = {}
    by_tag: dict[str, list[CaseResult]] = {}
    for c in run.items:   # a template's generated cases: in summary.capabilities, not here
        by_file.setdefault(c.path, []).append(c)
        for tag in c.tags:
            by_tag.setdefault(tag, []).append(c)
    from qaaudit.gate import case_scores

    # once per case: a case is in the overall group, its file's and each of its tags'
    scores = {id(c): case_scores(c) for c in run.items if c.kind == "case" and c.outcome != "skipped"}
    return {"overall": group_numbers(run.items, scores),
            "by_file": {k: group_numbers(v, scores) for k, v in sorted(by_file.items())},
            "by_tag": {k: group_numbers(v, scores) for k, v in sorted(by_tag.items())}}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _line(name: str, n: Mapping[str, Any]) -> str:
    text = f"{name}: pass rate {_pct(n['pass_rate'])} ({n['passed']} of {n['counted']})"
    if n["gold_cases"]:
        text += f", EM {_pct(n['mean_em'])}, F1 {_pct(n['mean_f1'])} over {n['gold_cases']} gold cases"
    return text


def render_summary(summary: Mapping[str, Any]) -> str:
    """The terminal block: overall, then the files and tags with the lowest pass rates first."""
    lines = ["qaaudit: " + _line("all items", summary["overall"])]
    for key, label in (("by_file", "file"), ("by_tag", "tag")):
        groups = summary.get(key) or {}
        if len(groups) < 2 and key == "by_file":
            continue
        ranked = sorted(groups.items(), key=lambda kv: (kv[1]["pass_rate"] if kv[1]["pass_rate"] is not None
                                                        else 2.0, kv[0]))
        for name, numbers in ranked[:_SHOWN_GROUPS]:
            lines.append(f"  {label} {_line(name, numbers)}")
        if len(ranked) > _SHOWN_GROUPS:
            lines.append(f"  ... {len(ranked) - _SHOWN_GROUPS} more {label}s in results.json (summary.{key})")
    return "\n".join(lines)

"""Baseline versus candidate, arranged for the report.

The classification itself is the gate's (``qaaudit.gate.compare``), so that the
terminal, ``results.json`` and the report never disagree on what a regression
is. This module only pairs each status with the baseline's CaseResult, whose
attributions the case page draws next to the candidate's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from qaaudit import gate
from qaaudit.results import CaseResult, RunResult

__all__ = ["CaseComparison", "STATUS_ORDER", "STATUS_ALIASES", "status_label", "normalize_comparison"]

STATUS_ORDER = gate.STATUSES            # regressions ("pass->fail") first
STATUS_ALIASES = {"regression": "pass->fail", "fix": "fail->pass", "removed": "missing", "skipped": "not compared"}
_LABELS = {"pass->fail": "regression", "fail->pass": "fix"}


def status_label(status: str) -> str:
    """``pass->fail`` reads as "regression", ``fail->pass`` as "fix"; the rest as they are."""
    return _LABELS.get(status, status)


@dataclass(frozen=True)
class CaseComparison:
    """One node id on both models: a status of ``gate.STATUSES``, the baseline's record and the gate's numbers."""

    status: str
    baseline: CaseResult | None = None
    change: gate.CaseChange | None = None


def _from_gate(comp: gate.Comparison, baseline: RunResult | None) -> dict[str, CaseComparison]:
    base = {c.nodeid: c for c in baseline.cases} if baseline else {}
    return {ch.nodeid: CaseComparison(ch.status, base.get(ch.nodeid), ch) for ch in comp.cases}


def normalize_comparison(comparison: Any, candidate: RunResult,
                         baseline: RunResult | None = None) -> dict[str, CaseComparison] | None:
    """Accept None, the baseline's RunResult, a ``gate.Comparison`` (with ``baseline`` for its heatmaps),
    or a mapping node id -> ``CaseComparison`` / ``{"status": ..., "baseline": CaseResult | dict}``.
    """
    if comparison is None:
        if baseline is not None:
            return _from_gate(gate.compare(candidate, baseline), baseline)
        recorded = candidate.baseline
        # a results.json read back: its comparison was recorded with the run (no baseline heatmaps then)
        if isinstance(recorded, Mapping) and isinstance(recorded.get("cases"), list):
            return _from_gate(gate.Comparison.from_dict(recorded), None)
        return None
    if isinstance(comparison, RunResult):
        return _from_gate(gate.compare(candidate, comparison), comparison)
    if isinstance(comparison, gate.Comparison):
        return _from_gate(comparison, baseline)
    if not isinstance(comparison, Mapping):
        raise TypeError(f"comparison must be a RunResult, a gate.Comparison or a mapping, "
                        f"not {type(comparison).__name__}")
    out = {}
    for nodeid, item in comparison.items():
        if isinstance(item, CaseComparison):
            out[nodeid] = item
            continue
        base = item.get("baseline")
        if isinstance(base, Mapping):
            base = CaseResult.from_dict(base)
        status = STATUS_ALIASES.get(item.get("status"), item.get("status"))
        if status not in STATUS_ORDER:
            raise ValueError(f"comparison status {item.get('status')!r} for {nodeid!r} is not one of "
                             f"{STATUS_ORDER} (or {tuple(STATUS_ALIASES)})")
        out[nodeid] = CaseComparison(status, base)
    return out

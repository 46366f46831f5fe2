"""The terminal at dataset scale: beyond a few dozen audit failures, a line per failing item.

pytest prints one block per failure; for 300 failing cases of a dev set that is thousands of lines in which
the summary is lost. Past :data:`COMPACT_AFTER` failing audit items (and only with pytest's defaults: no
``-v``, ``--tb=auto``), their blocks give way to one line each (the node id and line,  its worst check and the
prediction), instead of pytest's FAILED lines, followed by qaaudit's per-file and per-tag summary; ``-v`` or any ``--tb`` brings every block
back. Other tests' failures keep their tracebacks.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

__all__ = ["COMPACT_AFTER", "wants_compact", "worst_verdict", "compact_line"]

COMPACT_AFTER = 30


def wants_compact(config: Any, failures: int) -> bool:
    return (failures > COMPACT_AFTER and config.getoption("verbose", 0) <= 0
            and config.getoption("tbstyle", "auto") == "auto")


def _shortfall(v: Mapping[str, Any]) -> float:
    """How far a failed check missed, relative to its threshold (non-numeric misses rank first)."""
    m, t = v.get("measured"), v.get("threshold")
    if not isinstance(m, (int, float)) or not isinstance(t, (int, float)) or isinstance(m, bool):
        return float("inf")
    return abs(float(m) - float(t)) / max(abs(float(t)), 1e-9)


def worst_verdict(verdicts: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    failed = [v for v in verdicts if v.get("passed") is False]
    return max(failed, key=_shortfall) if failed else None


def _num(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else repr(v) if isinstance(v, str) else str(v)


def _clip(text: str, width: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def compact_line(payload: Mapping[str, Any], fallback: str = "") -> str:
    """``nodeid (line N): expectation.check measured op threshold (+k more); predicted 'x', gold 'y'``: the
    node id as pytest prints it, to copy into the next command."""
    name = payload.get("nodeid") or f"{payload.get('path')}::{payload.get('case_id', '')}"
    where = f"(line {payload.get('line')})"
    side = payload.get("candidate") or {}
    verdicts = side.get("verdicts") or []
    worst = worst_verdict(verdicts)
    if worst is None:
        first = next((ln.strip() for ln in fallback.splitlines() if ln.strip()), "failed")
        return f"{name} {where}: {_clip(first, 100)}"
    more = sum(1 for v in verdicts if v.get("passed") is False) - 1
    text = (f"{name} {where}: {worst.get('expectation')}.{worst.get('check')} {_num(worst.get('measured'))} "
            f"{worst.get('op')} {_num(worst.get('threshold'))}" + (f" (+{more} more)" if more > 0 else ""))
    pred = side.get("prediction")
    if pred is not None and payload.get("kind") == "case":
        shown = "(no answer)" if pred.get("is_null") or not pred.get("text") else repr(_clip(pred.get("text", "")))
        gold = " | ".join(repr(_clip(g)) for g in payload.get("gold") or ()) or "(no answer)"
        text += f"; predicted {shown}, gold {gold}"
    return text

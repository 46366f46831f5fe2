"""Helpers shared by the expectation families: skipped verdicts and JSON-safe numbers."""
from __future__ import annotations

import math
from typing import Any

from qaaudit.results import Verdict

__all__ = ["skipped", "finite", "content_tokens", "NO_ATTRIBUTIONS"]

NO_ATTRIBUTIONS = "no attributions were computed for this case"


def skipped(expectation: Any, check: str, threshold: Any, op: str, why: str) -> Verdict:
    """A verdict that could not be decided (``passed=None``); the caller decides what it means."""
    return Verdict(expectation.family, check, None, None, threshold, op, why, expectation.line)


def finite(value: float) -> float | None:
    """``value`` or None when it is inf/nan (results.json is strict JSON)."""
    return float(value) if math.isfinite(value) else None


def content_tokens(explanation: Any) -> list[int]:
    """Question and context tokens: special tokens and padding carry no text to focus on."""
    return [i for i, (seg, off) in enumerate(zip(explanation.segments, explanation.offsets))
            if seg in ("question", "context") and off is not None]

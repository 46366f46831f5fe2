"""Completeness: integrated gradients' convergence delta of the start and end targets."""
from __future__ import annotations

import math
from typing import Any, Mapping

from qaaudit.explanation import Explanation
from qaaudit.results import Verdict
from qaaudit.spec import CompletenessExpectation

from ._common import NO_ATTRIBUTIONS, finite, skipped

__all__ = ["check_completeness"]


def _looser_target(settings: Mapping[str, Any], target: Any, name: str, threshold: float) -> str:
    """Why a converged refinement stopped above this check's bound, and the target that would not."""
    goal = settings.get("target")  # recorded by the refining rules only (fixed steps have none)
    if not goal or not settings.get("converged"):
        return ""
    gap = abs(target.f_input - target.f_baseline)
    a, r = goal.get("abs_delta") or 0.0, goal.get("rel_delta") or 0.0
    allowed = a + r * gap
    bound = threshold if name == "abs_delta" else threshold * gap
    if allowed <= bound:
        return ""
    fix = f"{{abs_delta: {threshold:g}, rel_delta: 0}}" if name == "abs_delta" else f"{{abs_delta: 0, rel_delta: {threshold:g}}}"
    return (f"; the refinement stopped at its target, |delta| <= {allowed:.3g} (abs_delta {a:g} + rel_delta {r:g} "
            f"x |F(x) - F(baseline)|), looser than this check: set `attribution: {{target: {fix}}}` on the case "
            "(or in defaults) to refine until it holds")


def check_completeness(expectation: CompletenessExpectation, explanation: Explanation | None) -> list[Verdict]:
    """``abs_delta[start|end]`` and ``rel_delta[start|end]`` verdicts (``<=``)."""
    thresholds = [(name, value) for name, value in
                  (("abs_delta", expectation.abs_delta), ("rel_delta", expectation.rel_delta)) if value is not None]
    if explanation is None or not explanation.has_attributions:
        name, value = thresholds[0] if thresholds else ("abs_delta", None)
        return [skipped(expectation, name, value, "<=", NO_ATTRIBUTIONS)]
    out = []
    for position in ("start", "end"):
        target = explanation.target(position)
        detail = (f"delta {target.delta:.3g}, F(x) {target.f_input:.4g}, F(baseline) {target.f_baseline:.4g}, "
                  f"{target.n_steps} steps")
        for name, threshold in thresholds:
            value = getattr(target, name)
            passed = math.isfinite(value) and value <= threshold
            extra = "" if math.isfinite(value) else "; F(x) equals F(baseline), so no relative delta exists"
            if not passed and math.isfinite(value):
                extra += _looser_target(explanation.settings, target, name, threshold)
            out.append(Verdict("completeness", f"{name}[{position}]", passed, finite(value), threshold, "<=",
                               detail + extra, expectation.line))
    return out

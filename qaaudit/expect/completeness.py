"""Completeness: integrated gradients' convergence delta of the start and end targets."""
from __future__ import annotations

import math

from qaaudit.explanation import Explanation
from qaaudit.results import Verdict
from qaaudit.spec import CompletenessExpectation

from ._common import NO_ATTRIBUTIONS, finite, skipped

__all__ = ["check_completeness"]


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
            out.append(Verdict("completeness", f"{name}[{position}]", passed, finite(value), threshold, "<=",
                               detail + extra, expectation.line))
    return out

"""Inline-SVG plots for the index: pass rate by tag and by file, and the distributions of F1, confidence and |delta|.

Geometry only (plain numbers and strings); ``templates/plots.html`` writes the SVG, so every label goes
through autoescaping. Pass rates are the gate's: (passed + xpassed) / every item but the xfailed and skipped ones.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Mapping, Sequence

__all__ = ["pass_rate_bars", "histogram", "delta_histogram", "MAX_BARS"]

MAX_BARS = 25          # groups drawn per bar chart (the worst first); the table lists all
_BAR_H, _GAP, _LABEL_W, _BAR_W, _TEXT_W = 16, 4, 230, 300, 120
_HIST_W, _HIST_H, _AXIS_H, _PAD = 520, 150, 34, 36
_PASSES, _COUNTED = ("passed", "xpassed"), ("passed", "xpassed", "failed", "error")


def _label(text: str, width: int = 34) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def pass_rate_bars(groups: Mapping[str, Counter], *, max_bars: int = MAX_BARS) -> dict[str, Any] | None:
    """One stacked bar per group (passes green, failures and errors red), the lowest pass rate first."""
    rows = []
    for name, counts in groups.items():
        counted = sum(counts.get(o, 0) for o in _COUNTED)
        if not counted:
            continue
        passed = sum(counts.get(o, 0) for o in _PASSES)
        rows.append((passed / counted, name, passed, counted))
    if not rows:
        return None
    rows.sort(key=lambda r: (r[0], r[1]))
    shown = rows[:max_bars]
    bars = []
    for i, (rate, name, passed, counted) in enumerate(shown):
        y = i * (_BAR_H + _GAP)
        w = round(_BAR_W * rate, 1)
        bars.append({"y": y, "ty": y + _BAR_H - 4, "label": _label(name), "full": name, "pass_w": w,
                     "fail_x": _LABEL_W + w, "fail_w": round(_BAR_W - w, 1), "rate": rate,
                     "text": f"{100 * rate:.1f}%  ({passed}/{counted})"})
    return {"bars": bars, "label_w": _LABEL_W, "bar_w": _BAR_W, "bar_h": _BAR_H,
            "width": _LABEL_W + _BAR_W + _TEXT_W, "height": len(shown) * (_BAR_H + _GAP),
            "hidden": len(rows) - len(shown), "total": len(rows)}


def _hist(counts: Sequence[int], labels: Sequence[str], *, n: int, missing: int, unit: str,
          marker: tuple[float, str] | None = None) -> dict[str, Any]:
    top = max(counts) if counts else 0
    k = len(counts)
    slot = _HIST_W / k
    bars = []
    for i, (c, lab) in enumerate(zip(counts, labels)):
        h = round(_HIST_H * c / top, 1) if top else 0.0
        bars.append({"x": round(_PAD + i * slot + 1, 1), "w": round(slot - 2, 1), "y": round(_HIST_H - h + 10, 1),
                     "h": h, "count": c, "label": lab, "lx": round(_PAD + (i + 0.5) * slot, 1),
                     "share": c / n if n else 0.0})
    out = {"bars": bars, "width": _PAD + _HIST_W + 8, "height": _HIST_H + 10 + _AXIS_H, "axis_y": _HIST_H + 10,
           "label_y": _HIST_H + 24, "top": top, "n": n, "missing": missing, "unit": unit, "pad": _PAD,
           "marker": None}
    if marker is not None and 0 < marker[0] < k:   # a fractional slot: where on the axis a threshold falls
        out["marker"] = {"x": round(_PAD + marker[0] * slot, 1), "text": marker[1]}
    return out


def histogram(values: Sequence[float | None], *, exact_ends: bool = False, unit: str = "cases") -> dict | None:
    """Ten bins over [0, 1]; with ``exact_ends`` the values 0 and 1 get bins of their own (F1 and EM are
    mostly exactly 0 or 1, which a decile bin would hide)."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    missing = len(values) - len(vals)
    if not vals:
        return None
    inner = [0] * 10
    zero = one = 0
    for v in vals:
        v = min(1.0, max(0.0, v))
        if exact_ends and v == 0.0:
            zero += 1
        elif exact_ends and v == 1.0:
            one += 1
        else:
            inner[min(9, int(v * 10))] += 1
    labels = [f"{i / 10:.1f}" for i in range(10)]
    if exact_ends:
        return _hist([zero, *inner, one], ["=0", *labels, "=1"], n=len(vals), missing=missing, unit=unit)
    return _hist(inner, labels, n=len(vals), missing=missing, unit=unit)


def delta_histogram(values: Sequence[float | None], *, tolerance: float | None = 0.05) -> dict | None:
    """|delta| per decade, from below 1e-5 to 1 and above: deltas span magnitudes, so the bins are logarithmic.
    ``tolerance`` (the default completeness target) is marked on the axis."""
    vals = [abs(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None
    lo, hi = -5, 0                                   # decades 1e-5 .. 1
    counts = [0] * (hi - lo + 2)
    for v in vals:
        d = math.floor(math.log10(v)) if v > 0 else lo - 1
        counts[min(max(d, lo - 1), hi) - (lo - 1)] += 1
    labels = [f"<1e{lo}"] + [f"1e{d}" for d in range(lo, hi)] + ["≥1"]
    marker = (math.log10(tolerance) - (lo - 1), f"target {tolerance:g}") if tolerance else None
    return _hist(counts, labels, n=len(vals), missing=len(values) - len(vals), unit="targets", marker=marker)

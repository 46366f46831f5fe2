"""Colours and cells for token heatmaps, in the style of Captum's ``visualize_text``.

Captum colours an attribution in [-1, 1]: positive green (hue 120, lightness
100 - 50a), negative red (hue 0, lightness 100 - 40|a|). We keep that mapping so
that the report reads like the notebook, and reuse it for the layer-conductance and attention
grids (after scaling by the largest |value|, since neither is normalised like the attributions).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["color", "display_token", "token_cells", "legend", "grid", "scale", "PAD_TOKENS", "visible_length"]

# Padding carries no information and would make every heatmap as wide as max_seq_len.
PAD_TOKENS = frozenset({"[PAD]", "<pad>", "<PAD>", "[pad]"})


def color(score: float | None) -> str:
    """Captum's ``_get_color``: an ``hsl()`` CSS colour for an attribution clipped to [-1, 1]."""
    if score is None or not math.isfinite(score):
        return "hsl(0, 0%, 90%)"
    a = max(-1.0, min(1.0, float(score)))
    if a > 0:
        return f"hsl(120, 75%, {100 - int(50 * a)}%)"
    return f"hsl(0, 75%, {100 - int(-40 * a)}%)"


def display_token(token: str) -> str:
    """Captum's ``format_special_tokens`` (``<s>`` -> ``#s``), so angle-bracket tokens read as tokens."""
    if token.startswith("<") and token.endswith(">") and len(token) > 2:
        return "#" + token.strip("<>")
    return token


def visible_length(tokens: Sequence[str]) -> int:
    """Number of tokens before the trailing padding."""
    n = len(tokens)
    while n and tokens[n - 1] in PAD_TOKENS:
        n -= 1
    return n


def token_cells(tokens: Sequence[str], scores: Sequence[float] | None, segments: Sequence[str] | None = None,
                *, marks: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """One cell per visible token: text, index, score, colour, segment and an optional mark.

    ``marks`` maps a token index to a label (e.g. "predicted", "gold") shown as an outline.
    """
    n = visible_length(tokens)
    marks = marks or {}
    cells = []
    for i in range(n):
        s = float(scores[i]) if scores is not None and i < len(scores) and scores[i] is not None else None
        cells.append({
            "index": i, "text": display_token(tokens[i]), "score": s, "color": color(s),
            "segment": segments[i] if segments is not None and i < len(segments) else "",
            "mark": marks.get(i, ""),
        })
    return cells


def legend() -> list[dict[str, str]]:
    """Captum's three-swatch legend."""
    return [{"label": "Negative", "color": color(-1.0)}, {"label": "Neutral", "color": color(0.0)},
            {"label": "Positive", "color": color(1.0)}]


def scale(maximum: float, *, diverging: bool, steps: int = 5) -> list[dict[str, str]]:
    """Swatches with the numbers they stand for: -max .. 0 .. +max (diverging) or 0 .. max."""
    lo = -1.0 if diverging else 0.0
    out = []
    for k in range(steps):
        a = lo + (1.0 - lo) * k / (steps - 1)
        out.append({"color": color(a), "label": f"{a * maximum:.3g}"})
    return out


def grid(matrices: Sequence[Sequence[Sequence[float | None]]], n_tokens: int) -> tuple[list[list], float]:
    """Cells of a tokens (rows) x layers (columns) table for several layers x tokens matrices side by side,
    coloured by value / the largest |value| of them all; ``None`` between two matrices marks a gap column.
    Returns (rows of (colour, value text) cells, that largest |value|)."""
    finite = [abs(v) for m in matrices for row in m for v in row[:n_tokens] if v is not None and math.isfinite(v)]
    top = max(finite) if finite else 0.0
    rows = []
    for i in range(n_tokens):
        cells: list = []
        for g, m in enumerate(matrices):
            if g:
                cells.append(None)
            for layer in m:
                v = layer[i] if i < len(layer) else None
                ok = v is not None and math.isfinite(v)
                cells.append((color(v / top if ok and top else 0.0), f"{v:.4g}" if ok else "—"))
        rows.append(cells)
    return rows, top

"""Colours and cells for token heatmaps, in the style of Captum's ``visualize_text``.

Captum colours an attribution in [-1, 1]: positive green (hue 120, lightness
100 - 50a), negative red (hue 0, lightness 100 - 40|a|). We keep that mapping so
that the report reads like the notebook, and reuse it for the layer-conductance
grid (after scaling by the largest |value|, since conductance is not normalised).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["color", "display_token", "token_cells", "legend", "grid", "PAD_TOKENS", "visible_length"]

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


def grid(matrix: Sequence[Sequence[float]], row_labels: Sequence[str], col_labels: Sequence[str],
         *, cell: int = 14, label_width: int = 34, label_height: int = 70) -> dict[str, Any]:
    """Geometry for an inline-SVG heatmap (rows x columns), coloured by value / max |value|.

    Returns plain numbers and strings; the template writes the SVG, so every label
    goes through autoescaping.
    """
    finite = [abs(v) for row in matrix for v in row if v is not None and math.isfinite(v)]
    scale = max(finite) if finite else 0.0
    cells = []
    for r, row in enumerate(matrix):
        for c, v in enumerate(row):
            norm = (v / scale) if scale and v is not None and math.isfinite(v) else 0.0
            cells.append({"x": label_width + c * cell, "y": label_height + r * cell, "color": color(norm),
                          "title": f"{row_labels[r]} · {col_labels[c]}: {v:.4g}" if v is not None else ""})
    return {
        "width": label_width + cell * len(col_labels) + 4, "height": label_height + cell * len(row_labels) + 4,
        "cell": cell, "cells": cells, "scale": scale,
        "rows": [{"y": label_height + r * cell + cell * 0.75, "x": label_width - 4, "text": t}
                 for r, t in enumerate(row_labels)],
        "cols": [{"x": label_width + c * cell + cell * 0.7, "y": label_height - 4, "text": t}
                 for c, t in enumerate(col_labels)],
    }

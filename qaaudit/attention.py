"""Attention weights from the predicted start and end tokens, per layer: the attention view of Captum's BERT tutorial.

One extra forward pass of the explained window with ``output_attentions=True``. transformers computes attention
with SDPA by default, which never materialises the weights; for that one pass the model is switched to its
``eager`` attention and back (the logits agree to float rounding, and the attributions never see the switch).
For each target token and layer: the attention from that token to every token, averaged over the heads, and the
row of the most focused head (the lowest entropy over the tokens).
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator, Mapping

import torch

from qaaudit.errors import ModelLoadError

__all__ = ["target_attention", "eager_attention"]

_DIGITS = 6   # attention weights are in [0, 1]: six decimals keep them exact enough and the records small


@contextlib.contextmanager
def eager_attention(model: torch.nn.Module) -> Iterator[None]:
    """Run the block with the model's eager attention (the one that returns weights), then restore its own."""
    config = getattr(model, "config", None)
    before = getattr(config, "_attn_implementation", None)
    switch = before not in (None, "eager") and hasattr(model, "set_attn_implementation")
    if switch:
        model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(before)


def _rows(att: torch.Tensor, index: int) -> dict[str, Any]:
    """``att``: (layers, heads, L, L) -> mean and most focused head of the rows of ``index``."""
    rows = att[:, :, index, :]                                      # (layers, heads, L)
    mean = rows.mean(1)
    entropy = -(rows * torch.log(rows.clamp_min(1e-12))).sum(-1)     # (layers, heads)
    heads = entropy.argmin(-1)                                      # (layers,)
    focused = rows[torch.arange(rows.shape[0]), heads]
    return {"token": int(index),
            "mean": [[round(float(x), _DIGITS) for x in r] for r in mean.tolist()],
            "focused": [[round(float(x), _DIGITS) for x in r] for r in focused.tolist()],
            "focused_heads": [int(h) for h in heads.tolist()]}


def target_attention(qa: Any, inputs: Mapping[str, torch.Tensor], start_index: int, end_index: int) -> dict[str, Any]:
    """``{"start": {...}, "end": {...}, "layers": n, "heads": h}`` for one window (batch of 1, as IG gets it);
    each target holds ``mean`` and ``focused`` (layers x tokens), ``focused_heads`` and its ``token``."""
    model = qa.model
    with torch.no_grad(), eager_attention(model):
        out = model(**inputs, output_attentions=True)
    weights = getattr(out, "attentions", None)
    if not weights or any(w is None for w in weights):
        raise ModelLoadError(
            f"model {getattr(qa, 'name', '?')} ({getattr(qa, 'architecture', '?')}) returned no attention weights; "
            "load it with attn_implementation='eager', or leave `attention` off for it")
    att = torch.stack([w[0].float() for w in weights])               # (layers, heads, L, L)
    if not torch.isfinite(att).all() or not math.isclose(float(att[-1, 0, start_index].sum()), 1.0, abs_tol=1e-3):
        raise ModelLoadError(f"the attention weights of model {getattr(qa, 'name', '?')} are not "
                                   "probability rows; this architecture is not supported for attention")
    return {"layers": int(att.shape[0]), "heads": int(att.shape[1]), "implementation": "eager",
            "start": _rows(att, start_index), "end": _rows(att, end_index)}

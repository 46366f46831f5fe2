"""Largest difference between qaaudit's IG and Captum's LayerIntegratedGradients, per architecture.

    .venv/bin/python scripts/captum_parity.py [--steps 50]

Builds the tiny checkpoints of tests/tinymodels.py, explains one Korean/English pair with both
(same inputs, pinned start/end targets, same Gauss-Legendre steps) and prints max |diff| relative to
the largest attribution, and the two convergence deltas.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from tinymodels import ARCHS, build_tiny_checkpoint  # noqa: E402

import qaaudit  # noqa: E402
from qaaudit.attribute import integrated_gradients  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    from captum.attr import LayerIntegratedGradients

    q, c = "로제는 어디에서 태어났습니까?", "로제는 뉴질랜드에서 태어났다. Rose was born in New Zealand."
    print(f"| arch | max abs diff / max abs attribution | delta qaaudit | delta captum | steps |")
    print("|---|---|---|---|---|")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ARCHS:
            qa = qaaudit.load_model(build_tiny_checkpoint(arch, Path(tmp) / arch), device="cpu")
            enc = qa.tokenizer(q, c, return_tensors="pt", return_special_tokens_mask=True)
            keep = enc.pop("special_tokens_mask").bool()
            inputs = {k: v for k, v in enc.items() if k in qa.tokenizer.model_input_names}
            n = inputs["input_ids"].shape[1]
            s, e = n // 2, n // 2 + 2
            run = integrated_gradients(qa, inputs, s, e, keep=keep, n_steps=args.steps, keep_full=True)
            names = [k for k in inputs if k != "input_ids"]
            ref = torch.where(keep, inputs["input_ids"], torch.full_like(inputs["input_ids"], qa.tokenizer.pad_token_id))
            for pos, idx in (("start", s), ("end", e)):
                def fwd(ids, *extra, _pos=pos, _idx=idx):
                    out = qa.model(input_ids=ids, **dict(zip(names, extra)))
                    return (out.start_logits if _pos == "start" else out.end_logits)[:, _idx]

                attr, delta = LayerIntegratedGradients(fwd, qa.embeddings).attribute(
                    inputs["input_ids"], baselines=ref, additional_forward_args=tuple(inputs[k] for k in names),
                    n_steps=args.steps, return_convergence_delta=True)
                a = attr[0].detach().numpy()
                rel = float(np.abs(run[pos].full - a).max() / np.abs(a).max())
                worst = max(worst, rel)
                print(f"| {arch} {pos} | {rel:.2e} | {run[pos].delta:.3e} | {float(delta):.3e} | {args.steps} |")
    print(f"\nworst relative difference: {worst:.2e}")


if __name__ == "__main__":
    main()

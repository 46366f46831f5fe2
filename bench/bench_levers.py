"""What a node costs, and what would make it cheaper: the levers of issue 20, measured in one process.

    .venv/bin/python bench/bench_levers.py [--models demo,minilm,ko128,ko384] [--repeats 5] [--compile] [--batched-grads]

For each model, on one case, per node (one interpolated input), medians of ``--repeats``:

- ``grad node @k``: one forward with the graph + two ``autograd.grad`` (start, end) over a pass of k nodes: the
  engine's node (the floor's kind), at the pass sizes a refinement round uses (4, 8, 16) and the first level's (17)
  and the 50-step pass;
- ``grad node @k, weights frozen``: the same with every parameter's ``requires_grad`` off (no weight gradients
  can be asked for, so the forward keeps fewer tensors for the backward);
- ``forward-only node @k``: the same pass under ``torch.no_grad()``: the price of a scan of F(alpha);
- ``--batched-grads``: the grad node with both targets' backward passes in one vmapped ``autograd.grad``;
- ``--compile``: the grad node through ``torch.compile(model, dynamic=True)`` (CPU inductor), with the first
  call's compile time printed apart.

Ratios are against the grad node at the 50-step pass of the same model in the same run.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import koelectra_small_like, sharpen, synthetic_cases, tokenizer_cases  # noqa: E402

SHARPEN = dict(attention=12.0, ffn=8.0, head=10.0)


def load(name: str) -> tuple[Any, Any, str]:
    import qaaudit
    from qaaudit.demo.data import generate

    if name in ("demo", "minilm"):
        if name == "demo":
            qa = qaaudit.load_model(qaaudit.demo_model_path(), device="cpu")
            exs = generate("test", 1, seed=5)
        else:
            import minilm_qa

            qa = qaaudit.load_model(minilm_qa.ensure(), device="cpu")
            exs = [e for e in generate("test", 8, seed=5, langs=("en",)) if not e.unanswerable][:1]
        case = tokenizer_cases(qa, [(e.question, e.context) for e in exs])[0]
        return qa, case, name
    length = int(name[2:])
    qa = sharpen(koelectra_small_like(seed=0), **SHARPEN)
    return qa, synthetic_cases(qa, length, 1, seed=1)[0], f"KoELECTRA-small shape (sharpened) at {length}"


def node_pass(qa: Any, case: Any, k: int, *, grad: bool = True, model: Any = None,
              batched_grads: bool = False) -> Callable[[], None]:
    import torch

    from qaaudit.attribute import _capture, _replace_output, _repeat, baseline_input_ids

    model = model if model is not None else qa.model
    ref = baseline_input_ids(qa.tokenizer, case.inputs["input_ids"], case.keep, "pad")
    x, _ = _capture(qa.embeddings, qa.model, case.inputs, run_to_end=False)
    b, _ = _capture(qa.embeddings, qa.model, dict(case.inputs, input_ids=ref), run_to_end=False)
    alphas = torch.linspace(0.05, 0.95, k).view(-1, 1, 1)
    batch = _repeat(case.inputs, k)

    def run() -> None:
        if not grad:
            with torch.no_grad(), _replace_output(qa.embeddings, b + alphas * (x - b)):
                model(**batch)
            return
        path = (b + alphas * (x - b)).requires_grad_(True)
        with _replace_output(qa.embeddings, path):
            o = model(**batch)
        if batched_grads:   # both targets in one vmapped backward: the same work, in matrices twice as tall
            y = torch.stack([o.start_logits[:, case.start].sum(), o.end_logits[:, case.end].sum()])
            torch.autograd.grad(y, path, torch.eye(2, dtype=y.dtype), is_grads_batched=True)
            return
        torch.autograd.grad(o.start_logits[:, case.start].sum(), path, retain_graph=True)
        torch.autograd.grad(o.end_logits[:, case.end].sum(), path)

    return run


def per_node(fn: Callable[[], None], k: int, repeats: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) / k


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="demo,minilm,ko128,ko384")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", default="4,8,17,50")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--batched-grads", action="store_true",
                    help="also the grad node with start and end in one autograd.grad(is_grads_batched=True)")
    args = ap.parse_args(argv)

    import os

    import torch

    torch.set_num_threads(2)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"torch {torch.__version__} | threads {torch.get_num_threads()} | load average {os.getloadavg()[0]:.1f} | "
          f"repeats {args.repeats} (medians)")
    print("| model | L | variant | ms per node | x grad node @50 |\n|---|---|---|---|---|")
    for name in args.models.split(","):
        qa, case, label = load(name)
        rows: list[tuple[str, float]] = []
        # interleave the variants inside each size so that drifting load hits them alike
        for k in sizes:
            rows.append((f"grad node @{k}", per_node(node_pass(qa, case, k), k, args.repeats)))
            qa.model.requires_grad_(False)
            try:
                rows.append((f"grad node @{k}, weights frozen", per_node(node_pass(qa, case, k), k, args.repeats)))
            finally:
                qa.model.requires_grad_(True)
            rows.append((f"forward-only node @{k}", per_node(node_pass(qa, case, k, grad=False), k, args.repeats)))
            if args.batched_grads:
                rows.append((f"grad node @{k}, both targets in one batched backward",
                             per_node(node_pass(qa, case, k, batched_grads=True), k, args.repeats)))
        if args.compile:
            import torch._functorch.config

            torch._functorch.config.donated_buffer = False   # the second target's backward retains the graph
            compiled = torch.compile(qa.model, dynamic=True)
            for k in (17, 50):
                fn = node_pass(qa, case, k, model=compiled)
                t0 = time.perf_counter()
                fn()
                rows.append((f"compiled: first call @{k} (compile included), s", time.perf_counter() - t0))
                rows.append((f"compiled grad node @{k}", per_node(fn, k, args.repeats)))
        ref = dict(rows)[f"grad node @{max(sizes)}"]
        for v, sec in rows:
            if v.endswith(", s"):
                print(f"| {label} | {case.length} | {v} | {sec:.1f} s | - |")
            else:
                print(f"| {label} | {case.length} | {v} | {sec * 1000:.1f} | {sec / ref:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

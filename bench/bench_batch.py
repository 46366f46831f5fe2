"""Batching cases into shared IG passes, and autocast, on the device at hand (issue 5).

    .venv/bin/python bench/bench_batch.py                    # auto device; demo model + KoELECTRA-small shape
    python3 bench/bench_batch.py --device cuda --cases 32    # on a GPU machine

For each model and length, on the same cases: the notebook's approach (two Captum LayerIntegratedGradients
calls of 50 steps per case), qaaudit one case at a time (``integrated_gradients``, completeness target
|delta| <= 5% or 0.05), the same cases batched (``integrated_gradients_batch``), and the batched run under
bf16 (and fp16 on CUDA) autocast. Prints seconds per case, ratios to the notebook and to one-at-a-time,
the deltas, the autocast's error against fp32 (top-10 token overlap, relative L2), and peak GPU memory.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_explain import attribution_error, notebook_ig  # noqa: E402
from common import Case, koelectra_small_like, machine, sharpen, synthetic_cases, tokenizer_cases  # noqa: E402

SHARPEN = dict(attention=12.0, ffn=8.0, head=10.0)  # as bench_explain.py: trained-like step counts


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _to(qa: Any, cases: Sequence[Case], device: Any) -> tuple[Any, list[Case]]:
    qa.model.to(device)
    qa = dataclasses.replace(qa, device=device)
    moved = [Case({k: v.to(device) for k, v in c.inputs.items()}, c.keep.to(device), c.start, c.end) for c in cases]
    return qa, moved


def run_condition(qa: Any, cases: Sequence[Case], label: str, *, repeats: int, with_notebook: bool,
                  budgets: Sequence[int | None]) -> list[dict[str, Any]]:
    import torch

    from qaaudit.attribute import CompletenessTarget, IGCase, integrated_gradients, integrated_gradients_batch

    target = CompletenessTarget(abs_delta=0.05, rel_delta=0.05, max_steps=129)
    dev = qa.device
    ig_cases = [IGCase(c.inputs, c.start, c.end, c.keep) for c in cases]

    def one_at_a_time(autocast: str | None = None) -> list[Any]:
        return [integrated_gradients(qa, c.inputs, c.start, c.end, keep=c.keep, target=target, autocast=autocast)
                for c in cases]

    fns: dict[str, Callable[[], Any]] = {}
    if with_notebook:
        fns["notebook (2 x LIG, 50)"] = lambda: [notebook_ig(qa, c) for c in cases]
    fns["one case at a time"] = one_at_a_time
    for b in budgets:
        name = "batched" + (f", budget {b}" if b else "")
        fns[name] = (lambda b=b: integrated_gradients_batch(qa, ig_cases, target=target, token_budget=b))
    fns["batched, bf16"] = lambda: integrated_gradients_batch(qa, ig_cases, target=target, autocast="bf16")
    if dev.type == "cuda":
        fns["batched, fp16"] = lambda: integrated_gradients_batch(qa, ig_cases, target=target, autocast="fp16")
    # warm-up: kernels, allocator, autocast casts
    integrated_gradients_batch(qa, ig_cases[:2], n_steps=2)
    integrated_gradients_batch(qa, ig_cases[:2], n_steps=2, autocast="bf16")
    if with_notebook:
        notebook_ig(qa, cases[0], 2)
    times: dict[str, list[float]] = {k: [] for k in fns}
    outs: dict[str, Any] = {}
    peak: dict[str, float] = {}
    for _ in range(max(1, repeats)):
        for name, fn in fns.items():
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            _sync(dev)
            t0 = time.perf_counter()
            outs[name] = fn()
            _sync(dev)
            times[name].append((time.perf_counter() - t0) / len(cases))
            if dev.type == "cuda":
                peak[name] = torch.cuda.max_memory_allocated(dev) / 2**30
    ref_name = "one case at a time"
    nb = statistics.median(times[next(iter(fns))]) if with_notebook else None
    base = statistics.median(times[ref_name])
    rows = []
    for name in fns:
        sec = statistics.median(times[name])
        row = {"model": label, "L": f"{min(c.length for c in cases)}-{max(c.length for c in cases)}",
               "n": len(cases), "approach": name, "sec": sec,
               "x_notebook": sec / nb if nb else None, "x_one": sec / base, "steps": "", "delta": "", "vs_fp32": "",
               "peak_gib": peak.get(name)}
        if name.startswith("notebook"):
            d = {p: max(abs(o[p][1]) for o in outs[name]) for p in ("start", "end")}
            row["delta"] = f"{d['start']:.2g} / {d['end']:.2g}"
        else:
            runs = outs[name]
            row["steps"] = f"{statistics.mean(r.n_steps for r in runs):.1f}"
            rel = [max(r.start.rel_delta, r.end.rel_delta) for r in runs]
            row["delta"] = f"rel <= {max(rel):.1%}, converged {sum(r.converged for r in runs)}/{len(runs)}"
            if name != ref_name:
                errs = [attribution_error(a, b) for a, b in zip(outs[ref_name], runs)]
                row["vs_fp32"] = f"top-10 >= {min(e[0] for e in errs):.0%}, L2 <= {max(e[1] for e in errs):.2%}"
        rows.append(row)
    return rows


def table(rows: Sequence[dict[str, Any]]) -> str:
    head = ("| model | L | cases | approach | s/case | x notebook | x one-at-a-time | mean steps | deltas | "
            "vs one-at-a-time fp32 | peak GiB |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        f = lambda v, fmt: "-" if v is None or v == "" else format(v, fmt) if isinstance(v, float) else str(v)  # noqa: E731
        lines.append(f"| {r['model']} | {r['L']} | {r['n']} | {r['approach']} | {f(r['sec'], '.4f')} | "
                     f"{f(r['x_notebook'], '.3f')} | {f(r['x_one'], '.2f')} | {r['steps'] or '-'} | {r['delta']} | "
                     f"{r['vs_fp32'] or '-'} | {f(r['peak_gib'], '.2f')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto")
    ap.add_argument("--cases", type=int, default=None, help="cases per condition (default: 16 on CUDA, 4 on CPU)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--lengths", default="128,384", help="KoELECTRA-small-shape lengths ('' to skip)")
    ap.add_argument("--budgets", default="", help="extra token budgets to try for the batched run, e.g. 65536,262144")
    ap.add_argument("--no-notebook", action="store_true")
    ap.add_argument("--no-demo", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from qaaudit.model import resolve_device

    dev = resolve_device(args.device)
    n = args.cases or (16 if dev.type == "cuda" else 4)
    budgets: list[int | None] = [None] + [int(b) for b in args.budgets.split(",") if b]
    info = machine()
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "none"
    print(f"Machine: {info['date']} | device {dev} ({gpu}) | cpu {info['cpu']} x{info['cores']} | torch "
          f"{info['torch']} | transformers {info['transformers']} | captum {info['captum']} | threads {info['threads']}")
    rows: list[dict[str, Any]] = []
    if not args.no_demo:
        from qaaudit.demo import demo_model_path
        from qaaudit.demo.data import generate
        from qaaudit.model import load_model

        qa = load_model(str(demo_model_path()), device="cpu")
        pairs = [(e.question, e.context) for e in generate("test", n, seed=5)]
        qa, cases = _to(qa, tokenizer_cases(qa, pairs), dev)
        rows += run_condition(qa, cases, "demo model (trained)", repeats=args.repeats,
                              with_notebook=not args.no_notebook, budgets=budgets)
        print(table(rows[-len(rows):]), flush=True)
    for length in [int(x) for x in args.lengths.split(",") if x]:
        qa = sharpen(koelectra_small_like(), **SHARPEN)
        qa, cases = _to(qa, synthetic_cases(qa, length, n), dev)
        new = run_condition(qa, cases, "KoELECTRA-small shape, sharpened", repeats=args.repeats,
                            with_notebook=not args.no_notebook, budgets=budgets)
        rows += new
        print(table(new), flush=True)
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

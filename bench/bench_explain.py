"""Seconds per explained case: the origin notebook's two LayerIntegratedGradients calls against qaaudit.

    .venv/bin/python bench/bench_explain.py [--quick] [--repeats 3] [--cases 2] [--lengths 128,384]
        [--random-lengths 128] [--no-suite] [--no-chunks] [--suite-only] [--suite-rounds 3] [--generated-suite N]

One run, the same inputs for every approach, medians of ``--repeats`` (approaches interleaved
inside each repeat so that load from other processes spreads over all of them). Rows:

1. notebook: ``captum.attr.LayerIntegratedGradients`` on the embeddings module, start then end,
   50 steps (Captum's Gauss-Legendre), forward returning the pinned logit, baseline = every
   non-special token -> [PAD] (the notebook's; qaaudit's ``baseline="pad"``);
2. qaaudit, 50 Gauss-Legendre steps (``integrated_gradients(n_steps=50)``);
3. qaaudit with a completeness target (|delta| <= 0.05 + 5% of |F(x)-F(b)|): the default adaptive rule, and nested Clenshaw-Curtis (qaaudit-target-cc);
4. 3 under bf16 autocast, with its attribution error against 3 in fp32 (``--bf16 auto``: only on a CPU with native bf16);
5. the floor: steps used x (one forward + two backward passes over a batch of interpolated
   embeddings, nothing else), measured per step at the engine's chunk size;
6. ``pytest audits/`` uncached (``--qaaudit-clear-cache``) and then cached.

Models: the demo model (when built) and a KoELECTRA-small-shaped ELECTRA at 128 and 384 tokens,
random weights and "sharpened" weights (see ``common.sharpen``; random weights make IG converge
in ~9 steps, which says nothing about trained models). Printed as a markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Case,
    koelectra_small_like,
    machine,
    median_time,
    sharpen,
    synthetic_cases,
    timed,
    tokenizer_cases,
)

ROOT = Path(__file__).resolve().parent.parent
APPROACHES = ("notebook", "qaaudit-50", "qaaudit-target", "qaaudit-target-cc", "qaaudit-target-bf16")
REFERENCE_STEPS = 128  # the true attributions: a 128-node Gauss-Legendre rule, untimed
SHARPEN = dict(attention=12.0, ffn=8.0, head=10.0)


# --------------------------------------------------------------------------- the approaches
def notebook_ig(qa: Any, case: Case, n_steps: int = 50) -> dict[str, Any]:
    """The origin notebook: two LayerIntegratedGradients calls (start, then end) on the embeddings module."""
    import torch
    from captum.attr import LayerIntegratedGradients

    names = [k for k in case.inputs if k != "input_ids"]

    def squad_pos_forward_func(input_ids, *extra):  # extra: the other inputs, then position and index
        *model_args, position, index = extra
        out = qa.model(input_ids=input_ids, **dict(zip(names, model_args)))
        return (out.start_logits if position == 0 else out.end_logits)[:, index]

    ids = case.inputs["input_ids"]
    ref = torch.where(case.keep, ids, torch.full_like(ids, qa.tokenizer.pad_token_id))
    lig = LayerIntegratedGradients(squad_pos_forward_func, qa.embeddings)
    res = {}
    for position, (name, index) in enumerate((("start", case.start), ("end", case.end))):
        attr, delta = lig.attribute(inputs=ids, baselines=ref,
                                    additional_forward_args=(*(case.inputs[n] for n in names), position, index),
                                    n_steps=n_steps, return_convergence_delta=True)
        res[name] = (attr[0].sum(-1).detach().double().cpu().numpy(), float(delta))
    return res


def qaaudit_ig(qa: Any, case: Case, **kw: Any) -> Any:
    from qaaudit.attribute import integrated_gradients

    return integrated_gradients(qa, case.inputs, case.start, case.end, keep=case.keep, **kw)


def floor_per_step(qa: Any, case: Case, chunk: int) -> Callable[[], None]:
    """One forward + two backward passes over ``chunk`` interpolated embeddings; nothing else."""
    import torch

    from qaaudit.attribute import _capture, _replace_output, _repeat, baseline_input_ids

    ref = baseline_input_ids(qa.tokenizer, case.inputs["input_ids"], case.keep, "pad")
    x, _ = _capture(qa.embeddings, qa.model, case.inputs, run_to_end=False)
    b, _ = _capture(qa.embeddings, qa.model, dict(case.inputs, input_ids=ref), run_to_end=False)
    alphas = torch.linspace(0.05, 0.95, chunk).view(-1, 1, 1)
    batch = _repeat(case.inputs, chunk)

    def run() -> None:
        path = (b + alphas * (x - b)).requires_grad_(True)
        with _replace_output(qa.embeddings, path):
            o = qa.model(**batch)
        torch.autograd.grad(o.start_logits[:, case.start].sum(), path, retain_graph=True)
        torch.autograd.grad(o.end_logits[:, case.end].sum(), path)

    return run


def round_chunks(history: Sequence[Sequence[float]], chunk: int) -> list[int]:
    """Forward batch sizes the adaptive engine ran: each round's new nodes, split at ``chunk``."""
    counts = [int(h[0]) for h in history]
    news = [b - a for a, b in zip([0] + counts, counts)]
    return [min(chunk, n - lo) for n in news for lo in range(0, n, chunk)]


def floor_at_chunks(qa: Any, case: Case, chunks: Sequence[int]) -> float:
    """Seconds of the floor run at exactly these forward batch sizes (one pass each)."""
    return sum(timed(floor_per_step(qa, case, c))[0] for c in chunks)


def attribution_error(ref: Any, other: Any) -> tuple[float, float]:
    """(top-10 token overlap by |attribution|, relative L2 error), worst of start and end."""
    import numpy as np

    overlaps, errors = [], []
    for p in ("start", "end"):
        a, b = ref[p].tokens, other[p].tokens
        k = min(10, len(a))
        overlaps.append(len(set(np.argsort(-abs(a))[:k]) & set(np.argsort(-abs(b))[:k])) / k)
        errors.append(float(np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-30)))
    return min(overlaps), max(errors)


def true_error(ref: Any, tokens: dict[str, Any]) -> float:
    """Relative L2 error of the token attributions against the reference, the worse of start and end."""
    import numpy as np

    return max(float(np.linalg.norm(tokens[p] - ref[p].tokens) / max(np.linalg.norm(ref[p].tokens), 1e-30))
               for p in ("start", "end"))


def _tokens(out: Any) -> dict[str, Any]:
    if isinstance(out, dict):  # the notebook's (attributions, delta) pairs
        return {p: out[p][0] for p in ("start", "end")}
    return {p: out[p].tokens for p in ("start", "end")}


# --------------------------------------------------------------------------- one condition
def run_condition(qa: Any, cases: Sequence[Case], label: str, *, repeats: int = 3, n_steps: int = 50,
                  target: Any = None, bf16: bool = True, chunk: int | None = None, cc: bool = True,
                  reference_steps: int = REFERENCE_STEPS, extra: dict[str, Callable[[Case], Any]] | None = None
                  ) -> list[dict[str, Any]]:
    """Rows for one model and length: the approaches, timed on the same cases, interleaved per repeat.

    Every row also gives the true attribution error of its explanations (relative L2 over the tokens, the worse
    of start and end; median and worst over the cases) against a ``reference_steps``-node Gauss-Legendre run
    on the same case, and the last row is the floor at the default rule's node counts. ``extra`` adds named
    approaches (levers), timed and judged like the others.
    """
    from qaaudit.attribute import DEFAULT_TOKEN_BUDGET, CompletenessTarget

    target = target or CompletenessTarget(abs_delta=0.05, rel_delta=0.05, max_steps=129)
    fns: dict[str, Callable[[Case], Any]] = {
        "notebook": lambda c: notebook_ig(qa, c, n_steps),
        "qaaudit-50": lambda c: qaaudit_ig(qa, c, n_steps=n_steps, chunk_size=chunk),
        "qaaudit-target": lambda c: qaaudit_ig(qa, c, target=target, chunk_size=chunk),
    }
    if cc:
        fns["qaaudit-target-cc"] = lambda c: qaaudit_ig(qa, c, target=target, chunk_size=chunk,
                                                        method="clenshaw_curtis")
    if bf16:
        fns["qaaudit-target-bf16"] = lambda c: qaaudit_ig(qa, c, target=target, chunk_size=chunk, autocast="bf16")
    fns.update(extra or {})
    references = [qaaudit_ig(qa, c, n_steps=reference_steps) for c in cases]  # untimed
    # warm-up (lazy initialisation, allocator, autocast kernels), untimed, a few steps each
    notebook_ig(qa, cases[0], 2)
    qaaudit_ig(qa, cases[0], n_steps=2)
    if bf16:
        qaaudit_ig(qa, cases[0], n_steps=2, autocast="bf16")
    times: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    results: dict[str, list[Any]] = {}
    for _ in range(max(1, repeats)):
        for name, fn in fns.items():
            total = 0.0
            outs = []
            c0 = time.process_time()
            for c in cases:
                dt, out = timed(lambda: fn(c))
                total += dt
                outs.append(out)
            cpu[name].append((time.process_time() - c0) / len(cases))
            times[name].append(total / len(cases))
            results[name] = outs
    # the floor, per step, at the chunk the engine uses for this length (the 50-step pass)
    length = cases[0].length
    c_floor = chunk or max(1, min(n_steps, DEFAULT_TOKEN_BUDGET // length))
    per_step = statistics.median(median_time(floor_per_step(qa, c, c_floor), repeats) for c in cases) / c_floor

    nb = statistics.median(times["notebook"])
    rows = []
    for name in fns:
        sec = statistics.median(times[name])
        outs = results[name]
        if name == "notebook":
            steps = [n_steps] * len(outs)
            d = [(abs(o["start"][1]), abs(o["end"][1])) for o in outs]
        else:
            steps = [o.n_steps for o in outs]
            d = [(abs(o.start.delta), abs(o.end.delta)) for o in outs]
        ref = results["qaaudit-50"]
        gaps = [(abs(r.start.f_input - r.start.f_baseline), abs(r.end.f_input - r.end.f_baseline)) for r in ref]
        row = {
            "model": label, "L": length, "approach": name, "steps": "/".join(str(s) for s in steps),
            "sec": sec, "x_notebook": sec / nb, "cpu": statistics.median(cpu[name]),
            "cpu_x_notebook": statistics.median(cpu[name]) / statistics.median(cpu["notebook"]),
            "delta_start": max(x[0] for x in d), "delta_end": max(x[1] for x in d),
            "rel_start": max(x[0] / max(g[0], 1e-12) for x, g in zip(d, gaps)),
            "rel_end": max(x[1] / max(g[1], 1e-12) for x, g in zip(d, gaps)),
            "floor": None, "x_floor": None, "note": "",
        }
        errs = [true_error(r, _tokens(o)) for r, o in zip(references, outs)]
        row["err_median"], row["err_worst"] = statistics.median(errs), max(errs)
        if name != "notebook":
            floor = per_step * statistics.mean(steps)
            row["floor"], row["x_floor"] = floor, sec / floor
        if name.startswith("qaaudit-target") or name in (extra or {}):
            conv = sum(o.converged for o in outs)
            same = statistics.mean(floor_at_chunks(qa, c, round_chunks(o.history, c_floor)) for c, o in zip(cases, outs))
            row["note"] = f"converged {conv}/{len(outs)}; x floor at the engine's own chunks {sec / same:.2f}"
        if name == "qaaudit-target-bf16":
            errs = [attribution_error(a, b) for a, b in zip(results["qaaudit-target"], outs)]
            row["note"] += (f"; vs fp32: top-10 overlap >= {min(e[0] for e in errs):.0%}, "
                            f"rel L2 <= {max(e[1] for e in errs):.1%}")
        rows.append(row)
    # the floor as a row of its own: the default rule's nodes, each at the cost of a node in the 50-step pass
    default = next(r for r in rows if r["approach"] == "qaaudit-target")
    steps = [o.n_steps for o in results["qaaudit-target"]]
    floor = per_step * statistics.mean(steps)
    rows.append({**default, "approach": "floor (default rule's nodes)", "sec": floor, "x_notebook": floor / nb,
                 "cpu": float("nan"), "cpu_x_notebook": float("nan"), "floor": floor, "x_floor": 1.0,
                 "note": f"{per_step * 1000:.1f} ms per node at {c_floor} nodes a pass"})
    return rows


# --------------------------------------------------------------------------- chunk size and the suite
def chunk_sweep(qa: Any, case: Case, sizes: Sequence[int], repeats: int, n_steps: int = 50) -> list[dict[str, Any]]:
    rows = []
    times: dict[int, list[float]] = {c: [] for c in sizes}
    for _ in range(max(1, repeats)):
        for c in sizes:
            times[c].append(timed(lambda: qaaudit_ig(qa, case, n_steps=n_steps, chunk_size=c))[0])
    for c in sizes:
        sec = statistics.median(times[c])
        rows.append({"chunk": c, "tokens": c * case.length, "sec": sec, "per_step": sec / n_steps})
    return rows


def _time_pytest(name: str, cmd: list[str], cwd: Path, ci: str) -> dict[str, Any]:
    """One pytest process: wall seconds, exit code and its last line (``CI`` set to ``ci``).

    Bytecode is written, as on a user's machine: under PYTHONDONTWRITEBYTECODE (set in some shells) every
    process compiles qaaudit and re-runs pytest's assertion rewriting of the plugin packages (hypothesis,
    qaaudit) from source, which adds 1-2 s of collection per process here and says nothing about qaaudit.
    """
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["CI"] = ci
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    return {"name": name, "sec": time.perf_counter() - t0, "rc": proc.returncode,
            "tail": (proc.stdout.strip().splitlines() or [""])[-1]}


def suite_timing(audits: Path = ROOT / "audits", rounds: int = 3) -> dict[str, Any]:
    """``pytest audits/`` as a user runs it (report written), wall seconds per variant.

    uncached ``-n 0`` and ``-n 2`` (cache cleared first) alternate for ``rounds`` rounds, so drifting load
    hits both alike, and the ratios use their medians; then cached (nothing changed since the last run) and
    cached under the local (random) hypothesis profile. ``CI=true`` (derandomized robustness, the same
    variants every run) unless the variant says local.
    """
    import tempfile

    files = sorted(audits.glob("**/*.audit.y*ml")) if audits.is_dir() else []
    if not files:
        return {"note": f"no audit files in {audits} yet; row left out"}
    report = Path(tempfile.mkdtemp(prefix="qaaudit-bench-report-"))
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(audits),
            f"--qaaudit-report={report}"]
    _time_pytest("warm-up (bytecode)", base + ["--collect-only"], ROOT, "true")
    variants = [(f"uncached, {n}", ["--qaaudit-clear-cache", *n.split()], "true")
                for _ in range(max(1, rounds)) for n in ("-n 0", "-n 2")]
    variants += [("cached", [], "true"), ("cached, local hypothesis profile", [], "")]
    out: dict[str, Any] = {"variants": [_time_pytest(name, base + extra, ROOT, ci) for name, extra, ci in variants]}
    med = {k: statistics.median(v["sec"] for v in out["variants"] if v["name"] == k)
           for k in ("uncached, -n 0", "uncached, -n 2")}
    sec = {v["name"]: v["sec"] for v in out["variants"]}
    out["uncached"] = med["uncached, -n 0"]
    out["ratio"] = sec["cached"] / med["uncached, -n 0"]
    out["ratio_local"] = sec["cached, local hypothesis profile"] / med["uncached, -n 0"]
    out["xdist_ratio"] = med["uncached, -n 2"] / med["uncached, -n 0"]
    out["rounds"] = max(1, rounds)
    out["files"] = len(files)
    return out


def generated_suite_timing(n_cases: int, rounds: int = 2) -> dict[str, Any]:
    """``-n 0`` against ``-n 2`` (uncached, report written) on an audit file of ``n_cases`` generated test-split
    questions with the lookup audit's expectations: how xdist pays off once compute outweighs each worker's start."""
    import json as _json
    import tempfile

    from qaaudit.demo.data import generate

    root = Path(tempfile.mkdtemp(prefix="qaaudit-bench-generated-"))
    examples = [e for e in generate("test", 2 * n_cases, seed=7) if not e.unanswerable][:n_cases]
    lines = ["defaults:", "  expect:", "    prediction: {f1: 0.5}",
             "    focus: {target: question, share: 0.05, position: both}", "cases:"]
    for e in examples:
        lines += [f"  - id: {e.id}", f"    question: {_json.dumps(e.question, ensure_ascii=False)}",
                  f"    context: {_json.dumps(e.context, ensure_ascii=False)}",
                  f"    answer: {_json.dumps(e.answers[0][0], ensure_ascii=False)}"]
    (root / "generated.audit.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root), "--qaaudit-clear-cache",
            f"--qaaudit-report={root / 'report'}"]
    # alternating, so drifting load hits both alike
    out: dict[str, Any] = {"cases": len(examples), "variants": [
        _time_pytest(name, base + extra, root, "true")
        for _ in range(rounds) for name, extra in (("-n 0", []), ("-n 2", ["-n", "2"]))]}
    sec = {k: statistics.median(v["sec"] for v in out["variants"] if v["name"] == k) for k in ("-n 0", "-n 2")}
    out["xdist_ratio"] = sec["-n 2"] / sec["-n 0"]
    return out


# --------------------------------------------------------------------------- output
def _f(x: Any, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def _cpu(r: dict[str, Any]) -> str:
    return "-" if r["cpu"] != r["cpu"] else f"{r['cpu']:.2f} ({r['cpu_x_notebook']:.2f})"


def table(rows: Sequence[dict[str, Any]]) -> str:
    head = ("| model / condition | L | approach | steps | s/case | x notebook | CPU s/case (x notebook) "
            "| max abs delta start/end | max rel delta start/end | error vs GL-128 median / worst | floor s | x floor "
            "| notes |")
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['L']} | {r['approach']} | {r['steps']} | {r['sec']:.2f} | {r['x_notebook']:.2f} "
            f"| {_cpu(r)} "
            f"| {r['delta_start']:.2g} / {r['delta_end']:.2g} | {r['rel_start']:.1%} / {r['rel_end']:.1%} "
            f"| {r['err_median']:.1%} / {r['err_worst']:.1%} "
            f"| {_f(r['floor'], '.2f')} | {_f(r['x_floor'], '.2f')} | {r['note']} |")
    return "\n".join(lines)


def chunk_table(rows: Sequence[dict[str, Any]], default: int) -> str:
    lines = ["| steps per forward | tokens per forward | s for 50 steps | s per step |", "|---|---|---|---|"]
    for r in rows:
        mark = " (default)" if r["chunk"] == default else ""
        lines.append(f"| {r['chunk']}{mark} | {r['tokens']} | {r['sec']:.2f} | {r['per_step']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repeat, 1 case, 128 tokens only, no suite, no sweep")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cases", type=int, default=2, help="cases per condition")
    ap.add_argument("--lengths", default="128,384")
    ap.add_argument("--no-suite", action="store_true")
    ap.add_argument("--suite-only", action="store_true", help="only the demo suite timings (pytest audits/)")
    ap.add_argument("--no-chunks", action="store_true")
    ap.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                    help="the bf16 autocast row: auto = only on a CPU with native bf16 (emulated bf16 ran 18x slower)")
    ap.add_argument("--suite-rounds", type=int, default=3, metavar="N",
                    help="alternating uncached -n 0 / -n 2 runs of the demo suite (medians)")
    ap.add_argument("--generated-suite", type=int, default=0, metavar="N",
                    help="also time -n 0 against -n 2 on an audit file of N generated questions")
    ap.add_argument("--random-lengths", default="128",
                    help="lengths for the random-weight KoELECTRA condition ('' to skip it)")
    ap.add_argument("--minilm", type=int, default=None, metavar="N",
                    help="questions for the fine-tuned MiniLM-L6 (BERT) condition, trained and cached on first use by "
                         "bench/minilm_qa.py (default: --cases; 0 skips it)")
    ap.add_argument("--demo-cases", type=int, default=None, metavar="N", help="questions on the demo model (default: --cases)")
    ap.add_argument("--cases-384", type=int, default=None, metavar="N", help="cases at 384 tokens (default: --cases)")
    ap.add_argument("--cc", action="store_true", help="also the nested Clenshaw-Curtis row")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.cases, args.lengths, args.no_suite, args.no_chunks = 1, 1, "128", True, True
    if args.suite_only:
        args.lengths = args.random_lengths = ""
        args.no_chunks, args.no_suite = True, False

    import torch

    import qaaudit
    from qaaudit.attribute import DEFAULT_TOKEN_BUDGET

    torch.manual_seed(0)
    from qaaudit.attribute import _cpu_has_bf16

    bf16 = args.bf16 == "on" or (args.bf16 == "auto" and _cpu_has_bf16())
    info = machine()
    print(f"date {info['date']} | cpu {info['cpu']} | cores {info['cores']} | torch {info['torch']} | "
          f"transformers {info['transformers']} | captum {info['captum']} | threads {info['threads']} | "
          f"load average at start {info['load']} | repeats {args.repeats} (medians) | cases {args.cases}",
          flush=True)
    if not bf16:
        print(f"(bf16 rows left out: --bf16 {args.bf16}; native bf16 on this CPU: {_cpu_has_bf16()})", flush=True)
    rows: list[dict[str, Any]] = []

    def emit(new: list[dict[str, Any]]) -> None:
        rows.extend(new)
        print(table(new).split("\n", 2)[2], flush=True)

    demo = Path(qaaudit.demo_model_path())
    if args.suite_only:
        pass
    elif (demo / "config.json").exists():
        from qaaudit.demo.data import generate

        qa = qaaudit.load_model(demo, device="cpu")
        examples = generate("test", args.demo_cases or args.cases, seed=5)
        cases = tokenizer_cases(qa, [(e.question, e.context) for e in examples])
        emit(run_condition(qa, cases, "demo model (trained)", repeats=args.repeats, bf16=bf16, cc=args.cc))
    else:
        print(f"(demo model not built at {demo}: its rows are left out)", flush=True)
    n_minilm = args.cases if args.minilm is None else args.minilm
    if n_minilm and not args.suite_only:
        import minilm_qa
        from qaaudit.demo.data import generate

        qa = qaaudit.load_model(minilm_qa.ensure(), device="cpu")
        examples = [e for e in generate("test", 4 * n_minilm, seed=5, langs=("en",)) if not e.unanswerable][:n_minilm]
        cases = tokenizer_cases(qa, [(e.question, e.context) for e in examples])
        emit(run_condition(qa, cases, "MiniLM-L6 (BERT) fine-tuned", repeats=args.repeats, bf16=bf16, cc=args.cc))

    lengths = {"random": [int(x) for x in args.random_lengths.split(",") if x.strip()],
               "sharpened": [int(x) for x in args.lengths.split(",") if x.strip()]}
    for cond in ("random", "sharpened"):
        qa = koelectra_small_like(seed=0)
        if cond == "sharpened":
            sharpen(qa, **SHARPEN)
        label = f"KoELECTRA-small shape, {'random weights' if cond == 'random' else 'sharpened (trained-like)'}"
        for length in lengths[cond]:
            n = args.cases_384 if length >= 384 and args.cases_384 else args.cases
            cases = synthetic_cases(qa, length, n, seed=1)
            emit(run_condition(qa, cases, label, repeats=args.repeats, bf16=bf16, cc=args.cc))

    if rows:
        print()
        print(table(rows))
    if not args.no_chunks:
        qa = koelectra_small_like(seed=0)
        case = synthetic_cases(qa, 384, 1, seed=1)[0]
        default = max(1, min(50, DEFAULT_TOKEN_BUDGET // 384))
        sweep = chunk_sweep(qa, case, sorted({5, 10, 16, default, 25, 50}), args.repeats)
        print("\nchunk size at L=384 (KoELECTRA-small shape, 50 Gauss-Legendre steps, fp32):\n")
        print(chunk_table(sweep, default))
    if not args.no_suite:
        s = suite_timing(rounds=args.suite_rounds)
        print()
        if "note" in s:
            print(f"demo suite: {s['note']}")
        else:
            print("| demo suite (pytest audits/, report written) | wall s | exit | last line |\n|---|---|---|---|")
            for v in s["variants"]:
                print(f"| {v['name']} | {v['sec']:.1f} | {v['rc']} | {v['tail']} |")
            print(f"| cached / uncached (median of the {s['rounds']} uncached -n 0 runs) | {s['ratio']:.3f} | "
                  f"| target <= 0.1 |")
            print(f"| cached (local profile) / uncached | {s['ratio_local']:.3f} | | fresh variants need the model |")
            print(f"| -n 2 / -n 0, uncached (medians of {s['rounds']}) | {s['xdist_ratio']:.3f} | | target < 1 |")
    if args.generated_suite:
        g = generated_suite_timing(args.generated_suite)
        print(f"\n| generated suite ({g['cases']} cases, uncached, CI=true) | wall s | exit | last line |\n|---|---|---|---|")
        for v in g["variants"]:
            print(f"| {v['name']} | {v['sec']:.1f} | {v['rc']} | {v['tail']} |")
        print(f"| -n 2 / -n 0 (medians) | {g['xdist_ratio']:.3f} | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

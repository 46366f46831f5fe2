"""Perturbed examples per second: qaaudit's batched robustness path against a one-at-a-time loop.

    python bench/bench_robustness.py [--model PATH] [--examples 64] [--repeats 3]

Both paths predict the same perturbed variants (drawn once, CI profile, so the set is
fixed) on the same model; the batched path is what ``qaaudit.robustness.run_check`` does
(one ``predict_batch`` call), the loop calls ``predict_batch`` with one pair at a time.
Default model: the demo model (``qaaudit.demo.demo_model_path()``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

CASES = [
    ("What is the capital of France?",
     "Paris is the capital of France. It is a large city on the Seine. Many tourists visit it every year. "
     "The city hosted the Olympic Games in 1924.", [("Paris", 0)]),
    ("한국의 수도는 어디입니까?",
     "서울은 한국의 수도이다. 서울의 인구는 약 950만 명이다. 부산은 한국에서 두 번째로 큰 도시다. 한강은 서울을 흐른다.",
     [("서울", 0)]),
]
PERTURBATIONS = ("typos", "distractor", "punctuation", "whitespace")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint directory or hub id (default: the demo model)")
    ap.add_argument("--examples", type=int, default=64, help="perturbed variants per case")
    ap.add_argument("--repeats", type=int, default=3, help="timed repetitions (median is reported)")
    args = ap.parse_args(argv)

    import torch

    import qaaudit
    from qaaudit.robustness import _draw, robustness_settings
    from qaaudit.strategies import perturb

    path = args.model or str(qaaudit.demo_model_path())
    if args.model is None and not any(Path(path).glob("*.json")):
        print(f"the demo model is not built at {path}; train it (python -m qaaudit.demo.train) or pass --model",
              file=sys.stderr)
        return 2
    qa = qaaudit.load_model(path, device="cpu")

    cfg = robustness_settings(ci=True, max_examples=args.examples)
    pairs: list[tuple[str, str]] = []
    for q, c, answers in CASES:
        variants = _draw(perturb(q, c, answers, PERTURBATIONS), cfg, 0, b"bench")
        pairs += [(v.question, v.context) for v in variants if v.edits]

    def batched() -> None:
        qaaudit.predict_batch(qa, pairs)

    def one_at_a_time() -> None:
        for pair in pairs:
            qaaudit.predict_batch(qa, [pair])

    batched()  # warm-up: tokenizer caches, first forward
    timings = {}
    for name, fn in (("batched", batched), ("one-at-a-time", one_at_a_time)):
        runs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        timings[name] = statistics.median(runs)
    n = len(pairs)
    print(f"model: {path}  device: cpu  threads: {torch.get_num_threads()}  variants: {n}  repeats: {args.repeats}")
    for name, sec in timings.items():
        print(f"{name:>14}: {n / sec:8.1f} examples/s  ({sec:.3f} s median)")
    print(f"{'ratio':>14}: {timings['one-at-a-time'] / timings['batched']:8.2f}x (batched / one-at-a-time throughput)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Nodes the completeness target needs on the demo model: adaptive Boole panels against nested Clenshaw-Curtis.

    .venv/bin/python bench/bench_adaptive.py [--questions 16] [--abs 0.05] [--rel 0.05] [--max-steps 129]

For each answerable generated test question: the nodes each rule used, whether it met the target, and the
relative deltas; then the totals. Counts, not times: ``bench_explain.py`` times the rules.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=16)
    ap.add_argument("--abs", type=float, default=0.05)
    ap.add_argument("--rel", type=float, default=0.05)
    ap.add_argument("--max-steps", type=int, default=129)
    args = ap.parse_args(argv)

    import torch

    import qaaudit
    from qaaudit.attribute import CompletenessTarget, integrated_gradients
    from qaaudit.demo.data import generate
    from qaaudit.explainer import _window_inputs, encode_pair, predict

    torch.set_num_threads(2)
    qa = qaaudit.load_model(qaaudit.demo_model_path(), device="cpu")
    target = CompletenessTarget(abs_delta=args.abs, rel_delta=args.rel, max_steps=args.max_steps)
    examples = [e for e in generate("test", 8 * args.questions, seed=0) if not e.unanswerable][:args.questions]
    totals = {m: [0, 0] for m in ("adaptive", "clenshaw_curtis")}
    print("| question | adaptive nodes | converged | rel delta start/end | clenshaw-curtis nodes | converged "
          "| rel delta start/end |\n|---|---|---|---|---|---|---|")
    for ex in examples:
        answer = predict(qa, ex.question, ex.context)[0]
        inputs, keep, lo = _window_inputs(qa, encode_pair(qa, ex.question, ex.context, None, None), 0)
        cells = [ex.id]
        for m in totals:
            run = integrated_gradients(qa, inputs, answer.token_start - lo, answer.token_end - lo, keep=keep,
                                       target=target, method=m)
            totals[m][0] += run.n_steps
            totals[m][1] += run.converged
            cells += [str(run.n_steps), "yes" if run.converged else "no",
                      f"{run.start.rel_delta:.1%} / {run.end.rel_delta:.1%}"]
        print("| " + " | ".join(cells) + " |", flush=True)
    for m, (nodes, conv) in totals.items():
        print(f"{m}: {nodes} nodes in total, converged {conv}/{len(examples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

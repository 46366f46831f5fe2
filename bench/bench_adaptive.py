"""Nodes the completeness target needs on the demo model: adaptive Boole panels against nested Clenshaw-Curtis.

    .venv/bin/python bench/bench_adaptive.py [--questions 16] [--abs 0.05] [--rel 0.05] [--max-steps 129]
        [--min-steps 17,9] [--fixed 9,13,17,25,50]

For each answerable generated test question: the nodes each rule used (per first level in ``--min-steps``),
whether it met the target, the relative deltas, and the attribution error against a 128-node Gauss-Legendre
reference (relative L2 over the tokens, start / end): a small delta is necessary, not sufficient, for accurate
attributions, so the error column is what says whether a lower first level is safe. Then the totals. Counts,
not times: ``bench_explain.py`` times the rules.

``--fixed`` adds fixed Gauss-Legendre rules (the notebook's kind) at those node counts: their relative deltas and
attribution errors against the same reference say how many nodes these integrands need at all, whatever the rule.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=16)
    ap.add_argument("--abs", type=float, default=0.05)
    ap.add_argument("--rel", type=float, default=0.05)
    ap.add_argument("--token-error", type=float, default=None,
                    help="CompletenessTarget.token_error: the rule's own per-token error estimate must be this small")
    ap.add_argument("--max-steps", type=int, default=129)
    ap.add_argument("--min-steps", default="17", help="first levels to compare, comma-separated (e.g. 17,9)")
    ap.add_argument("--fixed", default="", help="fixed Gauss-Legendre node counts to compare, e.g. 9,13,17,25,50")
    ap.add_argument("--model", choices=("demo", "minilm"), default="demo",
                    help="the demo model, or the fine-tuned MiniLM-L6 (BERT) of bench/minilm_qa.py (English questions)")
    ap.add_argument("--methods", default="adaptive,clenshaw_curtis", help="refining rules to compare")
    args = ap.parse_args(argv)

    import torch

    import qaaudit
    from qaaudit.attribute import CompletenessTarget, integrated_gradients
    from qaaudit.demo.data import generate
    from qaaudit.explainer import _window_inputs, encode_pair, predict

    torch.set_num_threads(2)
    langs = ("ko", "en")
    if args.model == "minilm":
        sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
        import minilm_qa

        qa, langs = qaaudit.load_model(minilm_qa.ensure(), device="cpu"), ("en",)
    else:
        qa = qaaudit.load_model(qaaudit.demo_model_path(), device="cpu")
    import numpy as np

    rules = [(m, int(k)) for k in args.min_steps.split(",") for m in args.methods.split(",") if m]
    rules += [("gausslegendre", int(k)) for k in args.fixed.split(",") if k.strip()]
    examples = [e for e in generate("test", 8 * args.questions, seed=0, langs=langs)
                if not e.unanswerable][:args.questions]
    totals = {r: [0, 0, []] for r in rules}
    head = " | ".join(f"{m} {'at' if m == 'gausslegendre' else 'from'} {k}: nodes / converged / rel delta / error vs GL-128"
                      for m, k in rules)
    print(f"| question | {head} |\n|---|" + "---|" * len(rules))

    def error(run, ref) -> float:
        return max(float(np.linalg.norm(run[p].tokens - ref[p].tokens) / max(np.linalg.norm(ref[p].tokens), 1e-12))
                   for p in ("start", "end"))

    for ex in examples:
        answer = predict(qa, ex.question, ex.context)[0]
        inputs, keep, lo = _window_inputs(qa, encode_pair(qa, ex.question, ex.context, None, None), 0)
        at = (answer.token_start - lo, answer.token_end - lo)
        ref = integrated_gradients(qa, inputs, *at, keep=keep, n_steps=128)
        cells = [ex.id]
        for m, k in rules:
            target = CompletenessTarget(abs_delta=args.abs, rel_delta=args.rel, max_steps=args.max_steps, min_steps=k,
                                        token_error=args.token_error)
            if m == "gausslegendre":  # fixed: "converged" says whether the same target would hold at k nodes
                run = integrated_gradients(qa, inputs, *at, keep=keep, n_steps=k)
                run = dataclasses.replace(run, converged=all(
                    target.holds(run[p].delta, run[p].f_input - run[p].f_baseline) for p in ("start", "end")))
            else:
                run = integrated_gradients(qa, inputs, *at, keep=keep, target=target, method=m)
            err = error(run, ref)
            totals[(m, k)][0] += run.n_steps
            totals[(m, k)][1] += run.converged
            totals[(m, k)][2].append(err)
            est = run.settings.get("token_error_estimate")
            cells.append(f"{run.n_steps} / {'yes' if run.converged else 'no'} / "
                         f"{run.start.rel_delta:.1%}, {run.end.rel_delta:.1%} / {err:.1%}"
                         + (f" (est. {max(est.values()):.1%})" if est else ""))
        print("| " + " | ".join(cells) + " |", flush=True)
    for (m, k), (nodes, conv, errs) in totals.items():
        print(f"{m} {'at' if m == 'gausslegendre' else 'from'} {k}: {nodes} nodes in total ({nodes / len(examples):.1f} per case), converged "
              f"{conv}/{len(examples)}, attribution error vs GL-128 median {np.median(errs):.1%} worst {max(errs):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

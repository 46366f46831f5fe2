"""Measure the demo model: ``python -m qaaudit.demo.evaluate [--model DIR] [--n N] [--out FILE]``.

EM/F1 per language on the held-out test split (SQuAD 2.0 style: unanswerable questions count as right when
the prediction is empty), the same on answerable questions with the pipeline's default decoding, and
weakness probes: distractor sentences, typos outside the answer, held-out question templates,
unanswerable accuracy. Goes through qaaudit's public path: ``load_model`` -> ``predict_batch`` -> ``metrics``.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Callable, Sequence

from qaaudit.demo import demo_model_path
from qaaudit.demo.data import LANGS, Example, add_distractor, add_typos, generate
from qaaudit.metrics import exact_match, f1

__all__ = ["score", "evaluate", "main"]

EVAL_SEED = 0


def score(examples: Sequence[Example], predictions: Sequence[str]) -> dict[str, float]:
    """EM and F1 in percent; an unanswerable example scores 1 exactly when the prediction is empty."""
    em = f = 0.0
    for ex, pred in zip(examples, predictions):
        if ex.unanswerable:
            hit = float(pred.strip() == "")
            em, f = em + hit, f + hit
        else:
            em += max(exact_match(pred, t) for t, _ in ex.answers)
            f += max(f1(pred, t) for t, _ in ex.answers)
    n = max(1, len(examples))
    return {"n": len(examples), "em": round(100 * em / n, 2), "f1": round(100 * f / n, 2)}


def _predictor(qa) -> Callable[[Sequence[Example], bool], list[str]]:
    from qaaudit.explainer import predict_batch

    def run(examples: Sequence[Example], impossible: bool) -> list[str]:
        out: list[str] = []
        for k in range(0, len(examples), 64):
            chunk = examples[k:k + 64]
            answers = predict_batch(qa, [(e.question, e.context) for e in chunk], handle_impossible_answer=impossible)
            out += [a[0].text if a else "" for a in answers]
        return out

    return run


def evaluate(model_dir: Path, n: int = 2000) -> dict:
    """All the numbers of the model card, as one JSON-able dict."""
    from qaaudit.model import load_model

    t0 = time.time()
    qa = load_model(model_dir, device="cpu")
    predict = _predictor(qa)
    test = generate("test", n, seed=EVAL_SEED)
    rng = random.Random(EVAL_SEED)
    result: dict = {"model": str(model_dir), "split": "test", "n": n, "seed": EVAL_SEED,
                    "decoding": "qaaudit.predict_batch (pipeline parity), max_answer_len=15",
                    "languages": {}, "probes": {}}
    for lang in LANGS:
        exs = [e for e in test if e.lang == lang]
        ans = [e for e in exs if not e.unanswerable]
        una = [e for e in exs if e.unanswerable]
        p_all = predict(exs, True)
        p_ans = predict(ans, False)
        seen = [i for i, e in enumerate(ans) if not e.heldout_template]
        unseen = [i for i, e in enumerate(ans) if e.heldout_template]
        dis = [add_distractor(e, rng) for e in ans]
        typ = [add_typos(e, rng) for e in ans]
        p_dis, p_typ = predict(dis, False), predict(typ, False)
        by_id = dict(zip((e.id for e in exs), p_all))
        result["languages"][lang] = {
            "squad2_with_null": score(exs, p_all),
            "answerable_default_decoding": score(ans, p_ans),
        }
        base = score(ans, p_ans)
        result["probes"][lang] = {
            "seen_templates": score([ans[i] for i in seen], [p_ans[i] for i in seen]),
            "heldout_templates": score([ans[i] for i in unseen], [p_ans[i] for i in unseen]),
            "distractor_sentence": {**score(dis, p_dis), "em_drop": round(base["em"] - score(dis, p_dis)["em"], 2)},
            "typos_outside_answer": {**score(typ, p_typ), "em_drop": round(base["em"] - score(typ, p_typ)["em"], 2)},
            "unanswerable_accuracy": score(una, [by_id[e.id] for e in una]),
            "answerable_predicted_null_pct": round(
                100 * sum(by_id[e.id] == "" for e in ans) / max(1, len(ans)), 2),
        }
    result["eval_wall_s"] = round(time.time() - t0, 1)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=demo_model_path())
    ap.add_argument("--n", type=int, default=2000, help="test examples (half per language)")
    ap.add_argument("--out", type=Path, default=None, help="JSON file (default: <model>/metrics.json)")
    args = ap.parse_args(argv)
    res = evaluate(args.model, args.n)
    text = json.dumps(res, indent=1, ensure_ascii=False)
    print(text)
    out = args.out or (args.model / "metrics.json")
    out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

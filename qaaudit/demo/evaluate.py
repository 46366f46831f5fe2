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

from qaaudit.demo import DEMO_MODEL_NAME, demo_model_path
from qaaudit.demo.data import LANGS, Example, add_distractor, add_typos, generate, reword_unseen
from qaaudit.metrics import exact_match, f1

__all__ = ["score", "evaluate", "model_card", "main"]

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
            # align_to_words=False: the pipeline's word alignment widens a Korean span to its whitespace word,
            # particles included (광주 -> 광주에서), which would score the tokenizer, not the model
            answers = predict_batch(qa, [(e.question, e.context) for e in chunk], handle_impossible_answer=impossible,
                                    align_to_words=False)
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
                    "decoding": "qaaudit.predict_batch (pipeline parity), max_answer_len=15, align_to_words=False",
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
        new = [r for r in (reword_unseen(e) for e in ans) if r is not None]
        p_new = predict(new, False)
        by_id = dict(zip((e.id for e in exs), p_all))
        result["languages"][lang] = {
            "squad2_with_null": score(exs, p_all),
            "answerable_default_decoding": score(ans, p_ans),
        }
        base = score(ans, p_ans)
        result["probes"][lang] = {
            "seen_templates": score([ans[i] for i in seen], [p_ans[i] for i in seen]),
            "heldout_templates": score([ans[i] for i in unseen], [p_ans[i] for i in unseen]),
            "unseen_words": score(new, p_new),
            "distractor_sentence": {**score(dis, p_dis), "em_drop": round(base["em"] - score(dis, p_dis)["em"], 2)},
            "typos_outside_answer": {**score(typ, p_typ), "em_drop": round(base["em"] - score(typ, p_typ)["em"], 2)},
            "unanswerable_accuracy": score(una, [by_id[e.id] for e in una]),
            "answerable_predicted_null_pct": round(
                100 * sum(by_id[e.id] == "" for e in ans) / max(1, len(ans)), 2),
        }
    result["eval_wall_s"] = round(time.time() - t0, 1)
    return result


def _row(lang: str, m: dict) -> str:
    L, P = m["languages"][lang], m["probes"][lang]
    return (f"| {lang} | {L['squad2_with_null']['em']} / {L['squad2_with_null']['f1']} "
            f"| {L['answerable_default_decoding']['em']} / {L['answerable_default_decoding']['f1']} "
            f"| {P['seen_templates']['em']} | {P['heldout_templates']['em']} "
            f"| {P['unseen_words']['em'] if 'unseen_words' in P else 'n/a'} "
            f"| {P['distractor_sentence']['em']} | {P['typos_outside_answer']['em']} "
            f"| {P['unanswerable_accuracy']['em']} | {P['answerable_predicted_null_pct']} |")


def _warmup(log: dict) -> str:
    return f"warmup {log['warmup']} steps" if "warmup" in log else "warmup 1/12"


def _curriculum(log: dict) -> str:
    if not log.get("easy_steps"):
        return ""
    return (f"\nCurriculum: the first {log['easy_steps']} steps train on {log['n_easy']:,} easy examples "
            "(`generate(..., easy=True)`: two people per paragraph, no band, company or filler sentence, so the "
            "same kinds of fact appear twice and only the name tells them apart); the rest on the full data.")


def _positions(log: dict) -> str:
    if not log.get("sinusoidal_positions"):
        return ""
    return "\nPosition embeddings start from a sinusoidal table scaled to std 0.02 (and are trained)."


def _recipe(log: dict) -> str:
    parts = []
    if log.get("match_init"):
        parts.append("two heads per layer start as copy detectors (equal query and key projections over a "
                     "word-only half of the embedding), so a mention of a name can find its copy in the question")
    if log.get("aux_match"):
        parts.append(f"a training-only probe on hidden state {log.get('aux_layer', 2)} learns to tag the question "
                     f"entity's mentions (loss weight {log['aux_match']}; the probe is not part of the checkpoint)")
    if log.get("question_noise"):
        parts.append(f"{log['question_noise']:.0%} of the question's words other than the entity are replaced by "
                     "random tokens, for questions phrased in ways never seen")
    if not parts:
        return ""
    return "\nRecipe (each part measured in `qaaudit/demo/train.py`'s docstring): " + "; ".join(parts) + "."


def _pace(log: dict) -> str:
    """The run's pace in its fastest 1000 logged steps: what the whole run takes when the cores are not shared."""
    pts = [(r["step"], r["elapsed_s"]) for r in log.get("log", []) if "elapsed_s" in r]
    rates = [(t2 - t1) / (s2 - s1) for (s1, t1), (s2, t2) in zip(pts, pts[10:]) if s2 > s1]
    first = pts[0] if pts else None
    if not rates or first is None:
        return ""
    rate = min(rates)
    idle = (first[1] - first[0] * rate) + log["steps"] * rate  # data and tokenizer, then every step at that pace
    return (f" (its fastest 1000 steps ran at {rate:.3f} s per step, about {idle / 60:.0f} min for the whole run on"
            f" unshared cores; a longer wall time means other jobs shared the cores)")


def _status(metrics: dict, target: float = 90.0) -> str:
    """One sentence, from the numbers, on the EM >= 90% per language target."""
    em = {lang: metrics["languages"][lang]["squad2_with_null"]["em"] for lang in LANGS}
    seen = {lang: metrics["probes"][lang]["seen_templates"]["em"] for lang in LANGS}
    held = {lang: metrics["probes"][lang]["heldout_templates"]["em"] for lang in LANGS}
    n_held = sum(metrics["probes"][lang]["heldout_templates"]["n"] for lang in LANGS)
    n_seen = sum(metrics["probes"][lang]["seen_templates"]["n"] for lang in LANGS)
    fmt = lambda d: " / ".join(f"{lang} {v}" for lang, v in d.items())  # noqa: E731
    if all(v >= target for v in em.values()):
        return f"**Status: meets the project's target** of EM >= {target:.0f}% per language (test EM {fmt(em)})."
    return (f"**Status: below the project's target** of EM >= {target:.0f}% per language on the whole test split "
            f"(test EM {fmt(em)}). Questions phrased like the training templates score {fmt(seen)}; the held-out "
            f"templates ({100 * n_held / max(1, n_held + n_seen):.0f}% of the answerable test questions) score {fmt(held)}.")


def model_card(model_dir: Path, metrics: dict) -> str:
    """The README.md beside the weights, written from ``metrics.json`` and ``train_log.json`` (no hand-typed numbers)."""
    import json as _json

    log = _json.loads((model_dir / "train_log.json").read_text(encoding="utf-8"))
    cfg = _json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    size = (model_dir / "model.safetensors").stat().st_size
    cmd = log["command"] + (f" --threads {log['threads']}" if log["threads"] != 2 else "")
    return f"""---
language: [ko, en]
library_name: transformers
pipeline_tag: question-answering
---
# {DEMO_MODEL_NAME}

A small Korean + English extractive question-answering model that qaaudit trains itself and ships, so that
`pytest audits/` runs offline on a model whose answers and attributions mean something. It plays the role of
the origin notebook's `koelectra-small-v2-distilled-korquad-384`. **It only knows invented encyclopedia
paragraphs** (see below); it is a fixture to be audited, not a general QA model.

{_status(metrics)}

## Architecture and size
`ElectraForQuestionAnswering` (discriminator body, no pre-training) trained from scratch:
{cfg["num_hidden_layers"]} layers, hidden {cfg["hidden_size"]}, {cfg["num_attention_heads"]} heads, intermediate {cfg["intermediate_size"]},
embedding size {cfg["embedding_size"]} (projected to the hidden size), max_position_embeddings {cfg["max_position_embeddings"]},
vocabulary {cfg["vocab_size"]} (cased WordPiece, `[PAD]`=0 `[UNK]`=1 `[CLS]`=2 `[SEP]`=3 `[MASK]`=4).
{log["params"]:,} parameters, `model.safetensors` {size / 1e6:.2f} MB (fp32). Trained with max_len {log["max_len"]}.

## Data (`qaaudit/demo/data.py`)
A seeded generator of short paragraphs about invented people (2-3 per paragraph), bands and companies:
births (date, place), nationality, profession, debut year, band membership, founding year and city, member
count, agency, company founder, headquarters and staff, and "who was born in X". Half natural Korean (particles
은/는, 이/가, 을/를, 과/와, (으)로 chosen from the final consonant; 에서, 했다/이다 endings), half English.
5 question templates per fact and language, each ending style (습니까 / 나요 / 인가요 / a bare "...은?"; "of X" /
"X's") spread over several facts so that an ending does not give the fact away; ~12% of questions are unanswerable (an absent person, or an
absent fact about a present one) with an empty gold answer, trained to point at `[CLS]`.
Splits: train ({log["n_train"]:,} examples, seed 0), dev, test. People, band and company names are partitioned
80/10/10 between the splits with a fixed seed, so test names never occur in training; the last template of each
fact is held out of train/dev and only appears in test: it recombines words and endings that training uses
(`{{e}}이 태어난 도시는 어디인가요?`, `Which city was {{e}} born in?`).
The tokenizer's vocabulary is built from a copy of the corpus in which Korean values and particles are spaced
apart, Korean person names are spelled per syllable and two-piece names are cut into their pieces, so answers
start and end on token boundaries (`광주 ##에서`) and an unseen name splits like a seen one (`Var ##dren`,
`모래 ##정원`). It is built deterministically (every character, the particles, the name pieces, then the most
frequent words, stems and non-Hangul endings), not by `tokenizers`' WordPiece trainer, whose ties fall in a
per-process hash order: with it, two runs of the same command gave test EM 3.3 points apart.

## Training
`{cmd}` : {log["steps"]} steps of batch {log["batch_size"]}, AdamW (lr {log["lr"]}, {_warmup(log)}, cosine),
seed {log["seed"]}, torch threads {log["threads"]}.{_recipe(log)}{_curriculum(log)}{_positions(log)} Measured wall time: **{log["wall_time_s"] / 60:.1f} min**
on the 2-core development machine, data and tokenizer included{_pace(log)}.

## Results (`python -m qaaudit.demo.evaluate`, {metrics["n"]} test examples, seed {metrics["seed"]})
Decoding: {metrics["decoding"]}. EM/F1 in percent (KorQuAD normalisation for Korean, SQuAD for English).

| lang | EM / F1 (with null answer) | EM / F1 answerable, default decoding | EM seen templates | EM held-out templates | EM unseen words | EM + distractor | EM + typos | unanswerable → null | answerable → null % |
|---|---|---|---|---|---|---|---|---|---|
{_row("ko", metrics)}
{_row("en", metrics)}

## Known weaknesses (measured above; honest on purpose, since it exists to be audited)
- Distractor sentences: one extra sentence stating the same kind of fact about another invented entity
  (column "EM + distractor").
- Typos: two adjacent letters swapped in ~15% of context words outside the answer and the question's entity.
- Question templates never seen in training (column "EM held-out templates").
- Words never seen in training (column "EM unseen words": the answerable test questions re-asked with a probe
  template such as `{{e}}의 고향은 어디인가요?` or `What is {{e}}'s occupation?`, whose key word no split uses;
  a model trained from scratch cannot know what it means, a pre-trained one would).
- Unanswerable questions: only answered as null with `handle_impossible_answer=True`; the "answerable → null"
  column is how often that setting wrongly abstains.
- Anything outside the generator's world (real text, long documents, other languages, name shapes the generator
  never produces such as 4-syllable Korean names) is out of distribution.

Full numbers: `metrics.json`; training curve: `train_log.json`.
"""


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=demo_model_path())
    ap.add_argument("--n", type=int, default=2000, help="test examples (half per language)")
    ap.add_argument("--out", type=Path, default=None, help="JSON file (default: <model>/metrics.json)")
    ap.add_argument("--card", action="store_true", help="also rewrite <model>/README.md from the numbers")
    args = ap.parse_args(argv)
    res = evaluate(args.model, args.n)
    text = json.dumps(res, indent=1, ensure_ascii=False)
    print(text)
    out = args.out or (args.model / "metrics.json")
    out.write_text(text + "\n", encoding="utf-8")
    if args.card:
        (args.model / "README.md").write_text(model_card(args.model, res), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

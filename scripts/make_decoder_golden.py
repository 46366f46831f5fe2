"""Write tests/data/parity/: tiny QA checkpoints and the answers transformers 4.57's pipeline gives on them.

The QA pipeline left transformers in 5.3, so this runs the real one in a throwaway virtual
environment (created or reused; ``pip install torch==2.13.0`` takes the local CPU build):

    python scripts/make_decoder_golden.py [--venv /tmp/qaaudit-golden-venv] [--out tests/data/parity]
    python scripts/make_decoder_golden.py --demo-only   # after retraining the demo model: its pairs only

It builds the fixtures (two trained a few hundred steps so that scores are not flat, the others
random; one tokenizer pads on the left), runs ``pipeline("question-answering")`` on short,
long multi-window, unanswerable and top_k > 1 pairs in Korean and English, and writes
``golden.json`` with the pipeline kwargs, answers, character offsets and scores of each pair.
tests/test_decoder_parity.py replays every pair through qaaudit's encode -> forward -> decode.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VENV = Path("/tmp/qaaudit-golden-venv")
TRANSFORMERS_SPEC = "transformers==4.57.*"
TORCH_SPEC = "torch==2.13.0"

# name -> (arch, padding side, training steps, seed); trained ones first.
FIXTURES = {
    "bert-trained": ("bert", "right", 400, 1),
    "xlmr-trained": ("xlm-roberta", "right", 400, 2),
    "electra-random": ("electra", "right", 0, 3),
    "roberta-random": ("roberta", "right", 0, 4),
    "distilbert-left-random": ("distilbert", "left", 0, 5),
    "albert-random": ("albert", "right", 0, 6),
    "deberta-v2-random": ("deberta-v2", "right", 0, 7),
}

QUESTION_TEMPLATES_EN = ("When was {w}?", "How many {w}?", "Which number goes with {w}?")
QUESTION_TEMPLATES_KO = ("{w} 언제인가요?", "{w} 몇 년인가요?")
NATURAL = (
    ("Where is the Eiffel Tower located?", 0), ("When was it completed?", 1), ("What is the capital of South Korea?", 2),
    ("Who won the Nobel Prize in Physics in 1903?", 4), ("Who created Python?", 8), ("How tall is Mount Everest?", 11),
    ("서울은 어떤 도시인가요?", 14), ("훈민정음은 언제 창제되었나요?", 16), ("거북선을 이끈 사람은 누구인가요?", 17),
    ("한라산은 어디에 있나요?", 19), ("경복궁은 언제 지어졌나요?", 22), ("BTS는 언제 데뷔했나요?", 28),
)


# --------------------------------------------------------------------------- outside: the venv
def ensure_venv(venv: Path) -> Path:
    """Create (or reuse) the venv with transformers 4.57 and return its python."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import transformers, torch; assert transformers.__version__.startswith('4.57')"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    import numpy  # the same numpy as ours: the pipeline's tie-breaking (argpartition) depends on it

    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(pip + [TORCH_SPEC], check=True)
    subprocess.run(pip + [TRANSFORMERS_SPEC, f"numpy=={numpy.__version__}", "safetensors"], check=True)
    return python


# --------------------------------------------------------------------------- inside: transformers 4.57
def _tinymodels():
    spec = importlib.util.spec_from_file_location("tinymodels", REPO / "tests" / "tinymodels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _words(text: str) -> list[tuple[str, int, int]]:
    out, pos = [], 0
    for w in text.split():
        start = text.index(w, pos)
        out.append((w, start, start + len(w)))
        pos = start + len(w)
    return out


def synthetic_example(rng: random.Random, corpus: tuple[str, ...], *, answerable: bool = True,
                      n_sentences: int = 2) -> tuple[str, str, int, int]:
    """A (question, context, answer_start, answer_end). The answer is the first word holding a digit,
    a rule a tiny model learns in a few hundred steps; a context without digits has no answer."""
    with_digits = [s for s in corpus if any(ch.isdigit() for ch in s)]
    without = [s for s in corpus if s not in with_digits]
    if answerable:
        sentences = [rng.choice(with_digits)] + rng.sample(corpus, n_sentences - 1)
        rng.shuffle(sentences)
    else:
        sentences = rng.sample(without, min(n_sentences, len(without)))
    context = " ".join(sentences)
    words = _words(context)
    start = end = -1
    if answerable:
        _, start, end = next(w for w in words if any(ch.isdigit() for ch in w[0]))
    cue = rng.choice(words)[0]
    is_ko = any("\uac00" <= ch <= "\ud7a3" for ch in cue)
    return rng.choice(QUESTION_TEMPLATES_KO if is_ko else QUESTION_TEMPLATES_EN).format(w=cue), context, start, end


def train(model, tokenizer, corpus, *, steps: int, seed: int) -> None:
    """A few hundred Adam steps on synthetic pairs, so that the scores are peaked, not flat ties."""
    import torch

    rng = random.Random(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    question_first = tokenizer.padding_side == "right"
    for _step in range(steps):
        batch = [synthetic_example(rng, corpus, answerable=rng.random() > 0.2) for _ in range(16)]
        enc = tokenizer([b[0] for b in batch], [b[1] for b in batch], truncation="only_second", max_length=128,
                        padding=True, return_offsets_mapping=True, return_tensors="pt")
        starts, ends = [], []
        for j, (_, _, a_start, a_end) in enumerate(batch):
            s_tok = e_tok = 0  # unanswerable: point at [CLS]
            if a_start >= 0:
                seq = enc.sequence_ids(j)
                offs = enc["offset_mapping"][j].tolist()
                ctx = [t for t, sid in enumerate(seq) if sid == (1 if question_first else 0)]
                s_tok = next((t for t in ctx if offs[t][0] <= a_start < offs[t][1]), 0)
                e_tok = next((t for t in reversed(ctx) if offs[t][0] < a_end <= offs[t][1]), 0)
            starts.append(s_tok)
            ends.append(e_tok)
        inputs = {k: enc[k] for k in tokenizer.model_input_names if k in enc}
        out = model(**inputs, start_positions=torch.tensor(starts), end_positions=torch.tensor(ends))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    model.eval()


def build_fixtures(out: Path, tm) -> dict[str, Path]:
    import transformers

    paths = {}
    for name, (arch, side, steps, seed) in FIXTURES.items():
        path = out / name
        if path.exists():
            shutil.rmtree(path)
        tm.build_tiny_checkpoint(arch, path, seed=seed, padding_side=side)
        if steps:
            tok = transformers.AutoTokenizer.from_pretrained(path)
            model = transformers.AutoModelForQuestionAnswering.from_pretrained(path)
            train(model, tok, tm.CORPUS, steps=steps, seed=seed)
            model.save_pretrained(path, safe_serialization=True)
        paths[name] = path
    return paths


def make_pairs(rng: random.Random, corpus: tuple[str, ...], n_per_fixture: int) -> list[tuple[str, str, dict]]:
    """Question/context pairs with pipeline kwargs covering every decoding path."""
    pairs: list[tuple[str, str, dict]] = []
    for q, i in NATURAL:
        pairs.append((q, " ".join(corpus[i:i + 2]), {}))
    while len(pairs) < n_per_fixture:
        kind = len(pairs) % 6
        if kind == 0:    # short
            q, c, _, _ = synthetic_example(rng, corpus)
            kw = {}
        elif kind == 1:  # long: several windows with a small max_seq_len
            q, c, _, _ = synthetic_example(rng, corpus, n_sentences=rng.randint(6, 12))
            kw = {"max_seq_len": rng.choice([48, 64, 96]), "doc_stride": rng.choice([8, 16, 24])}
        elif kind == 2:  # unanswerable, null answer allowed
            q, c, _, _ = synthetic_example(rng, corpus, answerable=False)
            kw = {"handle_impossible_answer": True}
        elif kind == 3:  # several answers
            q, c, _, _ = synthetic_example(rng, corpus, n_sentences=3)
            kw = {"top_k": rng.choice([2, 3, 5, 8])}
        elif kind == 4:  # long + null + top_k
            q, c, _, _ = synthetic_example(rng, corpus, answerable=rng.random() < 0.5, n_sentences=8)
            kw = {"max_seq_len": 64, "doc_stride": 16, "top_k": 3, "handle_impossible_answer": True}
        else:            # answer length and word alignment
            q, c, _, _ = synthetic_example(rng, corpus, n_sentences=2)
            kw = {"max_answer_len": rng.choice([1, 3, 30]), "align_to_words": rng.random() < 0.5,
                  "top_k": rng.choice([1, 4])}
        pairs.append((q, c, kw))
    return pairs


def window_digest(pipe, question: str, context: str, kwargs: dict) -> list[str]:
    """sha1 of each window's input_ids as the pipeline's preprocess made them (for diagnosing encode)."""
    pre, _, _ = pipe._sanitize_parameters(**kwargs)
    return [hashlib.sha1(str(f["input_ids"].reshape(-1).tolist()).encode()).hexdigest()[:16]
            for f in pipe.preprocess({"question": question, "context": context}, **pre)]


def run_inside(out: Path, n_per_fixture: int, demo: Path | None, demo_only: bool = False) -> None:
    import numpy
    import tokenizers
    import torch
    import transformers

    torch.set_num_threads(1)
    tm = _tinymodels()
    out.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    if demo_only:
        # retraining the fixtures is not bit-reproducible: after a new demo model keep them and their pairs
        old = json.loads((out / "golden.json").read_text(encoding="utf-8"))
        mine = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                "torch": torch.__version__, "numpy": numpy.__version__}
        if old["versions"] != mine:
            raise SystemExit(f"--demo-only: golden.json was written with {old['versions']}, this venv has {mine}; "
                             "rebuild everything (drop --demo-only)")
        records = [p for p in old["pairs"] if p["model"] != "demo"]
        models = {}
    else:
        fixtures = build_fixtures(out, tm)
        models = {name: (str(path.relative_to(REPO)), path) for name, path in fixtures.items()}
    if demo is not None and (demo / "config.json").exists():
        models["demo"] = (str(demo.relative_to(REPO)), demo)
    rng = random.Random(20240)
    for name, (rel, path) in models.items():
        pipe = transformers.pipeline("question-answering", model=str(path), tokenizer=str(path), device=-1)
        pipe_note = {"p_mask": "all-allowed"} if pipe.tokenizer.padding_side == "left" else {}
        for question, context, kwargs in make_pairs(rng, tm.CORPUS, n_per_fixture if name != "demo" else 24):
            if "max_seq_len" in kwargs:
                # Leave the context more room than the stride, or the tokenizer refuses to window.
                n_q = len(pipe.tokenizer(question, add_special_tokens=False)["input_ids"])
                need = n_q + pipe.tokenizer.num_special_tokens_to_add(pair=True) + kwargs["doc_stride"] + 8
                kwargs["max_seq_len"] = max(kwargs["max_seq_len"], need)
            result = pipe(question=question, context=context, **kwargs)
            result = result if isinstance(result, list) else [result]
            records.append({
                "model": name, "path": rel, "question": question, "context": context, "kwargs": kwargs,
                "windows": window_digest(pipe, question, context, kwargs), **pipe_note,
                "answers": [{"answer": a["answer"], "start": int(a["start"]), "end": int(a["end"]),
                             "score": float(a["score"])} for a in result],
            })
    golden = {
        "generated_by": "scripts/make_decoder_golden.py",
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                     "torch": torch.__version__, "numpy": numpy.__version__},
        "pairs": records,
    }
    (out / "golden.json").write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(records)} pairs on {len({r['model'] for r in records})} models to {out / 'golden.json'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "parity")
    ap.add_argument("--pairs-per-model", type=int, default=32)
    ap.add_argument("--demo", type=Path, default=REPO / "qaaudit" / "demo" / "model")
    ap.add_argument("--demo-only", action="store_true",
                    help="re-ask the pipeline for the demo model's pairs only (after retraining it); keep the rest")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.inside:
        run_inside(args.out.resolve(), args.pairs_per_model, args.demo.resolve(), args.demo_only)
        return 0
    python = ensure_venv(args.venv)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    cmd = [str(python), __file__, "--inside", "--out", str(args.out), "--pairs-per-model", str(args.pairs_per_model),
           "--demo", str(args.demo)] + (["--demo-only"] if args.demo_only else [])
    return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())

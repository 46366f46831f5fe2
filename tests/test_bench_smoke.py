"""Smoke test of bench/bench_explain.py on a tiny model: every row comes out; no timing assertions."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from qaaudit import load_model
from qaaudit.attribute import CompletenessTarget

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_explain", BENCH / "bench_explain.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.filterwarnings("ignore::qaaudit.errors.QAAuditWarning")  # the bf16 row, on a CPU that emulates bf16
def test_rows_of_one_condition(bench, tiny_checkpoint):
    qa = load_model(tiny_checkpoint("electra"), device="cpu")
    pairs = [("로제는 어디에서 태어났습니까?", "로제는 뉴질랜드에서 태어났다. Rose was born in New Zealand."),
             ("Where is the Eiffel Tower?", "The Eiffel Tower is located in Paris, the capital of France.")]
    cases = bench.tokenizer_cases(qa, pairs)
    rows = bench.run_condition(qa, cases, "tiny", repeats=1, n_steps=2,
                               target=CompletenessTarget(abs_delta=0.05, rel_delta=0.05, max_steps=9))
    assert [r["approach"] for r in rows] == [*bench.APPROACHES, "floor (default rule's nodes)"]
    for r in rows:
        assert r["sec"] > 0 and r["L"] == cases[0].length
        assert (r["x_floor"] is None) == (r["approach"] == "notebook")
        # the true attribution error against the 128-node reference: the notebook at 2 steps is far from it
        assert 0 <= r["err_median"] <= r["err_worst"]
    assert rows[0]["steps"] == "2/2" and rows[0]["x_notebook"] == 1.0
    assert rows[0]["err_worst"] > 0 and rows[1]["err_worst"] == pytest.approx(rows[0]["err_worst"], rel=1e-3, abs=1e-5)
    assert "top-10 overlap" in rows[-2]["note"] and rows[-1]["x_floor"] == 1.0
    text = bench.table(rows)
    assert text.count("\n") == len(rows) + 1 and "qaaudit-target-bf16" in text and "error vs GL-128" in text


def test_notebook_equals_engine_at_the_same_steps(bench, tiny_checkpoint):
    qa = load_model(tiny_checkpoint("electra"), device="cpu")
    case = bench.tokenizer_cases(qa, [("Where is the Eiffel Tower?", "It is located in Paris, France.")])[0]
    nb = bench.notebook_ig(qa, case, 2)
    ours = bench.qaaudit_ig(qa, case, n_steps=2)
    for p in ("start", "end"):
        scale = abs(nb[p][0]).max()
        assert abs(nb[p][0] - ours[p].tokens).max() <= 1e-5 * scale
        assert nb[p][1] == pytest.approx(ours[p].delta, abs=1e-5 * max(1.0, scale))


def test_chunk_sweep_and_synthetic_model(bench):
    qa = bench.koelectra_small_like(seed=0, vocab_size=64, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                                    num_attention_heads=2, intermediate_size=16)
    bench.sharpen(qa, attention=2.0, ffn=2.0, head=2.0)
    cases = bench.synthetic_cases(qa, 24, 2, question_len=4)
    assert all(c.length == 24 and not c.keep[0, c.start] and c.end >= c.start for c in cases)
    rows = bench.chunk_sweep(qa, cases[0], [1, 2], repeats=1, n_steps=2)
    assert [r["chunk"] for r in rows] == [1, 2] and "(default)" in bench.chunk_table(rows, 2)
    bench.floor_per_step(qa, cases[0], 2)()


def test_minilm_features_point_at_the_answer(tiny_checkpoint):
    """The fine-tuning script's labels: every kept feature's token span decodes to the answer text."""
    sys.path.insert(0, str(BENCH))
    try:
        import minilm_qa
    finally:
        sys.path.remove(str(BENCH))
    import torch
    from transformers import AutoTokenizer

    from qaaudit.demo.data import generate

    tok = AutoTokenizer.from_pretrained(tiny_checkpoint("bert"))
    exs = [e for e in generate("train", 40, seed=3, langs=("en",)) if not e.unanswerable]
    feats = minilm_qa._features(tok, exs, 512)
    assert len(feats) >= len(exs) // 2
    by_ids = {tuple(f[0]): f for f in feats}
    for ex in exs:
        enc = tok(ex.question, ex.context, truncation="only_second", max_length=512, return_offsets_mapping=True)
        f = by_ids.get(tuple(enc["input_ids"]))
        if f is None:
            continue
        offsets = enc["offset_mapping"]
        assert enc.sequence_ids()[f[2]] == 1 == enc.sequence_ids()[f[3]]
        assert ex.context[offsets[f[2]][0]:offsets[f[3]][1]] == ex.answers[0][0]
    inputs, s, e = minilm_qa._batch(feats[:3], torch)
    assert inputs["input_ids"].shape[0] == 3 and (s <= e).all()
    assert int(inputs["attention_mask"][0].sum()) == len(feats[0][0])

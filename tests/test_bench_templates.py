"""Smoke test of bench/bench_templates.py: the two files it times hold the same cases (no timing assertions)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_template_and_hand_written_files_hold_the_same_cases(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_templates", BENCH / "bench_templates.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from qaaudit.spec import load_audit

    tdir, hdir, total = mod.build(tmp_path, 120)
    generated = [c for p in sorted(tdir.glob("*.audit.yaml")) for t in load_audit(p).templates for c in t.cases]
    hand = load_audit(hdir / "hand.audit.yaml").cases
    assert total == len(generated) == len(hand) >= 120
    assert [(c.question, c.context, c.gold_texts) for c in generated] == \
        [(c.question, c.context, c.gold_texts) for c in hand]

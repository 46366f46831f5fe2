"""Smoke test of bench/bench_report.py and its synthetic SQuAD run: rows come out; no timing assertions."""
from __future__ import annotations

import json

from benchload import load_bench as _load


def test_synthetic_squad_has_the_dev_sets_shape(tmp_path):
    synth = _load("squad_synth")
    data, preds = synth.synthetic_squad(500, em=0.8)
    (tmp_path / "dev.json").write_text(json.dumps(data), encoding="utf-8")
    from qaaudit.squad import read_squad

    ds = read_squad(tmp_path / "dev.json")   # the strict reader: every answer at its start in its context
    assert len(ds.questions) == 500 == len(preds) and ds.flavour == "SQuAD v1.1"
    assert len({q.context for q in ds.questions}) == 100
    run = synth.predictions_run(500, em=0.8)
    exact = sum(p["answer"] == q.answers[0].text for p, q in zip(preds, ds.questions))
    assert run.totals["passed"] >= exact and 0.7 < run.totals["passed"] / 500 < 0.9


def test_bench_rows(capsys):
    bench = _load("bench_report")
    assert bench.main(["--n", "300", "--em", "0.8", "--no-browser", "--no-all"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| 300 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "0.80" and cells[2] == "default" and float(cells[4]) > 0 and int(cells[5]) > 3
    assert "budget (default pages):" in out

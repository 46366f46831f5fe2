"""Smoke test of bench/bench_dataset.py at a tiny size: both parts run through pytest and print their rows
(no timing assertions; the numbers are in bench/README.md)."""
from __future__ import annotations

from benchload import load_bench as _load


def test_predictions_part_runs_the_dataset_end_to_end(tmp_path):
    bench = _load("bench_dataset")
    r = bench.predictions_part(tmp_path, 120, long_form=False)
    assert r["cases"] == 120 == r["passed"] + r["failed"]
    assert 0.6 < r["passed"] / 120 < 0.95    # the synthetic predictions are exact for ~80%
    assert r["line_seconds"] > 0 and r["ref_seconds"] > 0 and r["report_mb"] > 0


def test_bench_rows(capsys):
    bench = _load("bench_dataset")
    assert bench.main(["--part", "model", "--cases", "12"]) == 0
    out = capsys.readouterr().out
    assert "plain batched forward" in out and "x forward" in out and "12 prediction-only cases" in out

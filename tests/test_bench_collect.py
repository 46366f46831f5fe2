"""Smoke test of bench/bench_collect.py on a small file: every row comes out; no timing assertions."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_rows_come_out(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_collect", BENCH / "bench_collect.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--questions", "60", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for row in ("reference: PyYAML pure Python", "qaaudit load_yaml", "qaaudit load_audit", "pytest --collect-only"):
        assert f"| {row} |" in out
    assert "peak" in out and sys.modules.get("squad_synth") is not None

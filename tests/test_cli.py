"""The `qaaudit` command through main([...]): output, files written, exit codes, one-line errors."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qaaudit.cli import main
from qaaudit.results import CaseResult, RunResult, write_json_atomic

DATA = Path(__file__).parent / "data" / "squad"


def one_line_error(err: str, needle: str) -> None:
    assert err.startswith("qaaudit: error: ") and needle in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [[], ["explain"], ["import"], ["import", "squad"], ["schema"], ["init"], ["gate"]])
def test_help_on_every_command(argv, capsys):
    assert main([*argv, "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: qaaudit")


def test_usage_error_exits_2(capsys):
    assert main(["gate"]) == 2
    assert "the following arguments are required: RESULTS.json" in capsys.readouterr().err


def test_heavy_modules_are_not_imported():
    code = ("import sys, qaaudit.cli, qaaudit.gate, qaaudit.squad, qaaudit.predictions; "
            "heavy = [m for m in ('torch', 'transformers', 'captum') if m in sys.modules]; "
            "print(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


# ------------------------------------------------------------------ import squad

def test_import_squad_writes_an_audit_file(tmp_path, capsys):
    out = tmp_path / "audits" / "ko.audit.yaml"
    assert main(["import", "squad", str(DATA / "korquad_v1_small.json"), "--out", str(out),
                 "--limit", "5", "--seed", "3", "--articles", "대한민국,방탄소년단"]) == 0
    assert capsys.readouterr().out == f"wrote 5 cases to {out}\n"
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert len(doc["cases"]) == 5 and doc["normalization"] == "korquad"


def test_import_squad_refuses_to_overwrite_and_reports_bad_files(tmp_path, capsys):
    out = tmp_path / "a.audit.yaml"
    out.write_text("keep me", encoding="utf-8")
    assert main(["import", "squad", str(DATA / "squad_v11_small.json"), "--out", str(out)]) == 2
    one_line_error(capsys.readouterr().err, "already exists; choose another --out or pass --force")
    assert out.read_text(encoding="utf-8") == "keep me"
    assert main(["import", "squad", str(DATA / "squad_v11_small.json"), "--out", str(out), "--force"]) == 0
    assert "wrote 30 cases" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "1.1", "data": [{"title": "x", "paragraphs": [{"context": 3, "qas": []}]}]}')
    fresh = tmp_path / "fresh.audit.yaml"
    assert main(["import", "squad", str(bad), "--out", str(fresh)]) == 2
    one_line_error(capsys.readouterr().err, "data[0].paragraphs[0].context: expected a string, got 3")
    assert not fresh.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a.audit.yaml", "bad.json"]


# ------------------------------------------------------------------ schema and init

def test_schema_prints_the_audit_schema(capsys, tmp_path):
    from qaaudit.schema import audit_schema

    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == audit_schema()
    assert main(["schema", "--out", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8")) == audit_schema()


def test_init_writes_a_valid_audit_and_gate_and_never_overwrites(tmp_path, capsys):
    from qaaudit.gate import load_gate_config
    from qaaudit.spec import load_audit

    assert main(["init", str(tmp_path)]) == 0
    audit = load_audit(tmp_path / "audits" / "example.audit.yaml")
    assert [c.id for c in audit.cases] == ["capital-of-france", "capital-of-korea"]
    config = load_gate_config(tmp_path, {})
    assert config.min_pass_rate == 0.9 and config.min_mean_f1 == 0.8
    (tmp_path / "qaaudit.toml").write_text("[gate]\nmin_pass_rate = 0.5\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["init", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("(exists)") == 2
    assert (tmp_path / "qaaudit.toml").read_text(encoding="utf-8") == "[gate]\nmin_pass_rate = 0.5\n"


def test_init_leaves_a_pyproject_gate_alone(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text("[tool.qaaudit.gate]\nmin_pass_rate = 1.0\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == 0
    assert not (tmp_path / "qaaudit.toml").exists()
    assert "already holds [tool.qaaudit.gate]" in capsys.readouterr().out


# ------------------------------------------------------------------ gate

def results(tmp_path: Path, name: str, outcomes: dict[str, str]) -> Path:
    cases = tuple(CaseResult(nodeid=f"audits/a.audit.yaml::{cid}", path="audits/a.audit.yaml", line=i + 1, case_id=cid,
                             outcome=o, gold=("Paris",), prediction={"text": "Paris" if o == "passed" else "Lyon",
                                                                     "start": 0, "end": 5, "score": 0.5})
                  for i, (cid, o) in enumerate(outcomes.items()))
    path = tmp_path / name
    write_json_atomic(path, RunResult(cases=cases, model={"name": name}).to_dict())
    return path


def test_gate_passes_and_fails_by_the_settings(tmp_path, capsys):
    run = results(tmp_path, "results.json", {"a": "passed", "b": "passed", "c": "failed", "d": "xfailed"})
    (tmp_path / "qaaudit.toml").write_text("[gate]\nmin_pass_rate = 0.6\n", encoding="utf-8")
    assert main(["gate", str(run), "--rootdir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("qaaudit gate: PASSED\n")
    assert main(["gate", str(run), "--rootdir", str(tmp_path), "--set", "min_pass_rate=0.7",
                 "--set", "min_mean_f1=0.5"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("qaaudit gate: FAILED\n  - pass_rate = 0.6667, required >= 0.7 "
                          "(2 of 3 counted items passed; 1 xfailed not counted)\n")
    assert "mean_f1" in out and "ok" in out


def test_gate_detects_a_regression_between_two_runs(tmp_path, capsys):
    base = results(tmp_path, "base.json", {"a": "passed", "b": "passed", "c": "failed"})
    cand = results(tmp_path, "cand.json", {"a": "passed", "b": "failed", "c": "failed"})
    assert main(["gate", str(cand), "--baseline-results", str(base), "--rootdir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("qaaudit gate: FAILED\n  - regressions = 1, required <= 0 (passed on the baseline, "
                          "failed now: audits/a.audit.yaml::b)")
    assert main(["gate", str(cand), "--baseline-results", str(base), "--rootdir", str(tmp_path), "--json",
                 "--set", "allow_regressions=audits/a.audit.yaml::b"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["passed"] and d["comparison"]["cases"][0]["status"] == "pass->fail"
    assert d["comparison"]["cases"][0]["f1_change"] == -1.0


def test_gate_errors_are_one_line(tmp_path, capsys):
    run = results(tmp_path, "results.json", {"a": "passed"})
    assert main(["gate", str(run), "--rootdir", str(tmp_path)]) == 2
    one_line_error(capsys.readouterr().err, "no gate settings in")
    not_results = tmp_path / "preds.json"
    not_results.write_text('{"q1": "Paris"}', encoding="utf-8")
    assert main(["gate", str(run), "--baseline-results", str(not_results)]) == 2
    one_line_error(capsys.readouterr().err, f"baseline results '{not_results}' is not a qaaudit results.json")
    assert main(["gate", str(tmp_path / "nope.json"), "--set", "min_pass_rate=0.5"]) == 2
    one_line_error(capsys.readouterr().err, "does not exist")
    assert main(["gate", str(run), "--set", "min_pass_rate=2"]) == 2
    one_line_error(capsys.readouterr().err, "min_pass_rate = 2.0 (in command line) is outside [0, 1]")


# ------------------------------------------------------------------ explain

def test_explain_prints_the_compact_view_and_writes_html(tiny_checkpoint, tmp_path, capsys):
    pytest.importorskip("qaaudit.explainer")
    model = tiny_checkpoint("bert")
    html = tmp_path / "case.html"
    code = main(["explain", "--model", str(model), "--question", "What is the capital of France?",
                 "--context", "Paris is the capital of France.", "--steps", "4", "--html", str(html),
                 "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "question: What is the capital of France?" in out and "answer:" in out and "score" in out
    assert "top-5 start tokens:" in out and "top-5 end tokens:" in out
    assert "delta:    start " in out and "4 steps" in out
    assert html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


@pytest.mark.parametrize("arch", ["roberta", "xlm-roberta", "bert"])
def test_explain_names_the_part_and_shows_words(tiny_checkpoint, tmp_path, capsys, arch):
    """Top tokens as words of the question or the context, never raw ▁/Ġ/## pieces; --attention adds the
    attention lines, --html a self-contained page with no gold legend (there is no gold)."""
    pytest.importorskip("qaaudit.explainer")
    html = tmp_path / "case.html"
    question, context = "Where is the Eiffel Tower?", "The Eiffel Tower is located in Paris, the capital of France."
    code = main(["explain", "--model", str(tiny_checkpoint(arch)), "--question", question, "--context", context,
                 "--steps", "2", "--attention", "--html", str(html), "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = [ln for ln in out.splitlines() if ln.startswith(("top-5", "attention from"))]
    assert [ln.split(":")[0] for ln in lines] == ["top-5 start tokens", "top-5 end tokens", "attention from start (last 2 layers)",
                                                "attention from end (last 2 layers)"]
    for ln in lines:
        entries = ln.split(": ", 1)[1].split(" · ")
        assert len(entries) == 5
        for entry in entries:
            word, part = re.match(r"(.+?)(?: ‹.*›)? \((question|context|special)\) ", entry).groups()
            assert not word.startswith(("\u2581", "\u0120", "##"))
            assert part == "special" or word in (question if part == "question" else context), entry
    page = html.read_text(encoding="utf-8")
    assert "<style>" in page and '<link rel="stylesheet"' not in page and "<script" not in page
    assert "gold answer" not in page and 'class="gold"' not in page and "Attention from the predicted" in page


def test_explain_bad_model_is_one_line(tmp_path, capsys):
    pytest.importorskip("qaaudit.explainer")
    assert main(["explain", "--model", str(tmp_path / "missing"), "--question", "q?", "--context", "c."]) == 2
    one_line_error(capsys.readouterr().err, "missing")


def test_explain_shows_a_progress_bar_on_long_inputs(tiny_checkpoint, capsys):
    from qaaudit.cli import main

    long_context = " ".join(["Rose was born in Auckland in 1997 and grew up in Melbourne."] * 40)
    assert main(["explain", "--model", str(tiny_checkpoint("bert")), "--question", "Where was Rose born?",
                 "--context", long_context, "--steps", "8"]) == 0
    captured = capsys.readouterr()
    assert "integrated gradients" in captured.err and "step" in captured.err
    assert "top-5 start tokens" in captured.out

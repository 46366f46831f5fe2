"""Dataset-scale audits end to end through ``pytest`` (issue 18), with references measured in the same run.

    .venv/bin/python bench/bench_dataset.py                 # both parts, full size
    .venv/bin/python bench/bench_dataset.py --part predictions --questions 10570
    .venv/bin/python bench/bench_dataset.py --part model --cases 1000

(a) ``predictions``: a synthetic SQuAD v1.1-shaped dev set (bench/squad_synth.py: 10,570 questions by default)
    referenced straight from an audit file (``datasets: [{path: dev.json}]``), audited against a predictions
    file: ``pytest --qaaudit-predictions=... --qaaudit-report=...`` in a fresh process (collect, score, record,
    report, results.json). Prints wall seconds and the process's peak resident memory, and the same for the
    reference: pytest running as many trivial parametrized tests (pytest's own cost per item).
(b) ``model``: a 1,000-case audit on the demo model with prediction expectations only (no attributions),
    through ``pytest``, against a plain batched forward of the same model over the same pairs in the same run
    (tokenize all pairs, forward in batches of 64 windows, argmax start/end): seconds per case and the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from squad_synth import SQUAD_DEV_QUESTIONS, synthetic_squad  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "qaaudit" / "demo" / "model"
_DRIVER = ("import resource, sys, pytest\n"
           "rc = pytest.main(sys.argv[1:])\n"
           "sys.stderr.write('QAAUDIT_BENCH_PEAK_KB %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
           "sys.exit(int(rc))\n")


def run_pytest(cwd: Path, *args: str, ok: tuple[int, ...] = (0, 1)) -> tuple[float, float, str]:
    """(wall seconds, peak resident MB, output) of ``pytest args`` in a fresh process in ``cwd``."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", CI="")
    env.pop("PYTEST_ADDOPTS", None)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _DRIVER, "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           *args], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode not in ok:
        raise SystemExit(f"pytest {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-3000:]}")
    peak = re.search(r"QAAUDIT_BENCH_PEAK_KB (\d+)", proc.stderr)
    return seconds, int(peak.group(1)) / 1024 if peak else float("nan"), proc.stdout


def plain_pytest(root: Path, n: int) -> tuple[float, float]:
    """pytest's own cost for ``n`` items: as many trivial parametrized tests."""
    (root / "test_plain.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('i', range(%d))\ndef test_item(i):\n    assert i >= 0\n" % n)
    seconds, peak, _ = run_pytest(root, "test_plain.py", ok=(0,))
    (root / "test_plain.py").unlink()
    return seconds, peak


def predictions_part(root: Path, n: int, report: bool = True, long_form: bool = True) -> dict:
    data, preds = synthetic_squad(n, em=0.8)
    (root / "dev.json").write_text(json.dumps(data), encoding="utf-8")
    (root / "preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds), encoding="utf-8")
    (root / "dev.audit.yaml").write_text(
        "# the dev set straight from its JSON\ndefaults:\n  expect:\n    prediction: {exact_match: true}\n"
        "datasets:\n  - path: dev.json\n", encoding="utf-8")
    ref_s, ref_peak = plain_pytest(root, n)
    out = ["--qaaudit-report=rep"] if report else ["--qaaudit-no-report"]
    # --tb=line: one line per failure; pytest's own long form looks up each failure's teardown report among all
    # reports (quadratic: ~2,000 failures x ~32,000 reports), which the compact terminal form is there to avoid
    line_s, line_peak, _ = run_pytest(root, "dev.audit.yaml", "--qaaudit-predictions=preds.jsonl", "--tb=line", *out)
    seconds, peak, stdout = (run_pytest(root, "dev.audit.yaml", "--qaaudit-predictions=preds.jsonl", *out)
                             if long_form else (line_s, line_peak, _))
    summary = re.search(r"(\d+) failed, (\d+) passed", stdout)
    results = json.loads((root / "rep" / "results.json").read_text(encoding="utf-8")) if report else None
    size = sum(p.stat().st_size for p in (root / "rep").rglob("*") if p.is_file()) / 1e6 if report else 0.0
    return {"n": n, "seconds": seconds, "peak_mb": peak, "ref_seconds": ref_s, "ref_peak_mb": ref_peak,
            "line_seconds": line_s, "line_peak_mb": line_peak,
            "passed": int(summary.group(2)) if summary else None, "failed": int(summary.group(1)) if summary else None,
            "cases": len(results["cases"]) if results else None, "report_mb": size}


def model_cases(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """(question, context, answer) triples of the demo model's kind (its training data's templates)."""
    from qaaudit.demo.data import generate

    out: list[tuple[str, str, str]] = []
    k = n
    while len(out) < n:
        out = [(e.question, e.context, e.answers[0][0]) for e in generate("test", k, seed=seed) if e.answers][:n]
        k *= 2
    return out


def plain_forward(triples: list[tuple[str, str, str]], batch: int = 64) -> float:
    """Seconds of tokenizing every pair and one batched forward over their windows (no decoding rules)."""
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(DEMO)
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(DEMO).eval()
    with torch.no_grad():   # not set_grad_enabled(False): a caller in the same process (the smoke test) needs grads
        return _timed_forward(tok, model, triples, batch)


def _timed_forward(tok, model, triples: list[tuple[str, str, str]], batch: int) -> float:
    t0 = time.perf_counter()
    enc = tok([q for q, _, _ in triples], [c for _, c, _ in triples], truncation="only_second", max_length=384,
              stride=128, return_overflowing_tokens=True, padding="longest", return_tensors="pt")
    for lo in range(0, enc["input_ids"].shape[0], batch):
        out = model(input_ids=enc["input_ids"][lo:lo + batch], attention_mask=enc["attention_mask"][lo:lo + batch],
                    **({"token_type_ids": enc["token_type_ids"][lo:lo + batch]} if "token_type_ids" in enc else {}))
        out.start_logits.argmax(-1), out.end_logits.argmax(-1)
    return time.perf_counter() - t0


def model_part(root: Path, n: int, batch: str = "auto") -> dict:
    triples = model_cases(n)
    lines = ["defaults:", "  expect:", "    prediction: {f1: 0.5}", "cases:"]
    for i, (q, c, a) in enumerate(triples):
        lines += [f"  - id: c{i}", f"    question: {json.dumps(q, ensure_ascii=False)}",
                  f"    context: {json.dumps(c, ensure_ascii=False)}", f"    answer: {json.dumps(a, ensure_ascii=False)}"]
    (root / "model.audit.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ref = plain_forward(triples)
    # the plain pytest cost of n items, so the per-item overhead is visible apart from the model's
    plain_s, _ = plain_pytest(root, n)
    seconds, peak, stdout = run_pytest(root, "model.audit.yaml", f"--qaaudit-model={DEMO}", "--qaaudit-no-report",
                                       "--qaaudit-no-cache", f"--qaaudit-batch={batch}")
    # the process's fixed cost (start-up, imports, model load): a run of one case
    (root / "one.audit.yaml").write_text("\n".join(lines[:4 + 4]) + "\n", encoding="utf-8")
    one_s, _, _ = run_pytest(root, "one.audit.yaml", f"--qaaudit-model={DEMO}", "--qaaudit-no-report",
                             "--qaaudit-no-cache", f"--qaaudit-batch={batch}")
    return {"n": n, "seconds": seconds, "one_case_seconds": one_s, "peak_mb": peak, "forward_seconds": ref,
            "plain_pytest_seconds": plain_s, "summary": stdout.strip().splitlines()[-1] if stdout.strip() else ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("predictions", "model", "both"), default="both")
    parser.add_argument("--questions", type=int, default=SQUAD_DEV_QUESTIONS)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--batch", default="auto", help="--qaaudit-batch of the model run (off: one case at a time)")
    parser.add_argument("--no-long-form", action="store_true", help="leave out the run with pytest's long failures")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qaaudit-bench-dataset-") as tmp:
        root = Path(tmp)
        if args.part in ("predictions", "both"):
            r = predictions_part(root, args.questions, long_form=not args.no_long_form)
            print(f"(a) predictions run of a {r['n']}-question SQuAD-shaped dataset named in an audit file, "
                  f"through pytest (collect, score, report)")
            print("| run | s | peak MB | x ref |")
            print("|---|---|---|---|")
            print(f"| reference: pytest, {r['n']} trivial tests | {r['ref_seconds']:.1f} | {r['ref_peak_mb']:.0f} | 1.00 |")
            print(f"| qaaudit --tb=line: {r['passed']} passed, {r['failed']} failed, report {r['report_mb']:.1f} MB | "
                  f"{r['line_seconds']:.1f} | {r['line_peak_mb']:.0f} | {r['line_seconds'] / r['ref_seconds']:.2f} |")
            if not args.no_long_form:
                print(f"| qaaudit, pytest's default long failure form | {r['seconds']:.1f} | {r['peak_mb']:.0f} | "
                      f"{r['seconds'] / r['ref_seconds']:.2f} |")
        if args.part in ("model", "both"):
            r = model_part(root, args.cases, args.batch)
            per_case = (r["seconds"] - r["one_case_seconds"]) / max(r["n"] - 1, 1)
            fwd = r["forward_seconds"] / r["n"]
            print(f"(b) {r['n']} prediction-only cases on the demo model, --qaaudit-batch={args.batch} ({r['summary']})")
            print("| run | s | s per case | x forward |")
            print("|---|---|---|---|")
            print(f"| reference: plain batched forward (tokenize + forward, 64 windows a batch) | "
                  f"{r['forward_seconds']:.2f} | {fwd * 1000:.2f} ms | 1.00 |")
            print(f"| pytest, {r['n']} trivial tests (no model) | {r['plain_pytest_seconds']:.2f} | "
                  f"{r['plain_pytest_seconds'] / r['n'] * 1000:.2f} ms | — |")
            print(f"| qaaudit through pytest, less a one-case run ({r['one_case_seconds']:.1f} s: start-up, model load) "
                  f"| {r['seconds']:.2f} | {per_case * 1000:.2f} ms | {per_case / fwd:.2f} |")
            print(f"peak memory of the qaaudit run: {r['peak_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

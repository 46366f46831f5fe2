"""Generating and collecting templated cases, against the same cases written out by hand, in the same run.

    .venv/bin/python bench/bench_templates.py                  # 2,000 generated cases, 3 repeats
    .venv/bin/python bench/bench_templates.py --cases 500 --repeats 1

The template file is the built-in capability suite (``qaaudit/suites/capabilities``: 50 templates, Korean and
English), each template's ``n`` raised so that the file generates ``--cases`` cases. The reference is an audit
file holding exactly those generated cases as hand-written ``cases:`` (same questions, contexts, answers and
expectations), loaded by the same ``load_audit``. Rows (medians of the repeats):

- ``reference: load_audit, hand-written``: parse + validate the hand-written file;
- ``load_audit, templates``: parse + validate the template file, draw every case and validate each;
- ``pytest --collect-only``: the whole collection in a fresh process (imports included), for both files.

Each row's ``x ref`` is its time over the reference's, measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median_time  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def build(out: Path, cases: int) -> tuple[Path, Path, int]:
    from qaaudit.spec import load_audit
    from qaaudit.suites import suite_path

    files = sorted(suite_path("capabilities").glob("*.audit.yaml"))
    templates = sum(len(load_audit(p).templates) for p in files)
    per = -(-cases // templates)
    (out / "t").mkdir()
    (out / "h").mkdir()
    total = 0
    hand = ["defaults:\n  expect:\n    prediction: {exact_match: true}\ncases:\n"]
    for src in files:
        text = re.sub(r"^(\s*- id: .*)$", rf"\1\n    n: {per}", src.read_text(encoding="utf-8"), flags=re.M)
        dst = out / "t" / src.name
        dst.write_text(text, encoding="utf-8")
        for t in load_audit(dst).templates:
            for c in t.cases:
                total += 1
                hand.append(f"  - id: {json.dumps(c.id)}\n    question: {json.dumps(c.question, ensure_ascii=False)}\n"
                            f"    context: {json.dumps(c.context, ensure_ascii=False)}\n"
                            f"    answer: {json.dumps(c.answers[0].text, ensure_ascii=False)}\n    tags: {list(c.tags)}\n")
    (out / "h" / "hand.audit.yaml").write_text("".join(hand), encoding="utf-8")
    return out / "t", out / "h", total


def collect(path: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", str(path), "--collect-only", "-q", "-p", "no:cacheprovider"],
                          capture_output=True, text=True, cwd=path)
    if done.returncode != 0:
        raise SystemExit(done.stdout[-2000:] + done.stderr[-2000:])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from qaaudit.spec import load_audit

    with tempfile.TemporaryDirectory() as tmp:
        tdir, hdir, total = build(Path(tmp), args.cases)
        hand = hdir / "hand.audit.yaml"
        ref = median_time(lambda: load_audit(hand), args.repeats)
        gen = median_time(lambda: [load_audit(p) for p in sorted(tdir.glob("*.audit.yaml"))], args.repeats)
        col_t = statistics.median(collect(tdir) for _ in range(args.repeats))
        col_h = statistics.median(collect(hdir) for _ in range(args.repeats))
    rows = [("reference: load_audit, hand-written", ref), ("load_audit, templates (generation + validation)", gen),
            ("pytest --collect-only, hand-written (fresh process)", col_h),
            ("pytest --collect-only, templates (fresh process)", col_t)]
    print(f"{total} generated cases from 50 templates; medians of {args.repeats}")
    print("| step | s | x ref |\n|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {s:.3f} | {s / ref:.2f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The report of a SQuAD-sized predictions run: size, files, write time, and the index's time to usable.

    .venv/bin/python bench/bench_report.py                 # 10,570 items, EM 0.80 and 0.88, default pages and all
    .venv/bin/python bench/bench_report.py --n 2000 --em 0.8 --no-browser

The run is bench/squad_synth.py's: a synthetic SQuAD v1.1-shaped dev set scored by qaaudit's own checks, as
`pytest --qaaudit-predictions` records it. References measured in the same run: writing results.json alone (the
floor of any report), and, in the browser, opening an empty page. Budgets (issue 18): at most 15 MB and 600
files by default; the index usable within 1 s.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from squad_synth import SQUAD_DEV_QUESTIONS, predictions_run  # noqa: E402

BUDGET_MB, BUDGET_FILES, BUDGET_MS = 15.0, 600, 1000.0


def tree_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def write_once(run, out: Path, pages) -> dict:
    from qaaudit.report import write_report

    t0 = time.perf_counter()
    index = write_report(run, out, pages=pages)
    seconds = time.perf_counter() - t0
    n_files, size = tree_size(out)
    return {"seconds": seconds, "files": n_files, "mb": size / 1e6, "index": index,
            "index_mb": (out / "index.html").stat().st_size / 1e6,
            "results_mb": (out / "results.json").stat().st_size / 1e6,
            "cases_mb": tree_size(out / "cases")[1] / 1e6, "case_files": len(list((out / "cases").iterdir()))}


def reference_json(run, out: Path) -> float:
    from qaaudit.results import write_json_atomic

    t0 = time.perf_counter()
    write_json_atomic(out / "results.json", run.to_dict())
    return time.perf_counter() - t0


def browser_times(index: Path, repeats: int) -> tuple[float, float, float] | None:
    """(index usable ms, median of repeats; DOM interactive ms; empty page load ms, the reference)."""
    from cdp import CHROMIUM, Browser

    if CHROMIUM is None:
        return None
    empty = index.parent / "empty.html"
    empty.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    ready, interactive, blank = [], [], []
    with Browser() as b:
        for _ in range(repeats):
            page = b.open(index.as_uri())
            ready.append(page.eval("Number(document.getElementById('cases').dataset.readyMs)"))
            interactive.append(page.eval("performance.getEntriesByType('navigation')[0].domInteractive"))
            ref = b.open(empty.as_uri())
            blank.append(ref.eval("performance.getEntriesByType('navigation')[0].loadEventEnd"))
    empty.unlink()
    return statistics.median(ready), statistics.median(interactive), statistics.median(blank)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=SQUAD_DEV_QUESTIONS, help="questions (default: SQuAD v1.1 dev's)")
    ap.add_argument("--em", default="0.8,0.88", help="shares of exact predictions, comma-separated")
    ap.add_argument("--repeats", type=int, default=3, help="browser loads per report (median)")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--no-all", action="store_true", help="skip the --qaaudit-report-pages=all row")
    args = ap.parse_args(argv)

    import qaaudit

    print(f"qaaudit {qaaudit.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"\n| items | EM | pages | failed | MB | files | index MB | results.json MB | case pages MB | write s "
          f"| × results.json alone | index usable ms | × empty page |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for em in [float(x) for x in args.em.split(",")]:
        run = predictions_run(args.n, em=em)
        failed = run.totals["failed"]
        for pages in (["default"] + ([] if args.no_all else ["all"])):
            with tempfile.TemporaryDirectory(prefix="qaaudit-bench-report-") as tmp:
                tmp_path = Path(tmp)
                ref = reference_json(run, tmp_path)
                r = write_once(run, tmp_path / "reports", 100 if pages == "default" else "all")
                shown = browser_times(r["index"], args.repeats) if not args.no_browser else None
                ready = f"{shown[0]:.0f}" if shown else "—"
                ratio = f"{shown[0] / shown[2]:.1f}" if shown and shown[2] else "—"
                print(f"| {args.n} | {em:.2f} | {pages} | {failed} | {r['mb']:.2f} | {r['files']} | {r['index_mb']:.2f} "
                      f"| {r['results_mb']:.2f} | {r['cases_mb']:.2f} | {r['seconds']:.2f} | {r['seconds'] / ref:.1f} "
                      f"| {ready} | {ratio} |", flush=True)
                rows.append((pages, r, shown))
                shutil.rmtree(tmp_path / "reports", ignore_errors=True)
    default = [(r, s) for p, r, s in rows if p == "default"]
    worst_mb = max(r["mb"] for r, _ in default)
    worst_files = max(r["files"] for r, _ in default)
    print(f"\nbudget (default pages): {worst_mb:.2f} MB of {BUDGET_MB:.0f}, {worst_files} files of {BUDGET_FILES}"
          + (f", index usable at {max(s[0] for _, s in default if s):.0f} ms of {BUDGET_MS:.0f}"
             if any(s for _, s in default) else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Screenshots of a report at a given width: the index and one case page of each kind.

    .venv/bin/python scripts/report_screenshots.py reports/ shots/ [--width 1280] [--baseline-report DIR]

Kinds: passed, failed (a failed item), robustness (a robustness check), compare (a page with the baseline's
attributions; from --baseline-report when the report itself has none). Korean pages are preferred, so the
screenshots show whether Hangul renders. For each it prints the page's scroll width against the window's
(anything wider is cut off or scrolls sideways) and how many Hangul texts are not marked lang="ko".
Needs chromium (tests/cdp.py drives it).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cdp import Browser  # noqa: E402

UNMARKED = """(() => { let n = 0; const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (w.nextNode()) { const t = w.currentNode, el = t.parentElement.closest('[lang]');
    if (/[\\uac00-\\ud7a3]/.test(t.data) && !t.parentElement.closest('script') && !(el && el.lang === 'ko')) n++; }
  return n; })()"""


def pick(report: Path) -> dict[str, Path]:
    """The first page of each kind, Korean ones first (robustness: one with a minimal failing variant)."""
    found: dict[str, Path] = {}
    pages = sorted((report / "cases").glob("*.html"), key=lambda p: not p.name.startswith("ko-"))
    failing = [p for p in pages if "minimal failing variant" in p.read_text(encoding="utf-8")]
    pages = failing + [p for p in pages if p not in failing]
    for page in pages:
        html = page.read_text(encoding="utf-8")
        badge = re.search(r'<h1><span class="badge (\w+)"', html)
        kinds = []
        if "compare-side baseline" in html:
            kinds.append("compare")
        if "<h2>Robustness" in html:
            kinds.append("robustness")
        elif badge and badge.group(1) in ("passed", "failed") and "compare-side" not in html:
            kinds.append(badge.group(1))
        for kind in kinds:
            found.setdefault(kind, page)
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--baseline-report", type=Path, help="a report written with a baseline, for the compare page")
    ap.add_argument("--prefix", default="", help="prefix of the PNG names")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    targets = {"index": args.report / "index.html", **pick(args.report)}
    if "compare" not in targets and args.baseline_report:
        compare = pick(args.baseline_report).get("compare")
        if compare:
            targets["compare"] = compare
    with Browser() as browser:
        for kind, path in targets.items():
            page = browser.open(path.resolve().as_uri(), width=args.width)
            width, client = page.eval("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            shot = page.screenshot(args.out / f"{args.prefix}{kind}.png")
            print(f"{kind:11s} {shot}  page {width}/{client} px  unmarked Hangul {page.eval(UNMARKED)}  "
                  f"console {len(page.console())}  ({path.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

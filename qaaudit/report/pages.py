"""Which items get a case page, and in which file.

A dataset-scale run has ten thousand items; a page for each made a report of ten thousand files that CI
artifact stores and browsers choke on. By default every item that did not simply pass gets a page (failed,
error, xfailed, xpassed, skipped, and every case whose comparison with a baseline changed), plus a fixed-size
sample of the passes; ``pages="all"`` gives every item one. The sample is chosen by a hash of the node id, so the
same passes keep their pages from run to run, whatever the order of collection.

The number of files is bounded too: past ``max_files`` pages, consecutive pages (in the index's order, failures
first) share a file, each under an anchor named like the page it would have had on its own.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence, Union

from qaaudit.errors import InvalidArgument
from qaaudit.results import CaseResult

from .compare import CaseComparison
from .names import case_filename

__all__ = ["PagePlan", "plan_pages", "parse_pages", "DEFAULT_SAMPLE", "MAX_FILES", "CASES_DIR"]

CASES_DIR = "cases"
DEFAULT_SAMPLE = 100   # passes with a page by default
MAX_FILES = 500        # case files at most: beyond, pages share files
_UNCHANGED = ("pass->pass", "fail->fail", "not compared")

Pages = Union[int, str]   # "all", or how many passes get a page besides every other item


def parse_pages(value: object) -> Pages:
    """``all`` or a whole number >= 0 (from the command line, an ini file or the API)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "all":
            return "all"
        if text.isdigit():
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise InvalidArgument(f"report pages {value!r} must be 'all' or a whole number of sampled passes >= 0 "
                          f"(e.g. --qaaudit-report-pages=all, or =0 for failures only; default {DEFAULT_SAMPLE})")


@dataclass(frozen=True)
class PagePlan:
    """Links from the index (``href`` by node id; items without a page are absent) and the files to write."""

    links: Mapping[str, str]
    files: Sequence[tuple[str, Sequence[CaseResult]]]   # file name below cases/ -> the cases it holds
    anchors: Mapping[str, str] = field(default_factory=dict)   # node id -> anchor id in a shared file
    pages: Pages = DEFAULT_SAMPLE
    passed: int = 0            # passes in the run
    sampled: int = 0           # passes given a page

    @property
    def n_pages(self) -> int:
        return len(self.links)

    @property
    def shared(self) -> bool:
        return any(len(cases) > 1 for _, cases in self.files)


def _needs_page(case: CaseResult, comparison: Mapping[str, CaseComparison] | None) -> bool:
    if case.outcome != "passed":
        return True
    comp = comparison.get(case.nodeid) if comparison else None
    return comp is not None and comp.status not in _UNCHANGED


def _rank(nodeid: str) -> str:
    return hashlib.sha256(nodeid.encode("utf-8", "surrogatepass")).hexdigest()


def plan_pages(ordered: Sequence[CaseResult], *, pages: Pages = DEFAULT_SAMPLE,
               comparison: Mapping[str, CaseComparison] | None = None, max_files: int | None = None) -> PagePlan:
    """The page plan for ``ordered`` (the index's order); see the module docstring."""
    pages = parse_pages(pages)
    max_files = MAX_FILES if max_files is None else max_files
    passes = [c for c in ordered if not _needs_page(c, comparison)]
    if pages == "all":
        chosen = set(id(c) for c in ordered)
        sampled = len(passes)
    else:
        keep = {c.nodeid for c in sorted(passes, key=lambda c: _rank(c.nodeid))[:pages]}
        chosen = {id(c) for c in ordered if _needs_page(c, comparison) or c.nodeid in keep}
        sampled = len(keep)
    with_page = [c for c in ordered if id(c) in chosen]
    names = {c.nodeid: case_filename(c.nodeid, c.case_id) for c in with_page}
    if len(with_page) <= max_files:
        files = [(names[c.nodeid], [c]) for c in with_page]
        links = {c.nodeid: f"{CASES_DIR}/{names[c.nodeid]}" for c in with_page}
        return PagePlan(links, files, {}, pages, len(passes), sampled)
    per_file = math.ceil(len(with_page) / max_files)
    files, links, anchors = [], {}, {}
    width = len(str(math.ceil(len(with_page) / per_file)))
    for n, lo in enumerate(range(0, len(with_page), per_file), 1):
        name = f"pages-{n:0{width}d}.html"
        group = with_page[lo:lo + per_file]
        files.append((name, group))
        for c in group:
            anchors[c.nodeid] = names[c.nodeid].removesuffix(".html")
            links[c.nodeid] = f"{CASES_DIR}/{name}#{anchors[c.nodeid]}"
    return PagePlan(links, files, anchors, pages, len(passes), sampled)

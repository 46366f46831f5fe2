"""Progress of writing a large report: a line every few seconds with how many pages are left and about how long.

Small reports (the usual hand-written suites) print nothing; past ``MIN_PAGES`` case pages a run of ten thousand
items otherwise sat silent for a while after its last test.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from qaaudit.progress import EVERY, Progress, terminal_writer

__all__ = ["ReportProgress", "terminal_progress", "MIN_PAGES"]

MIN_PAGES = 500     # fewer pages than this are written in a moment: no progress lines


class ReportProgress(Progress):
    """``progress(done, total)`` for :func:`qaaudit.report.write_report`, writing lines through ``write``."""

    def __init__(self, write: Callable[[str], Any], *, min_pages: int | None = None, every: float = EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(write, start="qaaudit report: writing {total} case pages",
                         step="qaaudit report: {done} of {total} case pages ({pct}%){tail}",
                         min_total=MIN_PAGES if min_pages is None else min_pages, every=every, clock=clock)


def terminal_progress(config: Any) -> ReportProgress | None:
    """Progress lines through pytest's terminal reporter (none under ``-q -q`` or without a terminal)."""
    write = terminal_writer(config)
    return ReportProgress(write) if write is not None else None

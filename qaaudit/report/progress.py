"""Progress of writing a large report: a line every few seconds with how many pages are left and about how long.

Small reports (the usual hand-written suites) print nothing; past ``MIN_PAGES`` case pages a run of ten thousand
items otherwise sat silent for a while after its last test.
"""
from __future__ import annotations

import time
from typing import Any, Callable

__all__ = ["ReportProgress", "terminal_progress", "MIN_PAGES"]

MIN_PAGES = 500     # fewer pages than this are written in a moment: no progress lines
EVERY = 2.0         # seconds between two lines


class ReportProgress:
    """``progress(done, total)`` for :func:`qaaudit.report.write_report`, writing lines through ``write``."""

    def __init__(self, write: Callable[[str], Any], *, min_pages: int | None = None, every: float = EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.write, self.every, self.clock = write, every, clock
        self.min_pages = MIN_PAGES if min_pages is None else min_pages
        self.started: float | None = None
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if total < self.min_pages:
            return
        now = self.clock()
        if self.started is None:
            self.started, self.last = now, now
            self.write(f"qaaudit report: writing {total} case pages")
            return
        if done < total and now - self.last < self.every:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        left = (total - done) / rate if rate > 0 else 0.0
        tail = f", about {left:.0f} s left" if done < total else f" in {now - self.started:.1f} s"
        self.write(f"qaaudit report: {done} of {total} case pages ({100 * done / total:.0f}%){tail}")


def terminal_progress(config: Any) -> ReportProgress | None:
    """Progress lines through pytest's terminal reporter (none under ``-q -q`` or without a terminal)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or config.get_verbosity() < -1:
        return None
    def write(text: str) -> None:
        # the report is written at session finish, when the progress line ("...  [100%]") may still be open
        if getattr(getattr(reporter, "_tw", None), "width_of_current_line", 0):
            reporter.write("\n")
        reporter.write_line(text)

    return ReportProgress(write)

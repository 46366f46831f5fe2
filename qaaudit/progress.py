"""Progress lines for long work inside a pytest run: a line every few seconds, how many are left and about
how long. Written through pytest's terminal reporter, so they interleave cleanly with its own output.

Small jobs print nothing (``min_total``); a run of ten thousand items otherwise sat silent for minutes
before its first item (the batched explanation pass) or after its last (the report).
"""
from __future__ import annotations

import contextlib
import time
from contextvars import ContextVar
from typing import Any, Callable, Iterator

__all__ = ["Progress", "terminal_writer", "writing_to", "collection_progress"]

EVERY = 2.0         # seconds between two lines


class Progress:
    """``progress(done, total)`` writing ``start`` once and then ``step`` lines through ``write``.

    ``start`` may use ``{total}``; ``step`` ``{done}``, ``{total}``, ``{pct}`` and ``{tail}`` (", about 4 s
    left" or " in 4.9 s" at the end).
    """

    def __init__(self, write: Callable[[str], Any], *, start: str, step: str, min_total: int,
                 every: float = EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.write, self.start, self.step = write, start, step
        self.min_total, self.every, self.clock = min_total, every, clock
        self.started: float | None = None
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if total < self.min_total:
            return
        now = self.clock()
        if self.started is None:
            self.started, self.last = now, now
            self.write(self.start.format(total=total))
            if done <= 0:
                return
        if done < total and now - self.last < self.every:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        left = (total - done) / rate if rate > 0 else 0.0
        tail = f", about {left:.0f} s left" if done < total else f" in {now - self.started:.1f} s"
        self.write(self.step.format(done=done, total=total, pct=f"{100 * done / total:.0f}", tail=tail))


def terminal_writer(config: Any) -> Callable[[str], None] | None:
    """A line writer through pytest's terminal reporter (None under ``-q -q`` or without a terminal)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or config.get_verbosity() < -1:
        return None

    capman = config.pluginmanager.get_plugin("capturemanager")

    def write(text: str) -> None:
        # the batched passes run inside the first item, whose output pytest captures (and drops if it passes):
        # the line goes past the capture, as pytest's own pdb and live logging do
        with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
            # the progress line of pytest ("...  [ 40%]") may still be open; write_line ends a file's line itself
            if (getattr(getattr(reporter, "_tw", None), "width_of_current_line", 0)
                    and not getattr(reporter, "currentfspath", None)):
                reporter.write("\n")
            reporter.write_line(text)

    return write


# where collection-time work (a dataset's cases) writes its lines: set around pytest's collection by the plugin
_COLLECTION_WRITER: ContextVar[Callable[[str], Any] | None] = ContextVar("qaaudit_collection_writer", default=None)


@contextlib.contextmanager
def writing_to(write: Callable[[str], Any] | None) -> Iterator[None]:
    """During the block, :func:`collection_progress` writes through ``write`` (None: nowhere)."""
    token = _COLLECTION_WRITER.set(write)
    try:
        yield
    finally:
        _COLLECTION_WRITER.reset(token)


def collection_progress(*, start: str, step: str, min_total: int) -> Callable[[int, int], None]:
    """A :class:`Progress` on the writer of the collection under way, or a no-op outside one."""
    write = _COLLECTION_WRITER.get()
    if write is None:
        return lambda done, total: None
    return Progress(write, start=start, step=step, min_total=min_total)

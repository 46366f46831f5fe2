"""Interrupted runs are recorded as interrupted: Ctrl-C and SIGTERM both end with a report that says so.

CI systems stop a job that ran out of time with SIGTERM. Python's default is to die on the spot, which
leaves the previous run's report in place; pytest handles only KeyboardInterrupt. Turned into a
KeyboardInterrupt, SIGTERM reaches pytest's own interrupt handling, so ``pytest_sessionfinish`` runs and
qaaudit writes a report that says *interrupted*, with the unfinished items as not run.

Both handlers also note that the signal came: pytest's interrupt handling can itself fail (rendering the
traceback of an interrupt that arrived inside a C call), and the exit status it leaves then says nothing
of the interruption. The note does.
"""
from __future__ import annotations

import signal
import threading
from typing import Any

import pytest

__all__ = ["Terminated", "catch_signals", "restore_signals", "was_interrupted", "tidy_traceback"]

_PREVIOUS = pytest.StashKey[dict]()
_RECEIVED: list[str] = []   # signals received in this process, by name


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the run stops as if interrupted."""


def _on_sigterm(signum: int, frame: Any) -> None:
    _RECEIVED.append("SIGTERM")
    # once: a second SIGTERM while pytest writes the report must not cut the writing short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated("qaaudit: SIGTERM received, the run is recorded as interrupted")


def _on_sigint(signum: int, frame: Any) -> None:
    _RECEIVED.append("SIGINT")
    signal.default_int_handler(signum, frame)


def catch_signals(config: pytest.Config) -> None:
    """Install the handlers for this session where the process uses Python's defaults."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous: dict[int, Any] = {}
    for signum, default, handler in ((getattr(signal, "SIGTERM", None), signal.SIG_DFL, _on_sigterm),
                                     (signal.SIGINT, signal.default_int_handler, _on_sigint)):
        if signum is None:
            continue
        try:
            current = signal.getsignal(signum)
            if current is not default:
                continue  # the embedding program has its own plan for this signal
            signal.signal(signum, handler)
        except (ValueError, OSError):
            continue
        previous[signum] = current
    _RECEIVED.clear()
    config.stash[_PREVIOUS] = previous


def restore_signals(config: pytest.Config) -> None:
    for signum, handler in config.stash.get(_PREVIOUS, {}).items():
        try:
            signal.signal(signum, handler)
        except (ValueError, OSError):
            pass
    config.stash[_PREVIOUS] = {}


def was_interrupted() -> str | None:
    """The first signal that interrupted this run (``"SIGINT"``/``"SIGTERM"``), or None."""
    return _RECEIVED[0] if _RECEIVED else None


def tidy_traceback(excinfo: Any) -> None:
    """Drop traceback entries without a line number (an interrupt that arrived inside a C call), which
    pytest's interrupt report cannot render: it failed with a TypeError and lost the exit status."""
    try:
        tb = excinfo.traceback
        kept = tb.filter(lambda entry: entry._rawentry.tb_lineno is not None)
        if len(kept) != len(tb):
            excinfo.traceback = kept
    except (AttributeError, TypeError, ValueError):
        pass

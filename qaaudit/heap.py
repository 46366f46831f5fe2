"""Settling the collector's heap in a long-lived audit process.

A pytest process that audits a model holds hundreds of thousands of objects that live until it exits:
pytest and its plugins, hypothesis, the audit specs, then torch, transformers and the model. Every full
collection walks all of them again; on the demo suite 9 full collections plus the exit's final ones cost
3-4 s per process (xdist workers included) on this project's 2-core machine, 0.2-0.3 s of a cached rerun.
``gc.freeze()`` moves what is alive into the permanent generation, which collections skip; objects made
later are collected as usual. Each stage freezes at most once per process, so in-process pytester runs
freeze the outer process's heap at most once per stage.
"""
from __future__ import annotations

import gc

__all__ = ["settle_heap"]

_DONE: set[str] = set()


def settle_heap(stage: str) -> bool:
    """Freeze what is alive now, once per ``stage`` ("collection", "model") and process; True if it froze."""
    if stage in _DONE:
        return False
    _DONE.add(stage)
    gc.freeze()
    return True

"""Safe, unique file names for case pages.

Case ids and pytest node ids are untrusted text (``../../x``, ``a/b:c``, Hangul,
ids that differ only in case). A page name is an ASCII slug, for people, plus a
short hash of the full node id, for uniqueness: the slug alone could collide
and the hash alone would be unreadable.
"""
from __future__ import annotations

import hashlib
import re

__all__ = ["case_filename"]

_UNSAFE = re.compile(r"[^a-z0-9]+")
_SLUG_MAX = 48


def case_filename(nodeid: str, case_id: str = "") -> str:
    """``<slug>-<hash>.html``: no separators, no dot segments, stable across runs."""
    slug = _UNSAFE.sub("-", (case_id or nodeid).lower()).strip("-")[:_SLUG_MAX].strip("-") or "case"
    # sha256 of the exact node id: case-sensitive, so "A" and "a" get different pages.
    digest = hashlib.sha256(nodeid.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{slug}-{digest}.html"

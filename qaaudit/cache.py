"""On-disk cache of predictions and explanations under ``.qaaudit_cache/``.

An entry's key is a hash of everything that can change its value: the model's
weights hash, the tokenizer's hash, the case content (question, context), the
settings, and qaaudit's version. Entries are JSON files written atomically, so
pytest-xdist workers can share one cache directory without locks.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Mapping

from qaaudit.errors import CacheError
from qaaudit.results import write_text_atomic

__all__ = ["ExplanationCache", "cache_key", "CACHE_DIRNAME"]

CACHE_DIRNAME = ".qaaudit_cache"
_LAYOUT = "v3"  # v2: adaptive Boole panels as the default rule; v3: they also stop on per-panel completeness


def cache_key(*, model: str, tokenizer: str, kind: str, question: str, context: str,
              settings: Mapping[str, Any], version: str) -> str:
    """sha256 over a canonical JSON of every part of the key."""
    payload = {"model": model, "tokenizer": tokenizer, "kind": kind, "question": question, "context": context,
               "settings": settings, "qaaudit": version}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ExplanationCache:
    """A directory of JSON entries; a disabled cache misses every lookup and stores nothing."""

    def __init__(self, root: str | os.PathLike, *, enabled: bool = True) -> None:
        self.root = Path(root)
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    @property
    def _dir(self) -> Path:
        return self.root / _LAYOUT

    def _path(self, key: str) -> Path:
        return self._dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        return self.get_any(key)

    def get_any(self, *keys: str) -> dict[str, Any] | None:
        """The first of ``keys`` that has an entry; one lookup for the hit/miss counts."""
        for key in keys:
            value = self.peek(key)
            if value is not None:
                self.hits += 1
                return value
        if self.enabled:
            self.misses += 1
        return None

    def peek(self, key: str) -> dict[str, Any] | None:
        """The entry under ``key``, not counted as a hit or miss (bookkeeping such as model identities)."""
        if not self.enabled:
            return None
        try:
            with open(self._path(key), encoding="utf-8") as fh:
                value = json.load(fh)
        except (OSError, ValueError):  # missing, or unreadable: recompute rather than fail the audit
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        try:
            write_text_atomic(self._path(key), json.dumps(value, ensure_ascii=False, allow_nan=False))
        except OSError as exc:
            raise CacheError(
                f"cannot write the qaaudit cache at {self.root}: {exc.strerror or exc}; "
                f"make the directory writable or run with --qaaudit-no-cache"
            ) from None

    def clear(self) -> int:
        """Delete every entry; returns how many there were."""
        if not self.root.exists():
            return 0
        n = sum(1 for _ in self.root.rglob("*.json"))
        shutil.rmtree(self.root, ignore_errors=True)
        return n

"""On-disk cache of predictions and explanations under ``.qaaudit_cache/``.

An entry's key is a hash of everything that can change its value: the model's
weights hash, the tokenizer's hash, the case content (question, context), the
settings, and qaaudit's version. Entries are JSON files written atomically, so
pytest-xdist workers can share one cache directory without locks.

The cache can only cost time, never a verdict: an entry that is truncated, foreign
(another key's, another layout's) or of the wrong shape is a miss, recomputed and
replaced, and a cache that cannot be written is read as far as it can be and
otherwise left alone. Both are said once per run (``notes``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from qaaudit.results import write_text_atomic

__all__ = ["ExplanationCache", "cache_key", "CACHE_DIRNAME"]

CACHE_DIRNAME = ".qaaudit_cache"
# v2: adaptive Boole panels as the default rule; v3: they also stop on per-panel completeness;
# v4: entries carry their layout and key, so a foreign or moved file is a miss
_LAYOUT = "v4"
_T = TypeVar("_T")
# what a decoder raises for a value of the wrong shape
SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


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
        self.invalid = 0           # entries read but unusable (recomputed and replaced)
        self.write_error: str | None = None   # why the cache could not be written (then it is not tried again)

    @property
    def _dir(self) -> Path:
        return self.root / _LAYOUT

    def _path(self, key: str) -> Path:
        return self._dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        return self.get_any(key)

    def get_any(self, *keys: str, decode: Callable[[dict[str, Any]], Any] | None = None) -> Any:
        """The first of ``keys`` that has a usable entry, through ``decode`` when given (an entry it rejects
        with a shape error is a miss); one lookup for the hit/miss counts."""
        for key in keys:
            value = self.peek(key)
            if value is None:
                continue
            if decode is not None:
                try:
                    value = decode(value)
                except SHAPE_ERRORS:
                    self.invalid += 1
                    continue
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
                entry = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError):  # unreadable or truncated: recompute, don't fail the audit
            self.invalid += 1
            return None
        if not (isinstance(entry, dict) and entry.get("layout") == _LAYOUT and entry.get("key") == key
                and isinstance(entry.get("value"), dict)):
            self.invalid += 1   # another layout's, another key's, or not a qaaudit entry at all
            return None
        return entry["value"]

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Store ``value``; a cache that cannot be written is noted once and then left alone."""
        if not self.enabled or self.write_error is not None:
            return
        try:
            text = json.dumps({"layout": _LAYOUT, "key": key, "value": value}, ensure_ascii=False, allow_nan=False)
            write_text_atomic(self._path(key), text)
        except OSError as exc:
            self.write_error = f"{exc.strerror or exc} ({exc.filename or self.root})"
        except ValueError:   # a value JSON cannot hold (NaN): not cached, computed again next time
            pass

    def clear(self) -> int:
        """Delete every entry; returns how many there were."""
        if not self.root.exists():
            return 0
        n = sum(1 for _ in self.root.rglob("*.json"))
        shutil.rmtree(self.root, ignore_errors=True)
        return n

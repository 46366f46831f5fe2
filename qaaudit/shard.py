"""Splitting the selected audit items over CI machines: ``--qaaudit-shard=K/N``.

Every shard computes the same assignment from the same selection (no randomness, no hash seeds), so N
machines that run ``pytest audits/ --qaaudit-shard=K/N`` for K = 1..N together run every selected item
exactly once. A case and its robustness checks stay together (the checks reuse the case's explanation);
groups are dealt out by expected cost, largest first, each to the shard with the least cost so far.
An invalid audit file's error item runs in every shard: no shard may pass over a broken file.

``qaaudit merge`` (:mod:`qaaudit.merge`) puts the shards' results.json back together.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from qaaudit.errors import InvalidArgument

if TYPE_CHECKING:
    import pytest

__all__ = ["Shard", "parse_shard", "item_cost", "assign", "selection_digest"]

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/4"`` -> Shard(2, 4); anything else is an InvalidArgument that says how to write it."""
    m = _SHARD.match(str(text))
    if not m:
        raise InvalidArgument(f"--qaaudit-shard={text!r} is not K/N; write e.g. --qaaudit-shard=2/4 for the "
                              f"second of four shards")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= k <= n:
        raise InvalidArgument(f"--qaaudit-shard={text!r}: K must be between 1 and N (1 <= K <= N, N >= 1); "
                              f"shards are numbered from 1")
    return Shard(k, n)


def item_cost(item: Any, *, explain_all: bool = True) -> float:
    """Expected cost of an audit item in units of one forward pass over a 100-character window.

    An explanation costs about 30 forward passes with their gradients (the adaptive rule's ~25 nodes);
    a robustness check predicts each of its examples (an attribution-stability check explains each).
    """
    case = getattr(item, "case", None)
    if case is None:
        return 0.1
    size = max(1.0, (len(case.question) + len(case.context)) / 100.0)
    check = getattr(item, "check", None)
    if check is not None:
        examples = check.examples or 10
        per = 30.0 if check.property == "attribution_stability" else 1.0
        return size * examples * per
    explain = explain_all or case.needs_attributions
    return size * (30.0 if explain else 1.0)


def _group(item: Any) -> str:
    """Items that should share a shard: a case and its robustness checks."""
    case = getattr(item, "case", None)
    if case is None:
        return item.nodeid
    return item.nodeid.split("::", 1)[0] + "::" + case.id


def assign(items: Sequence["pytest.Item"], count: int, *, explain_all: bool = True) -> list[int]:
    """The shard (0-based) of each item; invalid-file items get -1 (they run in every shard)."""
    groups: dict[str, list[int]] = {}
    costs: dict[str, float] = {}
    out = [0] * len(items)
    for i, item in enumerate(items):
        if type(item).__name__ == "InvalidAuditItem":
            out[i] = -1
            continue
        key = _group(item)
        groups.setdefault(key, []).append(i)
        costs[key] = costs.get(key, 0.0) + item_cost(item, explain_all=explain_all)
    load = [0.0] * count
    # largest first, ties by name: the same order on every machine
    for key in sorted(groups, key=lambda k: (-costs[k], k)):
        target = min(range(count), key=lambda s: (load[s], s))
        load[target] += costs[key]
        for i in groups[key]:
            out[i] = target
    return out


def selection_digest(nodeids: Sequence[str]) -> str:
    """sha256 of the sorted node ids of the whole selection: shards of one run agree on it."""
    h = hashlib.sha256()
    for nodeid in sorted(nodeids):
        h.update(nodeid.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def apply(config: "pytest.Config", items: list["pytest.Item"], shard: Shard) -> dict[str, Any]:
    """Keep this shard's items in ``items`` (the rest are reported as deselected); returns what the shard's
    results.json records so that ``qaaudit merge`` can check the shards belong together and none is missing."""
    audit = [item for item in items if hasattr(item, "case") or type(item).__name__ == "InvalidAuditItem"]
    explain_all = not config.getoption("qaaudit_no_report", False)
    where = dict(zip(map(id, audit), assign(audit, shard.count, explain_all=explain_all)))
    sizes = [0] * shard.count
    for item in audit:
        s = where[id(item)]
        for k in (range(shard.count) if s < 0 else (s,)):
            sizes[k] += 1
    # items that are not audit items (ordinary tests beside the audits) run in the first shard only
    keep, drop = [], []
    for item in items:
        s = where.get(id(item), 0)
        (keep if s < 0 or s == shard.index - 1 else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    return {"index": shard.index, "count": shard.count, "sizes": sizes, "selected": len(audit),
            "selection": selection_digest([item.nodeid for item in audit])}

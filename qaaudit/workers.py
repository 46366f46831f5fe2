"""xdist workers on a machine with several GPUs: one GPU per worker, and batches each worker can know.

Two things stand in the way of batching under xdist. Every worker would put its model on ``cuda:0``; and
xdist's default scheduler hands items out a few at a time as workers finish, so no worker knows in advance
which cases it will run, which is what the batched explanation pass needs. So, where batching applies
(``--qaaudit-batch=on``, or a CUDA device with ``auto``):

- with ``--qaaudit-device=cuda``, worker *i* (``gw<i>``) puts its models on ``cuda:<i mod n>`` for the *n*
  visible GPUs;
- the audit items are split into one group per worker, by the same deterministic rule on every process
  (a case with its robustness checks, balanced by count), and a scheduler sends each group whole to one
  worker; the worker then explains its own group's cases together before the first of them runs.

Nothing here imports torch: the GPU count comes from ``CUDA_VISIBLE_DEVICES`` or ``/dev/nvidia<N>``.
"""
from __future__ import annotations

import glob
import os
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    import pytest

__all__ = ["visible_gpus", "worker_index", "worker_device", "wants_groups", "group_nodeids",
           "make_scheduler", "GROUPS_KEY"]

GROUPS_KEY = "qaaudit_groups"   # workerinput: how many groups the controller's scheduler made

_WORKER = re.compile(r"^gw(\d+)$")


def visible_gpus(environ: Mapping[str, str] | None = None, devices: Sequence[str] | None = None) -> int:
    """How many CUDA devices this process may use, without importing torch."""
    env = os.environ if environ is None else environ
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [v for v in visible.split(",") if v.strip() and not v.strip().startswith("-")]
        return len(ids)
    found = glob.glob("/dev/nvidia[0-9]*") if devices is None else devices
    return len(found)


def worker_index(environ: Mapping[str, str] | None = None) -> int | None:
    """The xdist worker's number (``gw3`` -> 3), None outside a worker."""
    m = _WORKER.match((os.environ if environ is None else environ).get("PYTEST_XDIST_WORKER", ""))
    return int(m.group(1)) if m else None


def worker_device(request: str, index: int | None, gpus: int) -> str:
    """The device a worker uses: ``cuda`` becomes ``cuda:<index mod gpus>``.

    An explicit ``cuda:N`` or ``cpu`` is kept (the user chose it), and so is ``auto``: whether this torch
    build can use the GPUs that ``/dev`` shows is only known once torch is imported.
    """
    if index is None or gpus <= 0 or request != "cuda":
        return request
    return f"cuda:{index % gpus}"


def wants_groups(config: "pytest.Config", gpus: int | None = None) -> bool:
    """Whether the controller should send each worker a whole group: xdist's default ``--dist load`` with
    more than one worker, and batching on (``on``, or ``auto`` with a CUDA device)."""
    opt = config.getoption
    tx = opt("tx", None) or []
    if opt("dist", "no") != "load" or len(tx) < 2 or opt("qaaudit_predictions", None):
        return False
    batch = opt("qaaudit_batch", None) or config.getini("qaaudit_batch") or "auto"
    if batch == "off":
        return False
    if batch == "on":
        return True
    device = opt("qaaudit_device", None) or config.getini("qaaudit_device") or "auto"
    if device.startswith("cuda"):
        return True
    return device == "auto" and (visible_gpus() if gpus is None else gpus) > 0


def _case_of(nodeid: str) -> str:
    """``file::case`` of an audit item's node id (a robustness check's too)."""
    parts = nodeid.split("::")
    return "::".join(parts[:2])


def group_nodeids(nodeids: Iterable[str], count: int, is_audit: Callable[[str], bool]) -> dict[str, int]:
    """The group (0-based) of every audit node id: a case and its checks together, each case (weighted by
    its items) to the lightest group so far, largest first; the same answer in every process."""
    members: dict[str, list[str]] = {}
    for nodeid in nodeids:
        if is_audit(nodeid):
            members.setdefault(_case_of(nodeid), []).append(nodeid)
    load = [0] * max(1, count)
    out: dict[str, int] = {}
    for case in sorted(members, key=lambda c: (-len(members[c]), c)):
        g = min(range(len(load)), key=lambda s: (load[s], s))
        load[g] += len(members[case])
        for nodeid in members[case]:
            out[nodeid] = g
    return out


def audit_matcher(config: "pytest.Config") -> Callable[[str], bool]:
    """Whether a node id is an audit item's, from its file name and the ``qaaudit_patterns`` ini option."""
    import fnmatch

    patterns = list(config.getini("qaaudit_patterns"))

    def is_audit(nodeid: str) -> bool:
        path = nodeid.split("::", 1)[0]
        return "::" in nodeid and any(fnmatch.fnmatch(path.rsplit("/", 1)[-1], p) for p in patterns)

    return is_audit


def make_scheduler(config: "pytest.Config", log: Any) -> Any:
    """An xdist scheduler that sends each audit group whole to one worker (other tests by module)."""
    from xdist.scheduler.loadscope import LoadScopeScheduling

    count = len(config.getoption("tx"))
    is_audit = audit_matcher(config)

    class AuditGroupScheduling(LoadScopeScheduling):
        groups: dict[str, int] = {}

        def schedule(self) -> None:
            if self.collection is None and self.registered_collections:
                collection = next(iter(self.registered_collections.values()))
                self.groups = group_nodeids(collection, count, is_audit)
            super().schedule()

        def _split_scope(self, nodeid: str) -> str:
            g = self.groups.get(nodeid)
            return f"qaaudit-group-{g}" if g is not None else super()._split_scope(nodeid)

    return AuditGroupScheduling(config, log)

"""xdist on several GPUs: worker i on GPU i mod n, and each worker batching its own whole group of cases.

No GPU here: the device mapping is tested on its inputs (environment, GPU count), the grouping as a
property, and the batching inside workers end to end on the CPU with ``--qaaudit-batch=on``, watching
``explain_batch`` from a conftest.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from qaaudit.workers import group_nodeids, visible_gpus, wants_groups, worker_device, worker_index

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("env,devices,want", [
    ({"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, [], 4),
    ({"CUDA_VISIBLE_DEVICES": "2"}, ["/dev/nvidia0", "/dev/nvidia1"], 1),
    ({"CUDA_VISIBLE_DEVICES": ""}, ["/dev/nvidia0"], 0),
    ({"CUDA_VISIBLE_DEVICES": "-1"}, ["/dev/nvidia0"], 0),
    ({}, ["/dev/nvidia0", "/dev/nvidia1"], 2),
    ({}, [], 0),
])
def test_visible_gpus_follow_cuda_visible_devices_then_dev(env, devices, want):
    assert visible_gpus(env, devices) == want


@pytest.mark.parametrize("env,want", [({"PYTEST_XDIST_WORKER": "gw0"}, 0), ({"PYTEST_XDIST_WORKER": "gw13"}, 13),
                                      ({"PYTEST_XDIST_WORKER": "master"}, None), ({}, None)])
def test_worker_index(env, want):
    assert worker_index(env) == want


@given(st.integers(0, 63), st.integers(1, 8))
def test_worker_i_gets_gpu_i_mod_n(index, gpus):
    assert worker_device("cuda", index, gpus) == f"cuda:{index % gpus}"


@pytest.mark.parametrize("request_,index,gpus", [("cuda:1", 3, 4), ("cpu", 1, 4), ("auto", 2, 4), ("cuda", None, 4),
                                                 ("cuda", 2, 0)])
def test_a_chosen_device_or_no_worker_or_no_gpu_is_kept(request_, index, gpus):
    assert worker_device(request_, index, gpus) == request_


def test_the_session_of_a_worker_uses_its_gpu(monkeypatch, tmp_path):
    from qaaudit.session import build_session

    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    opts = {"qaaudit_device": "cuda", "qaaudit_predictions": None}
    config = SimpleNamespace(getoption=lambda name, default=None: opts.get(name, default),
                             getini=lambda name: [] if name == "qaaudit_patterns" else "",
                             rootpath=tmp_path, invocation_params=SimpleNamespace(dir=tmp_path))
    assert build_session(config).options.device == "cuda:1"


def _fake_config(**opts):
    values = {"dist": "load", "tx": ["popen"] * 4, "qaaudit_batch": None, "qaaudit_device": None,
              "qaaudit_predictions": None, **opts}
    return SimpleNamespace(getoption=lambda name, default=None: values.get(name, default), getini=lambda name: "")


@pytest.mark.parametrize("opts,gpus,want", [
    ({"qaaudit_device": "cuda"}, 0, True),
    ({}, 2, True),                              # auto with GPUs visible
    ({}, 0, False),                             # auto on a CPU: batching measured slower there
    ({"qaaudit_batch": "on"}, 0, True),
    ({"qaaudit_device": "cuda", "qaaudit_batch": "off"}, 2, False),
    ({"qaaudit_device": "cuda", "dist": "loadfile"}, 2, False),   # the user chose another scheduler
    ({"qaaudit_device": "cuda", "tx": ["popen"]}, 2, False),      # one worker: nothing to split
    ({"qaaudit_device": "cuda", "qaaudit_predictions": "p.json"}, 2, False),
])
def test_whole_groups_only_where_batching_applies(opts, gpus, want):
    assert wants_groups(_fake_config(**opts), gpus=gpus) is want


nodeid_lists = st.lists(st.tuples(st.sampled_from(["a.audit.yaml", "b.audit.yaml", "test_x.py"]),
                                  st.text("abcxyz", min_size=1, max_size=3), st.integers(0, 3)),
                        max_size=50, unique=True)


@settings(max_examples=200, deadline=None)
@given(nodeid_lists, st.integers(1, 6))
def test_groups_keep_a_case_with_its_checks_and_are_balanced(specs, count):
    ids = [f"{f}::{c}" + (f"::robust[{r}]" if r else "") for f, c, r in specs]
    is_audit = lambda nodeid: nodeid.split("::")[0].endswith(".audit.yaml")  # noqa: E731
    where = group_nodeids(ids, count, is_audit)
    assert where == group_nodeids(list(reversed(ids)), count, is_audit)   # order of collection does not matter
    assert set(where) == {i for i in ids if is_audit(i)}
    assert all(0 <= g < count for g in where.values())
    by_case: dict[str, set[int]] = {}
    for nodeid, g in where.items():
        by_case.setdefault("::".join(nodeid.split("::")[:2]), set()).add(g)
    assert all(len(v) == 1 for v in by_case.values())
    if where:
        sizes = [list(where.values()).count(g) for g in range(count)]
        biggest = max(sum(1 for i in where if i.startswith(c + "::") or i == c) for c in by_case)
        assert max(sizes) - min(sizes) <= biggest


WATCH_CONFTEST = """
import json, os
import qaaudit.explainer as explainer

_real = explainer.explain_batch

def _watched(qa, pairs, **kw):
    with open(os.environ["QA_WATCH"], "a") as f:
        f.write(json.dumps({"worker": os.environ.get("PYTEST_XDIST_WORKER", "-"),
                            "questions": [q for q, _ in pairs]}) + "\\n")
    return _real(qa, pairs, **kw)

explainer.explain_batch = _watched
"""


@pytest.mark.usefixtures("preloaded_qaaudit")
def test_each_worker_batches_its_own_group_and_answers_do_not_change(pytester, tiny_checkpoint, monkeypatch):
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)
    ckpt = tiny_checkpoint("bert")
    cases = "".join(f"""
  - id: c{i}
    question: Where was person {i} born?
    context: Person {i} was born in {'Auckland' if i % 2 else 'Seoul'}.
    answer: {'Auckland' if i % 2 else 'Seoul'}
    expect:
      prediction: {{f1: 0.0}}
""" for i in range(6))
    pytester.makefile(".audit.yaml", people=f"model: {ckpt}\ncases:{cases}")
    watch = pytester.path / "watch.jsonl"
    monkeypatch.setenv("QA_WATCH", str(watch))
    pytester.makeconftest(WATCH_CONFTEST)
    base = ["-p", "no:cacheprovider", "--qaaudit-no-cache"]
    alone = pytester.runpytest_subprocess(*base, "--qaaudit-batch=off", "--qaaudit-report=alone", timeout=240)
    assert alone.ret == 0 and not watch.exists()
    r = pytester.runpytest_subprocess(*base, "-n", "2", "--qaaudit-batch=on", "--qaaudit-report=workers",
                                      timeout=240)
    assert r.ret == 0, r.stdout.str()
    calls = [json.loads(line) for line in watch.read_text().splitlines()]
    by_worker: dict[str, list[str]] = {}
    for call in calls:
        by_worker.setdefault(call["worker"], []).extend(call["questions"])
    assert sorted(by_worker) == ["gw0", "gw1"]                       # both workers batched ...
    assert len(calls) == 2                                           # ... once each, their whole group
    asked = [q for qs in by_worker.values() for q in qs]
    assert sorted(asked) == sorted(f"Where was person {i} born?" for i in range(6))   # each case once

    def answers(folder: str) -> dict:
        data = json.loads((pytester.path / folder / "results.json").read_text("utf-8"))
        return {c["case_id"]: (c["outcome"], c["prediction"]["text"], round(c["prediction"]["score"], 4))
                for c in data["cases"]}

    assert answers("workers") == answers("alone")

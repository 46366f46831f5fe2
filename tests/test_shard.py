"""Shards: --qaaudit-shard=K/N splits a selection, qaaudit merge puts it back together.

The property that matters: N shards merged give the same results, case by case, as one unsharded run, and
anything short of every shard (a missing one, an interrupted one, one of another model) never passes.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from qaaudit.cli import main as qaaudit_main
from qaaudit.errors import InvalidArgument
from qaaudit.shard import assign, parse_shard, selection_digest

pytest_plugins = ["pytester"]


# ------------------------------------------------------------------------------------------------ units

@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "1/0", "a/b", "-1/2", "1/2/3", ""])
def test_a_bad_shard_spec_says_how_to_write_it(text):
    with pytest.raises(InvalidArgument, match="K/N|between 1 and N"):
        parse_shard(text)


@pytest.mark.parametrize("text,k,n", [("1/1", 1, 1), ("2/4", 2, 4), (" 3 / 3 ", 3, 3)])
def test_a_shard_spec_parses(text, k, n):
    s = parse_shard(text)
    assert (s.index, s.count) == (k, n) and str(s) == f"{k}/{n}"


def _fake_items(specs):
    """Items that look like audit items to the splitter: (file, case id, question length, robustness?)."""
    out = []
    for path, case_id, size, robust in specs:
        case = SimpleNamespace(id=case_id, question="q" * size, context="c" * size, needs_attributions=True)
        nodeid = f"{path}::{case_id}" + ("::robust[typos]" if robust else "")
        check = SimpleNamespace(examples=5, property="answer_invariance") if robust else None
        out.append(SimpleNamespace(nodeid=nodeid, case=case, check=check))
    return out


item_specs = st.lists(st.tuples(st.sampled_from(["a.audit.yaml", "b.audit.yaml"]),
                                st.text("abcdef", min_size=1, max_size=4), st.integers(1, 900), st.booleans()),
                      min_size=1, max_size=60, unique_by=lambda t: (t[0], t[1], t[3]))


@settings(max_examples=200, deadline=None)
@given(item_specs, st.integers(1, 7))
def test_every_item_is_in_exactly_one_shard_with_its_case_and_the_split_is_balanced(specs, count):
    items = _fake_items(specs)
    where = assign(items, count)
    assert where == assign(list(items), count)          # the same on every machine
    assert all(0 <= s < count for s in where)
    by_case: dict[str, set[int]] = {}
    for item, s in zip(items, where):
        by_case.setdefault(item.nodeid.split("::")[0] + "::" + item.case.id, set()).add(s)
    assert all(len(v) == 1 for v in by_case.values())    # a case's robustness checks go with it
    # LPT bound: no shard carries more than the mean load plus the largest single group
    from qaaudit.shard import item_cost
    group_cost: dict[str, float] = {}
    for item in items:
        key = item.nodeid.split("::")[0] + "::" + item.case.id
        group_cost[key] = group_cost.get(key, 0.0) + item_cost(item)
    load = [0.0] * count
    for item, s in zip(items, where):
        load[s] += item_cost(item)
    assert max(load) <= sum(load) / count + max(group_cost.values()) + 1e-9


def test_the_selection_digest_ignores_order_but_not_content():
    ids = ["a::x", "a::y", "b::z"]
    assert selection_digest(ids) == selection_digest(list(reversed(ids)))
    assert selection_digest(ids) != selection_digest(ids[:2])


# ------------------------------------------------------------------------------------------------ runs

@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint) -> Path:
    return tiny_checkpoint("bert")


def _audit(model: Path, n: int = 7, robust: bool = True) -> str:
    cases = "".join(f"""
  - id: c{i}
    question: Where was person {i} born?
    context: Person {i} was born in {'Auckland' if i % 2 else 'Seoul'} and moved to Busan in 19{50 + i}.
    answer: {'Auckland' if i % 2 else 'Seoul'}
    tags: [{'odd' if i % 2 else 'even'}]
    expect:
      prediction: {{f1: 0.0}}
""" for i in range(n))
    rob = """
    robustness:
      - {property: invariance, perturbation: whitespace, examples: 3, f1: 0.0}
""" if robust else ""
    return f"model: {model}\ncases:{cases.rstrip()}{rob}\n"


def _run(pytester, *args, subprocess: bool = False):
    args = ["-p", "no:cacheprovider", "--qaaudit-no-cache", *args]
    return pytester.runpytest_subprocess(*args, timeout=240) if subprocess else pytester.runpytest(*args)


def _results(path: Path) -> dict:
    return json.loads((path / "results.json").read_text(encoding="utf-8"))


def _by_node(data: dict) -> dict[str, tuple]:
    out = {}
    for c in data["cases"]:
        pred = c.get("prediction") or {}
        out[c["nodeid"]] = (c["outcome"], pred.get("text"), c.get("scores", {}).get("f1"),
                            round(pred.get("score") or 0.0, 5))
    return out


def _merge(capsys, *paths: Path, out: Path, extra: tuple[str, ...] = ()) -> tuple[int, str]:
    capsys.readouterr()
    code = qaaudit_main(["merge", *map(str, paths), "--out", str(out), *extra])
    cap = capsys.readouterr()
    return code, cap.out + cap.err


@pytest.mark.usefixtures("preloaded_qaaudit")
def test_shards_merged_equal_the_unsharded_run_case_by_case(pytester, ckpt, capsys):
    pytester.makefile(".audit.yaml", people=_audit(ckpt), more=_audit(ckpt, n=4, robust=False))
    whole = _run(pytester, "--qaaudit-report=whole")
    assert whole.ret == 0
    shards = []
    for k in (1, 2, 3):
        r = _run(pytester, f"--qaaudit-shard={k}/3", f"--qaaudit-report=s{k}")
        assert r.ret == 0, r.stdout.str()
        shards.append(pytester.path / f"s{k}")
    datas = [_results(s) for s in shards]
    sizes = [len(d["cases"]) for d in datas]
    assert all(sizes) and sum(sizes) == len(_results(pytester.path / "whole")["cases"])
    assert [d["shard"]["index"] for d in datas] == [1, 2, 3] and {d["shard"]["count"] for d in datas} == {3}
    # a case and its robustness check always share a shard
    for d in datas:
        ids = {c["nodeid"] for c in d["cases"]}
        for nid in ids:
            if "::robust[" in nid:
                assert nid.split("::robust[")[0] in ids
    code, text = _merge(capsys, *shards, out=pytester.path / "merged")
    assert code == 0, text
    merged = _results(pytester.path / "merged")
    assert merged["status"] == "complete"
    assert _by_node(merged) == _by_node(_results(pytester.path / "whole"))
    assert merged["totals"] == _results(pytester.path / "whole")["totals"]
    assert (pytester.path / "merged" / "index.html").is_file()


@pytest.mark.usefixtures("preloaded_qaaudit")
def test_a_missing_or_repeated_shard_never_passes_the_merged_gate(pytester, ckpt, capsys):
    pytester.makefile(".audit.yaml", people=_audit(ckpt, n=6, robust=False))
    for k in (1, 2, 3):
        assert _run(pytester, f"--qaaudit-shard={k}/3", f"--qaaudit-report=s{k}").ret == 0
    code, text = _merge(capsys, pytester.path / "s1", pytester.path / "s3", out=pytester.path / "merged")
    assert code != 0
    assert "2/3" in text and "missing" in text
    merged = _results(pytester.path / "merged")
    assert merged["status"] == "incomplete" and merged["gate"]["passed"] is False
    assert qaaudit_main(["gate", str(pytester.path / "merged" / "results.json"),
                         "--rootdir", str(pytester.path)]) != 0
    # the same shard twice is refused, not counted twice
    code, text = _merge(capsys, pytester.path / "s1", pytester.path / "s1", pytester.path / "s2",
                        out=pytester.path / "m2")
    assert code != 0 and "twice" in text
    # a single run's results.json is not a shard
    assert _run(pytester, "--qaaudit-report=single").ret == 0
    code, text = _merge(capsys, pytester.path / "single", out=pytester.path / "m3")
    assert code != 0 and "--qaaudit-shard" in text


@pytest.mark.usefixtures("preloaded_qaaudit")
def test_shards_of_different_models_or_selections_are_refused(pytester, ckpt, tiny_checkpoint, capsys):
    other = tiny_checkpoint("bert", seed=3)
    pytester.makefile(".audit.yaml", people=_audit(ckpt, n=4, robust=False))
    assert _run(pytester, "--qaaudit-shard=1/2", "--qaaudit-report=s1").ret == 0
    assert _run(pytester, "--qaaudit-shard=2/2", "--qaaudit-report=s2", f"--qaaudit-model={other}").ret == 0
    code, text = _merge(capsys, pytester.path / "s1", pytester.path / "s2", out=pytester.path / "m")
    assert code != 0 and "same model" in text
    assert not (pytester.path / "m" / "results.json").exists()
    assert _run(pytester, "--qaaudit-shard=2/2", "--qaaudit-report=s2k", "-k", "c1 or c2").ret == 0
    code, text = _merge(capsys, pytester.path / "s1", pytester.path / "s2k", out=pytester.path / "m")
    assert code != 0 and "different selections" in text


@pytest.mark.usefixtures("preloaded_qaaudit")
def test_a_broken_file_fails_every_shard(pytester, ckpt):
    pytester.makefile(".audit.yaml", people=_audit(ckpt, n=4, robust=False),
                      broken="cases:\n  - id: x\n    question: [unclosed\n")
    for k in (1, 2):
        r = _run(pytester, f"--qaaudit-shard={k}/2", f"--qaaudit-report=s{k}")
        assert r.ret != 0
        r.stdout.fnmatch_lines(["*broken.audit.yaml:*"])


def test_a_bad_shard_option_is_a_usage_error(pytester):
    r = pytester.runpytest("--qaaudit-shard=5/3")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*--qaaudit-shard*between 1 and N*"])


@pytest.mark.usefixtures("preloaded_qaaudit")
def test_xdist_workers_within_shards_merge_to_the_unsharded_run(pytester, ckpt, capsys, monkeypatch):
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)
    pytester.makefile(".audit.yaml", people=_audit(ckpt, n=6))
    assert _run(pytester, "--qaaudit-report=whole").ret == 0
    for k in (1, 2):
        r = _run(pytester, "-n", "2", f"--qaaudit-shard={k}/2", f"--qaaudit-report=s{k}", subprocess=True)
        assert r.ret == 0, r.stdout.str()
        assert _results(pytester.path / f"s{k}")["shard"]["index"] == k
    code, text = _merge(capsys, pytester.path / "s1", pytester.path / "s2", out=pytester.path / "merged")
    assert code == 0, text
    assert _by_node(_results(pytester.path / "merged")) == _by_node(_results(pytester.path / "whole"))

"""The terminal past a few dozen failures: a line per failing audit item instead of a block each."""
from __future__ import annotations

import json

import pytest

from qaaudit.compact import COMPACT_AFTER, compact_line, worst_verdict

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.usefixtures("preloaded_qaaudit")


def _write(pytester, n: int, with_python_test: bool = False) -> None:
    cases = "".join(f"""
  - id: c{i}
    question: Where was person {i} born?
    context: Person {i} was born in Auckland and moved to Seoul.
    answer: Auckland
    tags: [{'odd' if i % 2 else 'even'}]
""" for i in range(n))
    pytester.makefile(".audit.yaml", people="defaults:\n  expect:\n    prediction: {exact_match: true}\ncases:" + cases)
    # every prediction wrong but one, so every case but c0 fails exact match
    preds = {f"c{i}": ("Auckland" if i == 0 else "Seoul") for i in range(n)}
    pytester.path.joinpath("preds.json").write_text(json.dumps(preds), encoding="utf-8")
    if with_python_test:
        pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 3, 'plain failure kept'\n")


def _blocks(out: str) -> int:
    # the blocks come before the short summary, which repeats every message in full when CI is set
    blocks = out.split("short test summary info")[0]
    return sum(ln.startswith("1 expectation(s) failed for case") for ln in blocks.splitlines())


def _run(pytester, *args):
    return pytester.runpytest("-p", "no:cacheprovider", "--qaaudit-predictions=preds.json", *args)


def test_past_the_limit_each_failing_item_is_one_line(pytester):
    n = COMPACT_AFTER + 12
    _write(pytester, n, with_python_test=True)
    r = _run(pytester)
    out = r.stdout.str()
    assert r.ret == 1
    lines = [ln for ln in out.splitlines() if ln.startswith("FAILED people.audit.yaml::")]
    assert len(lines) == n - 1                                       # one per failing case, no more
    assert all("prediction.exact_match" in ln and "(line " in ln and "predicted 'Seoul'" in ln for ln in lines)
    assert f"_ people.audit.yaml" not in out and "case 'c3'" not in out   # no per-case blocks
    assert "plain failure kept" in out and "def test_plain" in out        # other tests keep their traceback
    r.stdout.fnmatch_lines([f"*{n - 1} failed audit items, one line each*", "*tag odd:*",
                            f"*{n - 1 + 1} failed, 1 passed*"])


@pytest.mark.parametrize("args", [("-v",), ("--tb=short",), ("--tb=long",)])
def test_verbose_or_an_explicit_tb_keeps_every_block(pytester, args):
    n = COMPACT_AFTER + 3
    _write(pytester, n)
    out = _run(pytester, *args).stdout.str()
    assert "one line each" not in out
    assert _blocks(out) == n - 1


def test_a_few_failures_keep_their_blocks(pytester):
    _write(pytester, 5)
    out = _run(pytester).stdout.str()
    assert "one line each" not in out and _blocks(out) == 4


def test_the_worst_check_is_the_one_that_missed_most():
    verdicts = [{"expectation": "prediction", "check": "f1", "passed": False, "measured": 0.45, "threshold": 0.5},
                {"expectation": "focus", "check": "share", "passed": False, "measured": 0.01, "threshold": 0.3, "op": ">="},
                {"expectation": "completeness", "check": "abs_delta", "passed": True, "measured": 0.01,
                 "threshold": 0.05}]
    assert worst_verdict(verdicts)["check"] == "share"
    assert worst_verdict(verdicts[2:]) is None
    line = compact_line({"nodeid": "a.audit.yaml::x", "line": 7, "kind": "case", "gold": ["Seoul"],
                         "candidate": {"verdicts": verdicts, "prediction": {"text": ""}}})
    assert line == "a.audit.yaml::x (line 7): focus.share 0.01 >= 0.3 (+1 more); predicted (no answer), gold 'Seoul'"

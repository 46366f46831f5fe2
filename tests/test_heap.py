"""The collector's heap is settled (gc.freeze) once per stage of an audit process, and never elsewhere."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from test_plugin import good_yaml

pytest_plugins = ["pytester"]

REPORT_FREEZE = "import gc\ndef pytest_sessionfinish(session):\n    print('FROZEN', gc.get_freeze_count())\n"


def test_first_model_load_freezes_the_heap_once(tiny_checkpoint):
    # In a fresh interpreter: freezing is process-wide, and this test process must stay as it is.
    script = textwrap.dedent(f"""
        import gc
        from qaaudit.modelref import ModelRef
        before = gc.get_freeze_count()
        ModelRef("a", {str(tiny_checkpoint("bert"))!r}, device="cpu").load()
        first = gc.get_freeze_count()
        junk = [[i] for i in range(50000)]  # new tracked objects: a second freeze would take them too
        ModelRef("b", {str(tiny_checkpoint("electra"))!r}, device="cpu").load()
        print(before, first, gc.get_freeze_count())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    before, first, second = map(int, out.stdout.split())
    assert before == 0
    assert first > 100000  # torch, transformers and the model: hundreds of thousands of objects
    assert second - first < 1000  # not refrozen: the 50000 new lists would be counted (a few objects drift)


def _frozen(result) -> int:
    found = re.search(r"FROZEN (\d+)", result.stdout.str())
    assert found, result.stdout.str()
    return int(found.group(1))


def test_collecting_audit_items_freezes_the_heap(pytester):
    pytester.makeconftest(REPORT_FREEZE)
    pytester.makefile(".audit.yaml", **{"audits/one": good_yaml(None)})  # collected, never run: no model
    result = pytester.runpytest_subprocess("audits", "--collect-only", "-q", "-s", "-p", "no:cacheprovider")
    assert result.ret == 0
    assert _frozen(result) > 10000  # pytest, its plugins and the specs


def test_a_test_suite_without_audit_files_is_left_alone(pytester):
    pytester.makeconftest(REPORT_FREEZE)
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess("-q", "-s", "-p", "no:cacheprovider")
    assert result.ret == 0
    assert _frozen(result) == 0

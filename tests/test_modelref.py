"""ModelRef: the loaded model settles the collector's heap once per process."""
from __future__ import annotations

import subprocess
import sys
import textwrap


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

"""Progress on long work: the batched explanation pass says how many cases are left and about how long."""
from __future__ import annotations

import pytest

from qaaudit.progress import Progress

pytest_plugins = ["pytester"]


def test_progress_lines_are_spaced_and_end_with_the_time_taken():
    now, lines = [0.0], []
    p = Progress(lines.append, start="start {total}", step="{done}/{total} {pct}%{tail}", min_total=5, every=2.0,
                 clock=lambda: now[0])
    for done in range(0, 11):
        now[0] = done * 0.5
        p(done, 10)
    assert lines[0] == "start 10"
    assert lines[1] == "4/10 40%, about 3 s left"          # 2 s after the start, 4 done at 2 per second
    assert lines[-1] == "10/10 100% in 5.0 s"
    assert len(lines) == 4                                 # start, 4, 8, 10
    quiet: list[str] = []
    small = Progress(quiet.append, start="s", step="x", min_total=5)
    for done in range(4):
        small(done, 4)
    assert quiet == []


@pytest.mark.usefixtures("preloaded_qaaudit")
def test_the_batched_pass_reports_its_progress(pytester, tiny_checkpoint, monkeypatch):
    import qaaudit.plugin
    import qaaudit.session

    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):   # this test may itself run in a worker
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(qaaudit.plugin, "PROGRESS_MIN", 1)
    monkeypatch.setattr(qaaudit.session, "PREFETCH_CHUNK", 2)
    ckpt = tiny_checkpoint("bert")
    cases = "".join(f"""
  - id: c{i}
    question: Where was person {i} born?
    context: Person {i} was born in Auckland.
    answer: Auckland
    expect:
      prediction: {{f1: 0.0}}
""" for i in range(5))
    pytester.makefile(".audit.yaml", people=f"model: {ckpt}\ncases:{cases}")
    r = pytester.runpytest("-p", "no:cacheprovider", "--qaaudit-no-cache", "--qaaudit-batch=on")
    assert r.ret == 0
    r.stdout.fnmatch_lines(["*qaaudit: explaining 5 cases in batches before the first of them runs*",
                            "*qaaudit: explained 5 of 5 cases (100%) in * s*"])
    off = pytester.runpytest("-p", "no:cacheprovider", "--qaaudit-no-cache", "--qaaudit-batch=off")
    assert "explaining" not in off.stdout.str()

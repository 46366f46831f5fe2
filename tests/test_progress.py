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


# in a subprocess: a progress line written inside the first item must get past pytest's output capture,
# which an in-process pytester run does not reproduce
def _small_limits(pytester, values: dict) -> None:
    """A conftest that sets ``module.attribute = value`` for each ((module, attribute), value) in the child."""
    pytester.makeconftest("import importlib\n" + "".join(
        f"importlib.import_module({module!r}).{name} = {value!r}\n" for (module, name), value in values.items()))


def _cases(n: int) -> str:
    return "".join(f"""
  - id: c{i}
    question: Where was person {i} born?
    context: Person {i} was born in Auckland.
    answer: Auckland
""" for i in range(n))


def test_the_batched_pass_reports_its_progress(pytester, tiny_checkpoint, monkeypatch):
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):   # this test may itself run in a worker
        monkeypatch.delenv(name, raising=False)
    _small_limits(pytester, {("qaaudit.plugin", "PROGRESS_MIN"): 1, ("qaaudit.session", "PREFETCH_CHUNK"): 2})
    # with a report every case is explained (its page shows the attributions): all five in the batched pass
    pytester.makefile(".audit.yaml", people=f"model: {tiny_checkpoint('bert')}\ndefaults:\n  expect:\n"
                                            f"    prediction: {{f1: 0.0}}\ncases:{_cases(5)}")
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--qaaudit-no-cache", "--qaaudit-batch=on")
    assert r.ret == 0
    r.stdout.fnmatch_lines(["*qaaudit: explaining 5 cases in batches before the first of them runs*",
                            "*qaaudit: explained 5 of 5 cases (100%) in * s*"])
    off = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--qaaudit-no-cache", "--qaaudit-batch=off")
    assert off.ret == 0 and "explaining" not in off.stdout.str()


def test_the_batched_predictions_report_their_progress(pytester, tiny_checkpoint, monkeypatch):
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)
    _small_limits(pytester, {("qaaudit.plugin", "PREDICT_PROGRESS_MIN"): 5,
                              ("qaaudit.session", "AuditSession._PREDICT_CHUNK"): 2})
    audit = f"model: {tiny_checkpoint('bert')}\ndefaults:\n  expect:\n    prediction: {{f1: 0.0}}\ncases:"
    pytester.makefile(".audit.yaml", people=audit + _cases(5))
    # without a report no case needs attributions: they are predicted together
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--qaaudit-no-cache", "--qaaudit-no-report")
    assert r.ret == 0
    r.stdout.fnmatch_lines(["*qaaudit: predicting 5 cases in batches before the first of them runs*",
                            "*qaaudit: predicted 5 of 5 cases (100%) in * s*"])
    assert "explaining" not in r.stdout.str()
    pytester.makefile(".audit.yaml", people=audit + _cases(4))
    few = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--qaaudit-no-cache", "--qaaudit-no-report")
    assert few.ret == 0 and "predicting" not in few.stdout.str()


def test_building_a_large_dataset_says_how_far_it_got(pytester):
    import shutil
    from pathlib import Path

    _small_limits(pytester, {("qaaudit.datasets", "PROGRESS_MIN"): 3})
    data = Path(__file__).parent / "data" / "squad"
    shutil.copy(data / "squad_v11_small.json", pytester.path / "dev.json")
    shutil.copy(data / "korquad_v1_small.json", pytester.path / "ko.json")
    pytester.makefile(".audit.yaml", dev="datasets:\n  - path: dev.json\n  - path: ko.json\n    limit: 2\n")
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    assert r.ret == 0
    r.stdout.fnmatch_lines(["qaaudit: dev.json: building * cases from the dataset",
                            "qaaudit: dev.json: built * of * cases (100%) in * s"])
    assert r.stdout.str().count("building") == 1     # the entry of 2 questions is below the limit
    quiet = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-qq")
    assert quiet.ret == 0 and "building" not in quiet.stdout.str()

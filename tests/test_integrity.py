"""The gate cannot be fooled: interruptions, selections, faults and broken models never read as a pass.

Driven from the outside: pytester runs (in subprocesses where a signal or xdist is involved), then the
results.json they leave and ``qaaudit gate`` on it.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from qaaudit.cli import main as qaaudit_main
from test_plugin import good_yaml

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.usefixtures("preloaded_qaaudit")


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint) -> Path:
    return tiny_checkpoint("bert")


def many_cases(model: Path, n: int = 8) -> str:
    cases = "".join(f"""
  - id: c{i}
    question: Where was person {i} born?
    context: Person {i} was born in Auckland and moved to Seoul.
    answer: Auckland
    expect:
      prediction: {{f1: 0.0}}
""" for i in range(n))
    return f"model: {model}\ncases:{cases}"


# A conftest that sends the signal itself, from inside the third case: deterministic, mid-run.
SIGNAL_CONFTEST = """
import os, signal
def pytest_runtest_call(item):
    if item.name == "c2":
        parent = os.environ.get("QA_SIGNAL_PARENT") == "1"   # xdist: the controller is the worker's parent
        os.kill(os.getppid() if parent else os.getpid(), signal.{sig})
        if parent:
            import time; time.sleep(5)
"""


def _results(path: Path) -> dict:
    return json.loads((path / "reports" / "results.json").read_text(encoding="utf-8"))


def _gate(path: Path, capsys) -> int:
    capsys.readouterr()
    return qaaudit_main(["gate", str(path / "reports" / "results.json"), "--rootdir", str(path)])


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("workers", [0, 2])
def test_an_interrupted_run_says_so_and_never_passes_the_gate(pytester, ckpt, capsys, monkeypatch, sig, workers):
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):   # this test may itself run in a worker
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QA_SIGNAL_PARENT", "1" if workers else "0")
    pytester.makefile(".audit.yaml", many=many_cases(ckpt))
    first = pytester.runpytest_subprocess("-p", "no:cacheprovider")   # a complete report to be replaced
    assert first.ret == 0 and _results(pytester.path)["status"] == "complete"
    pytester.makeconftest(SIGNAL_CONFTEST.format(sig=sig))
    args = ["-p", "no:cacheprovider", "--qaaudit-no-cache"] + (["-n", str(workers)] if workers else [])
    result = pytester.runpytest_subprocess(*args, timeout=120)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    data = _results(pytester.path)
    assert data["status"] == "interrupted" and sig in data["status_detail"]
    outcomes = {c["case_id"]: c["outcome"] for c in data["cases"]}
    assert sorted(outcomes) == [f"c{i}" for i in range(8)]           # every selected case is accounted for
    assert outcomes["c2"] == "not_run" and data["totals"]["not_run"] >= 1
    assert data["totals"]["passed"] + data["totals"]["not_run"] == 8
    assert data["gate"]["passed"] is False
    assert "This run did not finish: interrupted" in (pytester.path / "reports" / "index.html").read_text("utf-8")
    result.stdout.fnmatch_lines(["*qaaudit gate: FAILED*", "*did not finish*"])
    assert _gate(pytester.path, capsys) == 1
    assert "run_complete" in capsys.readouterr().out


KILL_CONFTEST = """
import os
def pytest_runtest_call(item):
    if item.name == "c2":
        os._exit(9)   # as SIGKILL or the out-of-memory killer: no handler, no finally, nothing written at the end
"""


@pytest.mark.parametrize("workers", [0, 2])
def test_a_killed_run_never_leaves_the_previous_report_standing_for_it(pytester, ckpt, capsys, monkeypatch,
                                                                       workers):
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)
    pytester.makefile(".audit.yaml", many=many_cases(ckpt, 5))
    first = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert first.ret == 0 and _results(pytester.path)["status"] == "complete"
    pytester.makeconftest(KILL_CONFTEST)
    args = ["-p", "no:cacheprovider", "--qaaudit-no-cache"] + (["-n", str(workers)] if workers else [])
    killed = pytester.runpytest_subprocess(*args, timeout=120)
    assert killed.ret != 0
    data = _results(pytester.path)
    if workers:   # xdist replaces the lost worker and the controller writes the report at the end
        assert data["status"] == "incomplete" and data["totals"]["not_run"] >= 1
    else:         # the process died: what it left says it did not finish, and lists every item as not run
        assert data["status"] == "incomplete" and "has not finished" in data["status_detail"]
        assert data["totals"]["not_run"] == 5 and data["totals"]["passed"] == 0
        assert "This run did not finish" in (pytester.path / "reports" / "index.html").read_text("utf-8")
    assert _gate(pytester.path, capsys) == 1


def test_a_folder_that_is_not_a_report_is_never_marked(tmp_path):
    from qaaudit.report.unfinished import mark_unfinished
    from qaaudit.results import RunResult

    (tmp_path / "results.json").write_text("mine")
    run = RunResult(cases=(), status="incomplete", status_detail="x")
    assert mark_unfinished(run, tmp_path) is False and (tmp_path / "results.json").read_text() == "mine"
    assert mark_unfinished(run, tmp_path / "absent") is False and not (tmp_path / "absent").exists()


def test_stopping_early_is_incomplete_even_when_the_pass_rate_would_pass(pytester, ckpt, capsys):
    audit = many_cases(ckpt, 4).replace("prediction: {f1: 0.0}", "prediction: {min_confidence: 0.9999}", 1)  # c0 fails
    pytester.makefile(".audit.yaml", many=audit)
    pytester.makefile(".toml", qaaudit="[gate]\nmin_pass_rate = 0.0\n")
    result = pytester.runpytest("-x", "-p", "no:cacheprovider")
    assert result.ret == 1
    data = _results(pytester.path)
    assert data["status"] == "incomplete" and data["totals"]["not_run"] == 3
    assert data["gate"]["passed"] is False
    assert _gate(pytester.path, capsys) == 1


def test_collect_only_writes_nothing(pytester, ckpt):
    pytester.makefile(".audit.yaml", many=many_cases(ckpt, 2))
    result = pytester.runpytest("--collect-only", "-p", "no:cacheprovider")
    assert result.ret == 0 and not (pytester.path / "reports").exists()


@pytest.mark.parametrize("args", [["-k", "c1"], ["-m", "nosuchtag"], ["--deselect", "bad.audit.yaml"],
                                  ["-k", "c1", "-n", "2"]])
@pytest.mark.parametrize("bad", ["cases:\n  - id: x\n    question: [\n",
                                 "model: ./no/such/model\ncases:\n  - id: x\n    question: q\n    context: c\n"
                                 "    answer: c\n"])
def test_selection_never_hides_a_broken_file(pytester, ckpt, args, bad):
    pytester.makefile(".audit.yaml", good=many_cases(ckpt, 3), bad=bad)
    run = pytester.runpytest_subprocess if "-n" in args else pytester.runpytest
    result = run(*args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*invalid audit file: bad.audit.yaml:*"])
    assert "deselected" not in result.stdout.lines[-1] or "error" in result.stdout.lines[-1]
    assert "1 error" in result.stdout.lines[-1]


@pytest.mark.parametrize("args", [["--lf"], ["--ff"], ["--lf", "-n", "2"], ["--sw"]])
def test_a_file_broken_since_the_last_run_is_not_hidden_by_lf(pytester, ckpt, args):
    """--lf collects only the files with recorded failures and keeps only those failures: a file that broke
    since (or one that passed and broke) must still fail the run."""
    # c0 fails: a random tiny model is never that sure
    failing = many_cases(ckpt, 2).replace("prediction: {f1: 0.0}", "prediction: {min_confidence: 0.9999}", 1)
    pytester.makefile(".audit.yaml", failing=failing, passing=many_cases(ckpt, 2),
                      later=many_cases(ckpt, 2).replace("c0", "d0").replace("c1", "d1"))
    assert pytester.runpytest_subprocess().ret == pytest.ExitCode.TESTS_FAILED   # records c0 as failed
    pytester.path.joinpath("passing.audit.yaml").write_text("cases:\n  - id: x\n    question: [\n")
    pytester.path.joinpath("failing.audit.yaml").write_text(failing + "  - {id: y, question: 1}\n")
    result = pytester.runpytest_subprocess(*args, timeout=120)
    if "--sw" in args:   # stepwise stops at the first failure, which is a broken file's
        assert result.ret == pytest.ExitCode.INTERRUPTED
        assert "1 error" in result.stdout.lines[-1] and "invalid audit file" in result.stdout.str()
        return
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*invalid audit file: passing.audit.yaml:*"])
    result.stdout.fnmatch_lines(["*invalid audit file: failing.audit.yaml:*"])
    assert "2 error" in result.stdout.lines[-1]


@pytest.mark.parametrize("breakage", ["truncated", "config", "missing-option"])
@pytest.mark.parametrize("workers", [0, 2])
def test_a_model_that_does_not_load_is_one_usage_error(pytester, ckpt, breakage, workers):
    model = pytester.path / "model"
    shutil.copytree(ckpt, model)
    args = ["-p", "no:cacheprovider"] + (["-n", str(workers)] if workers else [])
    if breakage == "truncated":
        weights = next(model.glob("*.safetensors"))
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif breakage == "config":
        (model / "config.json").write_text('{"model_type": "bert", ')
    else:
        args.append(f"--qaaudit-model={pytester.path / 'no' / 'such' / 'model'}")
    pytester.makefile(".audit.yaml", many=many_cases(model, 6))
    result = pytester.runpytest_subprocess(*args, timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert out.count("qaaudit: could not") + out.count("qaaudit: model path") in (1, 2)   # once (xdist: once more
    assert "Traceback" not in out                                                      # in the short summary)
    assert " passed" not in result.stdout.lines[-1]
    data = _results(pytester.path)
    assert data["status"] == "aborted" and data["gate"]["passed"] is False


def test_an_unwritable_report_directory_fails_the_run_and_says_which_file(pytester, ckpt):
    pytester.makefile(".audit.yaml", many=many_cases(ckpt, 2))
    other = pytester.path / "elsewhere"
    other.mkdir()
    (other / "notes.txt").write_text("not a report")
    result = pytester.runpytest(f"--qaaudit-report={other}", "-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*qaaudit report: FAILED: could not write*elsewhere*"])
    assert (other / "notes.txt").read_text() == "not a report" and len(list(other.iterdir())) == 1


def test_a_report_path_blocked_by_a_file_fails_the_run(pytester, ckpt):
    pytester.makefile(".audit.yaml", many=many_cases(ckpt, 2))
    first = pytester.runpytest("-p", "no:cacheprovider")
    assert first.ret == 0
    shutil.rmtree(pytester.path / "reports")
    (pytester.path / "reports").write_text("a file")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*qaaudit report: FAILED: could not write*reports*"])


def test_corrupted_cache_entries_are_recomputed_once(pytester, ckpt):
    pytester.makefile(".audit.yaml", good=good_yaml(ckpt))
    first = pytester.runpytest("-p", "no:cacheprovider")
    before = {c["nodeid"]: (c["outcome"], c["prediction"], c["verdicts"]) for c in _results(pytester.path)["cases"]}
    entries = list((pytester.path / ".qaaudit_cache").rglob("*.json"))
    assert first.ret == 0 and entries
    for i, path in enumerate(entries):   # every kind of damage, in turn
        entry = json.loads(path.read_text())
        damage = i % 3
        if damage == 0:
            path.write_text(path.read_text()[:20])
        elif damage == 1:
            path.write_text(json.dumps({**entry, "value": {"answer": {"text": 1}}}))
        else:
            path.write_text(json.dumps({**entry, "key": "0" * 64}))
    second = pytester.runpytest("-p", "no:cacheprovider")
    assert second.ret == 0
    second.stdout.fnmatch_lines(["*cache: * unreadable (truncated, foreign or of another shape) and recomputed*"])
    after = {c["nodeid"]: (c["outcome"], c["prediction"], c["verdicts"]) for c in _results(pytester.path)["cases"]}
    assert after == before
    third = pytester.runpytest("-p", "no:cacheprovider")
    assert third.ret == 0 and "unreadable" not in third.stdout.str()


def test_an_unwritable_cache_is_a_note_not_a_failure(pytester, ckpt):
    pytester.makefile(".audit.yaml", good=good_yaml(ckpt))
    cache = pytester.path / ".qaaudit_cache"
    cache.mkdir()
    (cache / "v4").write_text("in the way")   # writes fail even for root
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 0
    result.assert_outcomes(passed=3)
    assert result.stdout.str().count("cannot be written") == 1


def test_hostile_files_fail_alone_and_fast(pytester, ckpt):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    pytester.makefile(".audit.yaml", good=good_yaml(ckpt),
                      bomb="\n".join(lines) + "\ncases: *a9\n",
                      deep="cases: " + "[" * 1500 + "]" * 1500 + "\n",
                      bell="cases:\n  - id: a\x07b\n",
                      surrogate='cases:\n  - id: "x\\ud800"\n    question: q\n    context: c\n    answer: c\n',
                      nul='cases:\n  - id: "x\\0y"\n    question: q\n    context: c\n    answer: c\n',
                      defaults="defaults: {expect: {prediction: true}}\n" + good_yaml(ckpt).split("\n", 1)[1])
    result = pytester.runpytest("-p", "no:cacheprovider", "--qaaudit-no-cache")
    result.assert_outcomes(passed=6, errors=5)
    out = result.stdout.str()
    assert "Traceback" not in out and "RecursionError" not in out and "ReaderError" not in out
    for name in ("bomb", "deep", "bell", "surrogate", "nul"):
        assert f"invalid audit file: {name}.audit.yaml:" in out
    assert (pytester.path / "reports" / "results.json").is_file()
    assert sys.getsizeof(out) < 200_000

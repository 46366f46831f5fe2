"""The qaaudit pytest plugin, driven from the outside with ``pytester``.

Audit files point at one tiny random BERT checkpoint (tests/conftest.py); its
predictions are noise, so every expectation here passes or fails whatever it
predicts (``f1 >= 0`` always holds; a share of 1.0 of the attribution never does).
Runs are in-process where possible: torch is imported once for the whole file.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

pytest_plugins = ["pytester"]

_QAAUDIT_FRAME = re.compile(r"qaaudit[/\\][\w/\\]+\.py")


@pytest.fixture(scope="module")
def ckpt(tiny_checkpoint) -> Path:
    return tiny_checkpoint("bert")


@pytest.fixture(scope="module", autouse=True)
def _preload(preloaded_qaaudit) -> None:
    """Every run here is in-process: see the conftest fixture."""


def good_yaml(model: Path | None) -> str:
    head = f"model: {model}\n" if model is not None else ""
    return head + """\
cases:
  - id: eiffel
    question: When was the Eiffel Tower completed?
    context: The Eiffel Tower was completed in 1889 in Paris.
    answer: "1889"
    tags: [english, numbers]
    expect:
      prediction: {f1: 0.0}
      completeness: {abs_delta: 1000}
    robustness:
      - {perturbation: whitespace, property: invariance, examples: 3, f1: 0.0}
  - id: seoul
    question: What is the capital of South Korea?
    context: Seoul is the capital of South Korea.
    answer: Seoul
    tags: [korean]
    expect:
      prediction: {f1: 0.0}
"""


def bad_yaml(model: Path | None) -> str:
    head = f"model: {model}\n" if model is not None else ""
    return head + """\
cases:
  - id: focus-fail
    question: When was the Eiffel Tower completed?
    context: The Eiffel Tower was completed in 1889 in Paris.
    answer: "1889"
    tags: [english]
    expect:
      prediction: {f1: 0.0}
      focus: {target: answer, share: 1.0}
  - id: known-weakness
    question: Who built the tower?
    context: Gustave Eiffel's company built the tower for the World's Fair.
    answer: Gustave Eiffel's company
    xfail: the random model cannot focus
    expect:
      focus: {target: answer, share: 1.0}
"""


GOOD_IDS = ["audits/good.audit.yaml::eiffel", "audits/good.audit.yaml::eiffel::robust[whitespace]",
            "audits/good.audit.yaml::seoul"]
BAD_IDS = ["audits/bad.audit.yaml::focus-fail", "audits/bad.audit.yaml::known-weakness"]


def _assert_clean(out: str) -> None:
    assert "INTERNALERROR" not in out
    assert not _QAAUDIT_FRAME.search(out), _QAAUDIT_FRAME.search(out)


@pytest.fixture
def audits(pytester, ckpt):
    """Writes audits/good.audit.yaml and audits/bad.audit.yaml; returns a function to run pytest on them."""
    def write(*, good: bool = True, bad: bool = False) -> None:
        if good:
            pytester.makefile(".audit.yaml", **{"audits/good": good_yaml(ckpt)})
        if bad:
            pytester.makefile(".audit.yaml", **{"audits/bad": bad_yaml(ckpt)})

    return write


# --------------------------------------------------------------------------- passing and collecting
def test_passing_file_exits_0_with_one_verbose_line_per_item(pytester, audits):
    audits()
    result = pytester.runpytest("audits", "-v", "-p", "no:cacheprovider", "--qaaudit-no-report")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([f"{nid} PASSED*" for nid in
                                 [GOOD_IDS[0], GOOD_IDS[1].replace("[", "[[]"), GOOD_IDS[2]]])
    _assert_clean(result.stdout.str())


def test_node_ids_name_file_case_and_robustness_check(pytester, audits):
    audits(bad=True)
    result = pytester.runpytest("audits", "--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    ids = [ln for ln in result.stdout.lines if "::" in ln]
    assert ids == BAD_IDS + GOOD_IDS


def test_model_from_the_command_line(pytester, ckpt):
    pytester.makefile(".audit.yaml", **{"audits/good": good_yaml(None)})
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report",
                                "--qaaudit-model", str(ckpt), "-k", "not robust")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2, deselected=1)


def test_model_from_the_ini_option_and_custom_file_patterns(pytester, ckpt):
    pytester.makeini(f"[pytest]\nqaaudit_model = {ckpt}\nqaaudit_patterns = *.qa.yaml\n")
    pytester.makefile(".qa.yaml", **{"audits/custom": good_yaml(None)})
    pytester.makefile(".audit.yaml", **{"audits/ignored": "not: [valid"})  # not an audit file any more
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report", "-v")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["audits/custom.qa.yaml::seoul PASSED*"])
    assert "ignored" not in result.stdout.str()


# --------------------------------------------------------------------------- failing
def test_failing_case_reports_compactly_at_its_yaml_line(pytester, audits):
    audits(good=False, bad=True)
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report", "-rxf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, xfailed=1)
    result.stdout.fnmatch_lines([
        "*_ bad.audit.yaml:3::focus-fail _*",
        "*bad.audit.yaml:3: case 'focus-fail'",
        "2 expectation(s) failed for case 'focus-fail' on model *",
        "  FAILED focus.share?start? (line 10): measured *, expected >= 1 - answer*",
        "  FAILED focus.share?end? (line 10): measured *, expected >= 1 - answer*",
        "  predicted: * confidence 0.*",
        "  gold:      '1889'",
        # each token as its word, the piece when the word has several, and the part of the input it is in
        "  top-5 start tokens: * (*) [+-]* · * (*) [+-]* · * (*) [+-]* · * (*) [+-]* · * (*) [+-]*  |delta| * steps)",
        "  top-5 end tokens: * (*) [+-]* · * (*) [+-]* · * (*) [+-]* · * (*) [+-]* · * (*) [+-]*  |delta| * steps)",
    ])
    result.stdout.fnmatch_lines_random([
        "FAILED audits/bad.audit.yaml::focus-fail - bad.audit.yaml:3: case 'focus-fail'",
        "XFAIL audits/bad.audit.yaml::known-weakness - the random model cannot focus"])
    out = result.stdout.str()
    measured = re.search(r"FAILED focus\.share\[start\] \(line 10\): measured ([0-9.e+-]+),", out)
    assert measured and 0.0 <= float(measured.group(1)) < 1.0
    assert "Traceback" not in out and "runtest" not in out
    _assert_clean(out)


def test_failing_case_has_no_qaaudit_frames_even_with_long_tracebacks(pytester, audits):
    audits(good=False, bad=True)
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report", "--tb=long",
                                "-k", "focus")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    _assert_clean(result.stdout.str())


def test_xfail_in_yaml_is_xfail_and_exit_0(pytester, audits):
    audits(good=False, bad=True)
    result = pytester.runpytest("audits", "-v", "-p", "no:cacheprovider", "--qaaudit-no-report",
                                "-k", "known-weakness")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(xfailed=1, deselected=1)
    result.stdout.fnmatch_lines(["audits/bad.audit.yaml::known-weakness XFAIL (the random model*"])


# --------------------------------------------------------------------------- pytest selection options
def test_k_selects_cases_by_id(pytester, audits):
    audits(bad=True)
    result = pytester.runpytest("audits", "-v", "-p", "no:cacheprovider", "--qaaudit-no-report", "-k", "seoul")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, deselected=4)
    result.stdout.fnmatch_lines(["audits/good.audit.yaml::seoul PASSED*"])


def test_m_selects_by_tag_without_unknown_mark_warnings(pytester, audits):
    audits(bad=True)
    result = pytester.runpytest("audits", "-v", "-p", "no:cacheprovider", "--qaaudit-no-report", "-m", "korean",
                                "--strict-markers", "-W", "error::pytest.PytestUnknownMarkWarning")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, deselected=4)
    assert "PytestUnknownMarkWarning" not in result.stdout.str()
    # a case's tags mark its robustness items too; boolean expressions work
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report", "--collect-only", "-q",
                                "-m", "english and not korean", "--strict-markers")
    ids = [ln for ln in result.stdout.lines if "::" in ln]
    assert ids == ["audits/bad.audit.yaml::focus-fail", GOOD_IDS[0], GOOD_IDS[1]]


def test_x_stops_after_the_first_failure(pytester, audits):
    audits(bad=True)
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report", "-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1)  # bad.audit.yaml sorts first: nothing after its first case ran
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])


def test_lf_reruns_only_the_failed_case(pytester, audits):
    audits(bad=True)
    first = pytester.runpytest("audits", "--qaaudit-no-report", "-k", "not robust")
    first.assert_outcomes(passed=2, failed=1, xfailed=1, deselected=1)
    again = pytester.runpytest("audits", "--qaaudit-no-report", "--lf", "-v")
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    counts = again.parseoutcomes()
    assert counts["failed"] == 1 and "passed" not in counts and "xfailed" not in counts
    again.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*",
                                "audits/bad.audit.yaml::focus-fail FAILED*"])


def test_junitxml_has_one_testcase_per_item_with_failure_messages(pytester, audits):
    audits(bad=True)
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report", f"--junitxml={xml}",
                                "-o", "junit_family=xunit1")  # xunit1 records file and line
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    cases = ET.parse(xml).getroot().iter("testcase")
    by_name = {(tc.get("classname"), tc.get("name")): tc for tc in cases}
    # an audit file is named as a test module is (CI dashboards read the dots of a classname as packages), and a
    # robustness check keeps its case in its name
    assert set(by_name) == {("audits.bad", "focus-fail"), ("audits.bad", "known-weakness"),
                            ("audits.good", "eiffel"), ("audits.good", "seoul"),
                            ("audits.good", "eiffel::robust[whitespace]")}
    failed = by_name[("audits.bad", "focus-fail")]
    assert failed.get("file") == "audits/bad.audit.yaml" and failed.get("line") == "2"  # 0-based: the case's line 3
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("message").startswith("bad.audit.yaml:3: case 'focus-fail'")
    assert "FAILED focus.share[start] (line 10): measured" in failure.text
    assert by_name[("audits.bad", "known-weakness")].find("skipped") is not None  # xfail
    for key in [("audits.good", "eiffel"), ("audits.good", "seoul")]:
        assert list(by_name[key]) == []


# --------------------------------------------------------------------------- report
def _results(path: Path) -> dict:
    return json.loads((path / "results.json").read_text(encoding="utf-8"))


def test_report_written_for_a_run_with_cases(pytester, audits):
    audits(bad=True)
    out = pytester.path / "rep"
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-report", str(out))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"qaaudit report: {out / 'index.html'}"])
    assert (out / "index.html").is_file()
    data = _results(out)
    assert sorted(c["nodeid"] for c in data["cases"]) == sorted(BAD_IDS + GOOD_IDS)
    outcomes = {c["nodeid"]: c["outcome"] for c in data["cases"]}
    assert outcomes == {BAD_IDS[0]: "failed", BAD_IDS[1]: "xfailed", **{nid: "passed" for nid in GOOD_IDS}}
    assert not (pytester.path / "reports").exists()


def test_default_report_directory_is_reports(pytester, audits):
    audits()
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "-k", "seoul")
    assert result.ret == pytest.ExitCode.OK
    assert (pytester.path / "reports" / "index.html").is_file()
    assert [c["case_id"] for c in _results(pytester.path / "reports")["cases"]] == ["seoul"]


def test_no_report_option_writes_nothing(pytester, audits):
    audits()
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-report", "-k", "seoul")
    assert result.ret == pytest.ExitCode.OK
    assert not (pytester.path / "reports").exists()
    assert "qaaudit report" not in result.stdout.str()


def test_run_without_audit_files_writes_and_says_nothing(pytester):
    pytester.makepyfile(test_plain="def test_ok():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    assert "qaaudit" not in result.stdout.str().replace("qaaudit-0", "")  # only the plugins line names it
    # __pycache__ is Python's (the test module's bytecode, unless PYTHONDONTWRITEBYTECODE is set), not qaaudit's
    assert sorted(p.name for p in pytester.path.iterdir() if p.name != "__pycache__") == ["test_plain.py"]


# --------------------------------------------------------------------------- cache
@pytest.fixture
def cache_hits(monkeypatch):
    from qaaudit.cache import ExplanationCache

    counts = {"hits": 0, "misses": 0}
    original = ExplanationCache.get_any  # every lookup goes through it, with its fallback keys

    def counting_get(self, *keys, **kw):
        value = original(self, *keys, **kw)
        counts["hits" if value is not None else "misses"] += 1
        return value

    monkeypatch.setattr(ExplanationCache, "get_any", counting_get)
    return counts


def _comparable(data: dict) -> dict:
    # results/2 leaves out fields that hold their default (a robustness item has no explanation)
    return {c["nodeid"]: (c["outcome"], c["prediction"], c["verdicts"], c.get("explanation")) for c in data["cases"]}


def test_second_run_hits_the_cache_with_identical_results(pytester, audits, cache_hits):
    audits()
    args = ("audits", "-p", "no:cacheprovider", "-k", "not robust")
    assert pytester.runpytest(*args, "--qaaudit-report", "r1").ret == pytest.ExitCode.OK
    assert (pytester.path / ".qaaudit_cache").is_dir()
    assert cache_hits == {"hits": 0, "misses": 2}
    assert pytester.runpytest(*args, "--qaaudit-report", "r2").ret == pytest.ExitCode.OK
    assert cache_hits == {"hits": 2, "misses": 2}
    assert _comparable(_results(pytester.path / "r1")) == _comparable(_results(pytester.path / "r2"))


def test_no_cache_option_neither_reads_nor_writes(pytester, audits, cache_hits):
    audits()
    args = ("audits", "-p", "no:cacheprovider", "-k", "seoul", "--qaaudit-no-report", "--qaaudit-no-cache")
    assert pytester.runpytest(*args).ret == pytest.ExitCode.OK
    assert pytester.runpytest(*args).ret == pytest.ExitCode.OK
    assert not (pytester.path / ".qaaudit_cache").exists()
    assert cache_hits["hits"] == 0


def test_clear_cache_option_recomputes(pytester, audits, cache_hits):
    audits()
    args = ("audits", "-p", "no:cacheprovider", "-k", "seoul", "--qaaudit-no-report")
    assert pytester.runpytest(*args).ret == pytest.ExitCode.OK
    stale = pytester.path / ".qaaudit_cache" / "stale.json"
    stale.write_text("{}", encoding="utf-8")
    assert pytester.runpytest(*args, "--qaaudit-clear-cache").ret == pytest.ExitCode.OK
    assert cache_hits == {"hits": 0, "misses": 2}
    assert not stale.exists() and (pytester.path / ".qaaudit_cache").is_dir()  # cleared, then refilled


_RECORD_MODULES = """
    import json, sys
    import pytest

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(session):
        with open("modules.json", "a") as fh:
            fh.write(json.dumps({name: name in sys.modules for name in ("torch", "transformers")}) + "\\n")
"""


@pytest.fixture
def explain_calls(monkeypatch):
    import qaaudit.explainer as explainer

    calls = {"batch": [], "one": 0}
    batch, one = explainer.explain_batch, explainer.explain

    def counting_batch(qa, pairs, **kw):
        calls["batch"].append(len(pairs))
        return batch(qa, pairs, **kw)

    def counting_one(*args, **kw):
        calls["one"] += 1
        return one(*args, **kw)

    monkeypatch.setattr(explainer, "explain_batch", counting_batch)
    monkeypatch.setattr(explainer, "explain", counting_one)
    return calls


def test_batch_option_explains_the_selected_cases_together_with_the_same_results(pytester, audits, explain_calls,
                                                                                 monkeypatch):
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):  # when this suite itself runs under xdist
        monkeypatch.delenv(name, raising=False)
    audits(bad=True)
    args = ("audits", "-p", "no:cacheprovider", "--qaaudit-no-cache", "-k", "not robust")
    assert pytester.runpytest(*args, "--qaaudit-batch=off", "--qaaudit-report", "off").ret == 1
    # auto is off on a CPU too; eiffel and focus-fail ask the same question of the same context: explained once
    assert explain_calls == {"batch": [], "one": 3}
    assert pytester.runpytest(*args, "--qaaudit-batch=on", "--qaaudit-report", "on").ret == 1
    # every case from the batches, the same question once again
    assert sum(explain_calls["batch"]) == 3 and explain_calls["one"] == 3
    off, on = _results(pytester.path / "off")["cases"], _results(pytester.path / "on")["cases"]
    def answer(c):
        return c["nodeid"], c["outcome"], c["prediction"]["text"], c["prediction"]["start"], c["prediction"]["end"]

    assert [answer(c) for c in off] == [answer(c) for c in on]
    for a, b in zip(off, on):  # pairs share padded passes in a batch: equal up to float rounding
        assert a["prediction"]["score"] == pytest.approx(b["prediction"]["score"], rel=1e-5)
        for p in ("start", "end"):
            raw_a, raw_b = np.array(a["explanation"][p]["raw"]), np.array(b["explanation"][p]["raw"])
            assert np.abs(raw_a - raw_b).max() <= 1e-4 * np.abs(raw_a).max()
    # only the selected cases are explained
    explain_calls["batch"].clear()
    result = pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-no-cache", "--qaaudit-batch=on",
                                "-k", "seoul", "--qaaudit-report", "one")
    assert result.ret == 0 and explain_calls["batch"] == [1]


def test_cached_rerun_neither_loads_the_model_nor_imports_torch(pytester, ckpt, monkeypatch):
    """Fresh processes: the second run finds the model's identity by the checkpoint's fingerprint."""
    import shutil

    model = pytester.path / "model"
    shutil.copytree(ckpt, model)
    pytester.makefile(".audit.yaml", **{"audits/good": good_yaml(model)})
    pytester.makeconftest(_RECORD_MODULES)
    monkeypatch.setenv("CI", "true")  # derandomized robustness: both runs try the same variants
    args = ("audits", "-p", "no:cacheprovider", "--qaaudit-report")
    runs = [pytester.runpytest_subprocess(*args, f"r{i}") for i in (1, 2)]
    assert [r.ret for r in runs] == [pytest.ExitCode.OK] * 2
    loaded = [json.loads(line) for line in (pytester.path / "modules.json").read_text().splitlines()]
    assert loaded == [{"torch": True, "transformers": True}, {"torch": False, "transformers": False}]
    assert _comparable(_results(pytester.path / "r1")) == _comparable(_results(pytester.path / "r2"))
    # a changed checkpoint file changes the fingerprint: the model is loaded again
    config = model / "config.json"
    config.write_text(config.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert pytester.runpytest_subprocess(*args, "r3").ret == pytest.ExitCode.OK
    last = json.loads((pytester.path / "modules.json").read_text().splitlines()[-1])
    assert last == {"torch": True, "transformers": True}


# --------------------------------------------------------------------------- help
def test_help_lists_the_option_group_and_ini_options(pytester):
    result = pytester.runpytest("--help")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["qaaudit: audit extractive question-answering models:",
                                 "*--qaaudit-model=MODEL*", "*--qaaudit-device=DEVICE*", "*--qaaudit-no-cache*",
                                 "*--qaaudit-clear-cache*", "*--qaaudit-report=DIR*", "*--qaaudit-no-report*"])
    result.stdout.fnmatch_lines_random(["  qaaudit_model (string):*", "  qaaudit_device (string):*",
                                        "  qaaudit_patterns (args):*", "  qaaudit_report_dir (string):*",
                                        "  qaaudit_cache (bool):*"])


# --------------------------------------------------------------------------- pytest-xdist
def test_xdist_runs_every_case_and_the_controller_writes_one_report(pytester, audits):
    audits(bad=True)
    pytester.makefile(".audit.yaml", **{"audits/broken": "cases: []\n"})
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    out = pytester.path / "rep"
    result = pytester.runpytest("audits", "test_plain.py", "-n", "2", "-p", "no:cacheprovider",
                                "--qaaudit-report", str(out), "-rfE")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=4, failed=1, xfailed=1, errors=1)
    result.stdout.fnmatch_lines_random([
        "FAILED audits/bad.audit.yaml::focus-fail - bad.audit.yaml:3: case 'focus-fail'",
        "invalid audit file: audits/broken.audit.yaml:1:8: cases must hold at least 1 item*",
        "ERROR audits/broken.audit.yaml::<invalid audit file>*"])
    assert result.stdout.str().count("qaaudit report:") == 1
    data = _results(out)
    broken = "audits/broken.audit.yaml::<invalid audit file>"
    assert sorted(c["nodeid"] for c in data["cases"]) == sorted(BAD_IDS + GOOD_IDS + [broken])  # audit items only
    assert data["totals"] == {"passed": 3, "failed": 1, "xfailed": 1, "xpassed": 0, "skipped": 0, "error": 1,
                              "not_run": 0, "total": 6}
    eiffel = next(c for c in data["cases"] if c["nodeid"] == GOOD_IDS[0])
    assert eiffel["prediction"] is not None and eiffel["explanation"] is not None  # workers' data reached it
    _assert_clean(result.stdout.str())


def test_xdist_workers_share_the_cores_when_they_load_the_model(pytester, audits):
    """n workers x all cores each thrash (spin-waiting threads): each worker takes its share on loading."""
    import os

    audits()
    pytester.makeconftest("""
        import json, os, sys
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(session):
            worker = os.environ.get("PYTEST_XDIST_WORKER")
            if worker and "torch" in sys.modules:
                import torch
                with open(f"threads-{worker}.json", "w") as fh:
                    json.dump(torch.get_num_threads(), fh)
    """)
    result = pytester.runpytest("audits", "-n", "2", "-p", "no:cacheprovider", "--qaaudit-no-report",
                                "--qaaudit-clear-cache")
    assert result.ret == pytest.ExitCode.OK
    threads = [json.loads(f.read_text()) for f in sorted(pytester.path.glob("threads-gw*.json"))]
    assert threads and all(t == max(1, (os.cpu_count() or 1) // 2) for t in threads)


def test_xdist_workers_schedule_robustness_checks_first(pytester, audits):
    audits(bad=True)
    pytester.makeconftest("""
        import json, os
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(config, items):
            worker = os.environ.get("PYTEST_XDIST_WORKER")
            if worker:
                with open(f"order-{worker}.json", "w") as fh:
                    json.dump([item.nodeid for item in items], fh)
    """)
    assert pytester.runpytest("audits", "-n", "2", "-p", "no:cacheprovider", "--qaaudit-no-report").ret == 1
    orders = [json.loads(f.read_text()) for f in sorted(pytester.path.glob("order-gw*.json"))]
    assert len(orders) == 2 and orders[0] == orders[1]
    assert orders[0][0] == GOOD_IDS[1] and sorted(orders[0]) == sorted(BAD_IDS + GOOD_IDS)
    # without xdist the files' order stays
    plain = pytester.runpytest("audits", "-p", "no:cacheprovider", "--collect-only", "-q")
    listed = [line for line in plain.stdout.lines if line.startswith("audits/")]
    assert listed == BAD_IDS + GOOD_IDS


# --------------------------------------------------------------------------- suites without audit files
def test_suite_without_audit_files_is_undisturbed_and_imports_no_torch(pytester):
    """In a fresh process (this one already holds torch): the plugin loads, yet nothing heavy is imported."""
    pytester.makeconftest("""
        import json, sys
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(session):
            heavy = ("torch", "transformers", "captum", "qaaudit.session", "qaaudit.model")
            with open("modules.json", "w") as fh:
                json.dump({name: name in sys.modules for name in heavy + ("qaaudit.plugin",)}, fh)
    """)
    pytester.makepyfile(test_plain="def test_ok():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["plugins:*qaaudit-*"])
    loaded = json.loads((pytester.path / "modules.json").read_text())
    assert loaded == {"torch": False, "transformers": False, "captum": False, "qaaudit.session": False,
                      "qaaudit.model": False, "qaaudit.plugin": True}
    assert not (pytester.path / "reports").exists() and not (pytester.path / ".qaaudit_cache").exists()


# --------------------------------------------------------------------------- odd case ids, robustness failures
def odd_yaml(model: Path) -> str:
    return f"""\
model: {model}
cases:
  - id: 한국어 케이스
    question: 서울은 어디의 수도입니까?
    context: 서울은 대한민국의 수도이다.
    answer: 대한민국
    tags: [한국어]
    expect:
      prediction: {{f1: 0.0}}
  - id: a/b
    question: Where did the cat sit?
    context: The cat sat on the mat.
    answer: mat
    expect:
      prediction: {{f1: 0.0}}
  - id: "[weird] id"
    question: When was the Eiffel Tower completed?
    context: The Eiffel Tower was completed in 1889 in Paris.
    answer: "1889"
    expect:
      prediction: {{f1: 0.0}}
    robustness:
      - {{perturbation: whitespace, property: invariance, examples: 3, f1: 1.0, against: gold}}
"""


ODD_IDS = ["audits/odd.audit.yaml::한국어 케이스", "audits/odd.audit.yaml::a/b", "audits/odd.audit.yaml::[weird] id",
           "audits/odd.audit.yaml::[weird] id::robust[whitespace]"]


def test_odd_case_ids_and_a_failing_robustness_check_with_lf(pytester, ckpt):
    """Ids with Hangul, '/', '[...]' and robustness items ('::robust[..]') survive --lf's stored node ids."""
    pytester.makefile(".audit.yaml", **{"audits/odd": odd_yaml(ckpt)})
    first = pytester.runpytest("audits", "-v", "--qaaudit-no-report")
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    first.assert_outcomes(passed=3, failed=1)
    for nid, word in zip(ODD_IDS, ["PASSED", "PASSED", "PASSED", "FAILED"]):
        first.stdout.fnmatch_lines([f"{nid.replace('[', '[[]')} {word}*"])
    first.stdout.fnmatch_lines([
        "odd.audit.yaml:23: case '[[]weird] id'",
        "robustness check whitespace (invariance) failed for case '[[]weird] id'",
        "  FAILED robustness.f1?whitespace?: measured *, expected >= 1*",
        "  original prediction: *",
        "  variant prediction:  *",
        "  reproduce: *",
    ])
    _assert_clean(first.stdout.str())

    again = pytester.runpytest("audits", "-v", "--qaaudit-no-report", "--lf")
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    again.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*"])
    assert again.parseoutcomes() == {"failed": 1}  # --lf drops the passed items at collection


def test_unicode_tag_is_a_marker(pytester, ckpt):
    pytester.makefile(".audit.yaml", **{"audits/odd": odd_yaml(ckpt)})
    result = pytester.runpytest("audits", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "한국어",
                                "--strict-markers")
    assert result.ret == pytest.ExitCode.OK
    assert [ln for ln in result.stdout.lines if "::" in ln] == [ODD_IDS[0]]


def test_skip_xpass_and_a_failing_unanswerable_case(pytester, ckpt):
    pytester.makefile(".audit.yaml", **{"audits/misc": f"""\
model: {ckpt}
cases:
  - id: skipped
    question: Where did the cat sit?
    context: The cat sat on the mat.
    answer: mat
    skip: not today
  - id: xpass
    question: Where did the cat sit?
    context: The cat sat on the mat.
    answer: mat
    xfail: passes anyway
    expect:
      prediction: {{f1: 0.0}}
  - id: no-answer
    question: Where was Jisoo born?
    context: Rosé was born in Auckland. Lisa was born in Bangkok.
    unanswerable: true
"""})
    result = pytester.runpytest("audits", "-v", "-p", "no:cacheprovider", "--qaaudit-no-report")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # only the unanswerable case fails: an xpass is not strict
    result.assert_outcomes(skipped=1, xpassed=1, failed=1)
    result.stdout.fnmatch_lines(["audits/misc.audit.yaml::skipped SKIPPED (not today)*",
                                 "audits/misc.audit.yaml::xpass XPASS (passes anyway)*",
                                 "audits/misc.audit.yaml::no-answer FAILED*"])
    result.stdout.fnmatch_lines(["misc.audit.yaml:15: case 'no-answer'",
                                 "1 expectation(s) failed for case 'no-answer' on model *",
                                 "  FAILED unanswerable.null (line 18): measured *, expected is 'null answer'*",
                                 "  predicted: * confidence *",
                                 "  gold:      (no answer)"])
    _assert_clean(result.stdout.str())

"""The report at dataset scale: which items get pages, bounded file counts, the index's data, plots, progress,
results.json /2. Hand-built results (no model), no timing assertions: sizes and times are bench/bench_report.py's."""
from __future__ import annotations

import json
import random
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from qaaudit import gate
from qaaudit.errors import InvalidArgument
from qaaudit.report import pages as pages_mod
from qaaudit.report import plots, write_report
from qaaudit.report.compare import CaseComparison
from qaaudit.report.index import order_cases, summary_numbers
from qaaudit.report.pages import parse_pages, plan_pages
from qaaudit.report.progress import ReportProgress
from qaaudit.report.table import case_numbers
from qaaudit.results import READABLE_SCHEMAS, SCHEMA_VERSION, CaseResult, RunResult, Verdict
from test_report import EVIL, make_case, make_run

pytest_plugins = ["pytester"]


def bare(i: int, outcome: str = "passed", *, context: str | None = None, tags=("squad",), path="audits/d.audit.yaml",
         **kw) -> CaseResult:
    """A predictions-run item: an exact-match verdict, no explanation."""
    ok = outcome in ("passed", "xpassed")
    ctx = context if context is not None else f"Paragraph {i // 5}: the answer is word{i} here."
    return CaseResult(nodeid=f"{path}::q{i:05d}", path=path, line=10 + i, case_id=f"q{i:05d}", outcome=outcome,
                      tags=tuple(tags), question=f"Which word is number {i}?", context=ctx, gold=(f"word{i}",) * 3,
                      verdicts=(Verdict("prediction", "exact_match", ok, float(ok), 1.0, "==", "squad normalisation", 21),),
                      prediction={"text": f"word{i}" if ok else "the answer", "start": 0, "end": 5,
                                  "score": round(random.Random(i).random(), 4)}, **kw)


def mixed_run(n_pass: int = 300, n_fail: int = 40, n_xfail: int = 5, seed: int = 0) -> RunResult:
    cases = [bare(i) for i in range(n_pass)]
    cases += [bare(n_pass + i, "failed") for i in range(n_fail)]
    cases += [bare(n_pass + n_fail + i, "xfailed", xfail_reason="known") for i in range(n_xfail)]
    random.Random(seed).shuffle(cases)
    return make_run(cases)


def index_data(index: Path) -> dict:
    html = index.read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="qa-data">(.*?)</script>', html, re.S).group(1)
    return json.loads(block)


# --------------------------------------------------------------------------- which items get a page
def test_every_failure_and_a_stable_sample_of_passes_get_pages():
    run = mixed_run()
    plan = plan_pages(order_cases(run), pages=50)
    linked = set(plan.links)
    not_passed = {c.nodeid for c in run.cases if c.outcome != "passed"}
    assert not_passed <= linked and len(not_passed) == 45
    assert len(linked - not_passed) == 50 == plan.sampled and plan.passed == 300
    # the same passes whatever the order of the run (a hash of the node id chooses them)
    again = plan_pages(order_cases(mixed_run(seed=7)), pages=50)
    assert set(again.links) == linked
    assert set(plan_pages(order_cases(run), pages=0).links) == not_passed
    assert set(plan_pages(order_cases(run), pages="all").links) == {c.nodeid for c in run.cases}
    assert len(plan_pages(order_cases(run), pages=10_000).links) == len(run.cases)


def test_changed_comparisons_get_pages_too():
    run = mixed_run(n_fail=0, n_xfail=0)
    fixed = run.cases[3].nodeid
    comp = {c.nodeid: CaseComparison("fail->pass" if c.nodeid == fixed else "pass->pass") for c in run.cases}
    plan = plan_pages(order_cases(run), pages=0, comparison=comp)
    assert set(plan.links) == {fixed}


@pytest.mark.parametrize("value, expected", [("all", "all"), ("ALL ", "all"), ("0", 0), ("250", 250), (7, 7)])
def test_pages_setting(value, expected):
    assert parse_pages(value) == expected


@pytest.mark.parametrize("value", ["lots", "-1", "1.5", -3, True, None])
def test_bad_pages_setting(value):
    with pytest.raises(InvalidArgument, match="must be 'all' or a whole number"):
        parse_pages(value)


def test_pages_share_files_past_the_bound(monkeypatch, tmp_path):
    run = mixed_run(n_pass=200, n_fail=95, n_xfail=0)
    plan = plan_pages(order_cases(run), pages=0, max_files=10)
    assert len(plan.files) <= 10 and plan.shared and plan.n_pages == 95
    for name, cases in plan.files:
        assert re.fullmatch(r"pages-\d+\.html", name)
        for c in cases:
            assert plan.links[c.nodeid] == f"cases/{name}#{plan.anchors[c.nodeid]}"
    # written: every link lands on a file that holds its anchor, and the index links each failure there
    monkeypatch.setattr(pages_mod, "MAX_FILES", 10)
    out = write_report(run, tmp_path / "r", pages=0).parent
    assert len(list((out / "cases").iterdir())) <= 10
    data = index_data(out / "index.html")
    hrefs = [r[data["columns"].index("href")] for r in data["rows"] if len(r) > 2 and r[2]]
    assert len(hrefs) == 95
    for href in hrefs:
        name, anchor = href.removeprefix("cases/").split("#")
        assert f'id="{anchor}"' in (out / "cases" / name).read_text(encoding="utf-8")


def test_written_report_links_only_existing_pages(tmp_path):
    run = mixed_run()
    index = write_report(run, tmp_path / "r", pages=20)
    data = index_data(index)
    col = {n: i for i, n in enumerate(data["columns"])}
    rows = [r + [None] * (len(col) - len(r)) for r in data["rows"]]
    assert len(rows) == len(run.cases)
    linked = [r for r in rows if r[col["href"]]]
    assert len(linked) == 45 + 20 == len(list((tmp_path / "r" / "cases").iterdir()))
    for r in linked:
        assert (tmp_path / "r" / r[col["href"]]).is_file()
    # failures first, and every non-passed row links its page
    outcomes = [data["outcomes"][r[col["outcome"]]] for r in rows]
    assert outcomes == sorted(outcomes, key=["failed", "error", "xpassed", "xfailed", "skipped", "passed"].index)
    assert all(r[col["href"]] for r, o in zip(rows, outcomes) if o != "passed")
    html = index.read_text(encoding="utf-8")
    assert "--qaaudit-report-pages=all" in html and "20 of 300 passes" in html
    assert (tmp_path / "r" / "assets" / "report.css").is_file()
    page = next((tmp_path / "r" / "cases").iterdir()).read_text(encoding="utf-8")
    assert '<link rel="stylesheet" href="../assets/report.css">' in page and "<style>" not in page


def test_index_data_cannot_close_its_script_element(tmp_path):
    nasty = "</script><script>alert(1)</script><!-- & -->"
    case = make_case("audits/x.audit.yaml::c", question=nasty + " Who?", context="Kim wrote it.", answer="Kim",
                     tags=("t",))
    index = write_report(make_run([case]), tmp_path / "r")
    html = index.read_text(encoding="utf-8")
    assert html.count("</script>") == 2            # the data block's and the script's own
    data = index_data(index)
    assert data["rows"][0][data["columns"].index("question")] == nasty + " Who?"


# --------------------------------------------------------------------------- numbers, plots
def test_summary_is_the_gates_numbers():
    run = make_run([*mixed_run(60, 10, 3).cases, make_case("audits/t.audit.yaml::attr", "failed", answer="France")])
    numbers = {c.nodeid: case_numbers(c) for c in run.cases}
    ours = summary_numbers(run, numbers)
    theirs = gate.evaluate_gate(run, gate.GateConfig()).numbers
    for key in ("pass_rate", "mean_em", "mean_f1", "gold_cases", "worst_abs_delta"):
        assert ours[key] == pytest.approx(theirs[key]), key


def test_em_only_cases_show_their_f1():
    case = CaseResult(**{**bare(1, "failed").__dict__, "prediction": {"text": "word1 here", "start": 0, "end": 10}})
    n = case_numbers(case)   # the case checked only the exact match
    assert n["em"] == 0.0 and n["f1"] == pytest.approx(gate.case_scores(case)[1]) and n["f1"] > 0.0


def test_pass_rate_bars_put_the_worst_first_and_leave_out_xfailed():
    from collections import Counter

    bars = plots.pass_rate_bars({"a": Counter(passed=9, failed=1), "b": Counter(passed=1, failed=1, xfailed=8),
                                 "c": Counter(xfailed=3)})
    assert [b["full"] for b in bars["bars"]] == ["b", "a"] and bars["total"] == 2
    assert bars["bars"][0]["rate"] == 0.5 and "50.0%  (1/2)" == bars["bars"][0]["text"]
    many = plots.pass_rate_bars({f"t{i}": Counter(passed=i, failed=1) for i in range(40)}, max_bars=25)
    assert len(many["bars"]) == 25 and many["hidden"] == 15


def test_histograms():
    h = plots.histogram([0.0, 0.0, 1.0, 0.55, 0.99, None], exact_ends=True)
    assert [b["count"] for b in h["bars"]] == [2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1] and h["missing"] == 1
    assert [b["label"] for b in h["bars"]][0] == "=0" and h["bars"][-1]["label"] == "=1"
    d = plots.delta_histogram([1e-7, 0.003, 0.04, 0.2, 5.0, None])
    assert [b["count"] for b in d["bars"]] == [1, 0, 0, 1, 1, 1, 1]
    assert d["marker"]["text"] == "target 0.05"
    assert plots.histogram([None, None]) is None and plots.delta_histogram([]) is None


def test_index_plots_escape_their_labels(tmp_path):
    case = make_case("audits/x.audit.yaml::c", tags=("ok",))
    evil_tag = make_case("audits/y.audit.yaml::d", "failed", answer="France", tags=("t",))
    run = make_run([case, CaseResult(**{**evil_tag.__dict__, "tags": (EVIL,)})])
    html = write_report(run, tmp_path / "r").read_text(encoding="utf-8")
    svg = html.split('<h2 id="plots">')[1].split('<h2 id="items">')[0]
    assert svg.count("<svg") == 5 and EVIL not in svg and "&lt;script&gt;" in svg


# --------------------------------------------------------------------------- Korean text carries lang="ko"
class _LangCheck(HTMLParser):
    """Every text node with Hangul must sit inside an element with lang="ko"."""

    VOID = {"meta", "link", "br", "img", "input", "col", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []
        self.bad: list[str] = []
        self.raw = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        self.stack.append(dict(attrs).get("lang"))
        self.raw += tag in ("script", "style", "title")

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        self.raw -= tag in ("script", "style", "title")
        self.stack.pop()

    def handle_data(self, data):
        if self.raw or not re.search("[\uac00-\ud7a3]", data):
            return
        lang = next((l for l in reversed(self.stack) if l), None)
        if lang != "ko":
            self.bad.append(data.strip()[:40])


def test_hangul_is_marked_korean_on_every_page(tmp_path):
    ko = make_case("audits/ko.audit.yaml::수도", "failed", context="서울은 대한민국의 수도이다.", question="대한민국의 수도는?",
                   answer="서울은", tags=("korean",), xfail_reason="한국어 이유")
    rob = make_case("audits/ko.audit.yaml::수도::robust[typos]", "failed", kind="robustness", check_name="typos",
                    context="서울은 대한민국의 수도이다.", question="대한민국의 수도는?", answer="서울은",
                    robustness={"minimal": {"original": "서울은 수도이다.", "variant": "서울 은 수도이다.",
                                            "original_question": "수도는?", "variant_question": "수도는?",
                                            "diff": ["context: '서울은' -> '서울 은'"], "original_prediction": "서울은",
                                            "variant_prediction": "은"}, "reproduce": "pytest '수도'"})
    out = tmp_path / "r"
    write_report(make_run([ko, rob]), out, comparison={ko.nodeid: {"status": "pass->fail", "baseline": ko.to_dict()}})
    for page in [out / "index.html", *(out / "cases").iterdir()]:
        check = _LangCheck()
        check.feed(page.read_text(encoding="utf-8"))
        assert check.bad == [], (page.name, check.bad)


# --------------------------------------------------------------------------- progress
def test_progress_lines_say_how_many_are_left():
    lines, now = [], [0.0]
    progress = ReportProgress(lines.append, min_pages=10, every=2.0, clock=lambda: now[0])
    for done, t in ((0, 0.0), (10, 1.0), (40, 2.5), (70, 3.0), (100, 4.9)):
        now[0] = t
        progress(done, 100)
    assert lines[0] == "qaaudit report: writing 100 case pages"
    assert lines[1] == "qaaudit report: 40 of 100 case pages (40%), about 4 s left"
    assert lines[-1] == "qaaudit report: 100 of 100 case pages (100%) in 4.9 s" and len(lines) == 3
    quiet: list[str] = []
    small = ReportProgress(quiet.append, min_pages=10)
    for done in range(6):
        small(done, 5)
    assert quiet == []


def test_write_report_reports_progress(tmp_path):
    seen = []
    write_report(mixed_run(), tmp_path / "r", pages=0, progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 45) and seen[-1] == (45, 45) and seen == sorted(seen)


# --------------------------------------------------------------------------- results.json /2
def test_results_round_trip_and_share_contexts(tmp_path):
    shared = "One paragraph that five questions share."
    cases = [bare(i, "failed" if i % 3 == 0 else "passed", context=shared) for i in range(5)] + [bare(9)]
    run = make_run(cases)
    d = run.to_dict()
    assert d["schema"] == SCHEMA_VERSION == "qaaudit.results/2"
    assert d["contexts"] == [shared, cases[-1].context] and [c["context"] for c in d["cases"]] == [0] * 5 + [1]
    assert "explanation" not in d["cases"][0] and "kind" not in d["cases"][0]
    back = RunResult.from_dict(json.loads(json.dumps(d)))
    assert back.cases == run.cases


def test_a_failed_checks_message_is_left_out_but_an_errors_is_kept():
    failed = bare(1, "failed", message="1 expectation(s) failed ...")
    error = CaseResult(nodeid="a.audit.yaml::e", path="a.audit.yaml", line=1, case_id="e", outcome="error",
                       message="Traceback: model exploded")
    d = make_run([failed, error]).to_dict()
    assert "message" not in d["cases"][0] and d["cases"][1]["message"] == "Traceback: model exploded"


def test_version_1_files_are_still_read(tmp_path):
    v1 = {"schema": READABLE_SCHEMAS[0], "cases": [{**bare(1).to_dict(), "context": "a v1 context"}]}
    run = RunResult.from_dict(v1)
    assert run.cases[0].context == "a v1 context" and run.schema == SCHEMA_VERSION
    path = tmp_path / "results.json"
    path.write_text(json.dumps(v1), encoding="utf-8")
    assert gate.read_results(path).cases[0].case_id == "q00001"
    with pytest.raises(ValueError, match="results schema 'qaaudit.results/9'"):
        RunResult.from_dict({**v1, "schema": "qaaudit.results/9"})


# --------------------------------------------------------------------------- through the plugin
def test_report_pages_option_and_progress_in_a_run(pytester, tiny_checkpoint, preloaded_qaaudit, monkeypatch):
    from qaaudit.report import progress as progress_mod
    from test_plugin import good_yaml

    pytester.makefile(".audit.yaml", **{"audits/good": good_yaml(tiny_checkpoint("bert"))})
    args = ("audits", "-p", "no:cacheprovider", "-k", "not robust")
    result = pytester.runpytest(*args, "--qaaudit-report-pages=0", "--qaaudit-report", "r0")
    assert result.ret == pytest.ExitCode.OK
    assert list((pytester.path / "r0" / "cases").iterdir()) == []        # all passed, no sample
    monkeypatch.setattr(progress_mod, "MIN_PAGES", 1)
    result = pytester.runpytest(*args, "--qaaudit-report-pages=all", "--qaaudit-report", "r1")
    assert len(list((pytester.path / "r1" / "cases").iterdir())) == 2
    result.stdout.fnmatch_lines(["qaaudit report: writing 2 case pages", "qaaudit report: 2 of 2 case pages (100%) in *s"])
    data = json.loads((pytester.path / "r1" / "results.json").read_text(encoding="utf-8"))
    assert data["schema"] == SCHEMA_VERSION and len(data["cases"]) == 2


@pytest.mark.parametrize("how", ["option", "ini"])
def test_a_bad_pages_setting_fails_before_the_run(pytester, how):
    if how == "ini":
        pytester.makeini("[pytest]\nqaaudit_report_pages = lots\n")
        result = pytester.runpytest()
        result.stderr.fnmatch_lines(["*qaaudit: ini option qaaudit_report_pages: 'lots' is neither 'all' nor *"])
    else:
        result = pytester.runpytest("--qaaudit-report-pages=lots")
        result.stderr.fnmatch_lines(["*--qaaudit-report-pages*'lots' is neither 'all' nor a whole number*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_a_robustness_checks_xfail_reason_reaches_results_and_its_page(pytester, tiny_checkpoint):
    from test_plugin import good_yaml

    text = good_yaml(tiny_checkpoint("bert")).replace(
        "      - {perturbation: whitespace, property: invariance, examples: 3, f1: 0.0}",
        "      - {perturbation: whitespace, property: invariance, examples: 3, f1: 0.0}\n"
        "      - {perturbation: punctuation, property: invariance, examples: 3, f1: 0.0, xfail: 'a known weakness'}")
    pytester.makefile(".audit.yaml", **{"audits/good": text})
    pytester.runpytest("audits", "-p", "no:cacheprovider", "--qaaudit-report", "r", "--qaaudit-report-pages=all")
    run = RunResult.read(pytester.path / "r" / "results.json")
    reasons = {c.nodeid.split("::", 1)[1]: c.xfail_reason for c in run.cases}
    assert reasons == {"eiffel": "", "eiffel::robust[whitespace]": "", "eiffel::robust[punctuation]": "a known weakness",
                       "seoul": ""}
    titles = {}
    for page in (pytester.path / "r" / "cases").iterdir():
        html = page.read_text(encoding="utf-8")
        titles[page.name] = re.search(r"<title>(.*?)</title>", html).group(1)
        if "punctuation" in titles[page.name]:
            assert 'class="xfail-reason"' in html and "a known weakness" in html
    assert len(set(titles.values())) == 4   # each robustness check of a case has its own title

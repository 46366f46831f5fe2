"""The report as a person sees it: pages opened in a real headless chromium.

Console output is read from chromium's own log (``--enable-logging=stderr``):
page errors, uncaught exceptions and Content-Security-Policy violations (any
attempt to load from the network, any script not ours) all land there.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from qaaudit.report import case_filename, write_report
from test_report import EVIL, make_case, make_run

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser"))
                 if p and os.access(p, os.X_OK)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]
CONSOLE = re.compile(r":CONSOLE(?::\d+)?\]\s*(.*)")
PWN = '<script>document.body.setAttribute("data-pwned", "1")</script><img src=x onerror="document.title=\'pwned\'">'

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no headless browser: install Debian's `chromium` "
                                    "package (CI's set-up does) to run the report's browser tests")


def open_page(url: str, tmp_path: Path) -> tuple[str, list[str]]:
    """Load ``url`` in a fresh profile; return the DOM after scripts ran and the console messages."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, [m.group(1) for m in CONSOLE.finditer(proc.stderr)]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = make_run([
        make_case("audits/facts.audit.yaml::capital"),
        make_case("audits/facts.audit.yaml::wrong", "failed", answer="France", tags=("fact", "distractor")),
        make_case("audits/ko.audit.yaml::수도", context="서울은 대한민국의 수도이다.", question="대한민국의 수도는?",
                  answer="서울은", tags=("korean",)),
        make_case("audits/evil.audit.yaml::../../x", context=f"{PWN} {EVIL} Paris.", question=PWN, tags=(PWN,)),
        make_case("audits/facts.audit.yaml::xf", "xfailed", xfail_reason="known weakness"),
    ])
    out = tmp_path_factory.mktemp("browser") / "reports"
    write_report(run, out, comparison={c.nodeid: {"status": "pass->pass", "baseline": c.to_dict()}
                                       for c in run.cases[:2]})
    return run, out


@needs_chromium
def test_console_capture_works(tmp_path):
    # Guards the other tests against passing vacuously if chromium stops logging the console.
    page = tmp_path / "bad.html"
    page.write_text('<html><body><script>console.error("boom"); nope();</script></body></html>')
    _, console = open_page(page.as_uri(), tmp_path)
    assert any("boom" in m for m in console) and any("nope" in m for m in console)


@needs_chromium
def test_index_loads_and_filters(report, tmp_path):
    run, out = report
    dom, console = open_page((out / "index.html").as_uri(), tmp_path)
    assert console == []
    rows = re.findall(r'<tr class="case-row"[^>]*>', dom)
    assert len(rows) == len(run.cases)
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]
    # The filter script ran (its CSP hash matched): the fragment selects failed cases only.
    dom, console = open_page((out / "index.html").as_uri() + "#outcome=failed", tmp_path)
    assert console == []
    shown = [r for r in re.findall(r'<tr class="case-row"[^>]*>', dom) if "hidden" not in r]
    assert len(shown) == 1 and 'data-outcome="failed"' in shown[0]
    assert f"1 of {len(run.cases)} shown" in dom


@needs_chromium
@pytest.mark.parametrize("nodeid", ["audits/facts.audit.yaml::wrong", "audits/ko.audit.yaml::수도",
                                    "audits/evil.audit.yaml::../../x"])
def test_case_page_heatmap_one_element_per_token(report, tmp_path, nodeid):
    run, out = report
    case = next(c for c in run.cases if c.nodeid == nodeid)
    dom, console = open_page((out / "cases" / case_filename(case.nodeid, case.case_id)).as_uri(), tmp_path)
    assert console == []
    body_tag = dom.split("<body", 1)[1].split(">", 1)[0]
    assert "data-pwned" not in body_tag and "<title>pwned</title>" not in dom
    n_tokens = sum(t != "[PAD]" for t in case.explanation["tokens"])
    main = re.search(r'<div class="wi heatmap-main"[^>]*>(.*?)</div>', dom, re.S)
    assert main is not None
    assert len(re.findall(r"<mark class=\"tok", main.group(1))) == n_tokens
    if "evil" in nodeid:   # shown as text, and nothing of it ran
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom

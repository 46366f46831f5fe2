"""The report as a person sees it: pages opened in a real headless chromium (tests/cdp.py drives it).

Console messages, uncaught exceptions and Content-Security-Policy violations (any attempt to load from the
network, any script not ours) reach us through DevTools; layouts are measured at 1,280 px; Hangul is checked to
render as glyphs; the index's time to become usable is measured on a 10,570-item run (and recorded, not
asserted: timings belong to bench/bench_report.py).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdp import CHROMIUM, Browser
from qaaudit.report import case_filename, write_report
from test_report import EVIL, make_case, make_run

pytestmark = pytest.mark.browser

PWN = '<script>document.body.setAttribute("data-pwned", "1")</script><img src=x onerror="document.title=\'pwned\'">'
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no headless browser: install Debian's `chromium` "
                                    "package (CI's set-up does) to run the report's browser tests")


def korean_font() -> bool:
    fc = shutil.which("fc-list")
    return bool(fc and subprocess.run([fc, ":lang=ko"], capture_output=True, text=True).stdout.strip())


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium")
    with Browser() as b:
        yield b


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    rob = {"minimal": {"original": "서울은 대한민국의 수도이다.", "variant": "서울 은 대한민국의 수도이다.",
                       "original_question": "대한민국의 수도는?", "variant_question": "대한민국의 수도는?",
                       "diff": ["context: '서울은' -> '서울 은'"], "original_prediction": "서울은",
                       "variant_prediction": "은"}, "reproduce": "pytest 'audits/ko.audit.yaml::수도::robust[typos]'"}
    run = make_run([
        make_case("audits/facts.audit.yaml::capital"),
        make_case("audits/facts.audit.yaml::wrong", "failed", answer="France", tags=("fact", "distractor")),
        make_case("audits/ko.audit.yaml::수도", context="서울은 대한민국의 수도이다.", question="대한민국의 수도는?",
                  answer="서울은", tags=("korean",)),
        make_case("audits/ko.audit.yaml::수도::robust[typos]", "xfailed", kind="robustness", check_name="typos",
                  context="서울은 대한민국의 수도이다.", question="대한민국의 수도는?", answer="서울은", tags=("korean",),
                  robustness=rob, xfail_reason="띄어쓰기 하나에 답이 바뀐다"),
        make_case("audits/evil.audit.yaml::../../x", context=f"{PWN} {EVIL} Paris.", question=PWN, tags=(PWN,)),
        make_case("audits/facts.audit.yaml::xf", "xfailed", xfail_reason="known weakness"),
    ])
    out = tmp_path_factory.mktemp("browser") / "reports"
    write_report(run, out, comparison={c.nodeid: {"status": "pass->fail" if c.case_id == "wrong" else "pass->pass",
                                                  "baseline": c.to_dict()} for c in run.cases[:3]})
    return run, out


def page_of(out: Path, run, nodeid: str) -> str:
    case = next(c for c in run.cases if c.nodeid == nodeid)
    return (out / "cases" / case_filename(case.nodeid, case.case_id)).as_uri()


LAYOUT = """(() => {
  const doc = document.documentElement, cut = [];
  for (const el of document.querySelectorAll('table, svg, pre, .context, .wi, .grids')) {
    const r = el.getBoundingClientRect();
    if (r.right > doc.clientWidth + 1 || el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
      cut.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right) + '/' + el.scrollWidth);
  }
  return {page: [doc.scrollWidth, doc.clientWidth], cut};
})()"""

# Every text node that holds Hangul, and the lang of its nearest element that sets one.
KOREAN = """(() => {
  const out = [], walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const t = walk.currentNode;
    if (/[\\uac00-\\ud7a3]/.test(t.data) && t.parentElement.closest('script, style') === null) {
      const el = t.parentElement.closest('[lang]');
      out.push([t.data.trim().slice(0, 20), el ? el.lang : null]);
    }
  }
  return out;
})()"""

# Hangul against boxes: a string of syllables must not be as wide as the same number of unassigned code points,
# which every font draws as its missing-glyph box (measured in the element's own font).
GLYPHS = """((selector) => {
  const el = document.querySelector(selector), probe = (text) => {
    const s = document.createElement('span'); s.lang = 'ko'; s.textContent = text; s.style.whiteSpace = 'pre';
    el.appendChild(s); const w = s.getBoundingClientRect().width; s.remove(); return w;
  };
  return [probe('대한민국의수도'), probe('\\u{10fffd}'.repeat(7)), probe('가'), probe('\\u{10fffd}')];
})"""


@needs_chromium
def test_console_capture_works(browser, tmp_path):
    # Guards the other tests against passing vacuously if DevTools stopped reporting the console.
    page = tmp_path / "bad.html"
    page.write_text('<html><body><script>console.error("boom"); nope();</script></body></html>')
    console = browser.open(page.as_uri()).console()
    assert any("boom" in m for m in console) and any("nope" in m for m in console)


@needs_chromium
def test_index_loads_filters_sorts_and_pages(browser, report):
    run, out = report
    page = browser.open((out / "index.html").as_uri())
    assert page.console() == []
    assert page.eval("document.querySelectorAll('#cases tr.case-row').length") == len(run.cases)
    assert page.eval("document.body.hasAttribute('data-pwned')") is False and "pwned" not in page.eval("document.title")
    assert page.eval("document.getElementById('cases').dataset.readyMs") is not None   # the script ran (CSP hash)
    # the fragment selects, the script keeps it in the URL
    page.eval("location.hash = 'outcome=failed'")   # a same-document navigation: the script follows it
    assert page.eval("[...document.querySelectorAll('#cases tr.case-row')].map(r => r.dataset.outcome)") == ["failed"]
    assert page.eval("document.getElementById('f-count').textContent").startswith("1–1 of 1 shown")
    page.eval("document.getElementById('f-outcome').value = ''; document.getElementById('f-outcome')"
              ".dispatchEvent(new Event('input'))")
    # sort by F1, largest first, then smallest first
    page.eval("document.querySelector('th[data-key=f1]').click()")
    f1 = page.eval("[...document.querySelectorAll('#cases tr.case-row')].map(r => r.cells[6].textContent)")
    assert f1 == sorted(f1, key=lambda x: -1 if x == "—" else float(x), reverse=True)
    assert "sort=-f1" in page.eval("location.hash")
    page.eval("document.querySelector('th[data-key=f1]').click()")
    assert page.eval("document.querySelector('th[data-key=f1]').getAttribute('aria-sort')") == "ascending"
    # text search, Korean included
    page.eval("const q = document.getElementById('f-text'); q.value = '수도'; q.dispatchEvent(new Event('input'))")
    assert page.eval("document.querySelectorAll('#cases tr.case-row').length") == 2
    # the counts tables sort on a click
    page.eval("document.querySelector('table.sortable-table th:last-child').click()")
    assert page.eval("document.querySelector('table.sortable-table th:last-child').getAttribute('aria-sort')") == "ascending"
    assert page.console() == []


@needs_chromium
@pytest.mark.parametrize("which", ["index", "audits/facts.audit.yaml::capital", "audits/facts.audit.yaml::wrong",
                                   "audits/ko.audit.yaml::수도::robust[typos]", "audits/ko.audit.yaml::수도"])
def test_pages_fit_1280_px_and_mark_korean(browser, report, which):
    run, out = report
    url = (out / "index.html").as_uri() if which == "index" else page_of(out, run, which)
    page = browser.open(url, width=1280)
    assert page.console() == []
    layout = page.eval(LAYOUT)
    assert layout["page"][0] <= layout["page"][1] and layout["cut"] == [], layout
    korean = page.eval(KOREAN)
    assert bool(korean) == (which == "index" or "ko.audit" in which)
    assert all(lang == "ko" for _, lang in korean), [k for k in korean if k[1] != "ko"]


@needs_chromium
def test_hangul_renders_as_glyphs(browser, report):
    if not korean_font():
        pytest.skip("no font with Hangul on this machine (fc-list :lang=ko is empty): install Debian's "
                    "fonts-noto-cjk, as CI's set-up (scripts/dev.py) does")
    run, out = report
    page = browser.open(page_of(out, run, "audits/ko.audit.yaml::수도"))
    for selector in (".question", ".context", "h1"):
        hangul, boxes, one, box = page.eval(f"({GLYPHS})({selector!r})")
        assert abs(hangul - boxes) > 2 and abs(one - box) > 0.5, (selector, hangul, boxes)


@needs_chromium
@pytest.mark.parametrize("nodeid", ["audits/facts.audit.yaml::wrong", "audits/ko.audit.yaml::수도",
                                    "audits/evil.audit.yaml::../../x"])
def test_case_page_heatmap_one_element_per_token(browser, report, nodeid):
    run, out = report
    case = next(c for c in run.cases if c.nodeid == nodeid)
    page = browser.open(page_of(out, run, nodeid))
    assert page.console() == []
    assert page.eval("document.body.hasAttribute('data-pwned')") is False and "pwned" not in page.eval("document.title")
    n_tokens = sum(t != "[PAD]" for t in case.explanation["tokens"])
    assert page.eval("document.querySelectorAll('.heatmap-main mark.tok').length") == n_tokens
    assert page.eval("getComputedStyle(document.body).fontFamily").count("Noto Sans CJK KR") == 1
    if "evil" in nodeid:   # shown as text, and nothing of it ran
        assert EVIL in page.eval("document.querySelector('.context').textContent")


@needs_chromium
def test_a_10570_item_index_becomes_usable(browser, tmp_path, record_property):
    """The index of a SQuAD-sized predictions run: parsed, its first page of rows drawn and its controls wired;
    the time is recorded (``index_ready_ms``) and printed, not asserted."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    try:
        from squad_synth import predictions_run
    finally:
        sys.path.pop(0)
    run = predictions_run()
    index = write_report(run, tmp_path / "r")
    page = browser.open(index.as_uri())
    assert page.console() == []
    ready = page.eval("Number(document.getElementById('cases').dataset.readyMs)")
    timing = page.eval("(() => { const n = performance.getEntriesByType('navigation')[0];"
                       " return [n.domInteractive, n.loadEventEnd]; })()")
    record_property("index_ready_ms", ready)
    print(f"\n10,570-item index: usable at {ready} ms (DOM interactive {timing[0]:.0f} ms, load {timing[1]:.0f} ms)")
    assert page.eval("document.querySelectorAll('#cases tr.case-row').length") == 100
    assert page.eval("document.getElementById('f-count').textContent").startswith("1–100 of 10,570 shown")
    page.eval("document.getElementById('p-next').click()")
    assert page.eval("document.getElementById('p-page').textContent") == "page 2 of 106"

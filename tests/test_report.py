"""The HTML report, on hand-built results (no model)."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from qaaudit.errors import InvalidArgument
from qaaudit.explanation import Answer, Explanation, TargetAttribution, WordAttribution
from qaaudit import gate
from qaaudit.report import case_filename, write_report
from qaaudit.report import writer as writer_mod
from qaaudit.report.heatmap import color
from qaaudit.report.view import context_parts, text_diff
from qaaudit.results import SCHEMA_VERSION, CaseResult, RunResult, Verdict

EVIL = "<script>alert(1)</script>"


def make_explanation(question: str, context: str, answer: str, *, extras: bool = True) -> Explanation:
    """A consistent window: [CLS] question [SEP] context [SEP] [PAD] [PAD], whitespace-tokenised."""
    tokens, offsets, segments = ["[CLS]"], [None], ["special"]
    for seg, text in (("question", question), ("context", context)):
        for m in re.finditer(r"\S+", text):
            tokens.append(m.group())
            offsets.append((m.start(), m.end()))
            segments.append(seg)
        tokens.append("[SEP]")
        offsets.append(None)
        segments.append("special")
    tokens += ["[PAD]", "[PAD]"]
    offsets += [None, None]
    segments += ["special", "special"]
    n = len(tokens)
    a0 = context.index(answer)
    ans_tokens = [i for i, (s, o) in enumerate(zip(segments, offsets))
                  if s == "context" and o and o[0] < a0 + len(answer) and o[1] > a0]
    ts, te = ans_tokens[0], ans_tokens[-1]
    raw = [math.sin(i + 1) for i in range(n)]
    norm = math.sqrt(sum(r * r for r in raw))
    attrs = tuple(r / norm for r in raw)

    def target(position: str, index: int) -> TargetAttribution:
        words = tuple(WordAttribution(tokens[i], segments[i], *(offsets[i] or (0, 0)), attrs[i], (i,))
                      for i in range(n - 2))
        return TargetAttribution(position, index, 0.8, 5.0, attrs, tuple(raw), words, delta=-0.0123,
                                 f_input=5.0, f_baseline=1.0, n_steps=64)

    ans = Answer(answer, a0, a0 + len(answer), 0.64, ts, te, 0)
    return Explanation(
        question, context, ans, (ans,), None, tuple(tokens), tuple(offsets), tuple(segments),
        start=target("start", ts), end=target("end", te),
        sub_embeddings={"start": {c: attrs for c in ("word", "token_type", "position")},
                        "end": {c: attrs for c in ("word", "token_type", "position")}} if extras else None,
        layer_conductance={"start": tuple(tuple(a * (l + 1) for a in attrs) for l in range(4)),
                           "end": tuple(tuple(attrs) for _ in range(4))} if extras else None,
        settings={"n_steps": 64, "baseline": "pad"},
    )


def make_case(nodeid: str, outcome: str = "passed", *, context: str = "Paris is the capital of France.",
              question: str = "What is the capital of France?", answer: str = "Paris", tags=("fact",),
              case_id: str | None = None, **kw) -> CaseResult:
    expl = make_explanation(question, context, answer)
    ok = outcome in ("passed", "xpassed")
    return CaseResult(
        nodeid=nodeid, path=nodeid.split("::")[0], line=3, case_id=case_id or nodeid.split("::")[-1],
        outcome=outcome, tags=tuple(tags), question=question, context=context, gold=(answer,),
        verdicts=(Verdict("prediction", "exact_match", 1.0 if ok else 0.0, 1.0 if ok else 0.0, 1.0, op="=="),
                  Verdict("prediction", "f1", ok, 1.0 if ok else 0.4, 0.8),
                  Verdict("completeness", "abs_delta", True, 0.0123, 0.05, op="<="),
                  Verdict("focus", "share", None, None, 0.3, detail="skipped: no attributions")),
        prediction=expl.answer.to_dict(), explanation=expl.to_dict(), **kw)


def make_run(cases, **kw) -> RunResult:
    return RunResult(cases=tuple(cases), model={"name": "demo-qa", "path": "/models/demo"},
                     versions={"qaaudit": "0.1.0", "torch": "2.13", "transformers": "5.24"},
                     started="2025-01-01T00:00:00+00:00", duration=12.5, **kw)


@pytest.fixture
def run() -> RunResult:
    return make_run([
        make_case("audits/facts.audit.yaml::capital"),
        make_case("audits/facts.audit.yaml::wrong", "failed", answer="France", tags=("fact", "distractor")),
        make_case("audits/ko.audit.yaml::수도", context="서울은 대한민국의 수도이다.", question="대한민국의 수도는?",
                  answer="서울은", tags=("korean",)),
        make_case("audits/facts.audit.yaml::xf", "xfailed", xfail_reason="known weakness"),
    ])


def read(p: Path) -> str:
    return p.read_text(encoding="utf-8")


def test_writes_index_cases_and_results(run, tmp_path):
    index = write_report(run, tmp_path / "reports")
    assert index == (tmp_path / "reports" / "index.html").resolve()
    html = read(index)
    assert html.count('class="case-row"') == 4
    pages = sorted((tmp_path / "reports" / "cases").iterdir())
    assert len(pages) == 4
    data = json.loads(read(tmp_path / "reports" / "results.json"))
    assert data["schema"] == SCHEMA_VERSION and data["totals"]["failed"] == 1
    assert RunResult.from_dict(data).cases[0].nodeid == run.cases[0].nodeid
    # every linked page exists
    for href in re.findall(r'href="(cases/[^"]+)"', html):
        assert (tmp_path / "reports" / href).is_file()


def test_failures_first_and_counts(run, tmp_path):
    html = read(write_report(run, tmp_path / "r"))
    outcomes = re.findall(r'class="case-row" data-outcome="(\w+)"', html)
    assert outcomes == ["failed", "xfailed", "passed", "passed"]
    assert "audits/ko.audit.yaml" in html and "korean" in html and "distractor" in html


def test_no_cases_writes_nothing(tmp_path):
    assert write_report(make_run([]), tmp_path / "reports") is None
    assert list(tmp_path.iterdir()) == []


def test_untrusted_text_is_escaped(tmp_path):
    ctx = f"Look {EVIL} here: Paris is big."
    case = make_case(f"audits/x.audit.yaml::{EVIL}", context=ctx, question=EVIL + "?", answer="Paris",
                     tags=(EVIL,), message=EVIL)
    out = tmp_path / "r"
    write_report(make_run([case], gate={"passed": False, "reasons": [EVIL]}), out)
    for page in [out / "index.html", *(out / "cases").iterdir()]:
        html = read(page)
        assert EVIL not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        # the only scripts are our own (index) or none (case page)
        assert html.count("<script>") == (1 if page.name == "index.html" else 0)


def test_case_file_names_are_safe_and_unique(tmp_path):
    ids = ["../../x", "a/b:c", "수도", "Case", "case", "..", "/etc/passwd", "x" * 300]
    names = [case_filename(f"audits/f.audit.yaml::{i}", i) for i in ids]
    assert len(set(names)) == len(ids)
    assert len({n.lower() for n in names}) == len(ids)   # case-insensitive file systems too
    for n in names:
        assert re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{12}\.html", n) and len(n) < 80
    run = make_run([make_case(f"audits/f.audit.yaml::{i}", case_id=i) for i in ids])
    out = tmp_path / "deep" / "r"
    write_report(run, out)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(out in p.parents for p in written)
    assert len(list((out / "cases").iterdir())) == len(ids)


def test_heatmap_has_one_element_per_token(run, tmp_path):
    out = tmp_path / "r"
    write_report(run, out)
    case = run.cases[0]
    n_tokens = len([t for t in case.explanation["tokens"] if t != "[PAD]"])
    html = read(out / "cases" / case_filename(case.nodeid, case.case_id))
    main = re.search(r'<div class="wi heatmap-main" data-tokens="(\d+)">(.*?)</div>', html, re.S)
    assert int(main.group(1)) == n_tokens
    assert main.group(2).count('<mark class="tok') == n_tokens
    # captum's columns, both targets, delta and steps
    for col in ("True Label", "Predicted Label", "Attribution Label", "Attribution Score", "Word Importance"):
        assert col in html
    assert 'class="target-start"' in html and 'class="target-end"' in html
    assert ">-0.0123<" in html and ">0.0123<" in html and ">64<" in html
    # colour follows Captum's mapping
    first = case.explanation["start"]["attributions"][0]
    assert f'data-i="0" style="background-color: {color(first)}"' in html
    assert "Sub-embeddings, start" in html and html.count("<table class=\"grid conductance\"") == 1


def test_captum_colour_mapping():
    assert color(1.0) == "hsl(120, 75%, 50%)"
    assert color(-1.0) == "hsl(0, 75%, 60%)"
    assert color(0.0) == "hsl(0, 75%, 100%)"
    assert color(5.0) == color(1.0)


def test_context_marks_prediction_and_gold():
    parts = context_parts("abc Paris def", (4, 9), [(0, 3)])
    assert [(p["text"], p["pred"], p["gold"]) for p in parts] == [
        ("abc", False, True), (" ", False, False), ("Paris", True, False), (" def", False, False)]


def test_robustness_side_by_side(tmp_path):
    rob = {"original": {"question": "Who wrote it?", "context": "Kim wrote the book in 1990."},
           "variant": {"question": "Who wrote it?", "context": "Lee wrote the book in 1990."},
           "diff": [["Kim", "Lee"]], "original_prediction": {"text": "Kim", "score": 0.9},
           "variant_prediction": {"text": "1990", "score": 0.4}, "reproduce": "pytest 'x::y' --hypothesis-seed=1"}
    case = make_case("audits/r.audit.yaml::c[name_swap]", "failed", kind="robustness", check_name="name_swap",
                     robustness=rob)
    out = tmp_path / "r"
    write_report(make_run([case]), out)
    html = read(next((out / "cases").iterdir()))
    assert '<del class="chg">Kim</del>' in html and '<ins class="chg">Lee</ins>' in html
    assert "--hypothesis-seed=1" in html and "1990" in html
    left, right = text_diff("a b c", "a x c")
    assert [p["text"] for p in left if p["changed"]] == ["b"] and [p["text"] for p in right if p["changed"]] == ["x"]


def test_gate_block(run, tmp_path):
    gate = {"passed": False, "reasons": ["regressions: 1 > 0"], "pass_rate": 0.75}
    html = read(write_report(run.with_gate(gate), tmp_path / "r"))
    assert "qaaudit gate: FAILED" in html and "regressions: 1 &gt; 0" in html and "pass_rate" in html
    html = read(write_report(run.with_gate({"passed": True, "reasons": []}), tmp_path / "r"))
    assert "qaaudit gate: PASSED" in html


def baseline_for(run: RunResult) -> RunResult:
    """The released model: passed "wrong" (so it regressed), failed "capital" (so it is fixed)."""
    flip = {"wrong": "passed", "capital": "failed"}
    cases = [make_case(c.nodeid, flip.get(c.case_id, c.outcome), answer=c.gold[0], context=c.context,
                       question=c.question) for c in run.cases]
    return RunResult(cases=tuple(cases), model={"name": "released-qa"})


def test_comparison_from_baseline_run(run, tmp_path):
    out = tmp_path / "r"
    html = read(write_report(run, out, comparison=baseline_for(run)))
    statuses = re.findall(r'<tr class="cmp-([\w-]+)">', html)
    assert statuses[:2] == ["pass-fail", "fail-pass"] and len(statuses) == len(run.cases)
    assert "regression" in html and "released-qa" in html
    page = read(out / "cases" / case_filename("audits/facts.audit.yaml::wrong", "wrong"))
    # both models' heatmaps, one above the other (each full width: side by side squeezed them to a few tokens)
    assert 'class="compare-side candidate"' in page and 'class="compare-side baseline"' in page
    assert page.count('class="target-start"') == 2
    assert page.count("heatmap-main") == 1


def test_comparison_from_gate_and_from_mapping(run, tmp_path):
    base = baseline_for(run)
    comp = gate.compare(run, base)
    out = tmp_path / "r"
    html = read(write_report(run, out, comparison=comp))   # statuses and numbers only
    assert re.findall(r'<tr class="cmp-([\w-]+)">', html)[0] == "pass-fail"
    page = read(out / "cases" / case_filename("audits/facts.audit.yaml::wrong", "wrong"))
    assert page.count('class="target-start"') == 1
    write_report(run, out, comparison=comp, baseline=base)   # with the baseline's heatmaps
    page = read(out / "cases" / case_filename("audits/facts.audit.yaml::wrong", "wrong"))
    assert page.count('class="target-start"') == 2
    mapping = {c.nodeid: {"status": "regression" if c.case_id == "xf" else "pass->pass", "baseline": c.to_dict()}
               for c in run.cases}
    html = read(write_report(run, out, comparison=mapping))
    assert re.findall(r'<tr class="cmp-([\w-]+)">', html)[0] == "pass-fail"
    with pytest.raises(ValueError, match="bogus"):
        write_report(run, out, comparison={run.cases[0].nodeid: {"status": "bogus"}})


def test_atomic_write_keeps_old_report_when_rendering_fails(run, tmp_path, monkeypatch):
    out = tmp_path / "reports"
    write_report(run, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bigger = make_run(list(run.cases) + [make_case("audits/new.audit.yaml::n")])

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer_mod, "write_json_atomic", boom)
    with pytest.raises(RuntimeError):
        write_report(bigger, out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]   # no temporary left behind
    monkeypatch.undo()
    write_report(bigger, out)
    assert read(out / "index.html").count('class="case-row"') == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


def test_fallback_swap_without_exchange(run, tmp_path, monkeypatch):
    out = tmp_path / "reports"
    write_report(run, out)
    monkeypatch.setattr(writer_mod, "_exchange", lambda a, b: False)
    write_report(make_run(run.cases[:1]), out)
    assert read(out / "index.html").count('class="case-row"') == 1
    assert len(list((out / "cases").iterdir())) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


def test_refuses_to_replace_foreign_directory(run, tmp_path):
    (tmp_path / "src.py").write_text("keep me")
    with pytest.raises(InvalidArgument, match="not a qaaudit report"):
        write_report(run, tmp_path)
    assert read(tmp_path / "src.py") == "keep me"


def test_case_without_attributions_or_prediction(tmp_path):
    bare = CaseResult(nodeid="audits/a.audit.yaml::bare", path="audits/a.audit.yaml", line=1, case_id="bare",
                      outcome="error", question="Q?", context="C.", message="model failed to load")
    null = make_case("audits/a.audit.yaml::null")
    expl = Explanation.from_dict(null.explanation)
    null_ans = Answer("", 0, 0, 0.7)
    null = CaseResult(**{**null.__dict__, "gold": (), "unanswerable": True, "prediction": null_ans.to_dict(),
                         "explanation": {**make_explanation("Q?", "Paris x", "Paris", extras=False).to_dict()}})
    out = tmp_path / "r"
    write_report(make_run([bare, null]), out)
    html = read(out / "cases" / case_filename(bare.nodeid, "bare"))
    assert "No attributions were computed" in html and "model failed to load" in html
    html = read(out / "cases" / case_filename(null.nodeid, "null"))
    assert "(no answer)" in html and "(unanswerable)" in html
    assert expl.has_attributions


def test_non_finite_numbers_become_null(run, tmp_path):
    case = make_case("audits/n.audit.yaml::nan")
    case = CaseResult(**{**case.__dict__, "verdicts": (Verdict("completeness", "rel_delta", False, math.inf, 0.1),)})
    out = tmp_path / "r"
    write_report(make_run([case]), out)
    data = json.loads(read(out / "results.json"))
    assert data["cases"][0]["verdicts"][0]["measured"] is None


def test_standalone_explanation_page():
    from qaaudit.report import render_explanation

    expl = make_explanation(EVIL + " Who?", "Kim wrote it.", "Kim")
    html = render_explanation(expl, gold=["Kim"])
    assert EVIL not in html and "../index.html" not in html and "Expectations" not in html
    assert 'class="wi heatmap-main"' in html and "<script>" not in html


def test_case_page_shows_the_per_token_error_estimate():
    from dataclasses import replace

    from qaaudit.report import render_explanation

    expl = make_explanation("Who wrote it?", "Kim wrote it.", "Kim")
    assert "Token error (est.)" in render_explanation(expl, gold=["Kim"])
    est = replace(expl, settings={"n_steps": 17, "token_error_estimate": {"start": 0.0123, "end": 0.456}})
    html = render_explanation(est, gold=["Kim"])
    assert '<td class="n">0.012</td>' in html and '<td class="n">0.46</td>' in html
    assert "Σ |panel δ|" in html and html.count('<td class="n">—</td>') >= 2  # no panel errors recorded: dashes
    panels = replace(expl, settings={"n_steps": 25, "panel_error": {"start": 0.3141, "end": 2.718}})
    html = render_explanation(panels, gold=["Kim"])
    assert '<td class="n">0.3141</td>' in html and '<td class="n">2.718</td>' in html


def test_layer_and_sub_embedding_layouts_are_recognised():
    from qaaudit.report.view import grids_view, sub_embedding_view

    expl = make_explanation("Who?", "Kim wrote it.", "Kim")
    n = sum(t != "[PAD]" for t in expl.tokens)
    (grid,) = grids_view(expl)   # stored layers x tokens (4 x L): one row per token, 4 + gap + 4 cells
    assert [g["title"] for g in grid["groups"]] == ["→ start", "→ end"]
    assert [len(g["heads"]) for g in grid["groups"]] == [4, 4]
    assert len(grid["rows"]) == n and all(len(r["cells"]) == 4 + 1 + 4 for r in grid["rows"])
    assert grid["rows"][0]["cells"][4] is None   # the gap between start and end
    # tokens x layers is turned the same way
    lc = {p: tuple(zip(*m)) for p, m in expl.layer_conductance.items()}
    flipped = Explanation.from_dict({**expl.to_dict(), "layer_conductance": {p: [list(r) for r in m]
                                                                             for p, m in lc.items()}})
    assert grids_view(flipped)[0]["rows"] == grid["rows"]
    # the colour scale is labelled with numbers: -max .. +max of the values drawn
    top = max(abs(v) for m in expl.layer_conductance.values() for row in m for v in row[:n])
    assert [s["label"] for s in grid["scale"]] == [f"{x:.3g}" for x in (-top, -top / 2, 0.0, top / 2, top)]
    # sub-embeddings keyed component -> position (as explain() writes them) or position -> component
    by_comp = {c: {p: expl.sub_embeddings[p][c] for p in ("start", "end")} for c in ("position", "word", "token_type")}
    for sub in (expl.sub_embeddings, by_comp):
        e = Explanation.from_dict({**expl.to_dict(), "sub_embeddings": sub})
        blocks = sub_embedding_view(e)
        assert [b["position"] for b in blocks] == ["start", "end"]
        assert [r["component"] for r in blocks[0]["rows"]] == ["word", "token_type", "position"]
        assert all(len(r["cells"]) == n for r in blocks[0]["rows"])


def test_gate_verdict_as_the_gate_writes_it(run, tmp_path):
    base = baseline_for(run)
    comp = gate.compare(run, base)
    verdict = gate.evaluate_gate(run, gate.GateConfig(), comp)
    gd = {**verdict.to_dict(), "comparison": comp.to_dict()}
    recorded = RunResult.from_dict({**run.with_gate(gd).to_dict(), "baseline": {"model": dict(base.model),
                                                                                 **comp.to_dict()}})
    out = tmp_path / "r"
    html = read(write_report(recorded, out))   # comparison recovered from run.baseline
    assert "qaaudit gate: FAILED" in html and 'class="gate-checks"' in html
    assert re.findall(r'<tr class="cmp-([\w-]+)">', html)[0] == "pass-fail"
    assert "candidate_model" not in html.split('id="gate"')[1].split("</section>")[0]


def test_robustness_as_the_session_records_it(tmp_path):
    rob = {"check": "swap_names", "property": "invariance", "perturbations": ["swap_names"], "n_examples": 20,
           "n_failures": 3, "reproduce": "QAAUDIT_ROBUSTNESS_SEED=7",
           "minimal": {"original": "Kim met Lee in Seoul.", "original_question": "Who met Lee?",
                       "variant": "Park met Lee in Seoul.", "variant_question": "Who met Lee?",
                       "variant_answers": [["Park", 0]], "diff": ["context: 'Kim' -> 'Park'"], "edits": [{}],
                       "word_diff": "context: [-Kim-]{+Park+}", "original_prediction": "Kim",
                       "variant_prediction": EVIL, "expected": ["Park"], "score": 0.0}}
    case = make_case("audits/r.audit.yaml::c[swap_names]", "failed", kind="robustness", check_name="swap_names",
                     robustness=rob)
    none_found = make_case("audits/r.audit.yaml::d[swap_names]", kind="robustness", check_name="swap_names",
                           robustness={**rob, "minimal": None, "n_failures": 0})
    out = tmp_path / "r"
    write_report(make_run([case, none_found]), out)
    html = read(out / "cases" / case_filename(case.nodeid, case.case_id))
    assert '<del class="chg">Kim</del>' in html and '<ins class="chg">Park</ins>' in html
    assert "context: &#39;Kim&#39; -&gt; &#39;Park&#39;" in html and EVIL not in html
    assert "QAAUDIT_ROBUSTNESS_SEED=7" in html and "n_failures" in html and "question <span" in html
    html = read(out / "cases" / case_filename(none_found.nodeid, none_found.case_id))
    assert "No failing variant was found." in html


def test_temporaries_of_a_killed_run_are_removed(run, tmp_path):
    import os

    out = tmp_path / "reports"
    stale, fresh = tmp_path / ".reports.new-dead", tmp_path / ".reports.new-busy"
    for d in (stale, fresh):
        (d / "cases").mkdir(parents=True)
        (d / "index.html").write_text("half")
    os.utime(stale, (1, 1))
    write_report(run, out)
    assert not stale.exists() and fresh.exists()   # a young one may be another writer's


def test_unreadable_explanation_costs_one_section_not_the_report(run, tmp_path):
    bad = CaseResult(**{**run.cases[0].__dict__, "nodeid": "audits/b.audit.yaml::bad", "case_id": "bad",
                        "explanation": {"question": "q"}})
    out = tmp_path / "r"
    write_report(make_run([*run.cases, bad]), out)
    html = read(out / "cases" / case_filename(bad.nodeid, "bad"))
    assert "the explanation record could not be read (KeyError" in html
    assert "No attributions were computed" in html


def test_placeholder_files_of_a_repository_survive(tmp_path):
    """A tracked reports/.gitkeep neither blocks the report nor disappears with the swap."""
    from qaaudit.report import write_report
    from qaaudit.results import CaseResult, RunResult

    out = tmp_path / "reports"
    out.mkdir()
    (out / ".gitkeep").write_text("")
    run = RunResult(cases=(CaseResult(nodeid="a.audit.yaml::c", path="a.audit.yaml", line=3, case_id="c",
                                      outcome="passed"),))
    for _ in range(2):  # a first report into the placeholder folder, then a replacement
        assert write_report(run, out) == out / "index.html"
        assert (out / ".gitkeep").is_file() and (out / "results.json").is_file()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    import pytest as _pytest
    from qaaudit.errors import InvalidArgument

    with _pytest.raises(InvalidArgument, match="not a qaaudit report"):
        write_report(run, tmp_path / "other")

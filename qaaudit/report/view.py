"""Turn result records into the plain values the templates render.

Everything shown is read from the records (CaseResult, Explanation): the report
never recomputes a prediction or an attribution, it only arranges them.
"""
from __future__ import annotations

import difflib
import math
import re
from collections import Counter, defaultdict
from typing import Any, Mapping, Sequence

from qaaudit.explanation import Explanation, TargetAttribution
from qaaudit.results import OUTCOMES, CaseResult, RunResult, Verdict

from . import heatmap
from .compare import STATUS_ORDER, CaseComparison, status_label

__all__ = ["EXPECTATION_ORDER", "OUTCOME_ORDER", "context_parts", "gold_spans", "case_view", "index_view",
           "key_numbers", "text_diff"]

EXPECTATION_ORDER = ("prediction", "unanswerable", "focus", "avoid", "completeness", "faithfulness", "robustness")
# Failures first: what a reviewer must look at comes before what went as planned.
OUTCOME_ORDER = ("failed", "error", "xpassed", "xfailed", "skipped", "passed")
SUB_COMPONENTS = ("word", "token_type", "position")
TOP_K = 10
_GATE_SHOWN = ("passed", "status", "reasons", "checks", "numbers", "settings", "comparison")


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def explanation_of(case: CaseResult) -> tuple[Explanation | None, str]:
    """The case's explanation and, when its record cannot be read, why (one bad record must not
    cost the whole report, which is written all or nothing)."""
    if not case.explanation:
        return None, ""
    try:
        return Explanation.from_dict(case.explanation), ""
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return None, f"the explanation record could not be read ({type(exc).__name__}: {exc})"


# ---------------------------------------------------------------- context and gold
def gold_spans(context: str, golds: Sequence[str], pred: tuple[int, int] | None) -> list[tuple[int, int]]:
    """One character span per gold text: the occurrence overlapping the prediction, else the first."""
    spans = []
    for g in golds:
        if not g:
            continue
        hits, i = [], context.find(g)
        while i >= 0:
            hits.append((i, i + len(g)))
            i = context.find(g, i + 1)
        if not hits:
            continue
        over = [h for h in hits if pred and h[0] < pred[1] and h[1] > pred[0]]
        spans.append((over or hits)[0])
    return spans


def context_parts(context: str, pred: tuple[int, int] | None, golds: Sequence[tuple[int, int]]) -> list[dict]:
    """Split the context at every span boundary; each part says whether it is predicted and/or gold."""
    n = len(context)
    spans = ([pred] if pred else []) + list(golds)
    cuts = sorted({0, n, *(max(0, min(n, p)) for s in spans for p in s)})
    parts = []
    for a, b in zip(cuts, cuts[1:]):
        if a == b:
            continue
        parts.append({"text": context[a:b],
                      "pred": bool(pred and pred[0] <= a and b <= pred[1] and pred[0] < pred[1]),
                      "gold": any(s <= a and b <= e for s, e in golds)})
    return parts


# ---------------------------------------------------------------- attributions
def _label(expl: Explanation, i: int | None) -> str:
    if i is None or not 0 <= i < len(expl.tokens):
        return "—"
    return f"{i} ({heatmap.display_token(expl.tokens[i])})"


def target_view(expl: Explanation, t: TargetAttribution, gold_tokens: Sequence[int]) -> dict[str, Any]:
    """Captum's ``visualize_text`` record for one target, plus what Captum computes but never shows."""
    true_i = (gold_tokens[0] if t.position == "start" else gold_tokens[-1]) if gold_tokens else None
    pred_i = expl.answer.token_start if t.position == "start" else expl.answer.token_end
    marks = {i: "gold" for i in ([true_i] if true_i is not None else [])}
    marks[t.index] = "target gold" if t.index == true_i else "target"
    n = heatmap.visible_length(expl.tokens)
    top = [i for i in t.top_tokens(n) if i < n][:TOP_K]
    return {
        "position": t.position,
        "true_label": _label(expl, true_i),
        "pred_label": _label(expl, pred_i if pred_i is not None else t.index),
        "pred_prob": t.probability,
        "attr_label": _label(expl, t.index),
        "attr_score": sum(t.attributions),
        "cells": heatmap.token_cells(expl.tokens, t.attributions, expl.segments, marks=marks),
        "delta": t.delta, "abs_delta": t.abs_delta,
        "rel_delta": t.rel_delta if math.isfinite(t.rel_delta) else None,
        "f_input": t.f_input, "f_baseline": t.f_baseline, "n_steps": t.n_steps, "logit": t.logit,
        "token_error": _recorded(expl.settings, "token_error_estimate", t.position),
        "panel_error": _recorded(expl.settings, "panel_error", t.position),
        "words": [{"text": w.text, "segment": w.segment, "score": w.score, "color": heatmap.color(w.score)}
                  for w in t.words],
        "top": [{"rank": r + 1, "index": i, "token": heatmap.display_token(expl.tokens[i]),
                 "segment": expl.segments[i] if i < len(expl.segments) else "",
                 "score": t.attributions[i], "color": heatmap.color(t.attributions[i])}
                for r, i in enumerate(top)],
    }


def _recorded(settings: Mapping[str, Any], name: str, position: str) -> float | None:
    """A per-target number the refinement recorded (``token_error_estimate``, ``panel_error``), or None."""
    est = settings.get(name)
    value = est.get(position) if isinstance(est, Mapping) else None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _by_position(m: Mapping[str, Any] | None) -> dict[str, Any]:
    """Sub-embeddings may be keyed position -> component or component -> position; return the former."""
    if not m:
        return {}
    if set(m) <= {"start", "end"}:
        return {p: dict(v) for p, v in m.items()}
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for comp, per_pos in m.items():
        for p, v in per_pos.items():
            out[p][comp] = v
    return dict(out)


def _l2(values: Sequence[float]) -> list[float]:
    """Scale to unit L2 norm, as Captum's tutorial summarises attributions, so colours are comparable."""
    norm = math.sqrt(sum(v * v for v in values if v is not None))
    return [v / norm if norm and v is not None else v for v in values]


def sub_embedding_view(expl: Explanation) -> list[dict[str, Any]]:
    out = []
    for pos, comps in sorted(_by_position(expl.sub_embeddings).items(), key=lambda kv: kv[0] != "start"):
        order = [c for c in SUB_COMPONENTS if c in comps] + sorted(c for c in comps if c not in SUB_COMPONENTS)
        out.append({"position": pos, "rows": [
            {"component": c, "attr_score": sum(v for v in comps[c] if v is not None),
             "cells": heatmap.token_cells(expl.tokens, _l2(comps[c]), expl.segments)} for c in order]})
    return out


def layer_view(expl: Explanation) -> list[dict[str, Any]]:
    """Layers (rows) x tokens (columns), as Captum's BERT tutorial draws layer conductance."""
    out = []
    n_tok = len(expl.tokens)
    n = heatmap.visible_length(expl.tokens)
    for pos, matrix in sorted((expl.layer_conductance or {}).items(), key=lambda kv: kv[0] != "start"):
        rows = [list(r) for r in matrix]
        if not rows:
            continue
        # Stored either as layers x tokens or tokens x layers: orient by the token count.
        if len(rows) == n_tok and len(rows[0]) != n_tok:
            rows = [list(col) for col in zip(*rows)]
        rows = [r[:n] for r in rows]
        labels = [heatmap.display_token(t) for t in expl.tokens[:n]]
        out.append({"position": pos, "n_layers": len(rows),
                    "svg": heatmap.grid(rows, [str(i + 1) for i in range(len(rows))], labels)})
    return out


def attribution_view(expl: Explanation | None, golds: Sequence[tuple[int, int]]) -> dict[str, Any] | None:
    if expl is None or not expl.has_attributions:
        return None
    gold_tokens = expl.tokens_in_span(*golds[0]) if golds else []
    return {"targets": [target_view(expl, t, gold_tokens) for t in (expl.start, expl.end)],
            "sub_embeddings": sub_embedding_view(expl), "layers": layer_view(expl),
            "n_tokens": heatmap.visible_length(expl.tokens), "window": expl.window, "n_windows": expl.n_windows,
            "settings": dict(expl.settings)}


# ---------------------------------------------------------------- robustness
_WORDS = re.compile(r"\s+|\w+|[^\w\s]")


def text_diff(a: str, b: str) -> tuple[list[dict], list[dict]]:
    """Word-level diff: parts of ``a`` (removed marked) and of ``b`` (inserted marked)."""
    wa, wb = _WORDS.findall(a), _WORDS.findall(b)
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        same = op == "equal"
        if i2 > i1:
            left.append({"text": "".join(wa[i1:i2]), "changed": not same})
        if j2 > j1:
            right.append({"text": "".join(wb[j1:j2]), "changed": not same})
    return left, right


def _as_fields(x: Any, question: Any = None) -> dict[str, str]:
    if isinstance(x, Mapping):
        return {k: str(v) for k, v in x.items() if k in ("question", "context") and v is not None}
    if question is not None:
        return {"question": str(question), "context": "" if x is None else str(x)}
    return {"text": "" if x is None else str(x)}


def _answer(x: Any) -> dict[str, Any] | None:
    if x is None:
        return None
    if isinstance(x, Mapping):
        return {"text": str(x.get("text", "")), "score": _finite(x.get("score"))}
    return {"text": str(x), "score": None}


# Drawn from the texts themselves, or shown elsewhere on the page.
_ROBUSTNESS_DRAWN = ("minimal", "original", "variant", "original_question", "variant_question", "diff", "edits",
                     "word_diff", "original_prediction", "variant_prediction", "reproduce")


def robustness_view(r: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Original and minimal failing variant, word by word. Accepts the session's record (the minimal
    failure nested under ``minimal``) or a flat one (``original``, ``variant``, ... at the top)."""
    if not r:
        return None
    m = r.get("minimal") if "minimal" in r else r
    summary = {k: v for k, v in r.items() if k not in _ROBUSTNESS_DRAWN}
    view: dict[str, Any] = {"fields": [], "diff": None, "reproduce": r.get("reproduce"), "minimal": m is not None,
                            "original_prediction": None, "variant_prediction": None, "extra": summary}
    if m is None:
        return view
    if m is not r:
        summary.update({k: v for k, v in m.items() if k not in _ROBUSTNESS_DRAWN and k != "variant_answers"})
    orig = _as_fields(m.get("original"), m.get("original_question"))
    var = _as_fields(m.get("variant"), m.get("variant_question"))
    for name in [k for k in ("question", "context", "text") if k in orig or k in var]:
        left, right = text_diff(orig.get(name, ""), var.get(name, ""))
        view["fields"].append({"name": name, "original": left, "variant": right,
                               "changed": any(p["changed"] for p in left + right)})
    view.update(diff=m.get("diff"), original_prediction=_answer(m.get("original_prediction")),
                variant_prediction=_answer(m.get("variant_prediction")))
    return view


# ---------------------------------------------------------------- numbers and verdicts
def key_numbers(case: CaseResult) -> dict[str, float | None]:
    """EM/F1 (from the verdicts that measured them), confidence, |delta| start/end, steps."""
    nums: dict[str, float | None] = {"em": None, "f1": None, "confidence": None,
                                     "delta_start": None, "delta_end": None, "steps": None}
    for v in case.verdicts:
        if v.check in ("exact_match", "em") and nums["em"] is None:
            nums["em"] = _finite(v.measured)
        elif v.check == "f1" and nums["f1"] is None:
            nums["f1"] = _finite(v.measured)
    if case.prediction:
        nums["confidence"] = _finite(case.prediction.get("score"))
    e = case.explanation or {}
    for pos in ("start", "end"):
        t = e.get(pos)
        if t:
            nums[f"delta_{pos}"] = _finite(abs(t["delta"])) if t.get("delta") is not None else None
            nums["steps"] = nums["steps"] or _finite(t.get("n_steps")) or None
    if nums["steps"] is None:
        nums["steps"] = _finite((e.get("settings") or {}).get("n_steps"))
    if nums["confidence"] is None and e.get("answer"):
        nums["confidence"] = _finite(e["answer"].get("score"))
    return nums


def _state(vs: Sequence[Verdict]) -> str:
    if any(v.passed is False for v in vs):
        return "failed"
    if vs and all(v.passed is None for v in vs):
        return "skipped"
    return "passed"


def expectation_states(case: CaseResult, families: Sequence[str]) -> list[dict[str, Any]]:
    by: dict[str, list[Verdict]] = defaultdict(list)
    for v in case.verdicts:
        by[v.expectation].append(v)
    return [{"family": f, "state": _state(by[f]) if by.get(f) else "",
             "title": "\n".join(v.describe() for v in by.get(f, ()))} for f in families]


def verdict_rows(case: CaseResult) -> list[dict[str, Any]]:
    return [{"expectation": v.expectation, "check": v.check, "measured": v.measured, "op": v.op,
             "threshold": v.threshold, "state": "skipped" if v.passed is None else "passed" if v.passed else "failed",
             "detail": v.detail, "line": v.line} for v in case.verdicts]


def _sort_key(c: CaseResult) -> tuple:
    rank = OUTCOME_ORDER.index(c.outcome) if c.outcome in OUTCOME_ORDER else len(OUTCOME_ORDER)
    return rank, c.path, c.line, c.nodeid


# ---------------------------------------------------------------- pages
def case_view(case: CaseResult, *, comparison: CaseComparison | None = None,
              baseline_label: str = "baseline") -> dict[str, Any]:
    """Everything one case page shows."""
    expl, expl_error = explanation_of(case)
    pred = case.prediction or (expl.answer.to_dict() if expl else None)
    span = (pred["start"], pred["end"]) if pred and pred.get("end") and pred.get("text") else None
    golds = gold_spans(case.context, case.gold, span)
    view = {
        "case": case, "numbers": key_numbers(case), "prediction": _answer(pred) if pred else None,
        "context_parts": context_parts(case.context, span, golds), "gold_found": bool(golds) or not case.gold,
        "attribution": attribution_view(expl, golds), "verdicts": verdict_rows(case),
        "robustness": robustness_view(case.robustness), "comparison": None, "explanation_error": expl_error,
    }
    if comparison is not None:
        base = comparison.baseline
        bexpl = explanation_of(base)[0] if base else None
        bpred = base.prediction if base and base.prediction else (bexpl.answer.to_dict() if bexpl else None)
        bspan = (bpred["start"], bpred["end"]) if bpred and bpred.get("end") and bpred.get("text") else None
        view["comparison"] = {
            "status": comparison.status, "status_label": status_label(comparison.status), "label": baseline_label, "baseline": base,
            "numbers": key_numbers(base) if base else None, "prediction": _answer(bpred) if bpred else None,
            "attribution": attribution_view(bexpl, gold_spans(base.context, base.gold, bspan)) if base else None,
            "verdicts": verdict_rows(base) if base else [],
        }
    return view


def _counts(groups: Mapping[str, Counter]) -> list[dict[str, Any]]:
    return [{"name": k, "counts": [groups[k].get(o, 0) for o in OUTCOMES], "total": sum(groups[k].values())}
            for k in sorted(groups)]


def index_view(run: RunResult, pages: Mapping[str, str], comparison: Mapping[str, CaseComparison] | None,
               *, baseline_label: str = "baseline") -> dict[str, Any]:
    """The index: run, counts by file and tag, the gate, the case table and the comparison."""
    families = [f for f in EXPECTATION_ORDER if any(v.expectation == f for c in run.cases for v in c.verdicts)]
    families += sorted({v.expectation for c in run.cases for v in c.verdicts} - set(families))
    by_file: dict[str, Counter] = defaultdict(Counter)
    by_tag: dict[str, Counter] = defaultdict(Counter)
    for c in run.cases:
        by_file[c.path][c.outcome] += 1
        for t in c.tags:
            by_tag[t][c.outcome] += 1
    rows = []
    for c in sorted(run.cases, key=_sort_key):
        comp = comparison.get(c.nodeid) if comparison else None
        rows.append({"case": c, "page": pages[c.nodeid], "numbers": key_numbers(c),
                     "states": expectation_states(c, families),
                     "prediction": (c.prediction or {}).get("text"),
                     "status": comp.status if comp else "",
                     "status_label": status_label(comp.status) if comp else ""})
    comp_rows = []
    if comparison:
        cur = {c.nodeid: c for c in run.cases}
        for nodeid, comp in comparison.items():
            cand, base = cur.get(nodeid), comp.baseline
            if comp.change is not None:   # the gate's own numbers, so report and terminal agree
                ch = comp.change
                diff = {"em": ch.em_change, "f1": ch.f1_change, "confidence": ch.confidence_change,
                        "focus": ch.focus_change}
            else:
                cn, bn = (key_numbers(cand) if cand else {}), (key_numbers(base) if base else {})
                diff = {k: (cn[k] - bn[k]) if cn.get(k) is not None and bn.get(k) is not None else None
                        for k in ("em", "f1", "confidence")}
                diff["focus"] = None
            comp_rows.append({"nodeid": nodeid, "status": comp.status, "label": status_label(comp.status),
                              "page": pages.get(nodeid), "candidate": cand, "baseline": base, "diff": diff,
                              "candidate_outcome": cand.outcome if cand else (comp.change.candidate_outcome
                                                                             if comp.change else None),
                              "baseline_outcome": base.outcome if base else (comp.change.baseline_outcome
                                                                            if comp.change else None)})
        comp_rows.sort(key=lambda r: (STATUS_ORDER.index(r["status"]), r["nodeid"]))
    status_counts = Counter(r["status"] for r in comp_rows)
    gate = dict(run.gate) if run.gate is not None else None
    return {
        "run": run, "totals": run.totals, "outcomes": OUTCOMES, "families": families,
        "by_file": _counts(by_file), "by_tag": _counts(by_tag), "rows": rows,
        "tags": sorted(by_tag), "present_outcomes": [o for o in OUTCOME_ORDER if run.totals.get(o)],
        "gate": gate, "gate_checks": [c for c in (gate or {}).get("checks") or () if isinstance(c, Mapping)],
        "gate_numbers": dict((gate or {}).get("numbers") or {}), "gate_settings": dict((gate or {}).get("settings") or {}),
        # the comparison has its own section; the rest is shown as it comes
        "gate_extra": {k: v for k, v in (gate or {}).items() if k not in _GATE_SHOWN},
        "comparison": comp_rows, "baseline_label": baseline_label,
        "status_counts": [(s, status_label(s), status_counts[s]) for s in STATUS_ORDER if status_counts.get(s)],
    }

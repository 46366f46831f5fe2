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
from qaaudit.results import CaseResult

from . import heatmap
from .compare import CaseComparison, status_label
from .lang import lang_attr as _lang_of
from .table import case_numbers

__all__ = ["context_parts", "gold_spans", "case_view", "page_title", "grids_view", "text_diff"]

SUB_COMPONENTS = ("word", "token_type", "position")
TOP_K = 10


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
    word_of = {i: w.text for w in t.words for i in w.tokens}
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
                 "segment": expl.segments[i] if i < len(expl.segments) else "", "word": word_of.get(i, ""),
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


def _layers_by_tokens(expl: Explanation, matrix: Any) -> list[list[float]]:
    """A matrix stored layers x tokens or tokens x layers, as layers x tokens (oriented by the token count)."""
    rows = [list(r) for r in matrix or ()]
    if rows and len(rows) == len(expl.tokens) and len(rows[0]) != len(expl.tokens):
        rows = [list(col) for col in zip(*rows)]
    return rows


def _grid_block(expl: Explanation, kind: str, title: str, groups: Sequence[tuple[str, list[list[float]],
                Sequence[dict[str, str]]]], *, diverging: bool, note: str = "") -> dict[str, Any]:
    n = heatmap.visible_length(expl.tokens)
    rows, top = heatmap.grid([m for _, m, _ in groups], n)
    a = expl.answer
    answer = set(range(a.token_start, a.token_end + 1)) if a.token_start is not None and a.token_end is not None else set()
    return {"kind": kind, "title": title, "note": note, "scale": heatmap.scale(top, diverging=diverging),
            "groups": [{"title": t, "heads": heads} for t, _, heads in groups],
            "rows": [{"index": i, "text": heatmap.display_token(expl.tokens[i]), "cells": cells,
                      "segment": expl.segments[i] if i < len(expl.segments) else "", "answer": i in answer}
                     for i, cells in enumerate(rows)]}


def _layer_heads(n_layers: int, heads: Sequence[int] | None = None) -> list[dict[str, str]]:
    if heads is None:
        return [{"label": str(l + 1), "title": f"layer {l + 1}"} for l in range(n_layers)]
    return [{"label": f"{l + 1}", "title": f"layer {l + 1}, head {h + 1}"} for l, h in enumerate(heads)]


def grids_view(expl: Explanation) -> list[dict[str, Any]]:
    """Layer conductance and, when computed, attention: tokens down, layers across, start and end side by side."""
    out = []
    lc = {p: _layers_by_tokens(expl, m) for p, m in (expl.layer_conductance or {}).items()}
    lc = {p: m for p, m in lc.items() if m}
    if lc:
        groups = [(f"→ {p}", lc[p], _layer_heads(len(lc[p]))) for p in ("start", "end") if p in lc]
        out.append(_grid_block(expl, "conductance", "Layer conductance", groups, diverging=True,
                               note="Each layer's conductance per token: for one layer the tokens add up to about "
                                    "F(x) − F(baseline) of that target."))
    att = expl.attention or {}
    mean = [(p, _layers_by_tokens(expl, (att.get(p) or {}).get("mean"))) for p in ("start", "end")]
    mean = [(p, m) for p, m in mean if m]
    if mean:
        out.append(_grid_block(
            expl, "attention", "Attention from the predicted start and end tokens",
            [(f"from {p}", m, _layer_heads(len(m))) for p, m in mean], diverging=False,
            note=f"Per layer, the attention weights from the predicted {' and '.join(p for p, _ in mean)} token to "
                 f"every token, averaged over the {att.get('heads', '?')} heads."))
        focused = []
        for p, _ in mean:
            f = _layers_by_tokens(expl, att[p].get("focused"))
            if f:
                focused.append((f"from {p}", f, _layer_heads(len(f), att[p].get("focused_heads"))))
        if focused:
            out.append(_grid_block(expl, "attention-focused", "The most focused head of each layer", focused,
                                   diverging=False, note="Per layer, the head whose attention from the token is the "
                                                         "most concentrated (lowest entropy); hover a column for it."))
    return out


def attribution_view(expl: Explanation | None, golds: Sequence[tuple[int, int]]) -> dict[str, Any] | None:
    if expl is None or not expl.has_attributions:
        return None
    gold_tokens = expl.tokens_in_span(*golds[0]) if golds else []
    grids = grids_view(expl)
    return {"targets": [target_view(expl, t, gold_tokens) for t in (expl.start, expl.end)],
            "sub_embeddings": sub_embedding_view(expl), "grids": grids,
            "grids_title": " and ".join(("Layer conductance" if g["kind"] == "conductance" else "attention")
                                        for g in grids if g["kind"] != "attention-focused").capitalize(),
            "lang": _lang_of(expl.question + expl.context),
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
                               "changed": any(p["changed"] for p in left + right),
                               "lang": _lang_of(orig.get(name, "") + var.get(name, ""))})
    view.update(diff=m.get("diff"), original_prediction=_answer(m.get("original_prediction")),
                variant_prediction=_answer(m.get("variant_prediction")))
    return view


# ---------------------------------------------------------------- numbers and verdicts
def verdict_rows(case: CaseResult) -> list[dict[str, Any]]:
    return [{"expectation": v.expectation, "check": v.check, "measured": v.measured, "op": v.op,
             "threshold": v.threshold, "state": "skipped" if v.passed is None else "passed" if v.passed else "failed",
             "detail": v.detail, "line": v.line} for v in case.verdicts]


# ---------------------------------------------------------------- pages
def _message(case: CaseResult) -> str:
    """pytest's failure text where it says more than the page's verdicts, answers and edits do: for errors, skips
    and anything without a failed check (a failed check's message repeats exactly those)."""
    return "" if any(v.passed is False for v in case.verdicts) else case.message


def page_title(case: CaseResult) -> str:
    """A ``<title>`` that tells a case's pages apart: each robustness check of a case has its own."""
    check = f" [{case.check_name or case.kind}]" if case.kind != "case" else ""
    return f"{case.case_id}{check} · {case.outcome} · qaaudit" if case.outcome else f"{case.case_id} · qaaudit"


def case_view(case: CaseResult, *, comparison: CaseComparison | None = None,
              baseline_label: str = "baseline", anchor: str = "") -> dict[str, Any]:
    """Everything one case page shows (``anchor``: its id in a file shared with other pages)."""
    expl, expl_error = explanation_of(case)
    pred = case.prediction or (expl.answer.to_dict() if expl else None)
    span = (pred["start"], pred["end"]) if pred and pred.get("end") and pred.get("text") else None
    golds = gold_spans(case.context, case.gold, span)
    view = {
        "case": case, "title": page_title(case), "anchor": anchor, "message": _message(case),
        # SQuAD lists the same answer once per annotator: each text once, with how often it was given
        "golds": list(Counter(case.gold).items()),
        "numbers": case_numbers(case), "prediction": _answer(pred) if pred else None,
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
            "numbers": case_numbers(base) if base else None, "prediction": _answer(bpred) if bpred else None,
            "attribution": attribution_view(bexpl, gold_spans(base.context, base.gold, bspan)) if base else None,
            "verdicts": verdict_rows(base) if base else [],
        }
    return view

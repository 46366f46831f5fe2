"""The attribution engine against Captum, and the properties that make its numbers trustworthy."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from qaaudit import load_model
from qaaudit.attribute import (
    CompletenessTarget,
    IGCase,
    integrated_gradients,
    integrated_gradients_batch,
    layer_conductance,
    quadrature,
    sub_embedding_attributions,
)
from qaaudit.errors import InvalidArgument
from tinymodels import ARCHS

QUESTION = "로제는 어디에서 태어났습니까?"
CONTEXT = "로제는 뉴질랜드에서 태어났다. Rose was born in New Zealand and grew up in Australia."


def _inputs(qa):
    enc = qa.tokenizer(QUESTION, CONTEXT, return_tensors="pt", return_special_tokens_mask=True)
    keep = enc.pop("special_tokens_mask").bool()
    inputs = {k: v for k, v in enc.items() if k in qa.tokenizer.model_input_names}
    return inputs, keep


def _captum(qa, inputs, keep, position, index, n_steps, method="gausslegendre"):
    from captum.attr import LayerIntegratedGradients

    names = [k for k in inputs if k != "input_ids"]

    def forward(ids, *extra):
        out = qa.model(input_ids=ids, **dict(zip(names, extra)))
        return (out.start_logits if position == "start" else out.end_logits)[:, index]

    ref = torch.where(keep, inputs["input_ids"], torch.full_like(inputs["input_ids"], qa.tokenizer.pad_token_id))
    lig = LayerIntegratedGradients(forward, qa.embeddings)
    attr, delta = lig.attribute(inputs["input_ids"], baselines=ref, additional_forward_args=tuple(inputs[n] for n in names),
                                n_steps=n_steps, method=method, return_convergence_delta=True)
    return attr[0].detach().numpy(), float(delta)


@pytest.mark.parametrize("arch", ARCHS)
def test_equals_captum_layer_integrated_gradients(tiny_checkpoint, arch):
    qa = load_model(tiny_checkpoint(arch), device="cpu")
    inputs, keep = _inputs(qa)
    n = inputs["input_ids"].shape[1]
    s, e = n // 2, n // 2 + 2
    run = integrated_gradients(qa, inputs, s, e, keep=keep, n_steps=20, keep_full=True)
    for position, index in (("start", s), ("end", e)):
        ref, ref_delta = _captum(qa, inputs, keep, position, index, 20)
        ours = run[position]
        scale = np.abs(ref).max()
        assert np.abs(ours.full - ref).max() <= 1e-5 * scale
        assert np.allclose(ours.tokens, ref.sum(-1), atol=1e-5 * scale)
        assert ours.delta == pytest.approx(ref_delta, abs=1e-5 * max(1.0, abs(ours.f_input - ours.f_baseline)))


@pytest.mark.parametrize("method", ["riemann_trapezoid", "riemann_left", "riemann_middle"])
def test_equals_captum_for_other_rules(tiny_checkpoint, method):
    qa = load_model(tiny_checkpoint("electra"), device="cpu")
    inputs, keep = _inputs(qa)
    run = integrated_gradients(qa, inputs, 5, 7, keep=keep, n_steps=12, method=method, keep_full=True)
    ref, _ = _captum(qa, inputs, keep, "end", 7, 12, method=method)
    assert np.abs(run.end.full - ref).max() <= 1e-5 * np.abs(ref).max()


@pytest.mark.parametrize("n", [9, 17, 33, 65])
def test_clenshaw_curtis_is_exact_on_polynomials(n):
    x, w = quadrature("clenshaw_curtis", n)
    for degree in range(n):  # exact up to degree n-1
        assert (w * x**degree).sum() == pytest.approx(1 / (degree + 1), abs=1e-12)
    assert np.all(np.diff(np.sort(x)) > 0) and x.min() == 0 and x.max() == pytest.approx(1)


@pytest.mark.parametrize("method", ["adaptive", "clenshaw_curtis"])
def test_adaptive_steps_meet_the_target_and_reuse_nodes(tiny_checkpoint, method):
    qa = load_model(tiny_checkpoint("bert"), device="cpu")
    inputs, keep = _inputs(qa)
    target = CompletenessTarget(abs_delta=1e-3, rel_delta=None, max_steps=257, min_steps=9)
    seen = []
    run = integrated_gradients(qa, inputs, 4, 6, keep=keep, target=target, method=method,
                               progress=lambda d, p: seen.append(d))
    assert run.converged and run.method == method
    assert abs(run.start.delta) <= 1e-3 and abs(run.end.delta) <= 1e-3
    steps = [h[0] for h in run.history]
    assert steps[0] == 9 and seen[-1] == run.n_steps == steps[-1]  # no node evaluated twice
    if method == "clenshaw_curtis":
        assert all(b == 2 * a - 1 for a, b in zip(steps, steps[1:]))  # nested levels
    else:
        assert all(b > a and (b - a) % 4 == 0 for a, b in zip(steps, steps[1:]))  # 4 new nodes per bisection
    # the adaptive result agrees with a fine fixed rule
    fine = integrated_gradients(qa, inputs, 4, 6, keep=keep, n_steps=128)
    scale = np.abs(fine.start.tokens).max()
    assert np.abs(run.start.tokens - fine.start.tokens).max() <= 0.02 * scale


@pytest.mark.parametrize("method,expected", [("adaptive", None), ("clenshaw_curtis", [17, 33])])
def test_adaptive_stops_at_max_steps(tiny_checkpoint, method, expected):
    qa = load_model(tiny_checkpoint("bert"), device="cpu")
    inputs, keep = _inputs(qa)
    run = integrated_gradients(qa, inputs, 4, 6, keep=keep, method=method,
                               target=CompletenessTarget(abs_delta=0.0, rel_delta=None, max_steps=33))
    assert not run.converged and run.n_steps <= 33
    steps = [h[0] for h in run.history]
    assert steps == expected if expected else (steps[0] == 17 and steps[-1] > 29)  # no room for 4 more


def _synthetic_ig(f, exact: float, method: str, target: CompletenessTarget):
    """The refinement rules on a known one-token integrand: delta = quadrature - exact."""
    from qaaudit.attribute import IGRun, TargetIG, _adaptive_panels, _drive, _nested_clenshaw_curtis

    calls = []

    def evaluate(alphas):
        calls.append(len(alphas))
        vals = f(np.asarray(alphas))[:, None]
        return {"start": vals, "end": vals}

    def result(tokens, weights, full=None):
        return {p: TargetIG(tokens=weights @ tokens[p], delta=float((weights @ tokens[p]).sum()) - exact,
                            f_input=exact, f_baseline=0.0) for p in ("start", "end")}

    rule = _adaptive_panels if method == "adaptive" else _nested_clenshaw_curtis
    run = _drive(rule(result, target, 1, "pad", None), evaluate)
    assert isinstance(run, IGRun) and sum(calls) == run.n_steps
    return run


def test_adaptive_panels_resolve_a_sharp_bump_with_fewer_nodes_than_clenshaw_curtis():
    # a trained model's path integrand: flat, then a narrow bump where attention flips (bench/README.md)
    width, centre = 0.02, 0.71
    f = lambda a: 1 + 40 / (1 + ((a - centre) / width) ** 2)  # noqa: E731
    exact = 1 + 40 * width * (np.arctan((1 - centre) / width) + np.arctan(centre / width))
    target = CompletenessTarget(abs_delta=None, rel_delta=0.01, max_steps=513)
    adaptive = _synthetic_ig(f, exact, "adaptive", target)
    cc = _synthetic_ig(f, exact, "clenshaw_curtis", target)
    assert adaptive.converged and abs(adaptive.start.delta) <= 0.01 * exact
    assert cc.converged and adaptive.n_steps < cc.n_steps / 2


@pytest.mark.parametrize("method", ["adaptive", "clenshaw_curtis"])
def test_refinement_reports_a_per_token_error_the_delta_cannot_see(method):
    # two tokens whose bumps cancel in the sum: the completeness delta holds at the first 17 nodes while each
    # token's integral is still off; the recorded estimate (adaptive: Simpson on each panel against its halves;
    # Clenshaw-Curtis: the embedded 9-node rule against the 17-node one) says so
    from qaaudit.attribute import TargetIG, _adaptive_panels, _drive, _nested_clenshaw_curtis

    width, centre = 0.03, 0.37
    bump = lambda a: 10 / (1 + ((a - centre) / width) ** 2)  # noqa: E731
    exact_bump = 10 * width * (np.arctan((1 - centre) / width) + np.arctan(centre / width))
    exact = np.array([1 + exact_bump, 1 - exact_bump])

    def evaluate(alphas):
        a = np.asarray(alphas)
        vals = np.stack([1 + bump(a), 1 - bump(a)], axis=1)
        return {"start": vals, "end": vals}

    def result(tokens, weights, full=None):
        t = {p: weights @ tokens[p] for p in ("start", "end")}
        return {p: TargetIG(tokens=t[p], delta=float(t[p].sum()) - 2.0, f_input=2.0, f_baseline=0.0) for p in t}

    rule = _adaptive_panels if method == "adaptive" else _nested_clenshaw_curtis
    delta_only = CompletenessTarget(abs_delta=None, rel_delta=0.01, token_error=None)
    run = _drive(rule(result, delta_only, 2, "pad", None), evaluate)
    true_error = np.linalg.norm(run.start.tokens - exact) / np.linalg.norm(exact)
    assert run.converged and run.n_steps == 17 and abs(run.start.delta) < 1e-9
    assert true_error > 0.02
    assert run.settings["token_error_estimate"]["start"] > 0.02
    if method == "adaptive":
        # by default the adaptive rule also holds its own per-token estimate to token_error, and refines on
        for bound in (0.02, 0.002):
            run = _drive(rule(result, CompletenessTarget(abs_delta=None, rel_delta=0.01, token_error=bound), 2,
                              "pad", None), evaluate)
            refined = np.linalg.norm(run.start.tokens - exact) / np.linalg.norm(exact)
            assert run.converged and run.n_steps > 17
            assert max(run.settings["token_error_estimate"].values()) <= bound
            assert refined < true_error / 4
            assert run.settings["target"]["token_error"] == bound


def test_adaptive_panels_do_not_stop_on_errors_that_cancel_between_panels():
    # token a has a bump in the second first-level panel, token b the same bump, negated, at the same place in
    # the third: their Boole errors cancel in the delta, which holds at the first 17 nodes with both tokens off.
    # The node logits give each panel's own completeness error, and the rule refines until they agree.
    from qaaudit.attribute import TargetIG, _adaptive_panels, _drive

    width, offset, height = 0.02, 0.09, 10.0
    centres = (0.25 + offset, 0.5 + offset)
    bump = lambda a, c: height / (1 + ((a - c) / width) ** 2)  # noqa: E731
    area = lambda a, c: height * width * np.arctan((a - c) / width)  # noqa: E731  (antiderivative)
    exact = np.array([1 + area(1, centres[0]) - area(0, centres[0]), 1 - area(1, centres[1]) + area(0, centres[1])])

    def evaluate(alphas, logits: bool):
        a = np.asarray(alphas)
        vals = np.stack([1 + bump(a, centres[0]), 1 - bump(a, centres[1])], axis=1)
        f = 2 * a + area(a, centres[0]) - area(a, centres[1])  # F along the path: the summed integrand's integral
        out = {"start": vals, "end": vals}
        return dict(out, logits={"start": f, "end": f}) if logits else out

    gap = float(exact.sum())
    def result(tokens, weights, full=None):
        t = {p: weights @ tokens[p] for p in ("start", "end")}
        return {p: TargetIG(tokens=t[p], delta=float(t[p].sum()) - gap, f_input=gap, f_baseline=0.0) for p in t}

    target = CompletenessTarget(abs_delta=None, rel_delta=0.01)
    runs = {with_logits: _drive(_adaptive_panels(result, target, 2, "pad", None),
                                lambda a, w=with_logits: evaluate(a, w)) for with_logits in (False, True)}
    error = {k: float(np.linalg.norm(r.start.tokens - exact) / np.linalg.norm(exact)) for k, r in runs.items()}
    blind, checked = runs[False], runs[True]
    assert blind.n_steps == 17 and abs(blind.start.delta) < 1e-5 and error[False] > 0.05
    assert "panel_error" not in blind.settings
    assert checked.converged and checked.n_steps > 17 and error[True] < 0.01
    # what the panels' errors add up to, beyond the delta, is within the tolerance (1% of the gap)
    assert checked.settings["panel_error"]["start"] - abs(checked.start.delta) <= 0.01 * gap


def test_sub_embedding_attributions_are_complete(tiny_checkpoint):
    qa = load_model(tiny_checkpoint("bert"), device="cpu")
    inputs, keep = _inputs(qa)
    sub = sub_embedding_attributions(qa, inputs, 4, 6, keep=keep, n_steps=64)
    assert set(sub) == {"word", "token_type", "position"}
    ids = inputs["input_ids"]
    ref = torch.where(keep, ids, torch.full_like(ids, qa.tokenizer.pad_token_id))
    mods = qa.sub_embedding_modules
    from qaaudit.attribute import _replace_output
    import contextlib

    with torch.no_grad(), contextlib.ExitStack() as stack:  # F at the all-baseline point
        stack.enter_context(_replace_output(mods["word"], mods["word"](ref)))
        stack.enter_context(_replace_output(mods["token_type"], mods["token_type"](torch.zeros_like(ids))))
        stack.enter_context(_replace_output(mods["position"], mods["position"](torch.zeros_like(ids))))
        f_base = qa.model(**inputs).start_logits[0, 4].item()
    with torch.no_grad():
        f_x = qa.model(**inputs).start_logits[0, 4].item()
    total = sum(v["start"].sum() for v in sub.values())
    assert total == pytest.approx(f_x - f_base, abs=0.02 * max(1, abs(f_x - f_base)))


def test_layer_conductance_of_last_layer_adds_up(tiny_checkpoint):
    qa = load_model(tiny_checkpoint("electra"), device="cpu")
    inputs, keep = _inputs(qa)
    cond = layer_conductance(qa, inputs, 4, 6, keep=keep, n_steps=64)
    ig = integrated_gradients(qa, inputs, 4, 6, keep=keep, n_steps=64)
    n_layers = qa.config.num_hidden_layers
    assert cond["start"].shape == (n_layers, inputs["input_ids"].shape[1])
    gap = ig.start.f_input - ig.start.f_baseline
    # every layer's conductance sums to about F(x) - F(baseline) (Riemann error only)
    for row in cond["start"]:
        assert row.sum() == pytest.approx(gap, abs=0.1 * max(1.0, abs(gap)))


@pytest.mark.parametrize("native", [False, True])
def test_bf16_autocast_warns_on_a_cpu_that_emulates_it(tiny_checkpoint, monkeypatch, native):
    import warnings

    import qaaudit.attribute as attribute
    from qaaudit import QAAuditWarning

    monkeypatch.setattr(attribute, "_cpu_has_bf16", lambda: native)
    qa = load_model(tiny_checkpoint("bert"), device="cpu")
    inputs, keep = _inputs(qa)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        integrated_gradients(qa, inputs, 4, 6, keep=keep, n_steps=4, autocast="bf16")
    ours = [w for w in seen if issubclass(w.category, QAAuditWarning)]
    if native:
        assert not ours
    else:
        assert len(ours) == 1 and "without native bf16" in str(ours[0].message)
        assert "leave autocast off" in str(ours[0].message)


@pytest.mark.filterwarnings("ignore::qaaudit.errors.QAAuditWarning")
def test_bf16_autocast_stays_close(tiny_checkpoint):
    qa = load_model(tiny_checkpoint("bert"), device="cpu")
    inputs, keep = _inputs(qa)
    fp32 = integrated_gradients(qa, inputs, 4, 6, keep=keep, n_steps=16)
    bf16 = integrated_gradients(qa, inputs, 4, 6, keep=keep, n_steps=16, autocast="bf16")
    rel = np.linalg.norm(bf16.start.tokens - fp32.start.tokens) / np.linalg.norm(fp32.start.tokens)
    assert rel < 0.1


@pytest.mark.parametrize("kwargs, match", [
    ({"n_steps": 0}, "n_steps=0"),
    ({"n_steps": 4, "baseline": "noise"}, "baseline='noise'"),
    ({"n_steps": 4, "method": "simpson"}, "method='simpson'"),
    ({"n_steps": 4, "autocast": "int8"}, "autocast='int8'"),
    ({"target": CompletenessTarget(), "method": "gausslegendre"}, "cannot refine adaptively"),
    ({"target": CompletenessTarget(), "keep_full": True}, "keep_full=True needs a fixed rule"),
    ({"n_steps": 4, "chunk_size": 0}, "chunk_size=0"),
])
def test_bad_arguments(tiny_checkpoint, kwargs, match):
    qa = load_model(tiny_checkpoint("bert"), device="cpu")
    inputs, keep = _inputs(qa)
    with pytest.raises(InvalidArgument, match=match):
        integrated_gradients(qa, inputs, 1, 2, keep=keep, **kwargs)


def test_completeness_target_validation():
    with pytest.raises(InvalidArgument, match="abs_delta or rel_delta"):
        CompletenessTarget(abs_delta=None, rel_delta=None)
    with pytest.raises(InvalidArgument, match="rel_delta=-1"):
        CompletenessTarget(rel_delta=-1)


def test_progress_reports_every_chunk(tiny_checkpoint):
    qa = load_model(tiny_checkpoint("bert"), device="cpu")
    inputs, keep = _inputs(qa)
    seen = []
    integrated_gradients(qa, inputs, 4, 6, keep=keep, n_steps=10, chunk_size=4, progress=lambda d, p: seen.append((d, p)))
    assert seen == [(4, 10), (8, 10), (10, 10)]
    seen.clear()
    run = integrated_gradients(qa, inputs, 4, 6, keep=keep, chunk_size=64, progress=lambda d, p: seen.append((d, p)),
                               target=CompletenessTarget(abs_delta=0.0, rel_delta=None, max_steps=33),
                               method="clenshaw_curtis")
    assert seen == [(17, 17), (33, 33)] and run.n_steps == 33  # the plan grows as levels are refined


def _windows(qa, pairs):
    cases = []
    for q, c in pairs:
        enc = qa.tokenizer(q, c, return_tensors="pt", return_special_tokens_mask=True)
        keep = enc.pop("special_tokens_mask").bool()
        inputs = {k: v for k, v in enc.items() if k in qa.tokenizer.model_input_names}
        n = inputs["input_ids"].shape[1]
        cases.append(IGCase(inputs, n - 4, n - 2, keep))
    return cases


@pytest.mark.parametrize("arch", ["bert", "electra", "roberta"])
@pytest.mark.parametrize("kw", [{"n_steps": 12}, {"target": CompletenessTarget(abs_delta=1e-3, rel_delta=None,
                                                                                max_steps=65, min_steps=9)}],
                         ids=["fixed", "target"])
def test_batch_equals_one_case_at_a_time(tiny_checkpoint, arch, kw):
    # cases of different lengths share passes (padded and masked); a small budget forces several passes
    qa = load_model(tiny_checkpoint(arch), device="cpu")
    pairs = [(QUESTION, CONTEXT), ("Where was Rose born?", "Rose was born in New Zealand."),
             (QUESTION, CONTEXT + " " + CONTEXT), ("Who?", "Rose.")]
    cases = _windows(qa, pairs)
    batch = integrated_gradients_batch(qa, cases, token_budget=100, **kw)
    assert len(batch) == len(cases)
    for case, run in zip(cases, batch):
        one = integrated_gradients(qa, case.inputs, case.start_index, case.end_index, keep=case.keep, **kw)
        assert run.n_steps == one.n_steps and run.history[-1][0] == one.history[-1][0]
        for p in ("start", "end"):
            scale = np.abs(one[p].tokens).max()
            assert run[p].tokens.shape == one[p].tokens.shape
            assert np.abs(run[p].tokens - one[p].tokens).max() <= 1e-4 * scale
            assert run[p].delta == pytest.approx(one[p].delta, abs=1e-4 * max(1.0, abs(one[p].f_input)))
            assert run[p].f_input == pytest.approx(one[p].f_input, abs=1e-5)


def test_batch_token_budget_must_be_positive(tiny_checkpoint):
    qa = load_model(tiny_checkpoint("bert"), device="cpu")
    with pytest.raises(InvalidArgument, match="token_budget=0"):
        integrated_gradients_batch(qa, _windows(qa, [(QUESTION, CONTEXT)]), n_steps=4, token_budget=0)


@pytest.mark.parametrize("mode", ["no_grad", "set_grad_enabled"])
def test_explanations_do_not_depend_on_the_callers_grad_mode(tiny_checkpoint, mode):
    """A notebook (or a benchmark in the same process) may have switched gradients off."""
    import qaaudit

    qa = load_model(tiny_checkpoint("bert"), device="cpu")
    want = qaaudit.explain(qa, "Where was Rose born?", "Rose was born in Auckland.", n_steps=4, sub_embeddings=True,
                           layers=True)
    if mode == "no_grad":
        with torch.no_grad():
            got = qaaudit.explain(qa, "Where was Rose born?", "Rose was born in Auckland.", n_steps=4,
                                  sub_embeddings=True, layers=True)
    else:
        torch.set_grad_enabled(False)
        try:
            got = qaaudit.explain(qa, "Where was Rose born?", "Rose was born in Auckland.", n_steps=4,
                                  sub_embeddings=True, layers=True)
        finally:
            torch.set_grad_enabled(True)
    assert got.to_dict() == want.to_dict()

"""Integrated gradients for extractive QA, start and end targets together.

Attribution is taken with respect to the output of the embeddings module, as
Captum's ``LayerIntegratedGradients`` does in the tutorial, with the targets
pinned to the predicted start and end indices. Where the tutorial runs two IG
calls (start, then end), this engine runs one forward pass per chunk of
interpolation steps and takes two gradients from it.

Quadrature:
- a fixed ``n_steps`` uses Captum's rules (Gauss-Legendre by default), so results
  equal Captum's on the same inputs;
- a :class:`CompletenessTarget` refines adaptively and stops as soon as the
  convergence delta meets the target: by default a composite Boole rule whose
  panels are bisected where the integrand is rough (``method="adaptive"``), or
  nested Clenshaw-Curtis rules (``method="clenshaw_curtis"``: 9, 17, 33, ...
  nodes). Both reuse every gradient already computed. The delta is exactly the
  quadrature error of the scalar path integral, so it is a true error measure; the
  adaptive rule also takes it panel by panel (from the target logits the forward
  passes give at every node), so that errors of opposite sign on two stretches of
  the path cannot cancel into a small delta.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch

from qaaudit.errors import InvalidArgument, QAAuditWarning

__all__ = [
    "CompletenessTarget",
    "TargetIG",
    "IGRun",
    "BASELINES",
    "METHODS",
    "ADAPTIVE_METHODS",
    "quadrature",
    "baseline_input_ids",
    "integrated_gradients",
    "integrated_gradients_batch",
    "IGCase",
    "sub_embedding_attributions",
    "layer_conductance",
]

BASELINES = ("pad", "mask", "unk", "zero")
METHODS = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "clenshaw_curtis")
ADAPTIVE_METHODS = ("adaptive", "clenshaw_curtis")  # rules a CompletenessTarget can refine
POSITIONS = ("start", "end")
# Tokens per forward pass for a KoELECTRA-small-sized encoder (hidden 256, 12 layers), scaled down for
# bigger models so activations kept for the backward pass stay within a few GiB. Measured on 2 CPU
# cores at 384 tokens: larger chunks were faster up to 50 steps per pass (bench/README.md).
DEFAULT_TOKEN_BUDGET = 16384


@dataclass(frozen=True)
class CompletenessTarget:
    """Refine the integral until |delta| is small enough, for the start and the end target.

    Like ``numpy.isclose``: the target holds when |delta| <= abs_delta + rel_delta * |F(x) - F(b)|
    (a bound left as None counts as 0). The relative part scales with the logit gap; the absolute
    part keeps a tiny gap from demanding an exact integral. ``max_steps`` caps the work; the last
    delta is reported either way.
    """

    abs_delta: float | None = 0.05
    rel_delta: float | None = 0.05
    max_steps: int = 129
    min_steps: int | None = None  # None: 17 (or max_steps if lower)
    # the adaptive rule's own estimate of the per-token error (relative L2, Simpson on each panel against
    # Simpson on its halves) must be this small too (None: not checked; clenshaw_curtis refines on the delta
    # alone, its estimate being the coarser level's error). The delta alone let a fine-tuned
    # MiniLM stop at 17 nodes 6.7% off a 128-node reference; at 0.02 the worst of 12 questions was 4.4% for
    # 3% more nodes (bench/README.md)
    token_error: float | None = 0.02

    def __post_init__(self) -> None:
        if self.abs_delta is None and self.rel_delta is None:
            raise InvalidArgument("CompletenessTarget needs abs_delta or rel_delta (or both); got neither")
        for name in ("abs_delta", "rel_delta", "token_error"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 or math.isnan(v)):
                raise InvalidArgument(f"CompletenessTarget.{name}={v!r} must be a number >= 0")
        for name in ("max_steps", "min_steps"):
            v = getattr(self, name)
            if name == "min_steps" and v is None:
                continue
            if not isinstance(v, int) or isinstance(v, bool) or v < 2:
                raise InvalidArgument(f"CompletenessTarget.{name}={v!r} must be an integer >= 2")
        if self.min_steps is not None and self.min_steps > self.max_steps:
            raise InvalidArgument(
                f"CompletenessTarget.min_steps={self.min_steps} exceeds max_steps={self.max_steps}; lower min_steps"
            )

    @property
    def first_steps(self) -> int:
        """Nodes of the first level: trained models seldom converge at 9, and starting at 17 saves a pass."""
        return self.min_steps if self.min_steps is not None else min(17, self.max_steps)

    def tolerance(self, gap: float) -> float:
        """The largest |delta| accepted when |F(x) - F(baseline)| is ``gap``."""
        return (self.abs_delta or 0.0) + (self.rel_delta or 0.0) * abs(gap)

    def holds(self, delta: float, gap: float) -> bool:
        return abs(delta) <= self.tolerance(gap)

    def to_dict(self) -> dict[str, Any]:
        return {"abs_delta": self.abs_delta, "rel_delta": self.rel_delta,
                "max_steps": self.max_steps, "min_steps": self.min_steps, "token_error": self.token_error}


@dataclass(frozen=True)
class TargetIG:
    """IG for one target: per-token attributions (hidden dimension summed) and the delta."""

    tokens: np.ndarray        # (L,) float64, raw sums
    delta: float              # sum(attributions) - (F(x) - F(baseline)), Captum's sign
    f_input: float
    f_baseline: float
    full: np.ndarray | None = None  # (L, H) attributions, when asked for

    @property
    def rel_delta(self) -> float:
        gap = abs(self.f_input - self.f_baseline)
        return abs(self.delta) / gap if gap > 0 else (0.0 if self.delta == 0 else math.inf)


@dataclass(frozen=True)
class IGRun:
    start: TargetIG
    end: TargetIG
    n_steps: int
    method: str
    history: tuple[tuple[int, float, float], ...] = ()  # (steps, |delta| start, |delta| end)
    converged: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, position: str) -> TargetIG:
        return self.start if position == "start" else self.end


# --------------------------------------------------------------------------- quadrature
def quadrature(method: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in [0, 1] and weights of an ``n``-point rule (Captum's definitions for its methods)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InvalidArgument(f"n_steps={n!r} must be an integer >= 1")
    if method == "gausslegendre":
        x, w = np.polynomial.legendre.leggauss(n)
        return 0.5 * (1 + x), 0.5 * w
    if method.startswith("riemann_"):
        kind = method[len("riemann_"):]
        if kind == "trapezoid":
            if n < 2:
                raise InvalidArgument("riemann_trapezoid needs n_steps >= 2")
            # Captum's definition: weights 1/n with halved ends (they sum to 1 - 1/n)
            w = np.full(n, 1.0 / n)
            w[0] = w[-1] = 0.5 / n
            return np.linspace(0, 1, n), w
        offsets = {"left": 0.0, "right": 1.0, "middle": 0.5}
        if kind not in offsets:
            raise InvalidArgument(f"method={method!r} is not one of {', '.join(METHODS)}")
        return (np.arange(n) + offsets[kind]) / n, np.full(n, 1.0 / n)
    if method == "clenshaw_curtis":
        intervals = n - 1
        if intervals < 2 or intervals & (intervals - 1):
            raise InvalidArgument(f"clenshaw_curtis needs n_steps = 2**k + 1 (9, 17, 33, ...); got {n}")
        return _clenshaw_curtis(intervals)
    raise InvalidArgument(f"method={method!r} is not one of {', '.join(METHODS)}")


def _clenshaw_curtis(N: int) -> tuple[np.ndarray, np.ndarray]:
    """Clenshaw-Curtis on [0, 1] with N+1 nodes (N even); node j is (1 - cos(j*pi/N)) / 2."""
    j = np.arange(N + 1)
    theta = j * np.pi / N
    w = np.zeros(N + 1)
    for k in range(N + 1):
        s = 0.0
        for m in range(1, N // 2 + 1):
            b = 1.0 if 2 * m == N else 2.0
            s += b / (4 * m * m - 1) * math.cos(2 * m * theta[k])
        c = 1.0 if k in (0, N) else 2.0
        w[k] = c / N * (1 - s)
    return (1 - np.cos(theta)) / 2, w / 2


# --------------------------------------------------------------------------- baselines and hooks
def baseline_input_ids(tokenizer: Any, input_ids: torch.Tensor, keep: torch.Tensor, kind: str) -> torch.Tensor:
    """Reference token ids: every token not in ``keep`` (special tokens) becomes the pad/mask/unk token."""
    ids = {"pad": tokenizer.pad_token_id, "mask": tokenizer.mask_token_id, "unk": tokenizer.unk_token_id,
           "zero": tokenizer.pad_token_id}
    if kind not in ids:
        raise InvalidArgument(f"baseline={kind!r} is not one of {', '.join(BASELINES)}")
    ref = ids[kind]
    if ref is None:
        raise InvalidArgument(
            f"baseline={kind!r} needs the tokenizer's {kind} token, which {type(tokenizer).__name__} lacks; "
            f"use baseline='pad' or 'zero'"
        )
    return torch.where(keep, input_ids, torch.full_like(input_ids, ref))


@contextlib.contextmanager
def _replace_output(module: torch.nn.Module, value: Callable[[Any], Any] | torch.Tensor) -> Iterator[None]:
    """Make ``module`` return ``value`` (or ``value(original_output)``) during the block."""

    def hook(_mod, _args, out):
        new = value(out) if callable(value) else value
        if isinstance(out, tuple):
            return (new, *out[1:])
        return new

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class _Stop(Exception):
    pass


def _capture(module: torch.nn.Module, model: torch.nn.Module, inputs: Mapping[str, torch.Tensor],
             run_to_end: bool = True) -> tuple[torch.Tensor, Any]:
    """Run the model and keep ``module``'s output (stopping right after it unless ``run_to_end``)."""
    seen: dict[str, torch.Tensor] = {}

    def hook(_mod, _args, out):
        seen["out"] = (out[0] if isinstance(out, tuple) else out).detach()
        if not run_to_end:
            raise _Stop

    handle = module.register_forward_hook(hook)
    out = None
    try:
        with torch.no_grad():
            out = model(**inputs)
    except _Stop:
        pass
    finally:
        handle.remove()
    return seen["out"], out


def _endpoints(qa: Any, inputs: Mapping[str, torch.Tensor], keep: torch.Tensor, baseline: str, *,
               logits: bool) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """The embeddings-layer output at the input and at the baseline (fp32, batch of 1 each), from one
    batch-of-two pass; with ``logits`` the pass runs to the end and its output (both rows) is returned.
    """
    ids = inputs["input_ids"]
    both = {k: torch.cat([v, v], 0) for k, v in inputs.items()}
    both["input_ids"] = torch.cat([ids, baseline_input_ids(qa.tokenizer, ids, keep, baseline)], 0)
    emb, out = _capture(qa.embeddings, qa.model, both, run_to_end=logits)
    emb_x = emb[0:1].float()
    emb_b = torch.zeros_like(emb_x) if baseline == "zero" else emb[1:2].float()
    return emb_x, emb_b, out


def _cpu_has_bf16() -> bool:
    """Whether oneDNN runs bf16 natively here (AVX512-BF16 or AMX); elsewhere it emulates it."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False


def _full_precision(autocast: str | None) -> bool:
    return autocast in (None, "none", "fp32", False)


def _autocast(device: torch.device, autocast: str | None):
    if _full_precision(autocast):
        return contextlib.nullcontext()
    dtypes = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
    if autocast not in dtypes:
        raise InvalidArgument(f"autocast={autocast!r} is not one of bf16, fp16 or None")
    if dtypes[autocast] is torch.float16 and device.type != "cuda":
        raise InvalidArgument("autocast='fp16' needs a CUDA device; use 'bf16' on the CPU")
    if device.type == "cpu" and not _cpu_has_bf16():
        # bench/README.md, 2026-12-02: on an AVX2-only CPU the demo model's explanations took 18x as long in bf16
        warnings.warn(
            f"autocast={autocast!r} on a CPU without native bf16 ({torch.backends.cpu.get_cpu_capability()}: no "
            f"AVX512-BF16 or AMX) is emulated and runs many times slower than fp32; leave autocast off on this "
            f"machine (drop --qaaudit-autocast / attribution.autocast)", QAAuditWarning, stacklevel=3)
    return torch.autocast(device_type=device.type, dtype=dtypes[autocast])


def _repeat(inputs: Mapping[str, torch.Tensor], c: int) -> dict[str, torch.Tensor]:
    return {k: v.expand(c, *v.shape[1:]) for k, v in inputs.items()}


def _model_budget(config: Any) -> int:
    """``DEFAULT_TOKEN_BUDGET`` scaled to the model's size (hidden size x layers against KoELECTRA-small's)."""
    hidden = int(getattr(config, "hidden_size", 256) or 256)
    layers = int(getattr(config, "num_hidden_layers", 12) or 12)
    return int(DEFAULT_TOKEN_BUDGET * (256 * 12) / max(hidden * layers, 1))


def _chunk_size(chunk_size: int | None, seq_len: int, n: int, config: Any = None) -> int:
    if chunk_size is not None:
        if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
            raise InvalidArgument(f"chunk_size={chunk_size!r} must be an integer >= 1")
        return chunk_size
    return max(1, min(n, _model_budget(config) // max(seq_len, 1)))


def _check_rule(n_steps: int | None, target: CompletenessTarget | None) -> CompletenessTarget | None:
    """The target to refine to (the default one when neither a step count nor a target is given)."""
    if n_steps is not None and (not isinstance(n_steps, int) or isinstance(n_steps, bool) or n_steps < 1):
        raise InvalidArgument(f"n_steps={n_steps!r} must be an integer >= 1; or pass target= for adaptive steps")
    return CompletenessTarget() if n_steps is None and target is None else target


def _path_ends(qa: Any, inputs: Mapping[str, torch.Tensor], start_index: int, end_index: int, keep: torch.Tensor,
               baseline: str) -> tuple[torch.Tensor, torch.Tensor, dict[str, float], dict[str, float]]:
    """The embeddings at the input and the baseline, and the start/end target logits F at both."""
    emb_x, emb_b, out = _endpoints(qa, inputs, keep, baseline, logits=True)
    f = {"start": out.start_logits[:, start_index].double(), "end": out.end_logits[:, end_index].double()}
    if baseline == "zero":  # the pass above ran the pad baseline; F(baseline) is at the zero embedding
        with _replace_output(qa.embeddings, emb_b.to(next(qa.embeddings.parameters()).dtype)), torch.no_grad():
            o = qa.model(**inputs)
        f["start"][1], f["end"][1] = o.start_logits[0, start_index].double(), o.end_logits[0, end_index].double()
    return emb_x, emb_b, {p: float(f[p][0]) for p in POSITIONS}, {p: float(f[p][1]) for p in POSITIONS}


# --------------------------------------------------------------------------- the engine
@torch.enable_grad()   # gradients whatever the caller's grad mode (a notebook's set_grad_enabled(False))
def integrated_gradients(
    qa: Any,
    inputs: Mapping[str, torch.Tensor],
    start_index: int,
    end_index: int,
    *,
    keep: torch.Tensor,
    baseline: str = "pad",
    n_steps: int | None = None,
    target: CompletenessTarget | None = None,
    method: str | None = None,
    chunk_size: int | None = None,
    autocast: str | None = None,
    keep_full: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> IGRun:
    """IG of the start logit at ``start_index`` and the end logit at ``end_index``.

    ``inputs`` is one window (batch of 1) as the model takes it; ``keep`` marks the
    tokens the baseline keeps (special tokens). Give ``n_steps`` for a fixed rule
    (``method``, default Gauss-Legendre) or ``target`` for adaptive refinement.
    ``progress(done, planned)`` is called after each forward/backward chunk (steps so far, steps
    planned; with a target the plan grows when a level is refined).
    """
    model, emb_module = qa.model, qa.embeddings
    target = _check_rule(n_steps, target)
    emb_x, emb_b, f_x, f_b = _path_ends(qa, inputs, start_index, end_index, keep, baseline)
    diff = (emb_x - emb_b)[0]  # (L, H)
    seq_len = diff.shape[0]

    done = [0, 0]  # steps evaluated, steps planned (for ``progress``)

    def run_nodes(alphas: np.ndarray, weights: np.ndarray | None) -> dict[str, Any]:
        """Per-node token integrands (n, L) for both targets, and weighted full sums when weights given."""
        done[1] += len(alphas)
        tok = {p: np.zeros((len(alphas), seq_len)) for p in POSITIONS}
        logit = {p: np.zeros(len(alphas)) for p in POSITIONS}
        full = {p: torch.zeros_like(diff, dtype=torch.float64) for p in POSITIONS} if weights is not None else None
        c = _chunk_size(chunk_size, seq_len, len(alphas), qa.config)
        for lo in range(0, len(alphas), c):
            a = torch.as_tensor(alphas[lo:lo + c], dtype=emb_x.dtype, device=emb_x.device).view(-1, 1, 1)
            path = (emb_b + a * (emb_x - emb_b)).requires_grad_(True)
            with _replace_output(emb_module, path), _autocast(qa.device, autocast):
                o = model(**_repeat(inputs, len(a)))
            rows = {"start": o.start_logits[:, start_index], "end": o.end_logits[:, end_index]}
            for i, p in enumerate(POSITIONS):
                logit[p][lo:lo + len(a)] = rows[p].detach().double().cpu().numpy()
                (g,) = torch.autograd.grad(rows[p].sum(), path, retain_graph=i == 0)
                g = g.float()
                tok[p][lo:lo + len(a)] = (g * diff).sum(-1).double().cpu().numpy()
                if full is not None:
                    w = torch.as_tensor(weights[lo:lo + len(a)], dtype=torch.float64, device=g.device).view(-1, 1, 1)
                    full[p] += (g.double() * w).sum(0)
            done[0] += len(a)
            if progress is not None:
                progress(done[0], done[1])
        return {"tokens": dict(tok, logits=logit), "full": full}

    def result(tokens: dict[str, np.ndarray], weights: np.ndarray, full=None) -> dict[str, TargetIG]:
        res = {}
        for p in POSITIONS:
            t = weights @ tokens[p]
            attr_full = (full[p] * diff.double()).cpu().numpy() if full is not None else None
            total = float(attr_full.sum()) if attr_full is not None else float(t.sum())
            res[p] = TargetIG(tokens=t, delta=total - (f_x[p] - f_b[p]), f_input=f_x[p], f_baseline=f_b[p],
                              full=attr_full)
        return res

    if n_steps is not None:
        m = method or "gausslegendre"
        alphas, weights = quadrature(m, n_steps)
        r = run_nodes(alphas, weights if keep_full else None)
        res = result(r["tokens"], weights, r["full"])
        hist = ((n_steps, abs(res["start"].delta), abs(res["end"].delta)),)
        return IGRun(res["start"], res["end"], n_steps, m, hist, True,
                     {"n_steps": n_steps, "method": m, "baseline": baseline, "autocast": autocast})

    if keep_full:
        raise InvalidArgument(
            "keep_full=True needs a fixed rule: pass n_steps= (adaptive refinement keeps per-token sums only)"
        )
    rule = _rule(target, method, result, seq_len, baseline, autocast)
    return _drive(rule, lambda alphas: run_nodes(alphas, None)["tokens"])


def _rule(target: CompletenessTarget, method: str | None, result: Callable, seq_len: int, baseline: str,
          autocast: str | None):
    """The refinement rule for ``target`` as a generator: it yields the nodes it needs and is sent
    their token integrands, so that one driver can serve one case and another many cases at once."""
    if method in (None, "adaptive"):
        return _adaptive_panels(result, target, seq_len, baseline, autocast)
    if method == "clenshaw_curtis":
        return _nested_clenshaw_curtis(result, target, seq_len, baseline, autocast)
    raise InvalidArgument(
        f"method={method!r} cannot refine adaptively; use method='adaptive' (the default with a target) or "
        f"'clenshaw_curtis', or pass n_steps= for a fixed {method} rule"
    )


def _fixed_rule(result: Callable, method: str, n_steps: int, baseline: str, autocast: str | None):
    """A fixed rule as a generator (see :func:`_rule`), for the batched driver."""
    alphas, weights = quadrature(method, n_steps)
    tokens = yield alphas
    res = result(tokens, weights)
    return IGRun(res["start"], res["end"], n_steps, method,
                 ((n_steps, abs(res["start"].delta), abs(res["end"].delta)),), True,
                 {"n_steps": n_steps, "method": method, "baseline": baseline, "autocast": autocast})


def _drive(rule, evaluate: Callable[[np.ndarray], dict[str, np.ndarray]]) -> IGRun:
    """Run one rule generator to the end, evaluating each request of nodes with ``evaluate``."""
    try:
        alphas = next(rule)
        while True:
            alphas = rule.send(evaluate(alphas))
    except StopIteration as stop:
        return stop.value


@dataclass(frozen=True)
class IGCase:
    """One window to explain in :func:`integrated_gradients_batch` (the arguments of the one-case engine)."""

    inputs: Mapping[str, torch.Tensor]
    start_index: int
    end_index: int
    keep: torch.Tensor


def _tokens_result(f_x: Mapping[str, float], f_b: Mapping[str, float]) -> Callable:
    def result(tokens: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, TargetIG]:
        res = {}
        for p in POSITIONS:
            t = weights @ tokens[p]
            res[p] = TargetIG(tokens=t, delta=float(t.sum()) - (f_x[p] - f_b[p]), f_input=f_x[p], f_baseline=f_b[p])
        return res

    return result


def _resolve_budget(qa: Any, token_budget: int | None = None) -> int:
    """Tokens per forward pass of interpolated inputs: ``DEFAULT_TOKEN_BUDGET`` scaled to the model's size,
    twice that on a GPU. On an H100, a KoELECTRA-small-shaped model at 384 tokens ran as fast at 32768 tokens
    per pass (6.5 GiB) as at 131072 (20.5 GiB) or 524288 (bench/README.md)."""
    if token_budget is not None:
        if not isinstance(token_budget, int) or isinstance(token_budget, bool) or token_budget < 1:
            raise InvalidArgument(f"token_budget={token_budget!r} must be an integer >= 1")
        return token_budget
    return _model_budget(qa.config) * (2 if qa.device.type == "cuda" else 1)


@torch.enable_grad()
def integrated_gradients_batch(
    qa: Any,
    cases: list[IGCase],
    *,
    baseline: str = "pad",
    n_steps: int | None = None,
    target: CompletenessTarget | None = None,
    method: str | None = None,
    autocast: str | None = None,
    token_budget: int | None = None,
) -> list[IGRun]:
    """:func:`integrated_gradients` for many windows at once, one :class:`IGRun` per case.

    Each case refines on its own (same rules, same results up to float rounding), but the nodes that
    all cases ask for in a round go through the model together: rows of every case, sorted by length and
    padded (masked) to the longest in their pass, as many per pass as ``token_budget`` allows. This is
    what makes a GPU busy; on a CPU one case at a time measured as fast (bench/README.md).
    """
    target = _check_rule(n_steps, target)
    budget = _resolve_budget(qa, token_budget)
    states, rules = [], []
    for case in cases:
        emb_x, emb_b, f_x, f_b = _path_ends(qa, case.inputs, case.start_index, case.end_index, case.keep, baseline)
        states.append((case, emb_b[0], (emb_x - emb_b)[0]))
        result = _tokens_result(f_x, f_b)
        seq_len = emb_x.shape[1]
        rules.append(_fixed_rule(result, method or "gausslegendre", n_steps, baseline, autocast) if n_steps is not None
                     else _rule(target, method, result, seq_len, baseline, autocast))
    runs: list[IGRun | None] = [None] * len(cases)
    requests: dict[int, np.ndarray] = {}
    for i, rule in enumerate(rules):
        requests[i] = next(rule)
    while requests:
        answers = _batched_nodes(qa, states, requests, budget, autocast)
        nxt = {}
        for i, tokens in answers.items():
            try:
                nxt[i] = rules[i].send(tokens)
            except StopIteration as stop:
                runs[i] = stop.value
        requests = nxt
    return runs  # type: ignore[return-value]


def _batched_nodes(qa: Any, states: list, requests: Mapping[int, np.ndarray], budget: int,
                   autocast: str | None) -> dict[int, dict[str, np.ndarray]]:
    """Token integrands at the requested nodes of several cases, rows of similar length per pass."""
    rows = sorted(((i, j) for i, alphas in requests.items() for j in range(len(alphas))),
                  key=lambda r: (states[r[0]][2].shape[0], r))
    out = {i: {p: np.zeros((len(a), states[i][2].shape[0])) for p in POSITIONS} for i, a in requests.items()}
    for i, a in requests.items():
        out[i]["logits"] = {p: np.zeros(len(a)) for p in POSITIONS}
    pad_id = qa.tokenizer.pad_token_id or 0
    lo = 0
    while lo < len(rows):
        hi = lo + 1  # rows are sorted by length, so the pass's width is its last row's length
        while hi < len(rows) and (hi + 1 - lo) * states[rows[hi][0]][2].shape[0] <= budget:
            hi += 1
        part = rows[lo:hi]
        lo = hi
        width = states[part[-1][0]][2].shape[0]
        paths, diffs, cols, feeds = [], [], {"start": [], "end": []}, {}
        for i, j in part:
            case, base, diff = states[i]
            n = diff.shape[0]
            a = float(requests[i][j])
            paths.append(torch.nn.functional.pad(base + a * diff, (0, 0, 0, width - n)))
            diffs.append(torch.nn.functional.pad(diff, (0, 0, 0, width - n)))
            cols["start"].append(case.start_index)
            cols["end"].append(case.end_index)
            for k, v in case.inputs.items():
                value = pad_id if k == "input_ids" else 0
                feeds.setdefault(k, []).append(torch.nn.functional.pad(v[0], (0, width - n), value=value))
        feed = {k: torch.stack(v) for k, v in feeds.items()}
        feed["attention_mask"] = torch.stack([
            (torch.arange(width, device=qa.device) < states[i][2].shape[0]).to(torch.long) for i, _ in part])
        path = torch.stack(paths).requires_grad_(True)
        with _replace_output(qa.embeddings, path), _autocast(qa.device, autocast):
            o = qa.model(**feed)
        r = torch.arange(len(part), device=qa.device)
        outs = {p: (o.start_logits if p == "start" else o.end_logits)[r, torch.as_tensor(cols[p], device=qa.device)]
                for p in POSITIONS}
        diff_rows = torch.stack(diffs)
        for k, p in enumerate(POSITIONS):
            values = outs[p].detach().double().cpu().numpy()
            (g,) = torch.autograd.grad(outs[p].sum(), path, retain_graph=k == 0)
            tok = (g.float() * diff_rows).sum(-1).double().cpu().numpy()
            for row, (i, j) in enumerate(part):
                out[i][p][j] = tok[row, :states[i][2].shape[0]]
                out[i]["logits"][p][j] = values[row]
    return out


# A round bisects the worst panels until they hold this share of the estimated error. With the per-panel
# completeness check (bench/README.md, 2026-12-02; 24 demo questions), 0.5 took 25.8 nodes per case against 29.0
# for 0.8, attribution errors against a 128-node reference median 4.6% / worst 13.0% against 3.5% / 13.0%, and
# 0.34 of the notebook's time on 8 cases against 0.44 (0.36 in the 3-repeat table; the delta-only rule at 0.8 took
# 0.34 in the same 2-repeat setting, worst error 36.4%).
_SPLIT_SHARE = 0.5
_BOOLE = np.array([7.0, 32.0, 12.0, 32.0, 7.0]) / 90.0  # Boole's rule on a panel of width 1 (5 points)


def _adaptive_panels(result, target: CompletenessTarget, seq_len: int, baseline: str,
                     autocast: str | None):
    """Composite Boole rule on panels bisected where the integrand is rough.

    A trained model's path integrand has sharp bumps (attention flipping at some alpha) that
    global rules such as Clenshaw-Curtis need 129+ nodes to resolve; bisecting only the panels
    around a bump gets there with fewer. Each panel of 5 equispaced nodes has two error measures:
    Simpson's rule on the panel against Simpson on its halves (per token, an estimate), and, from
    the target logits that the same forward passes give at the nodes, the panel's completeness error
    |Boole's integral of the summed integrand - (F(b) - F(a))| (exact, for the sum). A round bisects
    the worst panels (``_SPLIT_SHARE`` of the error, in units of the target's tolerance), which costs
    4 new nodes per panel and reuses its 5.

    It stops when both targets hold and the panels' completeness errors do not cancel by more than the
    tolerance (sum of |panel error| - |delta| <= tolerance): the delta is the sum of the panel errors, and
    a bump missed in one panel can offset another panel's, leaving the delta small and two stretches of
    the path wrong. Without node logits (or under autocast, whose logits keep 2-3 digits, too few for
    F(b) - F(a) on a narrow panel) only the delta and the Simpson estimates are used.
    """
    index: dict[float, int] = {}
    tokens: dict[str, np.ndarray] = {p: np.zeros((0, seq_len)) for p in POSITIONS}
    logits: dict[str, np.ndarray] = {p: np.zeros(0) for p in POSITIONS}
    exact = _full_precision(autocast)  # node logits fit for panel differences

    def points(a: float, b: float) -> list[float]:
        return [a + (b - a) * j / 4 for j in range(5)]  # dyadic: exact as floats, so usable as keys

    def missing(panels: list[tuple[float, float]]) -> list[float]:
        return sorted({x for a, b in panels for x in points(a, b)} - index.keys())

    def panel_error(p: str, a: float, b: float) -> np.ndarray:
        """Per-token error of the panel's integral: Simpson on its halves against Simpson on the whole, /15."""
        f = tokens[p][[index[x] for x in points(a, b)]]
        whole = (f[0] + 4 * f[2] + f[4]) / 6
        halves = (f[0] + 4 * f[1] + 2 * f[2] + 4 * f[3] + f[4]) / 12
        return (b - a) * np.abs(halves - whole) / 15

    def completeness_error(p: str, a: float, b: float) -> float:
        """|Boole's integral of the token-summed integrand over the panel - (F(b) - F(a))|, from node logits."""
        f = tokens[p][[index[x] for x in points(a, b)]].sum(1)
        return abs((b - a) * float(_BOOLE @ f) - float(logits[p][index[b]] - logits[p][index[a]]))

    def token_estimate(p: str, attributions: np.ndarray) -> float:
        """Relative L2 over the tokens of the panels' estimated errors."""
        err = sum(panel_error(p, a, b) for a, b in panels)
        return float(np.linalg.norm(err) / max(np.linalg.norm(attributions), 1e-12))

    def add(todo: list[float], new: Mapping[str, Any]) -> None:
        nonlocal exact
        for x in todo:
            index[x] = len(index)
        exact = exact and "logits" in new
        for p in POSITIONS:
            tokens[p] = np.concatenate([tokens[p], new[p]])
            if exact:
                logits[p] = np.concatenate([logits[p], new["logits"][p]])

    n0 = max(1, -(-(target.first_steps - 1) // 4))  # panels of the first round: 4 -> 17 nodes
    panels = [(k / n0, (k + 1) / n0) for k in range(n0)]
    history: list[tuple[int, float, float]] = []
    while True:
        todo = missing(panels)
        if todo:
            add(todo, (yield np.array(todo)))
        weights = np.zeros(len(index))
        for a, b in panels:
            for x, w in zip(points(a, b), _BOOLE):
                weights[index[x]] += w * (b - a)
        res = result(tokens, weights)
        history.append((len(index), abs(res["start"].delta), abs(res["end"].delta)))
        # tolerances floored: a zero target must still rank panels
        tol = {p: max(target.tolerance(res[p].f_input - res[p].f_baseline), 1e-12) for p in POSITIONS}
        checks = {p: [completeness_error(p, a, b) for a, b in panels] for p in POSITIONS} if exact else None
        converged = all(target.holds(res[p].delta, res[p].f_input - res[p].f_baseline)
                        and (checks is None or sum(checks[p]) - abs(res[p].delta) <= tol[p]) for p in POSITIONS)
        if converged and target.token_error is not None:
            converged = all(token_estimate(p, res[p].tokens) <= target.token_error for p in POSITIONS)
        room = (target.max_steps - len(index)) // 4
        if converged or room < 1:
            break
        errors = [(sum(max(float(panel_error(p, a, b).sum()), checks[p][k] if checks else 0.0) / tol[p]
                       for p in POSITIONS), (a, b)) for k, (a, b) in enumerate(panels)]
        errors.sort(reverse=True)
        total, acc, split = sum(e for e, _ in errors), 0.0, set()
        for e, panel in errors[:room]:
            split.add(panel)
            acc += e
            if acc >= _SPLIT_SHARE * total:
                break
        panels = sorted([pb for pb in panels if pb not in split]
                        + [half for a, b in split for half in ((a, (a + b) / 2), ((a + b) / 2, b))])
    n = len(index)
    # per-token error, estimated from Simpson on each panel against Simpson on its halves (L2 over tokens,
    # relative): the completeness delta is a sum in which errors of opposite sign cancel
    estimate = {p: token_estimate(p, res[p].tokens) for p in POSITIONS}
    settings = {"n_steps": n, "method": "adaptive", "baseline": baseline, "autocast": autocast,
                "target": target.to_dict(), "token_error_estimate": estimate}
    if checks is not None:  # sum of |completeness error| over the panels: |delta| plus what cancelled in it
        settings["panel_error"] = {p: float(sum(checks[p])) for p in POSITIONS}
    return IGRun(res["start"], res["end"], n, "adaptive", tuple(history), converged, settings)


def _nested_clenshaw_curtis(result, target: CompletenessTarget, seq_len: int, baseline: str,
                            autocast: str | None):
    """Nested Clenshaw-Curtis (9, 17, 33, ... nodes), every level reusing the gradients of the last."""
    N = 8
    while N + 1 < target.first_steps:
        N *= 2
    alphas, _ = _clenshaw_curtis(N)
    tokens = yield alphas
    history = []
    while True:
        _, weights = _clenshaw_curtis(N)
        res = result(tokens, weights)
        history.append((N + 1, abs(res["start"].delta), abs(res["end"].delta)))
        converged = all(target.holds(res[p].delta, res[p].f_input - res[p].f_baseline) for p in POSITIONS)
        if converged or 2 * N + 1 > target.max_steps:
            break
        new_alphas = (1 - np.cos(np.arange(1, 2 * N, 2) * np.pi / (2 * N))) / 2
        new = yield new_alphas
        merged = {}
        for p in POSITIONS:  # interleave: old node j sits at 2j of the finer grid, new ones at the odd places
            arr = np.empty((2 * N + 1, seq_len))
            arr[0::2], arr[1::2] = tokens[p], new[p]
            merged[p] = arr
        tokens, N = merged, 2 * N
    # the embedded half-level rule (every other node) against the last: the coarser rule's error, so an upper
    # estimate of the per-token error that the completeness delta, a sum, can hide
    _, half = _clenshaw_curtis(N // 2)
    estimate = {p: float(np.linalg.norm(res[p].tokens - half @ tokens[p][0::2])
                         / max(np.linalg.norm(res[p].tokens), 1e-12)) for p in POSITIONS}
    return IGRun(res["start"], res["end"], N + 1, "clenshaw_curtis", tuple(history), converged,
                 {"n_steps": N + 1, "method": "clenshaw_curtis", "baseline": baseline, "autocast": autocast,
                  "target": target.to_dict(), "token_error_estimate": estimate})


# --------------------------------------------------------------------------- sub-embeddings and layers
@torch.enable_grad()
def sub_embedding_attributions(
    qa: Any,
    inputs: Mapping[str, torch.Tensor],
    start_index: int,
    end_index: int,
    *,
    keep: torch.Tensor,
    baseline: str = "pad",
    n_steps: int = 50,
    chunk_size: int | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """IG over the word, token-type and position embedding tables at once (Captum tutorial, part 2).

    Baselines as in the tutorial: reference token ids for words, all-zero token types and
    positions. Returns ``{table: {"start": (L,), "end": (L,)}}`` (hidden dimension summed).
    """
    model = qa.model
    modules = qa.sub_embedding_modules
    input_ids = inputs["input_ids"]
    ref_ids = baseline_input_ids(qa.tokenizer, input_ids, keep, baseline)
    xs: dict[str, torch.Tensor] = {}
    for name, mod in modules.items():
        xs[name], _ = _capture(mod, model, inputs, run_to_end=False)
    bs: dict[str, torch.Tensor] = {}
    ref_inputs = dict(inputs, input_ids=ref_ids)
    bs["word"], _ = _capture(modules["word"], model, ref_inputs, run_to_end=False)
    if baseline == "zero":
        bs["word"] = torch.zeros_like(bs["word"])
    for name in ("token_type", "position"):
        if name in modules:
            with torch.no_grad():
                bs[name] = modules[name](torch.zeros(xs[name].shape[:-1], dtype=torch.long, device=qa.device))
    seq_len = input_ids.shape[1]
    alphas, weights = quadrature("gausslegendre", n_steps)
    acc = {n: {p: torch.zeros(seq_len, dtype=torch.float64, device=qa.device) for p in POSITIONS} for n in modules}
    c = _chunk_size(chunk_size, seq_len, n_steps, qa.config)
    for lo in range(0, n_steps, c):
        a = torch.as_tensor(alphas[lo:lo + c], dtype=torch.float32, device=qa.device).view(-1, 1, 1)
        w = torch.as_tensor(weights[lo:lo + c], dtype=torch.float64, device=qa.device).view(-1, 1)
        paths = {n: (bs[n].float() + a * (xs[n].float() - bs[n].float())).requires_grad_(True) for n in modules}
        with contextlib.ExitStack() as stack:
            for n, mod in modules.items():
                stack.enter_context(_replace_output(mod, paths[n]))
            o = model(**_repeat(inputs, len(a)))
        outs = {"start": o.start_logits[:, start_index].sum(), "end": o.end_logits[:, end_index].sum()}
        names = list(modules)
        for i, p in enumerate(POSITIONS):
            grads = torch.autograd.grad(outs[p], [paths[n] for n in names], retain_graph=i == 0)
            for n, g in zip(names, grads):
                d = (xs[n].float() - bs[n].float()).expand_as(g)
                acc[n][p] += ((g * d).sum(-1).double() * w).sum(0)
    return {n: {p: acc[n][p].cpu().numpy() for p in POSITIONS} for n in modules}


@torch.enable_grad()
def layer_conductance(
    qa: Any,
    inputs: Mapping[str, torch.Tensor],
    start_index: int,
    end_index: int,
    *,
    keep: torch.Tensor,
    baseline: str = "pad",
    n_steps: int = 50,
    chunk_size: int | None = None,
) -> dict[str, np.ndarray]:
    """Conductance of every encoder layer's output, tokens x layers, for start and end.

    Along the same straight path in embedding space as the IG attributions; one sweep
    gives every layer (hidden states of all layers come out of each forward pass),
    where Captum's tutorial runs ``LayerConductance`` once per layer. For each layer,
    the token values add up to about F(x) - F(baseline). Returns ``{"start": (layers, L), "end": ...}``.
    """
    model, emb_module = qa.model, qa.embeddings
    input_ids = inputs["input_ids"]
    emb_x, emb_b, _ = _endpoints(qa, inputs, keep, baseline, logits=False)
    alphas = np.linspace(0.0, 1.0, n_steps + 1)
    seq_len = input_ids.shape[1]
    c = _chunk_size(chunk_size, seq_len, n_steps + 1, qa.config)
    acc: dict[str, torch.Tensor] = {}
    prev: dict[str, Any] = {}
    for lo in range(0, n_steps + 1, c):
        a = torch.as_tensor(alphas[lo:lo + c], dtype=torch.float32, device=qa.device).view(-1, 1, 1)
        path = (emb_b + a * (emb_x - emb_b)).requires_grad_(True)
        with _replace_output(emb_module, path):
            o = model(**_repeat(inputs, len(a)), output_hidden_states=True)
        hidden = list(o.hidden_states[1:])
        outs = {"start": o.start_logits[:, start_index].sum(), "end": o.end_logits[:, end_index].sum()}
        h_now = torch.stack([h.detach().float() for h in hidden])  # (layers, c, L, H)
        for i, p in enumerate(POSITIONS):
            grads = torch.autograd.grad(outs[p], hidden, retain_graph=i == 0)
            g_now = torch.stack([g.float() for g in grads])
            if p not in acc:
                acc[p] = torch.zeros(h_now.shape[0], seq_len, dtype=torch.float64, device=qa.device)
            if p in prev:  # the step that crosses the chunk boundary
                g_last, h_last = prev[p]
                acc[p] += (g_last * (h_now[:, 0] - h_last)).sum(-1).double()
            if h_now.shape[1] > 1:
                acc[p] += (g_now[:, :-1] * (h_now[:, 1:] - h_now[:, :-1])).sum((1, 3)).double()
            prev[p] = (g_now[:, -1], h_now[:, -1])
    return {p: acc[p].cpu().numpy() for p in POSITIONS}

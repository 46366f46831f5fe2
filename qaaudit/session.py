"""Session-wide state of an audit run: models loaded once, the cache, and running a case.

The pytest plugin creates one :class:`AuditSession` per process (one per xdist
worker) and hands it each case; everything heavy happens here, lazily, so that a
pytest run without audit files never imports torch.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from qaaudit.cache import CACHE_DIRNAME, ExplanationCache, cache_key
from qaaudit.errors import QAAuditError
from qaaudit.explanation import Answer, Explanation
from qaaudit.results import Verdict

__all__ = ["AuditSession", "SessionOptions", "ModelPredictor", "CaseOutcome", "DEMO_MODEL"]

DEMO_MODEL = "demo"  # the name that selects the embedded demo model
_DEMO_NAMES = {DEMO_MODEL, "qaaudit-demo", "qaaudit-demo-electra"}
PREFETCH_CHUNK = 64   # cases per explain_batch call of the batched pass: progress is said between calls


@dataclass(frozen=True)
class SessionOptions:
    """Settings from the command line and ini files (the command line wins)."""

    model: str | None = None            # --qaaudit-model
    ini_model: str | None = None        # qaaudit_model
    device: str = "auto"
    cache: bool = True
    cache_dir: Path = Path(CACHE_DIRNAME)
    explain_all: bool = True            # the report needs attributions for every case
    trust_remote_code: bool = False
    autocast: str | None = None
    baseline_model: str | None = None
    predictions: Mapping[str, Any] | None = None   # id -> predicted answer (predictions file)
    predictions_path: str | None = None  # --qaaudit-predictions: read at preflight
    predictions_strict: bool = False    # a case without a prediction is a usage error, not a 0
    batch: str = "auto"                 # explain the planned cases together: on, off, auto (on for CUDA)


@dataclass
class CaseOutcome:
    """What running one case produced: its verdicts and the data the report shows."""

    verdicts: tuple[Verdict, ...]
    explanation: Explanation | None
    prediction: Answer | None
    model_name: str
    baseline: "CaseOutcome | None" = None
    robustness: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.passed is False)


def decode_kwargs(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The predict/explain keyword arguments that decide the answer, from a case's settings."""
    return {"max_answer_len": settings.get("max_answer_len", 15),
            "handle_impossible_answer": settings.get("handle_impossible_answer", False),
            "max_seq_len": settings.get("max_seq_len"), "doc_stride": settings.get("doc_stride"),
            "align_to_words": settings.get("align_to_words", True)}


def answer_only(question: str, context: str, answers: Sequence[Answer], settings: Mapping[str, Any]) -> Explanation:
    """A prediction without attributions, in the shape the cache and the report keep."""
    return Explanation(question=question, context=context, answer=answers[0], answers=tuple(answers),
                       null_score=None, tokens=(), offsets=(), segments=(), settings=dict(settings))


def resolve_model_name(name: str | None) -> str:
    """``demo`` (or nothing) means the embedded demo model."""
    if name in (None, "") or name in _DEMO_NAMES:
        from qaaudit.demo import demo_model_path

        return str(demo_model_path())
    return str(name)


class ModelPredictor:
    """The :class:`~qaaudit.expect.Predictor` over one model and one case's settings, through the cache."""

    def __init__(self, session: "AuditSession", ref: Any, settings: Mapping[str, Any]) -> None:
        self.session, self.ref, self.settings = session, ref, dict(settings)

    @property
    def _decode_kw(self) -> dict[str, Any]:
        return decode_kwargs(self.settings)

    def predict_batch(self, pairs: Sequence[tuple[str, str]]) -> list[Answer]:
        cache, keys = self.session.cache, {}
        found: dict[tuple[str, str], Answer] = {}
        for q, c in dict.fromkeys(pairs):
            # the same entries as AuditSession.explanation(attributions=False), so either fills the other
            keys[(q, c)] = self.session.key_of(self.ref, "predict", q, c, self.settings)
            hit = cache.get_any(keys[(q, c)], self.session.key_of(self.ref, "explain", q, c, self.settings),
                                decode=_decoder(q, c, answer_only=True))
            if hit is not None:
                found[(q, c)] = hit.answer
        todo = [k for k in keys if k not in found]
        if todo:
            from qaaudit.explainer import predict_batch

            for (q, c), answers in zip(todo, predict_batch(self.ref.load(), todo, **self._decode_kw)):
                found[(q, c)] = answers[0]
                cache.put(keys[(q, c)], answer_only(q, c, answers[:1], self.settings).to_dict())
        return [found[(q, c)] for q, c in pairs]

    def span_probability(self, question: str, context: str, start: int, end: int) -> float:
        key = self.session.key_of(self.ref, "span_probability", question, context,
                                  dict(self.settings, span=[start, end]))
        hit = self.session.cache.get_any(key, decode=_probability)
        if hit is not None:
            return hit
        p = self._span_probability(self.ref.load(), question, context, start, end)
        self.session.cache.put(key, {"p": p})
        return p

    def _span_probability(self, qa: Any, question: str, context: str, start: int, end: int) -> float:
        import numpy as np

        from qaaudit.decode import masked_probabilities
        from qaaudit.explainer import encode_pair, forward_windows

        kw = self._decode_kw
        enc = encode_pair(qa, question, context, kw["max_seq_len"], kw["doc_stride"])
        (s_logits, e_logits), = forward_windows(qa, [enc])
        best = 0.0
        ctx_seq = 1 if enc.question_first else 0
        for w, window in enumerate(enc.windows):
            toks = [i for i, sid in enumerate(window.sequence_ids)
                    if sid == ctx_seq and window.offsets[i][1] > start and window.offsets[i][0] < end
                    and window.offsets[i][1] > window.offsets[i][0]]
            if not toks:
                continue
            covered_lo = min(int(window.offsets[i][0]) for i in toks)
            covered_hi = max(int(window.offsets[i][1]) for i in toks)
            if covered_lo > start or covered_hi < end:
                continue  # this window holds only part of the span
            ps = masked_probabilities(window, s_logits[w])
            pe = masked_probabilities(window, e_logits[w])
            best = max(best, float(ps[toks[0]] * pe[toks[-1]]))
        return float(np.float64(best))

    def explain(self, question: str, context: str) -> Explanation:
        return self.session.explanation(self.ref, question, context, self.settings, attributions=True)


class AuditSession:
    """Models, cache and device for one pytest process."""

    def __init__(self, options: SessionOptions, rootdir: Path) -> None:
        self.options = options
        self.rootdir = Path(rootdir)
        cache_dir = options.cache_dir if options.cache_dir.is_absolute() else self.rootdir / options.cache_dir
        self.cache = ExplanationCache(cache_dir, enabled=options.cache)
        self._models: dict[str, Any] = {}
        self._planned: list[tuple[Any, Any]] = []   # (audit, case) of the selected case items
        self.progress: Callable[[int, int], None] | None = None   # of the batched pass (qaaudit.progress)
        self.predict_progress: Callable[[int, int], None] | None = None   # of the batched predictions
        self._groups: list[int] | None = None         # their xdist groups, when workers get whole groups
        self._group_of: dict[tuple[str, str], int] = {}
        self._prefetched: set[tuple[str, int | None]] = set()   # (model path, group) explained together
        self._predicted: set[str] = set()           # model paths whose planned prediction-only cases were predicted
        # under --qaaudit-no-cache, what this process computed: a robustness check still reuses its case's
        # explanation, and batched explanations wait here for their items
        self._memo: dict[str, dict] = {}
        self.started = time.time()
        self.models_used: dict[str, Mapping[str, Any]] = {}
        self.run_notes: list[str] = []       # what the summary, results.json and the report must say
        self.predictions_info: dict[str, Any] | None = None
        self._sent_invalid = 0
        self._sent_write_error = False
        self._predictions = options.predictions

    def drain_cache_news(self) -> dict[str, Any] | None:
        """What the cache has to say since the last call (unusable entries, a failed write), for the item
        reports that carry it to the controller; None when nothing is new."""
        news: dict[str, Any] = {}
        invalid = self.cache.invalid - self._sent_invalid
        if invalid:
            news["invalid"] = invalid
            self._sent_invalid = self.cache.invalid
        if self.cache.write_error is not None and not self._sent_write_error:
            news["write_error"] = self.cache.write_error
            news["root"] = str(self.cache.root)
            self._sent_write_error = True
        return news or None

    # -- before the first case
    def preflight(self, items: Sequence[Any]) -> list[str]:
        """Problems that would fail every case alike, found once before any runs: a model that does not
        load, a predictions file that cannot be read (or, strict, lacks cases). Empty when all is well."""
        if self.options.predictions_path is not None or self._predictions is not None:
            return self._check_predictions(items)
        problems: dict[str, list[str]] = {}
        wanted: dict[tuple[str, str], str] = {}
        for item in items:
            audit = item.audit
            wanted.setdefault((self.model_name_for(getattr(audit, "model", None)), str(Path(audit.path).parent)),
                              str(audit.path))
        if self.options.baseline_model:
            wanted.setdefault((self.options.baseline_model, "."), "--qaaudit-baseline")
        for (name, base), used_by in wanted.items():
            try:
                self.get_model(name, base_dir=Path(base))
            except QAAuditError as exc:
                problems.setdefault(str(exc), []).append(used_by)
        return [f"{message}\n  (needed by {', '.join(sorted(set(users))[:5])}" +
                (f" and {len(set(users)) - 5} more" if len(set(users)) > 5 else "") + ")"
                for message, users in problems.items()]

    def _check_predictions(self, items: Sequence[Any]) -> list[str]:
        from qaaudit.predictions import load_predictions, match_predictions

        path = self.options.predictions_path
        if self._predictions is None:
            try:
                self._predictions = load_predictions(path)
            except QAAuditError as exc:
                return [str(exc)]
        # a template item stands for its generated cases, each with its own id (template-id[i])
        ids = [case.id for item in items if hasattr(item, "case")
               for case in (item.template.cases if getattr(item, "template", None) is not None else (item.case,))]
        match = match_predictions(self._predictions, ids)
        self.predictions_info = {"file": str(path), "matched": match.matched, "missing": list(match.missing),
                                 "extra": len(match.extra)}
        if match.missing:
            if self.options.predictions_strict:
                return [match.describe(str(path)) + " (--qaaudit-predictions-strict)"]
            shown = ", ".join(repr(i) for i in match.missing[:10])
            more = f" and {len(match.missing) - 10} more" if len(match.missing) > 10 else ""
            self.run_notes.append(f"{len(match.missing)} of {match.matched + len(match.missing)} cases have no "
                                  f"prediction in {path} and score 0, as in the official SQuAD script: {shown}{more}")
        return []

    # -- models
    def model_name_for(self, file_model: str | None) -> str:
        """Precedence: --qaaudit-model > the audit file's model > ini qaaudit_model > the demo model."""
        return self.options.model or file_model or self.options.ini_model or DEMO_MODEL

    def get_model(self, name: str, base_dir: Path | None = None) -> Any:
        """A :class:`~qaaudit.modelref.ModelRef`: loaded only when a cache miss needs the model."""
        import qaaudit
        from qaaudit.modelref import ModelRef

        path = resolve_model_name(name)
        if base_dir is not None and not os.path.isabs(path) and (base_dir / path).exists():
            path = str((base_dir / path).resolve())
        if path not in self._models:
            self._models[path] = ModelRef(name, path, device=self.options.device,
                                          trust_remote_code=self.options.trust_remote_code,
                                          index=self.cache, version=qaaudit.__version__,
                                          before_load=_share_cpu_threads)
        ref = self._models[path]
        if path not in self.models_used:
            self.models_used[path] = dict(ref.describe(), name=name)
        return ref

    def key_of(self, ref: Any, kind: str, question: str, context: str, settings: Mapping[str, Any]) -> str:
        """The cache key of one computation on one model."""
        import qaaudit

        # the kind of device, not its number: worker 3's cuda:1 computes what worker 0's cuda:0 does
        return cache_key(model=ref.weights_hash, tokenizer=ref.tokenizer_hash, kind=kind, question=question,
                         context=context,
                         settings=dict(settings, device=str(ref.device).split(":", 1)[0],
                                       autocast=settings.get("autocast") or self.options.autocast),
                         version=qaaudit.__version__)

    # -- explanations of many cases at once (GPU)
    def plan(self, cases: Sequence[tuple[Any, Any]], groups: Sequence[int] | None = None) -> None:
        """The (audit, case) pairs this process will run, for :meth:`prefetch` to batch. In an xdist worker
        ``groups`` gives each pair's group (:mod:`qaaudit.workers`): a group is sent whole to one worker,
        which batches that group's cases when the first of them runs."""
        self._planned = list(cases)
        self._groups = list(groups) if groups is not None else None
        self._group_of = ({(case.question, case.context): g for (_, case), g in zip(self._planned, self._groups)}
                          if self._groups is not None else {})

    def batching(self, ref: Any) -> bool:
        """Whether the planned cases of ``ref`` are explained together: ``auto`` means on a GPU only
        (on a CPU, batching cases measured no faster), and in an xdist worker only when the controller
        sends it whole groups (:mod:`qaaudit.workers`): otherwise it cannot know its share in advance."""
        mode = self.options.batch
        if mode == "off" or (os.environ.get("PYTEST_XDIST_WORKER") and self._groups is None):
            return False
        return mode == "on" or ref.device.startswith("cuda")

    def prefetch(self, ref: Any, group: int | None = None) -> int:
        """Explain, in batches, every planned case on ``ref`` that needs attributions and is not cached.

        Cases are grouped by their settings (each group is one :func:`~qaaudit.explainer.explain_batch`
        call); the results go where :meth:`explanation` looks, so the items then run from them.
        Returns how many cases were explained.
        """
        if (ref.path, group) in self._prefetched:
            return 0
        self._prefetched.add((ref.path, group))
        groups = self._planned_on(ref, "explain", group)
        if not groups:
            return 0
        from qaaudit.explainer import explain_batch

        qa = ref.load()
        done, total = 0, sum(map(len, groups.values()))
        progress = self.progress or (lambda done, total: None)
        progress(0, total)
        for members in groups.values():
            kwargs = self._explain_kwargs(members[0][2])
            # chunks only to say how far it got: each pair's explanation is its own whatever the batch
            for start in range(0, len(members), PREFETCH_CHUNK):
                chunk = members[start:start + PREFETCH_CHUNK]
                exps = explain_batch(qa, [(q, c) for q, c, _, _ in chunk], **kwargs)
                for (_, _, _, key), exp in zip(chunk, exps):
                    self._store(key, exp.to_dict())
                    done += 1
                progress(done, total)
        return done

    _PREDICT_CHUNK = 256   # pairs per predict_batch call: bounded memory, and answers stored as they come

    def prefetch_predictions(self, ref: Any) -> int:
        """Predict, in batches, every planned case on ``ref`` that needs no attributions and is not cached.

        One item at a time, a prediction-only run spent most of its time in forward passes of one pair;
        batched (windows of many pairs per pass; a window's logits are those it has alone, see
        :func:`~qaaudit.explainer.forward_windows`) the items then only check their verdicts. On every
        device, but not in an xdist worker (it does not know which items it will run) nor with
        ``--qaaudit-batch=off``. Returns how many cases were predicted.
        """
        if ref.path in self._predicted or self.options.batch == "off" or os.environ.get("PYTEST_XDIST_WORKER"):
            return 0
        self._predicted.add(ref.path)
        groups = self._planned_on(ref, "predict")
        if not groups:
            return 0
        from qaaudit.explainer import predict_batch

        qa = ref.load()
        done, total = 0, sum(map(len, groups.values()))
        progress = self.predict_progress or (lambda done, total: None)
        progress(0, total)
        for members in groups.values():
            decode_kw = decode_kwargs(members[0][2])
            # pairs of like length in one call, so its length-sorted batches pad little
            members.sort(key=lambda m: len(m[0]) + len(m[1]))
            for lo in range(0, len(members), self._PREDICT_CHUNK):
                chunk = members[lo:lo + self._PREDICT_CHUNK]
                for (q, c, settings, key), answers in zip(chunk, predict_batch(qa, [(q, c) for q, c, _, _ in chunk],
                                                                               top_k=1, **decode_kw)):
                    self._store(key, answer_only(q, c, answers, settings).to_dict())
                    done += 1
                progress(done, total)
        return done

    def _planned_on(self, ref: Any, kind: str, group: int | None = None) -> dict[str, list[tuple[str, str, dict, str]]]:
        """The planned cases on ``ref`` that a batched pass of ``kind`` serves and the cache does not hold yet.

        ``"explain"``: the cases that need attributions; ``"predict"``: the others. Each pair once, as
        (question, context, settings, key), grouped by what one batched call must share (all the settings to
        explain, the decoding ones to predict). ``group``: only this xdist worker's scheduling group.
        """
        explain = kind == "explain"
        groups: dict[str, list[tuple[str, str, dict, str]]] = {}
        seen: set[str] = set()
        for i, (audit, case) in enumerate(self._planned):
            if group is not None and self._groups is not None and self._groups[i] != group:
                continue
            if bool(case.needs_attributions or self.options.explain_all) != explain:
                continue
            name = self.model_name_for(getattr(audit, "model", None))
            if self.get_model(name, base_dir=Path(audit.path).parent).path != ref.path:
                continue
            settings = case_settings(case)
            key = self.key_of(ref, kind, case.question, case.context, settings)
            if key in seen or self._peek(key) is not None:
                continue
            seen.add(key)
            shared = settings if explain else decode_kwargs(settings)
            groups.setdefault(repr(sorted(shared.items())), []).append((case.question, case.context, settings, key))
        return groups

    def _explain_kwargs(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments of :func:`~qaaudit.explainer.explain` for a case's settings."""
        from qaaudit.attribute import ADAPTIVE_METHODS, CompletenessTarget

        s = settings
        target = None
        if s.get("steps") is None:
            t = s.get("target") or {}
            target = CompletenessTarget(abs_delta=t.get("abs_delta"), rel_delta=t.get("rel_delta"),
                                        token_error=t.get("token_error"),
                                        max_steps=s.get("max_steps", 129))
        method = s.get("method") if (s.get("steps") is not None or s.get("method") in ADAPTIVE_METHODS) else None
        return dict(n_steps=s.get("steps"), target=target, method=method, baseline=s.get("baseline", "pad"),
                    sub_embeddings=bool(s.get("sub_embeddings")), layers=bool(s.get("layers")),
                    attention=bool(s.get("attention")),
                    autocast=s.get("autocast") or self.options.autocast, **decode_kwargs(settings))

    # -- explanations, cached
    def explanation(self, ref: Any, question: str, context: str, settings: Mapping[str, Any], *,
                    attributions: bool) -> Explanation:
        def key_of(kind: str) -> str:
            return self.key_of(ref, kind, question, context, settings)

        key = key_of("explain" if attributions else "predict")
        decode = _decoder(question, context, answer_only=not attributions)
        # a full explanation holds the prediction too: robustness items reuse their case's entry
        hit = self._lookup(key, decode=decode) if attributions else self._lookup(key, key_of("explain"), decode=decode)
        if (hit is None and attributions and self._planned and self.batching(ref)
                and self.prefetch(ref, self._group_of.get((question, context)))):
            hit = self._lookup(key, decode=decode)
        if hit is None and not attributions and self._planned and self.prefetch_predictions(ref):
            hit = self._lookup(key, key_of("explain"), decode=decode)
        if hit is not None:
            return hit
        from qaaudit.explainer import explain, predict

        qa = ref.load()
        decode_kw = decode_kwargs(settings)
        if attributions:
            exp = explain(qa, question, context, **self._explain_kwargs(settings))
        else:
            answers = predict(qa, question, context, top_k=1, **decode_kw)
            exp = answer_only(question, context, answers, settings)
        self._store(key, exp.to_dict())
        return exp

    # the cache, or with the cache off this process's memo in its place
    def _lookup(self, *keys: str, decode: Any = None) -> Any:
        if self.cache.enabled:
            return self.cache.get_any(*keys, decode=decode)
        value = next((self._memo[k] for k in keys if k in self._memo), None)
        return decode(value) if value is not None and decode is not None else value

    def _peek(self, key: str) -> dict | None:
        return self.cache.peek(key) if self.cache.enabled else self._memo.get(key)

    def _store(self, key: str, value: dict) -> None:
        if self.cache.enabled:
            self.cache.put(key, value)
        else:
            self._memo[key] = value

    # -- one case
    def run_case(self, case: Any, audit: Any) -> CaseOutcome:
        from qaaudit.expect import evaluate_case

        settings = case_settings(case)
        if self._predictions is not None or self.options.predictions_path is not None:
            return self._run_from_predictions(case, settings)
        name = self.model_name_for(getattr(audit, "model", None))
        qa = self.get_model(name, base_dir=Path(audit.path).parent)
        need = bool(case.needs_attributions) or self.options.explain_all
        exp = self.explanation(qa, case.question, case.context, settings, attributions=need)
        predictor = ModelPredictor(self, qa, settings)
        verdicts = tuple(evaluate_case(case, exp, predictor=predictor, prediction=exp.answer))
        outcome = CaseOutcome(verdicts=verdicts, explanation=exp if need else None, prediction=exp.answer,
                              model_name=name)
        if self.options.baseline_model:
            bqa = self.get_model(self.options.baseline_model)
            bexp = self.explanation(bqa, case.question, case.context, settings, attributions=need)
            bverdicts = tuple(evaluate_case(case, bexp, predictor=ModelPredictor(self, bqa, settings),
                                            prediction=bexp.answer))
            outcome.baseline = CaseOutcome(verdicts=bverdicts, explanation=bexp if need else None,
                                           prediction=bexp.answer, model_name=self.options.baseline_model)
        return outcome

    def run_robustness(self, case: Any, audit: Any, check: Any, *, max_examples: int | None = None) -> CaseOutcome:
        """One hypothesis-driven robustness check; perturbed inputs are predicted in batches."""
        from qaaudit.robustness import robustness_settings, run_check

        if self._predictions is not None or self.options.predictions_path is not None:
            return CaseOutcome(verdicts=(Verdict("robustness", check.property, None, None, None, "is",
                                                 "needs the model; skipped when auditing a predictions file",
                                                 check.line),), explanation=None, prediction=None,
                               model_name="predictions file")
        settings = case_settings(case)
        name = self.model_name_for(getattr(audit, "model", None))
        qa = self.get_model(name, base_dir=Path(audit.path).parent)
        predictor = ModelPredictor(self, qa, settings)
        original = self.explanation(qa, case.question, case.context, settings,
                                    attributions=check.property == "attribution_stability")
        cfg = robustness_settings(max_examples=max_examples or check.examples)
        key = self._robustness_key(qa, case, check, cfg, settings)
        result = self._lookup(key, decode=_robustness_result) if key is not None else None
        if result is None:
            result = run_check(check, case, predictor, original=original, settings=cfg).to_dict()
            if key is not None:
                self._store(key, result)
        if result["n_examples"] == 0:
            verdict = Verdict("robustness", result["metric"], None, None, result["threshold"], ">=",
                              "no generated variant differed from the original", check.line)
        else:
            verdict = Verdict("robustness", f"{result['metric']}[{check.name}]", bool(result["passed"]),
                              result["worst"], result["threshold"], ">=",
                              f"{result['failures']} of {result['n_examples']} variants failed; worst shown",
                              check.line)
        verdicts = (verdict,)
        rob = dict(result, check=check.name)
        return CaseOutcome(verdicts=verdicts, explanation=None, prediction=original.answer, model_name=name,
                           robustness=rob)

    def _robustness_key(self, ref: Any, case: Any, check: Any, cfg: Any, settings: Mapping[str, Any]) -> str | None:
        """The cache key of a CI-profile check's outcome; None for the local profile.

        Derandomized and seeded by the check itself, a CI-profile check is a function of its inputs, so a rerun
        can skip hypothesis's drawing and shrinking as it skips the model (a third of a cached demo-suite run).
        The local profile draws fresh variants on purpose and is never cached.
        """
        if not cfg.derandomize:
            return None
        import hypothesis

        from qaaudit.robustness import SEED_ENV

        # what decides the outcome: not the line, nor whether the check is expected to fail
        spec = ({f.name: getattr(check, f.name) for f in fields(check) if f.name not in ("line", "xfail", "skip")}
                if is_dataclass(check) else repr(check))
        return self.key_of(ref, "robustness", case.question, case.context,
                           dict(settings, check=spec, answers=getattr(case, "answers", None),
                                max_examples=cfg.max_examples, seed=os.environ.get(SEED_ENV),
                                hypothesis=hypothesis.__version__))

    def _run_from_predictions(self, case: Any, settings: Mapping[str, Any]) -> CaseOutcome:
        from qaaudit.expect import evaluate_case

        if self._predictions is None:  # run without preflight (a direct caller): read the file now
            from qaaudit.predictions import load_predictions

            self._predictions = load_predictions(self.options.predictions_path)
        pred = self._predictions.get(case.id)
        missing = pred is None
        text = "" if missing else (pred.text if hasattr(pred, "text") else str(pred))
        score = None if missing else getattr(pred, "score", None)
        given = None if missing else getattr(pred, "start", None)
        start = given if given is not None else (case.context.find(text) if text else 0)
        answer = Answer(text=text, start=max(start, 0), end=max(start, 0) + len(text),
                        score=float(score) if score is not None else None,
                        token_start=0 if text else None, token_end=0 if text else None)
        exp = answer_only(case.question, case.context, [answer], settings)
        verdicts = tuple(evaluate_case(case, exp, predictor=None, prediction=answer))
        out = []
        for v in verdicts:
            if v.passed is None and "predictions file" not in v.detail and v.expectation != "prediction":
                v = Verdict(v.expectation, v.check, None, v.measured, v.threshold, v.op,
                            "needs the model; skipped when auditing a predictions file", v.line)
            elif v.check == "offsets" and given is None:
                v = Verdict(v.expectation, v.check, None, None, v.threshold, v.op,
                            "the predictions file gives no answer_start; offsets not checked", v.line)
            if missing and v.expectation in ("prediction", "unanswerable") and v.passed is not None:
                # 0, whatever the gold: an empty answer would match a gold such as "." or an unanswerable case
                numeric = v.check in ("exact_match", "f1")
                measured = 0.0 if numeric else "no prediction"
                passed = numeric and v.op == ">=" and isinstance(v.threshold, (int, float)) and 0.0 >= v.threshold
                v = Verdict(v.expectation, v.check, passed, measured, v.threshold, v.op,
                            "no prediction in the predictions file: scored 0, as the official SQuAD scripts "
                            "score an unanswered question", v.line)
            out.append(v)
        notes = ("no prediction in the predictions file",) if missing else ()
        return CaseOutcome(verdicts=tuple(out), explanation=None, prediction=None if missing else answer,
                           model_name="predictions file", notes=notes)


def _decoder(question: str, context: str, *, answer_only: bool) -> Any:
    """Turns a cached entry into the Explanation of this question and context, or raises a shape error."""
    from qaaudit.explanation import check_explanation

    def decode(entry: Mapping[str, Any]) -> Explanation:
        exp = check_explanation(Explanation.from_dict(entry))
        if exp.question != question or exp.context != context:
            raise ValueError("the entry belongs to another question or context")
        if not answer_only and not exp.has_attributions:
            raise ValueError("the entry has no attributions")
        return exp

    return decode


def _probability(entry: Mapping[str, Any]) -> float:
    p = entry["p"]
    if not isinstance(p, float) or not 0.0 <= p <= 1.0:
        raise ValueError(f"not a probability: {p!r}")
    return p


def _robustness_result(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A cached robustness outcome, with the fields the verdict reads checked."""
    if not (isinstance(entry["n_examples"], int) and isinstance(entry["failures"], int)
            and isinstance(entry["metric"], str) and isinstance(entry["passed"], bool)
            and (entry["worst"] is None or isinstance(entry["worst"], (int, float)))):
        raise ValueError("a robustness outcome with fields of the wrong type")
    if "threshold" not in entry:
        raise KeyError("threshold")
    return dict(entry)


def _share_cpu_threads() -> None:
    """Under pytest-xdist, give each worker its share of the cores: n workers x all cores thrash."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def case_settings(case: Any) -> dict[str, Any]:
    """The attribution and decoding settings of a case as a plain dict (part of the cache key)."""
    a = case.attribution
    autocast = a.autocast
    if autocast is True:
        autocast = "bf16"
    elif autocast is False:
        autocast = None
    return {
        "steps": a.steps,
        "target": {"abs_delta": a.abs_delta, "rel_delta": a.rel_delta, "token_error": a.token_error},
        "max_steps": a.max_steps,
        "method": a.method,
        "baseline": a.baseline,
        "sub_embeddings": bool(a.sub_embeddings),
        "layers": bool(a.layers),
        # only when asked for: a key always present would change every existing cache key
        **({"attention": True} if a.attention else {}),
        "autocast": autocast,
        "max_answer_len": case.max_answer_len,
        "handle_impossible_answer": case.handle_impossible_answer,
        "max_seq_len": case.max_seq_len,
        "doc_stride": case.doc_stride,
        "align_to_words": case.aligns_to_words,
    }


def build_session(config: Any) -> AuditSession:
    """An AuditSession from pytest options and ini values (the command line wins)."""
    from qaaudit.workers import visible_gpus, worker_device, worker_index

    opt, ini = config.getoption, config.getini
    path = opt("qaaudit_predictions")
    options = SessionOptions(
        model=opt("qaaudit_model"),
        ini_model=ini("qaaudit_model") or None,
        device=worker_device(opt("qaaudit_device") or ini("qaaudit_device") or "auto", worker_index(),
                             visible_gpus()),
        cache=bool(ini("qaaudit_cache")) and not opt("qaaudit_no_cache"),
        explain_all=not opt("qaaudit_no_report"),
        trust_remote_code=bool(opt("qaaudit_trust_remote_code")),
        autocast=opt("qaaudit_autocast"),
        baseline_model=opt("qaaudit_baseline") or ini("qaaudit_baseline") or None,
        predictions_path=str(Path(config.invocation_params.dir) / path) if path else None,
        predictions_strict=bool(opt("qaaudit_predictions_strict")),
        batch=opt("qaaudit_batch") or ini("qaaudit_batch") or "auto",
    )
    return AuditSession(options, Path(config.rootpath))


def clear_cache(config: Any) -> int:
    cache = ExplanationCache(Path(config.rootpath) / CACHE_DIRNAME)
    return cache.clear()

"""Helpers shared by the benchmarks: timing, machine description, synthetic QA models and cases."""
from __future__ import annotations

import datetime as _dt
import platform
import statistics
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

__all__ = ["Case", "machine", "timed", "median_time", "koelectra_small_like", "sharpen", "synthetic_cases",
           "tokenizer_cases", "pinned_span"]

# KoELECTRA-small (monologg/koelectra-small-v2-distilled-korquad-384) shape, as in the origin notebook.
KOELECTRA_SMALL = dict(vocab_size=32200, embedding_size=128, hidden_size=256, num_hidden_layers=12,
                       num_attention_heads=4, intermediate_size=1024, max_position_embeddings=512, type_vocab_size=2,
                       pad_token_id=0)


@dataclass
class Case:
    """One window as the model takes it (batch of 1), the tokens the baseline keeps, the pinned targets."""

    inputs: dict[str, Any]
    keep: Any
    start: int
    end: int

    @property
    def length(self) -> int:
        return int(self.inputs["input_ids"].shape[1])


def machine() -> dict[str, str]:
    import torch

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    except OSError:
        pass
    try:
        import os

        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        cores = str(os.cpu_count())
    except (OSError, AttributeError):
        load, cores = "?", "?"
    import captum
    import transformers

    return {"date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "cpu": cpu, "cores": cores,
            "torch": torch.__version__, "transformers": transformers.__version__, "captum": captum.__version__,
            "threads": str(torch.get_num_threads()), "python": platform.python_version(), "load": load}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    return statistics.median(timed(fn)[0] for _ in range(max(1, repeats)))


def koelectra_small_like(seed: int = 0, **overrides: Any) -> Any:
    """A random ``ElectraForQuestionAnswering`` of KoELECTRA-small's shape as a ``QAModel`` (stub tokenizer)."""
    import torch
    from transformers import ElectraConfig, ElectraForQuestionAnswering

    from qaaudit.model import QAModel

    torch.manual_seed(seed)
    config = ElectraConfig(**{**KOELECTRA_SMALL, **overrides})
    model = ElectraForQuestionAnswering(config).eval()
    # Only the special token ids are needed: the inputs are token ids already (WordPiece layout: [PAD]=0).
    tokenizer = SimpleNamespace(pad_token_id=0, unk_token_id=1, cls_token_id=2, sep_token_id=3, mask_token_id=4,
                                model_input_names=["input_ids", "token_type_ids", "attention_mask"])
    return QAModel(model=model, tokenizer=tokenizer, device=torch.device("cpu"), name="koelectra-small-shape",
                   path="<random>", architecture="electra", embeddings=model.electra.embeddings)


def sharpen(qa: Any, attention: float = 4.0, ffn: float = 3.0, head: float = 10.0) -> Any:
    """Scale a random model's weights so that it stops being nearly linear along the IG path.

    Random init (std 0.02) gives uniform attention, GELUs in their linear region and logits near 0,
    so IG converges in a few steps. Scaling the query and key projections sharpens attention
    (logits scale by ``attention**2``), the FFN input scales pre-activations into GELU's bend, and
    the QA head spreads the logits to a trained model's range. A stand-in for training, not a model.
    """
    import torch

    with torch.no_grad():
        for layer in qa.model.electra.encoder.layer:
            att = layer.attention.self
            for lin in (att.query, att.key):
                lin.weight.mul_(attention)
            layer.intermediate.dense.weight.mul_(ffn)
        qa.model.qa_outputs.weight.mul_(head)
    qa.name += f"-sharpened(a{attention:g},f{ffn:g},h{head:g})"
    return qa


def pinned_span(qa: Any, inputs: dict[str, Any], keep: Any, max_answer_len: int = 15) -> tuple[int, int]:
    """The predicted span's token indices (best start, then best end at or after it), never a special token."""
    import torch

    with torch.no_grad():
        out = qa.model(**inputs)
    neg = torch.finfo(out.start_logits.dtype).min
    s_log = out.start_logits[0].masked_fill(keep[0], neg)
    e_log = out.end_logits[0].masked_fill(keep[0], neg)
    start = int(s_log.argmax())
    end = start + int(e_log[start:start + max_answer_len].argmax())
    return start, end


def synthetic_cases(qa: Any, length: int, n: int, seed: int = 0, question_len: int = 16) -> list[Case]:
    """``[CLS] question [SEP] context [SEP]`` windows of random token ids, ``length`` tokens each."""
    import torch

    g = torch.Generator().manual_seed(seed * 1000 + length)
    vocab = qa.model.config.vocab_size
    tok = qa.tokenizer
    cases = []
    for _ in range(n):
        q = torch.randint(5, vocab, (question_len,), generator=g)
        c = torch.randint(5, vocab, (length - question_len - 3,), generator=g)
        cls, sep = torch.tensor([tok.cls_token_id]), torch.tensor([tok.sep_token_id])
        ids = torch.cat([cls, q, sep, c, sep]).unsqueeze(0)
        tt = torch.zeros_like(ids)
        tt[0, question_len + 2:] = 1
        keep = torch.zeros_like(ids, dtype=torch.bool)
        keep[0, [0, question_len + 1, length - 1]] = True
        inputs = {"input_ids": ids, "token_type_ids": tt, "attention_mask": torch.ones_like(ids)}
        cases.append(Case(inputs, keep, *pinned_span(qa, inputs, keep)))
    return cases


def tokenizer_cases(qa: Any, pairs: list[tuple[str, str]]) -> list[Case]:
    """Cases from (question, context) pairs through the model's own tokenizer (first window, no padding)."""
    cases = []
    for question, context in pairs:
        enc = qa.tokenizer(question, context, return_tensors="pt", return_special_tokens_mask=True,
                           truncation="only_second", max_length=qa.max_seq_len)
        keep = enc.pop("special_tokens_mask").bool()
        inputs = {k: v for k, v in enc.items() if k in qa.tokenizer.model_input_names or k == "input_ids"}
        cases.append(Case(inputs, keep, *pinned_span(qa, inputs, keep)))
    return cases

"""encode() on the tiny checkpoint of every architecture (tokenizers trained locally)."""
from __future__ import annotations

import numpy as np
import pytest

from qaaudit.encode import Encoding, encode, input_names_for
from qaaudit.errors import InputError, InvalidArgument
from tinymodels import ARCHS, CORPUS

transformers = pytest.importorskip("transformers")

QUESTION = "Where is the Eiffel Tower? 한라산은 어디에 있나요?"
LONG_CONTEXT = " ".join(CORPUS[:12])
SHORT_CONTEXT = "Seoul is the capital of South Korea. 서울은 대한민국의 수도이다."


@pytest.fixture(scope="module", params=ARCHS)
def arch_tokenizer(request, tiny_checkpoint):
    return request.param, transformers.AutoTokenizer.from_pretrained(tiny_checkpoint(request.param))


def _context_token_offsets(encoding: Encoding, i: int) -> list[tuple[int, int]]:
    w = encoding.windows[i]
    return [tuple(map(int, w.offsets[t])) for t in np.flatnonzero(w.context_mask)]


def test_windows_cover_the_whole_context_with_stride_overlap(arch_tokenizer) -> None:
    _, tok = arch_tokenizer
    enc = encode(tok, QUESTION, LONG_CONTEXT, max_seq_len=64, doc_stride=16)
    assert len(enc.windows) > 2
    assert all(len(w) <= 64 for w in enc.windows)
    # Consecutive windows share exactly doc_stride context tokens ...
    for i in range(len(enc.windows) - 1):
        assert _context_token_offsets(enc, i)[-16:] == _context_token_offsets(enc, i + 1)[:16]
    # ... and, those overlaps dropped, the windows hold every context token of the unwindowed encoding, in order.
    full = tok(QUESTION, LONG_CONTEXT, return_offsets_mapping=True)
    want = [tuple(o) for o, s in zip(full["offset_mapping"], full.sequence_ids()) if s == 1]
    seen = _context_token_offsets(enc, 0)
    for i in range(1, len(enc.windows)):
        seen += _context_token_offsets(enc, i)[16:]
    assert seen == want
    assert enc.windows[0].context_char_range[0] <= min(i for i, ch in enumerate(LONG_CONTEXT) if not ch.isspace())
    assert enc.windows[-1].context_char_range[1] == len(LONG_CONTEXT.rstrip())


def test_token_type_ids_and_masks_are_the_tokenizers_own(arch_tokenizer) -> None:
    _, tok = arch_tokenizer
    enc = encode(tok, QUESTION, SHORT_CONTEXT)
    (w,) = enc.windows
    ref = tok(QUESTION, SHORT_CONTEXT, return_token_type_ids=True, return_offsets_mapping=True)
    assert w.input_ids.tolist() == ref["input_ids"]
    assert w.token_type_ids.tolist() == ref["token_type_ids"]  # never hand-built
    assert w.offsets.tolist() == [list(o) for o in ref["offset_mapping"]]
    assert w.sequence_ids == tuple(ref.sequence_ids())
    assert w.word_ids == tuple(ref.word_ids())
    # Allowed in the answer: context tokens and [CLS] only.
    allowed = np.flatnonzero(~w.p_mask).tolist()
    assert allowed == [w.cls_index] + np.flatnonzero(w.context_mask).tolist()
    assert w.input_ids[w.cls_index] == tok.cls_token_id
    assert {w.segment(i) for i in range(len(w))} == {"question", "context", "special"}
    assert (w.question_mask | w.context_mask | w.special_mask).all()
    text = SHORT_CONTEXT[slice(*w.context_char_range)]
    assert text == SHORT_CONTEXT.strip()


def test_model_inputs_feed_the_model(arch_tokenizer, tiny_checkpoint) -> None:
    arch, tok = arch_tokenizer
    torch = pytest.importorskip("torch")
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(tiny_checkpoint(arch)).eval()
    enc = encode(tok, QUESTION, LONG_CONTEXT, max_seq_len=64, doc_stride=16,
                 input_names=input_names_for(tok, model.config))
    inputs = enc.model_inputs()
    assert set(inputs) <= {"input_ids", "attention_mask", "token_type_ids"}
    assert ("token_type_ids" in inputs) == (arch in ("bert", "electra", "albert", "deberta-v2"))
    n, width = inputs["input_ids"].shape
    assert n == len(enc.windows) and width == max(len(w) for w in enc.windows)
    assert all(v.dtype == np.int64 and v.shape == (n, width) for v in inputs.values())
    with torch.no_grad():
        out = model(**{k: torch.as_tensor(v) for k, v in inputs.items()})
    assert out.start_logits.shape == (n, width)
    sub = enc.model_inputs([1])
    assert sub["input_ids"].tolist() == [enc.windows[1].input_ids.tolist()]


def test_defaults_follow_the_pipeline(arch_tokenizer) -> None:
    _, tok = arch_tokenizer
    enc = encode(tok, "Who?", SHORT_CONTEXT)
    assert (enc.max_seq_len, enc.doc_stride) == (min(tok.model_max_length, 384), 128)
    assert encode(tok, "Who?", SHORT_CONTEXT, max_seq_len=100).doc_stride == 50


@pytest.mark.parametrize("arch", ["bert", "xlm-roberta"])
def test_left_padding_puts_the_context_first(arch, tiny_checkpoint) -> None:
    tok = transformers.AutoTokenizer.from_pretrained(tiny_checkpoint(arch, padding_side="left"))
    assert tok.padding_side == "left"
    enc = encode(tok, QUESTION, LONG_CONTEXT, max_seq_len=64, doc_stride=16)
    assert enc.padding_side == "left" and not enc.question_first
    w = enc.windows[0]
    assert w.context_sequence == 0
    ref = tok(LONG_CONTEXT, QUESTION, truncation="only_first", max_length=64, stride=16,
              return_overflowing_tokens=True, return_token_type_ids=True)
    assert [x.input_ids.tolist() for x in enc.windows] == ref["input_ids"]
    assert [x.token_type_ids.tolist() for x in enc.windows] == ref["token_type_ids"]
    # The question stays out of the answer on this side too (the pipeline let it in).
    assert w.p_mask[w.question_mask].all() and not w.p_mask[w.context_mask].any()
    # Shorter windows are padded on the left, with attention 0 there.
    inputs = enc.model_inputs()
    last = enc.windows[-1]
    gap = inputs["input_ids"].shape[1] - len(last)
    assert gap > 0
    assert (inputs["input_ids"][-1, :gap] == tok.pad_token_id).all()
    assert (inputs["attention_mask"][-1, :gap] == 0).all()
    assert inputs["input_ids"][-1, gap:].tolist() == last.input_ids.tolist()


@pytest.mark.parametrize("question, context, match", [
    ("", SHORT_CONTEXT, "question is empty"),
    ("   \n", SHORT_CONTEXT, "question is empty"),
    ("Who?", "", "context is empty"),
    ("Who?", " \t ", "context is empty"),
    (None, SHORT_CONTEXT, "question must be a str, got NoneType"),
    ("Who?", ["a list"], "context must be a str, got list"),
    ("Who?", b"bytes", "context must be a str, got bytes"),
])
def test_bad_text_raises_input_error(question, context, match, tiny_checkpoint) -> None:
    tok = transformers.AutoTokenizer.from_pretrained(tiny_checkpoint("bert"))
    with pytest.raises(InputError, match=match):
        encode(tok, question, context)


def test_question_longer_than_the_window_names_lengths_and_remedy(tiny_checkpoint) -> None:
    tok = transformers.AutoTokenizer.from_pretrained(tiny_checkpoint("bert"))
    long_question = " ".join(["Seoul"] * 50) + "?"
    with pytest.raises(InputError, match=r"51 tokens long.*max_seq_len=32; shorten the question or raise max_seq_len"):
        encode(tok, long_question, SHORT_CONTEXT, max_seq_len=32)
    with pytest.raises(InputError, match=r"leaving 9 tokens.*doc_stride=16"):
        encode(tok, long_question, SHORT_CONTEXT, max_seq_len=63, doc_stride=16)


@pytest.mark.parametrize("kwargs, match", [
    ({"max_seq_len": 0}, "max_seq_len must be an integer >= 1, got 0"),
    ({"doc_stride": -1}, "doc_stride must be an integer >= 0, got -1"),
    ({"max_seq_len": 32, "doc_stride": 64}, r"doc_stride \(64\) is larger than max_seq_len \(32\)"),
    ({"max_question_len": 0}, "max_question_len must be an integer >= 1"),
    ({"input_names": ["pixel_values"]}, "pixel_values"),
])
def test_bad_settings_raise_invalid_argument(kwargs, match, tiny_checkpoint) -> None:
    tok = transformers.AutoTokenizer.from_pretrained(tiny_checkpoint("bert"))
    with pytest.raises(InvalidArgument, match=match):
        encode(tok, "Who?", SHORT_CONTEXT, **kwargs)

"""Encode a question and its context into model windows, as transformers' QA pipeline did.

Follows ``QuestionAnsweringPipeline.preprocess`` of transformers 4.57 for fast tokenizers:
the tokenizer itself builds the pair (its own special tokens, ``token_type_ids``, offsets,
sequence ids), long contexts overflow into windows overlapping by ``doc_stride`` tokens,
and the question goes first unless the tokenizer pads on the left.

One deliberate difference: for left-padding tokenizers the pipeline's ``p_mask`` allowed
every token (question and special tokens included) in the answer; here only context tokens
and [CLS] are allowed, whichever side the question is on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from qaaudit.errors import InputError, InvalidArgument

__all__ = ["Window", "Encoding", "encode", "input_names_for", "DEFAULT_MAX_SEQ_LEN"]

DEFAULT_MAX_SEQ_LEN = 384  # the pipeline's cap on model_max_length


@dataclass(frozen=True, eq=False)
class Window:
    """One model input: a slice of the context with the whole question.

    ``p_mask`` is True where a token may not be in the answer (question, special tokens,
    padding); [CLS] stays allowed so that it can stand for "no answer".
    """

    input_ids: np.ndarray                 # (L,) int64
    attention_mask: np.ndarray            # (L,) int64
    token_type_ids: np.ndarray | None     # (L,) int64, as the tokenizer made them
    offsets: np.ndarray                   # (L, 2) int64, characters in the question or the context
    sequence_ids: tuple[int | None, ...]  # 0/1 per token, None for special tokens
    p_mask: np.ndarray                    # (L,) bool
    word_ids: tuple[int | None, ...]      # word index inside its own sequence
    cls_index: int
    context_sequence: int                 # the sequence id of the context (1 when the question is first)
    tokens: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def question_sequence(self) -> int:
        return 1 - self.context_sequence

    def segment(self, index: int) -> str:
        """``"question"``, ``"context"`` or ``"special"`` for the token at ``index``."""
        seq = self.sequence_ids[index]
        if seq is None:
            return "special"
        return "context" if seq == self.context_sequence else "question"

    @property
    def context_mask(self) -> np.ndarray:
        return np.array([s == self.context_sequence for s in self.sequence_ids], dtype=bool)

    @property
    def question_mask(self) -> np.ndarray:
        return np.array([s == self.question_sequence for s in self.sequence_ids], dtype=bool)

    @property
    def special_mask(self) -> np.ndarray:
        return np.array([s is None for s in self.sequence_ids], dtype=bool)

    @property
    def context_token_range(self) -> tuple[int, int]:
        """``(first, last + 1)`` token indices of this window's context tokens."""
        idx = np.flatnonzero(self.context_mask)
        return (int(idx[0]), int(idx[-1]) + 1) if idx.size else (0, 0)

    @property
    def context_char_range(self) -> tuple[int, int]:
        """Characters of the context this window covers (end exclusive)."""
        first, stop = self.context_token_range
        if first == stop:
            return (0, 0)
        return int(self.offsets[first, 0]), int(self.offsets[stop - 1, 1])


@dataclass(frozen=True, eq=False)
class Encoding:
    """A question/context pair encoded into one or more windows."""

    question: str
    context: str
    windows: tuple[Window, ...]
    max_seq_len: int
    doc_stride: int
    padding_side: str          # where model_inputs() pads shorter windows
    pad_token_id: int
    pad_token_type_id: int
    input_names: tuple[str, ...]  # the keys model_inputs() returns

    @property
    def question_first(self) -> bool:
        return self.padding_side == "right"

    def model_inputs(self, indices: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """The windows (all, or those at ``indices``) stacked and padded into int64 arrays."""
        chosen = [self.windows[i] for i in (range(len(self.windows)) if indices is None else indices)]
        if not chosen:
            raise InvalidArgument(f"indices {indices!r} select no window; pass None or indices in "
                                  f"0..{len(self.windows) - 1}")
        width = max(len(w) for w in chosen)
        pad_value = {"input_ids": self.pad_token_id, "attention_mask": 0, "token_type_ids": self.pad_token_type_id}
        out: dict[str, np.ndarray] = {}
        for name in self.input_names:
            rows = []
            for w in chosen:
                row = getattr(w, name)
                gap = width - len(w)
                pad = (0, gap) if self.padding_side == "right" else (gap, 0)
                rows.append(np.pad(row, pad, constant_values=pad_value[name]))
            out[name] = np.stack(rows).astype(np.int64)
        return out


def _check_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name} must be a str, got {type(value).__name__} {value!r:.80}; pass the text itself")
    if not value.strip():
        raise InputError(f"{name} is empty or whitespace only ({value!r}); give a non-empty {name}")
    return value


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidArgument(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


_INPUT_ORDER = ("input_ids", "token_type_ids", "attention_mask")


def input_names_for(tokenizer: Any, config: Any = None) -> tuple[str, ...]:
    """The keys to feed the model: those the tokenizer declares, as the pipeline's ``_forward`` did,
    plus ``token_type_ids`` when ``config`` has segment embeddings (``type_vocab_size > 1``).

    Why the second rule: transformers 5's ALBERT tokenizer stopped declaring token_type_ids, but
    ALBERT checkpoints were trained with them and the 4.57 pipeline passed them.
    """
    declared = set(getattr(tokenizer, "model_input_names", ("input_ids", "attention_mask")))
    if config is not None and int(getattr(config, "type_vocab_size", 0) or 0) > 1:
        declared.add("token_type_ids")
    return tuple(k for k in _INPUT_ORDER if k in declared)


def encode(tokenizer: Any, question: str, context: str, *, max_seq_len: int | None = None,
           doc_stride: int | None = None, max_question_len: int = 64,
           input_names: Sequence[str] | None = None) -> Encoding:
    """Encode ``question``/``context`` with a fast ``tokenizer`` into overlapping windows.

    Defaults as the pipeline: ``max_seq_len = min(model_max_length, 384)``,
    ``doc_stride = min(max_seq_len // 2, 128)``. ``max_question_len`` is accepted for the
    pipeline's signature; like its fast-tokenizer path it truncates nothing (a question
    too long for ``max_seq_len`` raises ``InputError`` instead). ``input_names``: the keys
    ``model_inputs()`` returns; pass ``input_names_for(tokenizer, model.config)`` (default: the
    tokenizer's own ``model_input_names``).
    """
    question = _check_text("question", question)
    context = _check_text("context", context)
    if not getattr(tokenizer, "is_fast", False):
        raise InvalidArgument(f"encode needs a fast tokenizer, got {type(tokenizer).__name__}; "
                              "load it with AutoTokenizer.from_pretrained(..., use_fast=True)")
    if max_seq_len is None:
        max_seq_len = min(int(tokenizer.model_max_length), DEFAULT_MAX_SEQ_LEN)
    max_seq_len = _check_positive_int("max_seq_len", max_seq_len)
    if doc_stride is None:
        doc_stride = min(max_seq_len // 2, 128)
    if isinstance(doc_stride, bool) or not isinstance(doc_stride, (int, np.integer)) or doc_stride < 0:
        raise InvalidArgument(f"doc_stride must be an integer >= 0, got {doc_stride!r}")
    doc_stride = int(doc_stride)
    _check_positive_int("max_question_len", max_question_len)
    if doc_stride > max_seq_len:
        raise InvalidArgument(f"doc_stride ({doc_stride}) is larger than max_seq_len ({max_seq_len}); "
                              "use a doc_stride below max_seq_len")

    names = input_names_for(tokenizer) if input_names is None else tuple(input_names)
    unknown = [n for n in names if n not in _INPUT_ORDER]
    if unknown:
        raise InvalidArgument(f"input_names {unknown!r} are not produced by encode; choose among {_INPUT_ORDER}")
    question_first = tokenizer.padding_side == "right"
    context_sequence = 1 if question_first else 0
    # The tokenizer refuses to window a pair whose question leaves no more than doc_stride
    # tokens of room for the context: check first so the user gets the numbers and a remedy.
    n_question = len(tokenizer(question, add_special_tokens=False)["input_ids"])
    n_special = tokenizer.num_special_tokens_to_add(pair=True)
    room = max_seq_len - n_question - n_special
    if room <= 0:
        raise InputError(f"question is {n_question} tokens long ({question[:60]!r}...), which with {n_special} "
                         f"special tokens alone exceeds max_seq_len={max_seq_len}; shorten the question "
                         "or raise max_seq_len")
    if room <= doc_stride:
        raise InputError(f"question is {n_question} tokens long, leaving {room} tokens per window for the context "
                         f"with max_seq_len={max_seq_len}, not more than doc_stride={doc_stride}; shorten the "
                         "question, raise max_seq_len or lower doc_stride")

    batch = tokenizer(
        text=question if question_first else context,
        text_pair=context if question_first else question,
        padding="do_not_pad",
        truncation="only_second" if question_first else "only_first",
        max_length=max_seq_len,
        stride=doc_stride,
        return_token_type_ids=True,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    cls_id = tokenizer.cls_token_id
    windows = []
    for i, enc in enumerate(batch.encodings):
        input_ids = np.asarray(enc.ids, dtype=np.int64)
        seq_ids = tuple(enc.sequence_ids)
        p_mask = np.array([s != context_sequence for s in seq_ids], dtype=bool)
        # Keep [CLS] allowed: models trained with impossible answers point at it.
        cls_positions = np.flatnonzero(input_ids == cls_id) if cls_id is not None else np.array([], dtype=int)
        p_mask[cls_positions] = False
        p_mask |= np.asarray(enc.attention_mask) == 0
        windows.append(Window(
            input_ids=input_ids,
            attention_mask=np.asarray(enc.attention_mask, dtype=np.int64),
            token_type_ids=np.asarray(enc.type_ids, dtype=np.int64),
            offsets=np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2),
            sequence_ids=seq_ids,
            p_mask=p_mask,
            word_ids=tuple(enc.word_ids),
            cls_index=int(cls_positions[0]) if cls_positions.size else 0,
            context_sequence=context_sequence,
            tokens=tuple(enc.tokens),
        ))
    if not any(w.context_mask.any() for w in windows):
        raise InputError(f"context {context[:60]!r} produces no tokens with this tokenizer; "
                         "give a context with text the tokenizer can read")
    return Encoding(
        question=question, context=context, windows=tuple(windows), max_seq_len=max_seq_len,
        doc_stride=doc_stride, padding_side="right" if question_first else "left",
        pad_token_id=int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0),
        pad_token_type_id=int(getattr(tokenizer, "pad_token_type_id", 0) or 0),
        input_names=names,
    )

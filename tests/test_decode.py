"""decode() and masked_probabilities() on hand-made windows and logits (no model)."""
from __future__ import annotations

import numpy as np
import pytest

from qaaudit.decode import DecodeResult, decode, masked_probabilities
from qaaudit.encode import Encoding, Window
from qaaudit.errors import InvalidArgument

CONTEXT = "Alpha betaville gamma delta"
#            0    5         15    21   27


def make_window(tokens, *, context_sequence: int = 1) -> Window:
    """tokens: (text, sequence id | None, word id | None, (char start, char end))."""
    seq = tuple(t[1] for t in tokens)
    input_ids = np.array([101 if t[0] == "[CLS]" else 1000 + i for i, t in enumerate(tokens)], dtype=np.int64)
    p_mask = np.array([s != context_sequence for s in seq])
    p_mask[input_ids == 101] = False
    return Window(
        input_ids=input_ids, attention_mask=np.ones(len(tokens), dtype=np.int64),
        token_type_ids=np.array([0 if s in (None, 0) else 1 for s in seq]),
        offsets=np.array([t[3] for t in tokens], dtype=np.int64), sequence_ids=seq, p_mask=p_mask,
        word_ids=tuple(t[2] for t in tokens), cls_index=0, context_sequence=context_sequence,
        tokens=tuple(t[0] for t in tokens))


# [CLS] Who ? [SEP] Alpha beta ##ville gamma delta [SEP]
#   0    1  2   3     4     5     6       7     8     9
TOKENS = [("[CLS]", None, None, (0, 0)), ("Who", 0, 0, (0, 3)), ("?", 0, 1, (3, 4)), ("[SEP]", None, None, (0, 0)),
          ("Alpha", 1, 0, (0, 5)), ("beta", 1, 1, (6, 10)), ("##ville", 1, 1, (10, 15)), ("gamma", 1, 2, (16, 21)),
          ("delta", 1, 3, (22, 27)), ("[SEP]", None, None, (0, 0))]


def make_encoding(*windows: Window, padding_side: str = "right", context: str = CONTEXT) -> Encoding:
    return Encoding(question="Who?", context=context, windows=tuple(windows), max_seq_len=384, doc_stride=128,
                    padding_side=padding_side, pad_token_id=0, pad_token_type_id=0,
                    input_names=("input_ids", "attention_mask"))


def logits(n: int, peaks: dict[int, float]) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    for i, v in peaks.items():
        out[i] = v
    return out


def softmax_allowed(row: np.ndarray, allowed: list[int]) -> np.ndarray:
    p = np.zeros(len(row))
    e = np.exp(row[allowed].astype(np.float64))
    p[allowed] = e / e.sum()
    return p


ALLOWED = [0, 4, 5, 6, 7, 8]


def test_best_span_text_offsets_and_score() -> None:
    w = make_window(TOKENS)
    s, e = logits(10, {5: 6.0}), logits(10, {7: 6.0})
    result = decode(make_encoding(w), [s], [e])
    assert isinstance(result, DecodeResult)
    (best,) = result.answers
    assert (best.text, best.start, best.end) == ("betaville gamma", 6, 21)
    assert (best.token_start, best.token_end, best.window) == (5, 7, 0)
    p_s, p_e = softmax_allowed(s, ALLOWED), softmax_allowed(e, ALLOWED)
    # "##ville" also starts inside "betaville": aligned to words it gives the same text, so the
    # two token pairs are one answer whose score is the sum.
    assert best.score == pytest.approx((p_s[5] + p_s[6]) * p_e[7], rel=1e-5)


def test_question_and_special_tokens_never_answer_and_get_no_probability() -> None:
    w = make_window(TOKENS)
    s = logits(10, {1: 50.0, 3: 50.0, 9: 50.0, 8: 1.0})
    p = masked_probabilities(w, s)
    assert p.sum() == pytest.approx(1.0, abs=1e-6)
    assert p[[1, 2, 3, 9]].max() < 1e-30
    (best,) = decode(make_encoding(w), [s], [s]).answers
    assert best.text == "delta"


def test_cls_gives_null_score_and_never_starts_an_answer() -> None:
    w = make_window(TOKENS)
    s, e = logits(10, {0: 8.0, 4: 2.0}), logits(10, {0: 8.0, 4: 2.0})
    result = decode(make_encoding(w), [s], [e], top_k=2, handle_impossible_answer=True)
    null = softmax_allowed(s, ALLOWED)[0] * softmax_allowed(e, ALLOWED)[0]
    assert result.null_score == pytest.approx(null, rel=1e-5)
    assert result.answers[0].is_null and result.answers[0].score == result.null_score
    # p[CLS] is zeroed without renormalising: the real answer keeps its small share.
    assert result.answers[1].text == "Alpha"
    assert result.answers[1].score == pytest.approx(softmax_allowed(s, ALLOWED)[4] ** 2, rel=1e-5)
    assert all(not a.is_null for a in decode(make_encoding(w), [s], [e], top_k=3).answers)


def test_null_score_is_the_minimum_over_windows() -> None:
    w = make_window(TOKENS)
    enc = make_encoding(w, w)
    s1, s2 = logits(10, {0: 5.0}), logits(10, {0: 1.0})
    result = decode(enc, [s1, s2], [s1, s2], handle_impossible_answer=True, top_k=5)
    p2 = softmax_allowed(s2, ALLOWED)[0] ** 2
    assert result.null_score == pytest.approx(p2, rel=1e-5)


def test_max_answer_len_bounds_the_span() -> None:
    w = make_window(TOKENS)
    s, e = logits(10, {4: 5.0}), logits(10, {8: 5.0})
    assert decode(make_encoding(w), [s], [e]).answers[0].text == CONTEXT  # 5 tokens
    short = decode(make_encoding(w), [s], [e], max_answer_len=2).answers[0]
    assert short.token_end - short.token_start <= 1
    one = decode(make_encoding(w), [s], [e], max_answer_len=1, top_k=4).answers
    assert all(a.token_start == a.token_end for a in one)


def test_sub_word_span_aligns_to_words_or_keeps_offsets() -> None:
    w = make_window(TOKENS)
    s, e = logits(10, {6: 6.0}), logits(10, {6: 6.0})
    assert decode(make_encoding(w), [s], [e]).answers[0].text == "betaville"
    raw = decode(make_encoding(w), [s], [e], align_to_words=False).answers[0]
    assert (raw.text, raw.start, raw.end) == ("ville", 10, 15)


def test_same_text_merges_case_insensitively_across_windows() -> None:
    context = "Delta and delta"
    toks1 = TOKENS[:4] + [("Delta", 1, 0, (0, 5)), ("and", 1, 1, (6, 9)), ("[SEP]", None, None, (0, 0))]
    toks2 = TOKENS[:4] + [("and", 1, 1, (6, 9)), ("delta", 1, 2, (10, 15)), ("[SEP]", None, None, (0, 0))]
    w1, w2 = make_window(toks1), make_window(toks2)
    s1, s2 = logits(7, {4: 4.0}), logits(7, {5: 4.0})
    result = decode(make_encoding(w1, w2, context=context), [s1, s2], [s1, s2], top_k=3)
    first = decode(make_encoding(w1, context=context), [s1], [s1], top_k=3).answers[0]
    second = decode(make_encoding(w2, context=context), [s2], [s2], top_k=3).answers[0]
    best = result.answers[0]
    assert (best.text, best.start, best.window) == ("Delta", 0, 0)  # the first one seen keeps its offsets
    assert best.score == pytest.approx(first.score + second.score, rel=1e-6)
    assert [a.text.lower() for a in result.answers].count("delta") == 1


def test_top_k_sorted_and_bounded() -> None:
    w = make_window(TOKENS)
    rng = np.random.default_rng(0)
    s, e = rng.normal(size=10).astype(np.float32), rng.normal(size=10).astype(np.float32)
    answers = decode(make_encoding(w), [s], [e], top_k=5).answers
    assert len(answers) == 5
    assert [a.score for a in answers] == sorted((a.score for a in answers), reverse=True)
    assert len({a.text.lower() for a in answers}) == 5
    assert decode(make_encoding(w), [s], [e], top_k=1).answers[0] == answers[0]


@pytest.mark.parametrize("side", ["right", "left"])
def test_stacked_padded_logits_are_unpadded_per_side(side: str) -> None:
    long_w = make_window(TOKENS)
    short_w = make_window(TOKENS[:6] + [TOKENS[9]])
    s_long, s_short = logits(10, {8: 5.0}), logits(7, {5: 5.0})
    pad = np.full(3, 99.0, dtype=np.float32)  # garbage where the model saw padding
    short_padded = np.concatenate([s_short, pad] if side == "right" else [pad, s_short])
    stacked = np.stack([s_long, short_padded])
    enc = make_encoding(long_w, short_w, padding_side=side)
    per_window = decode(enc, [s_long, s_short], [s_long, s_short], top_k=3)
    assert decode(enc, stacked, stacked, top_k=3) == per_window


@pytest.mark.parametrize("kwargs", [{"top_k": 0}, {"top_k": True}, {"max_answer_len": 0}, {"max_answer_len": 2.5}])
def test_bad_arguments_raise_invalid_argument(kwargs: dict) -> None:
    w = make_window(TOKENS)
    with pytest.raises(InvalidArgument, match=next(iter(kwargs))):
        decode(make_encoding(w), [logits(10, {})], [logits(10, {})], **kwargs)


def test_logits_that_do_not_match_the_windows_raise() -> None:
    w = make_window(TOKENS)
    with pytest.raises(InvalidArgument, match="2 rows for 1 windows"):
        decode(make_encoding(w), [logits(10, {})] * 2, [logits(10, {})] * 2)
    with pytest.raises(InvalidArgument, match="4 logits for a window of 10"):
        decode(make_encoding(w), [logits(4, {})], [logits(4, {})])
    with pytest.raises(InvalidArgument, match="do not match a window of 10"):
        masked_probabilities(w, logits(3, {}))

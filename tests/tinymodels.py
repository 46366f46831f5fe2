"""Tiny extractive-QA checkpoints built locally, for tests (nothing is downloaded).

``build_tiny_checkpoint(arch, out_dir)`` writes a random ``*ForQuestionAnswering`` model
(hidden 32, 2 layers, 2 heads) and a fast tokenizer trained on the fly on a small
Korean + English corpus, both with ``save_pretrained``; the directory reloads with
``AutoTokenizer`` / ``AutoModelForQuestionAnswering.from_pretrained(dir)``.

This module must also run under transformers 4.57 (scripts/make_decoder_golden.py builds
the parity fixtures with it), so it only uses names both versions export.
"""
from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["ARCHS", "CORPUS", "build_tiny_checkpoint", "build_tokenizer", "tiny_config"]

ARCHS: tuple[str, ...] = ("bert", "electra", "roberta", "distilbert", "albert", "xlm-roberta", "deberta-v2")

# Small bilingual corpus: enough for every tokenizer to learn words, sub-words and Hangul syllables.
CORPUS: tuple[str, ...] = (
    "The Eiffel Tower is located in Paris, the capital of France.",
    "It was completed in 1889 and is 330 metres tall.",
    "Seoul is the capital of South Korea and its largest city.",
    "The Han River flows through Seoul from east to west.",
    "Marie Curie won the Nobel Prize in Physics in 1903 and in Chemistry in 1911.",
    "Who wrote the novel? When was it built? Where is the museum? What is the name of the river?",
    "How many people live in the city? Which country won the cup in 2002?",
    "The quick brown fox jumps over the lazy dog near the old bridge.",
    "Python is a programming language created by Guido van Rossum in 1991.",
    "Integrated gradients explain a model's prediction by attributing it to the input tokens.",
    "The museum opens at 9 a.m. and closes at 6 p.m. on weekdays.",
    "Mount Everest, at 8,849 metres, is the highest mountain on Earth.",
    "The Amazon rainforest covers much of Brazil and Peru.",
    "Beethoven composed nine symphonies; the last was finished in 1824.",
    "서울은 대한민국의 수도이며 가장 큰 도시이다.",
    "한강은 서울을 동쪽에서 서쪽으로 가로질러 흐른다.",
    "세종대왕은 1443년에 훈민정음을 창제하였다.",
    "이순신 장군은 임진왜란 때 거북선을 이끌고 일본 수군을 물리쳤다.",
    "부산은 대한민국 제2의 도시로 큰 항구가 있다.",
    "제주도는 한국에서 가장 큰 섬이며 한라산이 있다.",
    "누가 한글을 만들었나요? 서울의 인구는 몇 명인가요? 한라산은 어디에 있나요?",
    "김치는 배추와 고춧가루로 만드는 한국의 전통 음식이다.",
    "경복궁은 1395년에 조선의 법궁으로 지어졌다.",
    "2002년 월드컵은 한국과 일본에서 공동으로 개최되었다.",
    "인공지능 모델은 질문과 문맥을 읽고 답의 시작과 끝을 예측한다.",
    "삼성전자는 수원에 본사를 두고 있으며 반도체를 만든다.",
    "독도는 동해에 있는 섬이다. 백두산은 한반도에서 가장 높은 산이다.",
    "KorQuAD는 한국어 기계 독해 데이터셋이고 SQuAD는 영어 데이터셋이다.",
    "BTS는 2013년에 데뷔한 대한민국의 보이 그룹이다.",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 2024년 3월 15일",
)

_VOCAB_SIZE = 800
_MODEL_MAX_LENGTH = 512

# Per family: special tokens in id order, and the tokens playing each role.
_SPECIALS = {
    "wordpiece": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
    "bpe": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    "albert": ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"],
    "xlmr": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    "deberta": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],  # unk at 1: DebertaV2Tokenizer's default unk_id
}
_FAMILY = {
    "bert": "wordpiece", "electra": "wordpiece", "distilbert": "wordpiece",
    "roberta": "bpe", "albert": "albert", "xlm-roberta": "xlmr", "deberta-v2": "deberta",
}
_TOKENIZER_CLASS = {
    "bert": "BertTokenizerFast", "electra": "ElectraTokenizerFast", "distilbert": "DistilBertTokenizerFast",
    "roberta": "RobertaTokenizerFast", "albert": "AlbertTokenizerFast",
    "xlm-roberta": "XLMRobertaTokenizerFast", "deberta-v2": "DebertaV2TokenizerFast",
}


def _check_arch(arch: str) -> None:
    if arch not in _FAMILY:
        raise ValueError(f"unknown tiny architecture {arch!r}; choose one of {', '.join(ARCHS)}")


@functools.lru_cache(maxsize=None)
def _train_backend(family: str) -> str:
    """Train a ``tokenizers.Tokenizer`` for one family; returned as JSON so callers get a fresh copy."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    specials = _SPECIALS[family]
    tok_of = {i: t for i, t in enumerate(specials)}
    if family == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
        # do_lower_case=False, strip_accents=False: Hangul must survive (NFD would split syllables).
        tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                    strip_accents=False, lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece(prefix="##")
        trainer = trainers.WordPieceTrainer(vocab_size=_VOCAB_SIZE, special_tokens=specials,
                                            continuing_subword_prefix="##", show_progress=False)
    elif family == "bpe":
        tok = Tokenizer(models.BPE(unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=_VOCAB_SIZE, special_tokens=specials, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:  # sentencepiece-like: Unigram + Metaspace
        # Normalizer and pre-tokenizer equal to what transformers 5's own class builds, so the
        # tokenizer behaves the same whichever side (the saved JSON or the class) wins on load.
        tok = Tokenizer(models.Unigram())
        if family == "albert":  # AlbertTokenizer(do_lower_case=False, keep_accents=True)
            tok.normalizer = normalizers.Sequence([normalizers.Replace("``", '"'), normalizers.Replace("''", '"')])
        elif family == "deberta":
            tok.normalizer = normalizers.Sequence([normalizers.Replace(Regex(r"\s{2,}|[\n\r\t]"), " "),
                                                   normalizers.NFC(), normalizers.Strip(left=False, right=True)])
        metaspace = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        tok.pre_tokenizer = (pre_tokenizers.Sequence([metaspace]) if family == "deberta"
                             else pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), metaspace]))
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
        unk = "<unk>" if family in ("albert", "xlmr") else "[UNK]"
        trainer = trainers.UnigramTrainer(vocab_size=_VOCAB_SIZE, special_tokens=specials, unk_token=unk,
                                          show_progress=False)
    tok.train_from_iterator(list(CORPUS) * 2, trainer=trainer)
    ids = {t: tok.token_to_id(t) for t in specials}
    assert all(ids[t] == i for i, t in tok_of.items()), ids  # specials come first, in order

    if family == "bpe":
        tok.post_processor = processors.RobertaProcessing(("</s>", ids["</s>"]), ("<s>", ids["<s>"]),
                                                          trim_offsets=True, add_prefix_space=False)
    elif family == "xlmr":
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])])
    else:
        cls, sep = ("[CLS]", "[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
            special_tokens=[(cls, ids[cls]), (sep, ids[sep])])
    return tok.to_str()


def build_tokenizer(arch: str, *, padding_side: str = "right"):
    """The arch's transformers fast tokenizer, wrapping a freshly trained backend."""
    import transformers
    from tokenizers import Tokenizer

    _check_arch(arch)
    family = _FAMILY[arch]
    backend = Tokenizer.from_str(_train_backend(family))
    s = _SPECIALS[family]
    if family == "wordpiece":
        roles = dict(pad_token=s[0], unk_token=s[1], cls_token=s[2], sep_token=s[3], mask_token=s[4])
    elif family in ("bpe", "xlmr"):
        roles = dict(bos_token=s[0], pad_token=s[1], eos_token=s[2], unk_token=s[3], mask_token=s[4],
                     cls_token="<s>", sep_token="</s>")
    elif family == "albert":
        roles = dict(pad_token=s[0], unk_token=s[1], cls_token=s[2], sep_token=s[3], mask_token=s[4],
                     bos_token="[CLS]", eos_token="[SEP]")
    else:  # deberta
        roles = dict(pad_token=s[0], unk_token=s[1], cls_token=s[2], sep_token=s[3], mask_token=s[4],
                     bos_token="[CLS]", eos_token="[SEP]")
    # TRAP: in transformers 5 e.g. ElectraTokenizerFast(vocab_file=...) ignores the vocab; pass the object.
    cls = getattr(transformers, _TOKENIZER_CLASS[arch])
    extra = {"wordpiece": {"do_lower_case": False, "strip_accents": False},
             "albert": {"do_lower_case": False, "keep_accents": True},
             "deberta": {"do_lower_case": False}}.get(family, {})
    tokenizer = cls(tokenizer_object=backend, model_max_length=_MODEL_MAX_LENGTH,
                    padding_side=padding_side, **roles, **extra)
    return tokenizer


def tiny_config(arch: str, vocab_size: int):
    """The tiny config of ``arch`` (hidden 32, 2 layers, 2 heads, intermediate 64, 512 positions)."""
    import transformers

    _check_arch(arch)
    common = dict(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64, max_position_embeddings=_MODEL_MAX_LENGTH)
    if arch == "bert":
        return transformers.BertConfig(**common, type_vocab_size=2, pad_token_id=0)
    if arch == "electra":
        return transformers.ElectraConfig(**common, embedding_size=32, type_vocab_size=2, pad_token_id=0)
    if arch == "roberta":
        # RoBERTa positions start after padding_idx (1): 512 tokens need 514 position rows.
        return transformers.RobertaConfig(**{**common, "max_position_embeddings": _MODEL_MAX_LENGTH + 2},
                                          type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2)
    if arch == "xlm-roberta":
        return transformers.XLMRobertaConfig(**{**common, "max_position_embeddings": _MODEL_MAX_LENGTH + 2},
                                             type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2)
    if arch == "distilbert":
        return transformers.DistilBertConfig(vocab_size=vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                             max_position_embeddings=_MODEL_MAX_LENGTH, pad_token_id=0)
    if arch == "albert":
        return transformers.AlbertConfig(**common, embedding_size=16, type_vocab_size=2, pad_token_id=0,
                                         bos_token_id=2, eos_token_id=3)
    return transformers.DebertaV2Config(**common, type_vocab_size=0, pad_token_id=0, relative_attention=True,
                                        pos_att_type=["p2c", "c2p"], position_biased_input=False,
                                        position_buckets=64, max_relative_positions=-1, norm_rel_ebd="layer_norm",
                                        share_att_key=True)


def build_tiny_checkpoint(arch: str, out_dir: Path, *, seed: int = 0, padding_side: str = "right") -> Path:
    """Write a tiny random QA checkpoint of ``arch`` (model + fast tokenizer) into ``out_dir``; return it."""
    import torch
    import transformers

    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', not {padding_side!r}")
    out_dir = Path(out_dir)
    tokenizer = build_tokenizer(arch, padding_side=padding_side)
    config = tiny_config(arch, vocab_size=len(tokenizer))
    torch.manual_seed(seed)
    model = transformers.AutoModelForQuestionAnswering.from_config(config)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir

"""Training-recipe helpers of the demo model (the full training run is not part of the suite)."""
from __future__ import annotations

import re

import torch

from qaaudit.demo.data import entity_names, generate
from qaaudit.demo.train import build_model, pointer_examples


def test_pointer_examples_ask_for_the_first_mention_of_the_entity():
    examples = generate("train", 60, seed=3)
    pointers = pointer_examples(examples)
    answerable = [e for e in examples if not e.unanswerable and e.entity in e.context]
    assert len(pointers) == len(answerable) > 0
    for p, e in zip(pointers, answerable):
        (text, start), = p.answers
        assert p.question == text == e.entity and p.context == e.context
        assert start == e.context.index(e.entity) and p.template == "pointer"


def test_match_init_gives_copy_heads_over_disjoint_word_and_position_dimensions():
    model = build_model(300, sinusoidal_positions=True, match_init=True)
    emb = model.electra.embeddings
    half, hd = model.config.embedding_size // 2, model.config.hidden_size // model.config.num_attention_heads
    assert torch.all(emb.word_embeddings.weight[:, half:] == 0) and emb.word_embeddings.weight[:, :half].abs().sum() > 0
    assert torch.all(emb.position_embeddings.weight[:, :half] == 0)
    assert emb.position_embeddings.weight[:, half:].abs().sum() > 0
    for layer in model.electra.encoder.layer:
        att = layer.attention.self
        q, k = att.query.weight[: 2 * hd], att.key.weight[: 2 * hd]
        assert torch.equal(q, k) and torch.all(q[:, half:] == 0)
        # a token scores itself and its copies alike, above other tokens
        x = torch.nn.functional.layer_norm(emb.word_embeddings.weight[5:9], (model.config.embedding_size,))
        scores = (x @ q[:hd].T) @ (x @ k[:hd].T).T
        assert torch.all(scores.diagonal() > scores.masked_fill(torch.eye(4, dtype=torch.bool), -1e9).max(1).values)
    plain = build_model(300)
    assert not torch.equal(plain.electra.encoder.layer[0].attention.self.query.weight,
                           plain.electra.encoder.layer[0].attention.self.key.weight)


def test_mention_labels_tag_the_question_entity_in_question_and_context():
    from transformers import AutoTokenizer

    from qaaudit.demo import demo_model_path
    from qaaudit.demo.train import encode_examples

    tok = AutoTokenizer.from_pretrained(demo_model_path())
    examples = [e for e in generate("dev", 40, seed=5) if not e.unanswerable][:12]
    feats = encode_examples(tok, examples)
    for i, e in enumerate(examples):
        tokens = tok.convert_ids_to_tokens(feats["input_ids"][i])
        sep = tokens.index("[SEP]")
        marks = feats["mention"][i]
        in_context = tok.convert_tokens_to_string([t for k, (t, m) in enumerate(zip(tokens, marks)) if m and k > sep])
        # the question's own mention is tagged, every tagged context word belongs to the entity,
        # and each mention in the context is tagged (the full name, or an English surname alone)
        assert sum(marks[:sep]) > 0, (e.question, tokens)
        assert set(in_context.split()) <= set(e.entity.split()), (e.entity, in_context)
        key = e.entity.split()[-1]
        assert in_context.split().count(key) == len(re.findall(rf"(?<![\w]){re.escape(key)}", e.context)), (e, in_context)
    # a partly equal name is not a mention: Ost is not tagged inside Ostrander
    from dataclasses import replace

    odd = replace(examples[0], lang="en", entity="Nadia Ost", question="Who is Nadia Ost?",
                  context="Ostrander Bank was founded by Ost. Nadia Ostton is a poet.", answers=(("Ost", 30),))
    f = encode_examples(tok, [odd])
    toks = tok.convert_ids_to_tokens(f["input_ids"][0])
    tagged_ctx = [t for t, m, k in zip(toks, f["mention"][0], range(len(toks))) if m and k > toks.index("[SEP]")]
    assert tagged_ctx == ["Ost"], tagged_ctx


def test_question_noise_leaves_the_entity_specials_and_context_alone():
    from qaaudit.demo.train import _noisy_question

    g = torch.Generator().manual_seed(0)
    ids = torch.tensor([[2, 10, 11, 12, 13, 3, 20, 21, 22, 3, 0, 0]] * 200)
    tt = torch.tensor([[0] * 6 + [1] * 4 + [0, 0]] * 200)
    am = (ids != 0).long()
    ment = torch.zeros(ids.shape)
    ment[:, 2] = 1  # the entity's token in the question
    noisy = _noisy_question(ids, tt, am, ment, 0.5, g, vocab_size=100)
    changed = noisy != ids
    assert not changed[:, [0, 2, 5, 6, 7, 8, 9, 10, 11]].any()
    share = changed[:, [1, 3, 4]].float().mean().item()
    assert 0.35 < share < 0.55  # ~0.5, less the random draws that hit the same token
    assert int(noisy.max()) < 100 and int(noisy[changed].min()) >= 5


def test_tokenizer_splits_unseen_two_piece_names_like_seen_ones():
    from qaaudit.demo.data import name_pieces, segmented_corpus
    from qaaudit.demo.train import train_tokenizer

    corpus = segmented_corpus("train", 400, seed=0)
    joined = [n for n in name_pieces() if any(n in t.split() for t in corpus)]
    assert not joined, joined[:5]  # the tokenizer never sees a two-piece name whole
    tok = train_tokenizer(corpus, vocab_size=1500)
    for split in ("train", "test"):
        names = [n for n in entity_names(split, "en") | entity_names(split, "ko") if n in name_pieces()]
        ok = sum(tok.tokenize(n) == [name_pieces()[n][0], "##" + name_pieces()[n][1]] for n in names)
        assert ok >= 0.95 * len(names), split


def test_tokenizer_vocabulary_is_the_same_in_every_process():
    # the WordPiece trainer broke ties in Rust's per-process hash order: two training runs got different ids
    import subprocess
    import sys

    code = ("import hashlib, json\n"
            "from qaaudit.demo.data import segmented_corpus\n"
            "from qaaudit.demo.train import train_tokenizer\n"
            "v = train_tokenizer(segmented_corpus('train', 3000, seed=0), vocab_size=2500).get_vocab()\n"
            "print(len(v), hashlib.sha256(json.dumps(sorted(v.items())).encode()).hexdigest())\n")
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert outs[0] == outs[1] and outs[0].startswith("2500 ")

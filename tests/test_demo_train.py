"""Training-recipe helpers of the demo model (the full training run is not part of the suite)."""
from __future__ import annotations

import torch

from qaaudit.demo.data import generate
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

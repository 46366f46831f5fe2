"""Loading checkpoints of every supported architecture through qaaudit.load_model."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from qaaudit import ModelLoadError, load_model
from qaaudit.errors import InvalidArgument
from tinymodels import ARCHS


@pytest.mark.parametrize("arch", ARCHS)
def test_loads_every_architecture(tiny_checkpoint, arch):
    qa = load_model(tiny_checkpoint(arch), device="cpu")
    assert qa.architecture == arch
    assert not qa.model.training
    assert qa.tokenizer.is_fast
    assert qa.device == torch.device("cpu")
    # the embeddings module is found per architecture, and it is the model's own
    assert any(m is qa.embeddings for m in qa.model.modules())
    assert "word" in qa.sub_embedding_modules
    assert len(qa.weights_hash) == 64


def test_missing_path_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "model"
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(missing))


def test_directory_without_config(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(tmp_path)


def test_base_model_without_qa_head(tiny_checkpoint, tmp_path):
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    src = tiny_checkpoint("bert")
    base = AutoModel.from_config(AutoConfig.from_pretrained(src))
    base.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(src).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="question-answering head"):
        load_model(tmp_path)


def test_model_type_without_qa_head(tmp_path):
    from transformers import ViTConfig

    ViTConfig(num_hidden_layers=1, hidden_size=8, num_attention_heads=2).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="no extractive question-answering head"):
        load_model(tmp_path)


def test_vocabulary_mismatch(tiny_checkpoint, tmp_path):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    src = tiny_checkpoint("bert")
    model = AutoModelForQuestionAnswering.from_pretrained(src)
    model.resize_token_embeddings(100)
    model.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(src).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="vocab_size is 100"):
        load_model(tmp_path)


def test_slow_tokenizer_is_refused(tiny_checkpoint, tmp_path):
    import shutil

    src = tiny_checkpoint("bert")
    shutil.copytree(src, tmp_path / "m")
    (tmp_path / "m" / "tokenizer.json").unlink()  # only vocab.txt is left: no tokenizers backend
    try:
        qa = load_model(tmp_path / "m")
    except ModelLoadError as exc:
        assert "tokenizer" in str(exc)
    else:  # transformers 5 converts vocab.txt into a fast tokenizer on the fly
        assert qa.tokenizer.is_fast


def test_bad_device():
    with pytest.raises(InvalidArgument, match="device='gpu0'"):
        from qaaudit.model import resolve_device

        resolve_device("gpu0")


def test_weights_hash_changes_with_weights(tiny_checkpoint):
    a = load_model(tiny_checkpoint("bert"), device="cpu")
    b = load_model(tiny_checkpoint("bert", seed=1), device="cpu")
    assert a.weights_hash != b.weights_hash
    again = load_model(tiny_checkpoint("bert"), device="cpu")
    assert again.weights_hash == a.weights_hash

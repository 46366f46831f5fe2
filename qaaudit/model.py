"""Loading an extractive-QA checkpoint: model, fast tokenizer, device, and the modules IG needs.

The loading path is the ordinary ``from_pretrained(path_or_hub_id)``; nothing here is
specific to one architecture beyond finding the embeddings module, which every
supported ``*ForQuestionAnswering`` model keeps at ``base_model.embeddings``.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qaaudit.errors import InvalidArgument, ModelLoadError

__all__ = ["QAModel", "load_model", "resolve_device", "SUPPORTED_ARCHITECTURES"]

# Tested end to end; other architectures with a QA head and ``base_model.embeddings`` also work.
SUPPORTED_ARCHITECTURES = ("bert", "electra", "roberta", "distilbert", "albert", "xlm-roberta", "deberta-v2")

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"`` (or None) picks CUDA when available, else the CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidArgument(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument(f"device={device!r} was asked for but CUDA is not available here; use 'cpu' or 'auto'")
    return dev


@dataclass(eq=False)
class QAModel:
    """A loaded QA model with everything qaaudit needs to predict and explain."""

    model: nn.Module
    tokenizer: Any
    device: torch.device
    name: str
    path: str
    architecture: str
    embeddings: nn.Module
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def max_seq_len(self) -> int:
        """Default window length: the tokenizer's limit, capped at 384 as the QA pipeline did."""
        limit = getattr(self.tokenizer, "model_max_length", None) or 512
        pos = getattr(self.config, "max_position_embeddings", None)
        if pos and self.architecture in ("roberta", "xlm-roberta"):
            pos -= 2  # RoBERTa reserves padding_idx + 1 positions
        candidates = [384, int(limit) if limit < 10**6 else 384] + ([int(pos)] if pos and pos > 0 else [])
        return min(candidates)

    @property
    def uses_token_type_ids(self) -> bool:
        return "token_type_ids" in getattr(self.tokenizer, "model_input_names", ())

    @property
    def sub_embedding_modules(self) -> dict[str, nn.Module]:
        """The word / token-type / position embedding tables that exist in this architecture."""
        emb = self.embeddings
        out: dict[str, nn.Module] = {"word": self.model.get_input_embeddings()}
        for name, attr in (("token_type", "token_type_embeddings"), ("position", "position_embeddings")):
            mod = getattr(emb, attr, None)
            if isinstance(mod, nn.Embedding):
                out[name] = mod
        return out

    @cached_property
    def weights_hash(self) -> str:
        """sha256 over parameter names, shapes, dtypes and bytes: the cache key of this model."""
        h = hashlib.sha256()
        for key, tensor in sorted(self.model.state_dict().items()):
            t = tensor.detach().to("cpu").contiguous()
            h.update(f"{key}:{tuple(t.shape)}:{t.dtype};".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        return h.hexdigest()

    @cached_property
    def tokenizer_hash(self) -> str:
        """sha256 of the tokenizer's serialized state (vocabulary, normaliser, special tokens)."""
        h = hashlib.sha256()
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        h.update(backend.to_str().encode() if backend is not None else repr(self.tokenizer.get_vocab()).encode())
        h.update(f"{type(self.tokenizer).__name__}:{self.tokenizer.padding_side}".encode())
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        n_params = sum(p.numel() for p in self.model.parameters())
        return {"name": self.name, "path": self.path, "architecture": self.architecture,
                "parameters": n_params, "device": str(self.device), "weights_hash": self.weights_hash}


def _looks_like_path(s: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else with separators is meant as a local path.
    return s.startswith((".", "/", "~")) or s.count("/") > 1 or "\\" in s or s.endswith("/")


def load_model(
    path_or_hub_id: str | os.PathLike,
    *,
    device: str | torch.device | None = "auto",
    trust_remote_code: bool = False,
    dtype: torch.dtype | None = None,
    revision: str | None = None,
) -> QAModel:
    """Load an extractive-QA checkpoint and its fast tokenizer with ``from_pretrained``.

    ``trust_remote_code`` stays off unless asked for; safetensors weights are used
    when the checkpoint has them.
    """
    from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES

    if not isinstance(path_or_hub_id, (str, os.PathLike)) or not str(path_or_hub_id).strip():
        raise InvalidArgument(
            f"model={path_or_hub_id!r} is not a path or hub id; pass a checkpoint directory or an id like 'org/name'"
        )
    name = str(path_or_hub_id)
    local = Path(name).expanduser()
    is_local = local.exists()
    if not is_local and (_looks_like_path(name) or not _HUB_ID.match(name)):
        raise ModelLoadError(
            f"model path {name!r} does not exist; pass an existing checkpoint directory "
            f"(one holding config.json) or a hub id like 'org/name'"
        )
    if is_local and not local.is_dir():
        raise ModelLoadError(f"model path {name!r} is a file; pass the checkpoint directory that holds config.json")
    if is_local and not (local / "config.json").exists():
        raise ModelLoadError(
            f"model directory {name!r} has no config.json; save the model with save_pretrained() into it"
        )
    source = str(local) if is_local else name
    dev = resolve_device(device)
    common: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision is not None:
        common["revision"] = revision

    try:
        config = AutoConfig.from_pretrained(source, **common)
    except Exception as exc:  # transformers raises OSError/ValueError/KeyError for bad or unreachable checkpoints
        where = "directory" if is_local else "hub id"
        raise ModelLoadError(
            f"could not read the config of model {where} {name!r}: {exc.__class__.__name__}: {_first_line(exc)}; "
            f"check the path, or that the hub is reachable (offline here: use a local checkpoint)"
        ) from None
    model_type = getattr(config, "model_type", "?")
    if model_type not in MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES and not trust_remote_code:
        raise ModelLoadError(
            f"model {name!r} is a {model_type!r} model, which has no extractive question-answering head in "
            f"transformers; use a *ForQuestionAnswering checkpoint (BERT, ELECTRA, RoBERTa, ...)"
        )

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **common)
    except Exception as exc:
        raise ModelLoadError(
            f"could not load the tokenizer of model {name!r}: {exc.__class__.__name__}: {_first_line(exc)}; "
            f"save the tokenizer next to the model with tokenizer.save_pretrained()"
        ) from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"model {name!r} has no fast tokenizer ({type(tokenizer).__name__}); qaaudit needs character offsets: "
            f"save a tokenizers-backed tokenizer (tokenizer.json) with the checkpoint"
        )

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a progress bar per model load would clutter every pytest run
    kwargs: dict[str, Any] = dict(common, output_loading_info=True)
    if dtype is not None:
        kwargs["dtype"] = dtype
    try:
        model, info = AutoModelForQuestionAnswering.from_pretrained(source, **kwargs)
    except Exception as exc:
        raise ModelLoadError(
            f"could not load the weights of model {name!r}: {exc.__class__.__name__}: {_first_line(exc)}"
        ) from None
    missing = [k for k in info.get("missing_keys", ()) if "qa_outputs" in k]
    if missing:
        raise ModelLoadError(
            f"checkpoint {name!r} has no trained question-answering head ({', '.join(sorted(missing))} missing): "
            f"it is a base model; fine-tune it for extractive QA first"
        )
    vocab = getattr(config, "vocab_size", None)
    if vocab is not None and len(tokenizer) > vocab:
        raise ModelLoadError(
            f"model {name!r}: the tokenizer has {len(tokenizer)} tokens but the model's vocab_size is {vocab}; "
            f"the tokenizer does not belong to this model (save both from the same training run)"
        )
    embeddings = getattr(model.base_model, "embeddings", None)
    if not isinstance(embeddings, nn.Module):
        raise ModelLoadError(
            f"model {name!r} ({model_type}) has no base_model.embeddings module, which attributions need; "
            f"supported: {', '.join(SUPPORTED_ARCHITECTURES)}"
        )
    model.to(dev)
    model.eval()
    return QAModel(model=model, tokenizer=tokenizer, device=dev, name=name,
                   path=str(local.resolve()) if is_local else name, architecture=model_type, embeddings=embeddings)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else exc.__class__.__name__

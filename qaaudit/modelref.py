"""A model named by an audit: its cache identity first, the loaded model only when something needs it.

Loading a checkpoint means importing torch and transformers and reading the weights, which takes
seconds even for the tiny demo model: most of a rerun whose answers are all in the cache. So the
session asks a :class:`ModelRef` for the model's cache identity (weights hash, tokenizer hash,
device), which a fingerprint of the checkpoint's files finds in the cache without loading anything,
and calls :meth:`ModelRef.load` only on a cache miss.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

from qaaudit.heap import settle_heap

__all__ = ["ModelRef", "checkpoint_fingerprint"]

_CHUNK = 1 << 20


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def _device_context(device: str) -> dict[str, Any]:
    """What decides the resolved device, read without importing torch.

    The torch build ("2.13.0+cpu" has no CUDA), the visible GPUs and the request: when any of them
    changes, the fingerprint changes and the model is loaded again to resolve the device.
    """
    return {"request": device, "torch": _version("torch"), "transformers": _version("transformers"),
            "cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "nvidia": sorted(glob.glob("/dev/nvidia[0-9]*"))}


def checkpoint_fingerprint(path: str | os.PathLike, *, device: str, trust_remote_code: bool,
                           version: str) -> str | None:
    """sha256 over every file of a local checkpoint directory and the loading context; None for hub ids.

    Reads the files' bytes (a hash of contents, not of sizes and times): still far cheaper than loading.
    """
    root = Path(path)
    if not root.is_dir():
        return None
    h = hashlib.sha256()
    try:
        for f in sorted(root.iterdir()):
            if not f.is_file():
                continue
            h.update(f"{f.name}:{f.stat().st_size};".encode())
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(_CHUNK), b""):
                    h.update(block)
    except OSError:
        return None  # unreadable: let the real loader report it
    context = dict(_device_context(device), trust_remote_code=trust_remote_code, qaaudit=version)
    h.update(json.dumps(context, sort_keys=True).encode())
    return h.hexdigest()


class ModelRef:
    """One model of the session: identity from the cache when possible, :meth:`load` on demand.

    ``index`` is the session's :class:`~qaaudit.cache.ExplanationCache` (or None): it keeps, per
    checkpoint fingerprint, the weights hash, tokenizer hash, device and description of the model.
    """

    def __init__(self, name: str, path: str, *, device: str = "auto", trust_remote_code: bool = False,
                 index: Any = None, version: str = "", before_load: Callable[[], None] | None = None) -> None:
        self.name, self.path = name, path
        self._before_load = before_load
        self._device_request, self._trust = device, trust_remote_code
        self._index, self._version = index, version
        self._qa: Any = None
        self._identity: Mapping[str, Any] | None = None
        self._fingerprint: str | None | bool = False  # False: not computed yet

    # -- identity
    @property
    def fingerprint(self) -> str | None:
        if self._fingerprint is False:
            self._fingerprint = checkpoint_fingerprint(self.path, device=self._device_request,
                                                       trust_remote_code=self._trust, version=self._version)
        return self._fingerprint  # type: ignore[return-value]

    def _index_key(self) -> str | None:
        fp = self.fingerprint
        return None if fp is None else hashlib.sha256(f"model-identity:{fp}".encode()).hexdigest()

    @property
    def identity(self) -> Mapping[str, Any]:
        if self._identity is None:
            key = self._index_key()
            hit = self._index.peek(key) if (key and self._index is not None) else None
            if isinstance(hit, dict) and {"weights_hash", "tokenizer_hash", "device", "describe"} <= set(hit):
                self._identity = hit
            else:
                self.load()
        return self._identity  # type: ignore[return-value]

    @property
    def weights_hash(self) -> str:
        return self.identity["weights_hash"]

    @property
    def tokenizer_hash(self) -> str:
        return self.identity["tokenizer_hash"]

    @property
    def device(self) -> str:
        return self.identity["device"]

    def describe(self) -> dict[str, Any]:
        return dict(self.identity["describe"])

    @property
    def loaded(self) -> bool:
        return self._qa is not None

    # -- the model itself
    def load(self) -> Any:
        """The :class:`~qaaudit.model.QAModel`, loaded once; records its identity in the index."""
        if self._qa is None:
            from qaaudit.model import load_model

            if self._before_load is not None:
                self._before_load()
            qa = load_model(self.path, device=self._device_request, trust_remote_code=self._trust)
            settle_heap("model")  # torch, transformers and the model live as long as the process
            identity = {"weights_hash": qa.weights_hash, "tokenizer_hash": qa.tokenizer_hash,
                        "device": str(qa.device), "describe": qa.describe()}
            self._qa, self._identity = qa, identity  # a fresh load is the truth, index or not
            key = self._index_key()
            if key and self._index is not None:
                self._index.put(key, identity)
        return self._qa

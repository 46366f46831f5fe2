"""The embedded demo model: a small Korean + English ELECTRA extractive-QA model trained by the project.

Import-light on purpose (no torch): the plugin and CLI ask for the path at start-up.
Train it again with ``python -m qaaudit.demo.train``; measure it with ``python -m qaaudit.demo.evaluate``.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_MODEL_NAME", "demo_model_path"]

DEMO_MODEL_NAME = "qaaudit-demo-electra"


def demo_model_path() -> Path:
    """Directory of the packaged checkpoint (``save_pretrained`` layout), usable offline."""
    return Path(__file__).resolve().parent / "model"

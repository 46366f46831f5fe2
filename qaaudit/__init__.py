"""qaaudit: audit extractive question-answering models with pytest and integrated gradients.

The names that need torch (``load_model``, ``predict``, ``explain``) are imported
lazily, so importing ``qaaudit`` (and its pytest plugin) stays instant.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qaaudit.errors import (
    ExpectationFailed,
    InputError,
    InvalidArgument,
    ModelLoadError,
    QAAuditError,
    QAAuditWarning,
    SpecError,
)
from qaaudit.explanation import Answer, Explanation, TargetAttribution, WordAttribution

__version__ = "0.1.0"

_LAZY = {
    "load_model": "qaaudit.model",
    "QAModel": "qaaudit.model",
    "predict": "qaaudit.explainer",
    "predict_batch": "qaaudit.explainer",
    "explain": "qaaudit.explainer",
    "explain_batch": "qaaudit.explainer",
    "CompletenessTarget": "qaaudit.attribute",
    "demo_model_path": "qaaudit.demo",
    "show": "qaaudit.notebook",
}

__all__ = [
    "__version__",
    "QAAuditError", "InvalidArgument", "InputError", "ModelLoadError", "SpecError", "ExpectationFailed",
    "QAAuditWarning",
    "Answer", "Explanation", "TargetAttribution", "WordAttribution",
    *_LAZY,
]

if TYPE_CHECKING:  # pragma: no cover
    from qaaudit.attribute import CompletenessTarget
    from qaaudit.demo import demo_model_path
    from qaaudit.explainer import explain, explain_batch, predict, predict_batch
    from qaaudit.model import QAModel, load_model
    from qaaudit.notebook import show


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'qaaudit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value

"""Shared pytest fixtures (no tests here)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest
from _pytest import pytester as _pytester

# An in-process pytester run drops the modules first imported during it; packages with C extensions cannot
# be imported a second time (torch: "bad call flags", transformers: "Could not import module ...", yaml:
# event classes that are no longer the parser's). Which test imports them first depends on how xdist spreads
# the tests, so keep whatever those packages imported during a run.
_KEEP = {"torch", "transformers", "captum", "tokenizers", "safetensors", "numpy", "yaml", "_yaml", "markupsafe",
         "jinja2", "huggingface_hub", "sympy", "scipy", "qaaudit", "IPython", "hypothesis"}
_restore = _pytester.SysModulesSnapshot.restore


def _restore_keeping_extensions(self) -> None:
    kept = {name: mod for name, mod in sys.modules.items() if name.split(".", 1)[0] in _KEEP}
    _restore(self)
    sys.modules.update(kept)


_pytester.SysModulesSnapshot.restore = _restore_keeping_extensions

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so `import tinymodels` works without a package

from tinymodels import build_tiny_checkpoint  # noqa: E402


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``tiny_checkpoint("bert", padding_side="right", seed=0) -> Path``, built once per session."""
    built: dict[tuple[str, int, str], Path] = {}

    def make(arch: str, *, seed: int = 0, padding_side: str = "right") -> Path:
        key = (arch, seed, padding_side)
        if key not in built:
            out = tmp_path_factory.mktemp(f"tiny-{arch}-{seed}-{padding_side}")
            built[key] = build_tiny_checkpoint(arch, out, seed=seed, padding_side=padding_side)
        return built[key]

    return make


@pytest.fixture(scope="module")
def preloaded_qaaudit(tiny_checkpoint) -> None:
    """In-process pytester runs drop modules first imported during a run; torch must not be imported twice.

    Everything an audit run imports (lazily, too) is imported here first, by running the path once.
    """
    import importlib
    import pkgutil

    import torch  # noqa: F401
    import transformers  # noqa: F401

    import qaaudit

    for mod in pkgutil.walk_packages(qaaudit.__path__, "qaaudit."):
        if mod.name.startswith(("qaaudit.demo.", "qaaudit.cli")):
            continue
        importlib.import_module(mod.name)
    qa = qaaudit.load_model(tiny_checkpoint("bert"), device="cpu")
    qaaudit.explain(qa, "Where?", "Rose was born in Auckland.", n_steps=2)

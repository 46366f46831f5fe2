"""Built-in audit suites shipped with qaaudit (``qaaudit init --suite NAME``, ``qaaudit suite NAME``).

A suite is a folder of audit files below this package; ``capabilities`` holds the templates of
CheckList-style capabilities in Korean and English.
"""
from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["SUITES_DIR", "suite_names", "suite_path", "copy_suite"]

SUITES_DIR = Path(__file__).resolve().parent


def suite_names() -> tuple[str, ...]:
    return tuple(sorted(p.name for p in SUITES_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))))


def suite_path(name: str) -> Path:
    path = SUITES_DIR / name
    if not path.is_dir():
        from qaaudit.errors import InvalidArgument

        raise InvalidArgument(f"no built-in suite {name!r}; the suites are: {', '.join(suite_names())}")
    return path


def copy_suite(name: str, target: Path, *, overwrite: bool = False) -> list[tuple[Path, str]]:
    """Copy the suite's files into ``target``; existing files are kept unless ``overwrite``.
    Returns (path, "wrote" | "kept") for each file."""
    target.mkdir(parents=True, exist_ok=True)
    done = []
    for src in sorted(suite_path(name).iterdir()):
        if not src.is_file() or src.name.startswith("."):
            continue
        dst = target / src.name
        if dst.exists() and not overwrite:
            done.append((dst, "kept"))
            continue
        shutil.copyfile(src, dst)
        done.append((dst, "wrote"))
    return done

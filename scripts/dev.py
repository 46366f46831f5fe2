#!/usr/bin/env python3
"""Set up a local virtual environment and run qaaudit's two main jobs.

    python3 scripts/dev.py audit   # pytest audits/ on the embedded demo model, writes reports/
    python3 scripts/dev.py test    # the test suite

Both create (or reuse) ``.venv`` and install the pinned versions from
``constraints.txt``; a stamp file skips the install when nothing changed.
Only the standard library is used here, since it runs before the venv exists.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".qaaudit-setup"


def _fingerprint() -> str:
    h = hashlib.sha256()
    for name in ("constraints.txt", "pyproject.toml", "scripts/dev.py"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def _run(*cmd: str | os.PathLike, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def ensure_venv() -> None:
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    fp = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == fp:
        return
    pip = [PY, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    # torch first and pinned: an unpinned torch would pull several GB of CUDA wheels.
    _run(*pip, "-c", "constraints.txt", "torch==2.13.0")
    _run(*pip, "-c", "constraints.txt", "-e", ".[test]")
    STAMP.write_text(fp)


def _has_korean_font() -> bool:
    fc = shutil.which("fc-list")
    if not fc:
        return False
    return bool(subprocess.run([fc, ":lang=ko"], capture_output=True, text=True).stdout.strip())


def ensure_browser() -> None:
    """Install Debian's chromium, and a Korean font for it, for the report's browser tests (CI only).

    The browser tests check that Hangul renders as glyphs; a bare Debian has no font with Hangul, so without
    fonts-noto-cjk every Korean text of a screenshot is a row of boxes.
    """
    if os.environ.get("CI") != "true" or (shutil.which("chromium") and _has_korean_font()):
        return
    if not shutil.which("apt-get"):
        print("no apt-get: the browser test will be skipped", flush=True)
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        _run("apt-get", "update", "-qq", env=env)
        _run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "fonts-noto-cjk", env=env)
    except subprocess.CalledProcessError as exc:  # the tests then skip with their reasons
        print(f"chromium or fonts-noto-cjk could not be installed ({exc}); browser tests will be skipped", flush=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"audit", "test"}:
        print(__doc__)
        return 2
    job, rest = argv[0], argv[1:]
    ensure_venv()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if job == "audit":
        cmd = [str(PY), "-m", "pytest", "audits/", *rest]
    else:
        ensure_browser()
        cmd = [str(PY), "-m", "pytest", "tests/", "-n", "2", *rest]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

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


NEXT_STEPS = f"""\
qaaudit is installed in {VENV.relative_to(ROOT)}/, not in this shell's Python: a plain `pytest` there does not
load the plugin and `qaaudit` is not on PATH. Either activate it:
    source {VENV.relative_to(ROOT)}/bin/activate      # then: pytest audits/   qaaudit gate reports/results.json
or call its programs by path:
    {VENV.relative_to(ROOT)}/bin/pytest audits/       {VENV.relative_to(ROOT)}/bin/qaaudit --help"""


def ensure_venv() -> bool:
    """Create and fill the venv where needed; True when it installed something."""
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    fp = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == fp:
        return False
    pip = [PY, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    # torch first and pinned: an unpinned torch would pull several GB of CUDA wheels.
    _run(*pip, "-c", "constraints.txt", "torch==2.13.0")
    _run(*pip, "-c", "constraints.txt", "-e", ".[test]")
    STAMP.write_text(fp)
    return True


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
    if ensure_venv():
        print(NEXT_STEPS, flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if job == "audit":
        cmd = [str(PY), "-m", "pytest", "audits/", *rest]
    else:
        ensure_browser()
        cmd = [str(PY), "-m", "pytest", "tests/", "-n", "2", *rest]
    print("+", " ".join(cmd), flush=True)
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    if job == "audit":
        print(NEXT_STEPS, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

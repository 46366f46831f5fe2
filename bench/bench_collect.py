"""Collecting a dataset-sized audit file: qaaudit's loader against PyYAML's pure-Python one, in the same run.

    .venv/bin/python bench/bench_collect.py                 # 16,808 questions (~10 MB of YAML), 3 repeats
    .venv/bin/python bench/bench_collect.py --questions 2000 --repeats 1

The file is what ``qaaudit import squad`` writes for a synthetic SQuAD v1.1-shaped dev set
(``bench/squad_synth.py``; nothing is downloaded). Rows (medians of the repeats):

- ``reference: PyYAML pure Python``: ``yaml.SafeLoader`` composing and constructing the document, which is
  what qaaudit's loader did before it read libyaml's event stream (positions came from the same nodes);
- ``qaaudit load_yaml``: the positioned data qaaudit validates (every node with its line and column);
- ``qaaudit load_audit``: the same plus schema validation and the frozen specs;
- ``pytest --collect-only``: the whole collection in a fresh process (imports included), with its peak memory.

Each row's ``x ref`` is its time over the reference's, measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import median_time  # noqa: E402
from squad_synth import synthetic_squad  # noqa: E402


def build_file(out: Path, questions: int) -> Path:
    from qaaudit.squad import import_squad

    data, _ = synthetic_squad(questions, n_articles=max(1, questions // 220))
    source = out / "dev.json"
    source.write_text(json.dumps(data), encoding="utf-8")
    audit = out / "audits" / "dev.audit.yaml"
    audit.parent.mkdir(parents=True, exist_ok=True)
    audit.write_text(import_squad(source), encoding="utf-8")
    return audit


def pure_python_load(text: str) -> None:
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        loader.get_single_data()
    finally:
        loader.dispose()


def collect_in_subprocess(audit: Path) -> tuple[float, float]:
    """(seconds, peak resident MB) of ``pytest --collect-only`` over the audit file in a fresh process."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           str(audit)], cwd=audit.parent.parent, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"collection failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=16808)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-reference", action="store_true", help="leave out the slow pure-Python row")
    args = parser.parse_args(argv)

    from qaaudit.loader import load_yaml
    from qaaudit.spec import load_audit

    with tempfile.TemporaryDirectory() as tmp:
        audit = build_file(Path(tmp), args.questions)
        text = audit.read_text(encoding="utf-8")
        size = len(text.encode("utf-8")) / 1e6
        rows: list[tuple[str, float, str]] = []
        ref = None
        if not args.skip_reference:
            ref = median_time(lambda: pure_python_load(text), max(1, min(args.repeats, 2)))
            rows.append(("reference: PyYAML pure Python", ref, ""))
        rows.append(("qaaudit load_yaml", median_time(lambda: load_yaml(audit), args.repeats), ""))
        rows.append(("qaaudit load_audit", median_time(lambda: load_audit(audit), args.repeats), ""))
        runs = [collect_in_subprocess(audit) for _ in range(args.repeats)]
        rows.append(("pytest --collect-only", statistics.median(r[0] for r in runs),
                     f"peak {max(r[1] for r in runs):.0f} MB"))
    print(f"{args.questions} questions, {size:.1f} MB of YAML; medians of {args.repeats}")
    print("| step | s | x ref | note |")
    print("|---|---|---|---|")
    for name, sec, note in rows:
        ratio = f"{sec / ref:.3f}" if ref else "—"
        print(f"| {name} | {sec:.2f} | {ratio} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

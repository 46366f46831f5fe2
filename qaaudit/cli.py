"""The ``qaaudit`` command: explain one prediction, import SQuAD, print the schema, start a project, gate a run,
merge the shards of a run.

Exit codes: 0 success (or gate PASSED), 1 gate FAILED, 2 a usage or input
error (printed as one ``qaaudit: error: ...`` line, never a traceback), 130
interrupted. Heavy modules (torch, transformers) load only inside ``explain``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from qaaudit.errors import InvalidArgument, QAAuditError, SpecError

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_GATE_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_PROGRESS_FROM = 500   # questions: below this an import is too quick for a bar to help


def _out(text: str = "") -> None:
    print(text, file=sys.stdout)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


# ------------------------------------------------------------------------------ explain

def _cmd_explain(args: argparse.Namespace) -> int:
    # From the modules, not the package: once `qaaudit.explainer` the module is imported,
    # the package attribute of that name is the module, not the function.
    from qaaudit.demo import demo_model_path
    from qaaudit.explainer import explain
    from qaaudit.model import load_model

    if args.steps is not None and args.steps < 1:
        raise InvalidArgument(f"--steps {args.steps} must be >= 1 (or leave it out for adaptive steps)")
    model_path = args.model or str(demo_model_path())
    model = load_model(model_path, device=args.device)
    with _steps_bar(model, args.context) as progress:
        expl = explain(model, args.question, args.context, n_steps=args.steps, progress=progress,
                       attention=args.attention, layers=args.layers)
    _out(render_explanation(expl, getattr(model, "name", model_path)))
    if args.html:
        _write_case_html(expl, args, getattr(model, "name", model_path))
        _out(f"wrote {args.html}")
    return EXIT_OK


_LONG_INPUT_TOKENS = 256  # below this an explanation takes a moment: no bar


@contextlib.contextmanager
def _steps_bar(model: Any, context: str) -> Iterator[Any]:
    """A progress bar over integration steps for long inputs (on stderr, as tqdm does)."""
    n_tokens = len(model.tokenizer(context, add_special_tokens=False)["input_ids"])
    if n_tokens < _LONG_INPUT_TOKENS:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=0, unit="step", desc="integrated gradients", leave=False)

    def update(done: int, planned: int) -> None:
        bar.total = planned
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def render_explanation(expl: Any, model_name: str) -> str:
    """The compact terminal view: answer, score, top-5 start/end tokens, deltas."""
    from qaaudit.render import top_attention_line, top_tokens_line

    a = expl.answer
    answer = "(no answer)" if a.is_null else f"{a.text!r}  [{a.start}:{a.end}]"
    lines = [f"model:    {model_name}", f"question: {expl.question}", f"answer:   {answer}  score {a.score:.4f}"]
    if expl.null_score is not None:
        lines.append(f"null score: {expl.null_score:.4f}")
    if expl.n_windows > 1:
        lines.append(f"window:   {expl.window + 1} of {expl.n_windows}")
    if expl.has_attributions:
        for position in ("start", "end"):
            lines.append(top_tokens_line(expl, position, 5))
        deltas = []
        for t in (expl.start, expl.end):
            rel = f"{t.rel_delta:.3g}" if t.rel_delta != float("inf") else "inf"
            deltas.append(f"{t.position} {t.delta:+.4g} (relative {rel}, {t.n_steps} steps)")
        lines.append("delta:    " + "; ".join(deltas))
        if expl.attention:
            for position in ("start", "end"):
                lines.append(top_attention_line(expl, position, 5))
    else:
        lines.append("(no attributions for this prediction)")
    return "\n".join(lines)


def _write_case_html(expl: Any, args: argparse.Namespace, model_name: str) -> None:
    from qaaudit.report import render_explanation as render_page
    from qaaudit.squad import write_text_atomic

    write_text_atomic(args.html, render_page(expl, title=f"explain ({model_name})"), overwrite=True)


# ------------------------------------------------------------------------------ import squad

def _cmd_import_squad(args: argparse.Namespace) -> int:
    from qaaudit.squad import import_squad, write_text_atomic

    out = Path(args.out)
    if out.exists() and not args.force:   # before reading a big file, not after
        raise InvalidArgument(f"{out} already exists; choose another --out or pass --force to replace it")
    articles = [a for group in args.articles or () for a in group.split(",") if a.strip()] or None
    bar: list[Any] = []

    def progress(done: int, total: int) -> None:
        if total < _PROGRESS_FROM or args.quiet:
            return
        if not bar:
            from tqdm import tqdm

            bar.append(tqdm(total=total, unit="q", desc="importing", file=sys.stderr))
        bar[0].update(1)

    try:
        text = import_squad(args.file, limit=args.limit, seed=args.seed, articles=articles, f1=args.f1,
                            progress=progress)
    finally:
        if bar:
            bar[0].close()
    write_text_atomic(out, text, overwrite=args.force)
    n = text.count("\n- id: ") + text.startswith("- id: ")
    _out(f"wrote {n} cases to {out}")
    return EXIT_OK


# ------------------------------------------------------------------------------ schema

def _cmd_schema(args: argparse.Namespace) -> int:
    from qaaudit.schema import audit_schema

    text = json.dumps(audit_schema(), indent=2, ensure_ascii=False)
    if args.out:
        from qaaudit.squad import write_text_atomic

        write_text_atomic(args.out, text + "\n", overwrite=True)
        _out(f"wrote {args.out}")
    else:
        _out(text)
    return EXIT_OK


# ------------------------------------------------------------------------------ init

EXAMPLE_AUDIT = """\
# An example audit: each case is one pytest item (`pytest audits/ -v`).
# Uncomment `model:` to audit your own checkpoint (path or hub id); by default the demo model runs.
# model: path/to/your/checkpoint
defaults:
  expect:
    prediction: {f1: 0.8}         # F1 against the best gold answer
cases:
  - id: capital-of-france
    question: What is the capital of France?
    context: Paris is the capital and largest city of France. Lyon is its third-largest city.
    answer: Paris
    tags: [english, lookup]
    expect:
      prediction: {exact_match: true}
      focus: {target: answer, share: 0.2}   # the answer's tokens carry >= 20% of the attribution
      completeness: {abs_delta: 0.1}        # integrated gradients converged: |delta| <= 0.1
  - id: capital-of-korea
    question: 대한민국의 수도는 어디인가?
    context: 대한민국의 수도는 서울이다. 부산은 두 번째로 큰 도시이다.
    answer: 서울
    tags: [korean, lookup]
"""

EXAMPLE_GATE = """\
# Release gate of `pytest audits/` and `qaaudit gate reports/results.json` (see docs/gating.md).
# Rates, EM and F1 are fractions in [0, 1]; |delta| in logit units.
[gate]
min_pass_rate = 0.9                 # passed / (passed + failed + errors); xfailed and skipped are left out
# min_pass_rate_by_tag = { korean = 0.9 }
# min_pass_rate_by_file = { "audits/example.audit.yaml" = 1.0 }
min_mean_f1 = 0.8                   # over cases with a gold answer
# min_mean_em = 0.7
# max_worst_abs_delta = 0.1
# With a baseline (--qaaudit-baseline MODEL or --qaaudit-baseline-results FILE) any regression
# (passed on the baseline, fails now) fails the gate; accept known ones by node id:
# allow_regressions = ["audits/example.audit.yaml::capital-of-korea"]
"""


def _cmd_init(args: argparse.Namespace) -> int:
    from qaaudit.squad import write_text_atomic

    root = Path(args.dir)
    if root.exists() and not root.is_dir():
        raise InvalidArgument(f"{root} is a file; give a directory to initialise")
    if getattr(args, "suite", None):
        from qaaudit.suites import copy_suite

        for path, state in copy_suite(args.suite, root / "audits" / args.suite):
            _out(f"{state:<6} {path}")
        _out(f"next: cd {root} && pytest audits/{args.suite} -v   (one item per template; -m negation, -k ko-)")
        return EXIT_OK
    files = [(root / "audits" / "example.audit.yaml", EXAMPLE_AUDIT)]
    pyproject = root / "pyproject.toml"
    has_pyproject_gate = pyproject.is_file() and "[tool.qaaudit.gate]" in pyproject.read_text(encoding="utf-8")
    if has_pyproject_gate:
        _out(f"kept   {pyproject} (it already holds [tool.qaaudit.gate]; no qaaudit.toml written)")
    else:
        files.append((root / "qaaudit.toml", EXAMPLE_GATE))
    for path, text in files:
        if path.exists():
            _out(f"kept   {path} (exists)")
        else:
            write_text_atomic(path, text)
            _out(f"wrote  {path}")
    _out(f"next: cd {root} && pytest audits/ -v")
    return EXIT_OK


# ------------------------------------------------------------------------------ suite

def _cmd_suite(args: argparse.Namespace) -> int:
    """Copy a built-in suite below ``.qaaudit/suites/`` (refreshed on every run) and run pytest on it."""
    import pytest

    from qaaudit.suites import copy_suite, suite_names

    if args.list:
        for name in suite_names():
            _out(name)
        return EXIT_OK
    target = Path(".qaaudit") / "suites" / args.name
    copy_suite(args.name, target, overwrite=True)
    argv = [str(target), "--rootdir=.", *(["--qaaudit-model=" + args.model] if args.model else []), *args.pytest_args]
    return int(pytest.main(argv))


# ------------------------------------------------------------------------------ gate

def _cmd_gate(args: argparse.Namespace) -> int:
    from qaaudit.gate import compare, evaluate_gate, load_gate_config, parse_override, read_results, render_gate

    run = read_results(args.results)
    overrides = dict(parse_override(s) for s in args.set or ())
    config = load_gate_config(args.rootdir, overrides)
    comparison = compare(run, read_results(args.baseline_results, baseline=True)) if args.baseline_results else None
    if config is None and comparison is None and not run.complete:
        from qaaudit.gate import GateConfig

        config = GateConfig()   # no settings, but a run that did not finish never passes
    if config is None and comparison is None:
        raise InvalidArgument(f"no gate settings in {Path(args.rootdir).resolve()} (qaaudit.toml [gate] or "
                           f"pyproject.toml [tool.qaaudit.gate]); add some (`qaaudit init` writes a starter), "
                           f"pass --set KEY=VALUE, or give --baseline-results")
    verdict = evaluate_gate(run, config, comparison)
    if args.json:
        _out(json.dumps({**verdict.to_dict(), **({"comparison": comparison.to_dict()} if comparison else {})},
                        ensure_ascii=False, indent=1))
    else:
        _out(render_gate(verdict))
    return EXIT_OK if verdict.passed else EXIT_GATE_FAILED


# ------------------------------------------------------------------------------ merge

def _cmd_merge(args: argparse.Namespace) -> int:
    from qaaudit.gate import parse_override, read_results, render_gate
    from qaaudit.merge import merge_runs, read_shards, write_merged

    run = merge_runs(read_shards(args.results))
    overrides = dict(parse_override(s) for s in args.set or ())
    baseline = read_results(args.baseline_results, baseline=True) if args.baseline_results else None
    pages = None
    if args.report_pages is not None:
        pages = "all" if args.report_pages == "all" else _whole_number(args.report_pages, "--report-pages")
    out = None if args.no_report else Path(args.out)
    run, verdict, index = write_merged(run, out, rootdir=args.rootdir, overrides=overrides, baseline=baseline,
                                       pages=pages)
    shard = run.extra["shard"]
    _out(f"merged {len(shard['merged'])} of {shard['count']} shards: {len(run.cases)} items "
         f"({run.status}{': ' + run.status_detail if run.status_detail else ''})")
    for note in run.notes:
        _out(f"note: {note}")
    if index is not None:
        _out(f"qaaudit report: {index}")
    if args.json:
        _out(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=1))
    else:
        _out(render_gate(verdict))
    return EXIT_OK if verdict.passed else EXIT_GATE_FAILED


def _whole_number(text: str, option: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidArgument(f"{option} {text!r} must be a whole number >= 0 or 'all'")
    return value


# ------------------------------------------------------------------------------ parser

def _suite_choices() -> list[str]:
    from qaaudit.suites import suite_names

    return list(suite_names())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qaaudit", description="Audit extractive question-answering models.",
        epilog="exit codes: 0 ok / gate passed, 1 gate failed, 2 usage or input error. "
               "Run the audits themselves with `pytest audits/`.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("explain", help="predict and explain one question with integrated gradients",
                       description="Predict one answer and print its top attributed tokens and IG deltas.")
    p.add_argument("--model", help="checkpoint path or hub id (default: the demo model)")
    p.add_argument("--question", required=True, help="the question")
    p.add_argument("--context", required=True, help="the passage holding the answer")
    p.add_argument("--html", metavar="FILE", help="also write the report's case page for it to FILE")
    p.add_argument("--steps", type=int, metavar="N", help="integration steps (default: adaptive)")
    p.add_argument("--attention", action="store_true",
                   help="also record the attention from the predicted start and end tokens per layer (one more "
                        "forward pass; printed, and drawn on the --html page)")
    p.add_argument("--layers", action="store_true", help="also compute layer conductance (drawn on the --html page)")
    p.add_argument("--device", default="auto", help="cpu, cuda, mps or auto (default)")
    p.set_defaults(func=_cmd_explain)

    imp = sub.add_parser("import", help="turn a dataset into an audit file",
                         description="Turn a dataset into an audit file.")
    imp_sub = imp.add_subparsers(dest="source", metavar="SOURCE", required=True)
    p = imp_sub.add_parser("squad", help="SQuAD v1.1 / v2.0 or KorQuAD 1.0 JSON",
                           description="Write an audit file with the questions of a SQuAD v1.1 / v2.0 or "
                                       "KorQuAD 1.0 JSON file: ids, every gold answer with its start, "
                                       "unanswerable questions, tags from article titles.")
    p.add_argument("file", help="the SQuAD-format JSON file")
    p.add_argument("--out", required=True, metavar="PATH", help="audit file to write, e.g. audits/squad.audit.yaml")
    p.add_argument("--limit", type=int, metavar="N", help="import N questions (default: all)")
    p.add_argument("--seed", type=int, metavar="S", help="with --limit: a random choice of N questions, seeded")
    p.add_argument("--articles", action="append", metavar="TITLES",
                   help="only these articles (titles or tag names, comma-separated; repeatable)")
    p.add_argument("--f1", type=float, metavar="X", help="expect F1 >= X instead of an exact match")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_import_squad)

    p = sub.add_parser("schema", help="print the JSON Schema of audit files",
                       description="Print the JSON Schema of audit files (for editors, e.g. yaml-language-server).")
    p.add_argument("--out", metavar="FILE", help="write it to FILE instead of printing")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("init", help="start an audits/ folder and gate settings",
                       description="Write audits/example.audit.yaml and qaaudit.toml (gate settings) into DIR; "
                                   "existing files are never overwritten.")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="project directory (default: .)")
    p.add_argument("--suite", metavar="NAME", choices=_suite_choices(),
                   help="copy a built-in suite into DIR/audits/NAME instead (capabilities: templates for "
                        "vocabulary, taxonomy, temporal, negation, coreference, semantic roles, numbers and dates, "
                        "fairness, in Korean and English)")
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser("suite", help="run a built-in suite (default: capabilities) with pytest",
                       description="Copy a built-in suite to .qaaudit/suites/NAME and run pytest on it; arguments "
                                   "after -- go to pytest (e.g. -- -m negation -n 2). The report goes where "
                                   "pytest's report goes (reports/ by default).")
    p.add_argument("name", nargs="?", default="capabilities", choices=_suite_choices(), help="the suite")
    p.add_argument("--model", metavar="MODEL", help="the model to audit (default: the demo model)")
    p.add_argument("--list", action="store_true", help="list the built-in suites")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="pytest arguments, after --")
    p.set_defaults(func=_cmd_suite)

    p = sub.add_parser("gate", help="evaluate the release gate on a results.json",
                       description="Evaluate the gate on the results.json of a run (offline: no model is "
                                   "loaded). Exit 0 when it passes, 1 when it fails.")
    p.add_argument("results", metavar="RESULTS.json", help="results.json of the candidate run")
    p.add_argument("--baseline-results", metavar="FILE", help="results.json of the released model's run")
    p.add_argument("--rootdir", default=".", metavar="DIR",
                   help="where pyproject.toml / qaaudit.toml with the gate settings live (default: .)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a gate setting, e.g. min_pass_rate=0.95 or min_pass_rate_by_tag.korean=0.9")
    p.add_argument("--json", action="store_true", help="print the verdict (and comparison) as JSON")
    p.set_defaults(func=_cmd_gate)

    p = sub.add_parser("merge", help="merge the results.json of a run's shards into one report and one gate",
                       description="Merge the results.json that `pytest --qaaudit-shard=K/N` wrote on each "
                                   "machine: one report in --out and one gate verdict (exit 0 passed, 1 failed). "
                                   "Shards of different models, settings, selections or qaaudit versions are "
                                   "refused; a missing shard or one that did not finish fails the gate.")
    p.add_argument("results", nargs="+", metavar="RESULTS.json", help="the shards' results.json files")
    p.add_argument("--out", default="reports", metavar="DIR", help="report directory to write (default: reports)")
    p.add_argument("--no-report", action="store_true", help="evaluate the gate only; write nothing")
    p.add_argument("--baseline-results", metavar="FILE", help="results.json of the released model's run")
    p.add_argument("--rootdir", default=".", metavar="DIR",
                   help="where pyproject.toml / qaaudit.toml with the gate settings live (default: .)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a gate setting")
    p.add_argument("--report-pages", metavar="N|all", help="case pages for N sampled passes beside every other "
                                                          "item (default 100), or all")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.set_defaults(func=_cmd_merge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit code (``qaaudit`` console script)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:   # --help (0) and usage errors (2): a code, not an exception, for callers
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except SpecError as exc:
        _err(f"qaaudit: error: {exc.render()}")
    except QAAuditError as exc:
        _err(f"qaaudit: error: {exc}")
    except KeyboardInterrupt:
        _err("qaaudit: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:   # the reader (e.g. `| head`) stopped reading: not the user's error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:   # unreadable/unwritable paths given on the command line
        _err(f"qaaudit: error: {exc.filename or ''}: {exc.strerror or exc}")
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Write the HTML report and ``results.json`` for a run, atomically.

Everything is rendered into a temporary sibling of the report directory, which
then takes the old one's place: with one atomic exchange where the kernel
offers it (Linux ``renameat2(RENAME_EXCHANGE)``), else with two renames. A run
that dies half-way leaves the previous report as it was, never a half-written
index.
"""
from __future__ import annotations

import base64
import ctypes
import errno
import glob
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import jinja2
from markupsafe import Markup, escape

from qaaudit import __version__, gate
from qaaudit.errors import InvalidArgument
from qaaudit.explanation import Explanation
from qaaudit.results import CaseResult, RunResult, umask_mode, write_json_atomic

from . import heatmap, view
from .compare import CaseComparison, normalize_comparison
from .index import index_view, order_cases
from .lang import lang_attr
from .pages import CASES_DIR, DEFAULT_SAMPLE, PagePlan, Pages, plan_pages

__all__ = ["write_report", "render_case", "render_explanation", "MARKER", "CASES_DIR", "ASSETS_DIR", "Progress"]

MARKER = ".qaaudit-report"   # proves a directory is ours to replace
ASSETS_DIR = "assets"        # the stylesheet every page links to
STALE_SECONDS = 3600.0       # a temporary this old beside the report belongs to a run that died

Progress = Callable[[int, int], None]   # (pages written, pages in all)


def _num(x: Any, digits: int = 3) -> str:
    """Numbers at a fixed precision, "—" for missing; a filter rather than a macro: it runs once per token."""
    if x is None:
        return "—"
    if isinstance(x, (bool, int)) or not isinstance(x, float):
        return str(x)   # counts stay counts
    return f"{x:.{digits}f}"


def _sig(x: Any, digits: int = 4) -> str:
    """Significant digits, for numbers that span magnitudes (|delta| can be 1e-8 or 3.2)."""
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return _num(x)


def _token_marks(cells: Sequence[Mapping[str, Any]], main: bool = False) -> Markup:
    """A heatmap's ``<div class="wi">`` of one ``<mark>`` per token, every text escaped.

    The same HTML as a template loop would write, built in Python: it runs for every token of every heatmap
    of every page, and jinja's per-token attribute lookups and filters made it most of a report's render time.
    """
    out = [f'<div class="wi{" heatmap-main" if main else ""}" data-tokens="{len(cells)}">']
    for c in cells:
        cls = "tok" + (" sp" if c["segment"] == "special" else "") + (f" {escape(c['mark'])}" if c["mark"] else "")
        out.append(f'<mark class="{cls}" data-i="{c["index"]}" style="background-color: {escape(c["color"])}" '
                   f'title="#{c["index"]} {escape(c["segment"])}: {escape(_num(c["score"], 4))}">'
                   f'{escape(c["text"])}</mark> ')
    out.append("</div>")
    return Markup("".join(out))


def _count(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else _num(x)


def _pct(x: Any) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _grid_cells(cells: Sequence[Any]) -> Markup:
    """The ``<td>`` cells of one token's row of a layer grid (a gap between start and end); built here for the
    reason ``_token_marks`` is: a 384-token grid has tens of thousands of cells."""
    out = []
    for c in cells:
        if c is None:
            out.append('<td class="gap"></td>')
        else:
            out.append(f'<td class="c" style="background-color: {escape(c[0])}" title="{escape(c[1])}"></td>')
    return Markup("".join(out))


def _env() -> jinja2.Environment:
    # Autoescape on for every template, whatever its name: all text in a report is untrusted.
    env = jinja2.Environment(loader=jinja2.PackageLoader("qaaudit.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["num"] = _num
    env.filters["sig"] = _sig
    env.filters["token_marks"] = _token_marks
    env.filters["grid_cells"] = _grid_cells
    env.filters["lang"] = lang_attr
    env.filters["pct"] = _pct
    env.filters["count"] = _count
    return env


def _template_text(name: str) -> str:
    return resources.files("qaaudit.report").joinpath("templates", name).read_text(encoding="utf-8")


def _script() -> tuple[str, str]:
    js = _template_text("index.js")
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    return js, f"'sha256-{digest}'"


def stylesheet() -> str:
    """The report's CSS (``assets/report.css`` of a report; inlined into standalone pages)."""
    return _template_text("report.css")


def _baseline_label(run: RunResult, comparison: Any, baseline: RunResult | None) -> str:
    if isinstance(comparison, RunResult):
        model = comparison.model
    elif isinstance(comparison, gate.Comparison):
        model = comparison.baseline_model
    else:
        model = baseline.model if baseline is not None else run.baseline
    name = (model.get("name") or model.get("path")) if isinstance(model, Mapping) else None
    return f"baseline ({name})" if name else "baseline"


def render_case(case_view: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, env: jinja2.Environment | None = None,
                standalone: bool = False) -> str:
    """One case page (or, given several views, one file of several); unless ``standalone``, its links and its
    stylesheet assume it lives in ``cases/`` below the index. A standalone page carries its CSS inline."""
    env = env or _env()
    sections = [case_view] if isinstance(case_view, Mapping) else list(case_view)
    return env.get_template("case.html").render(
        sections=sections, legend_items=heatmap.legend(), script_src="'none'", qaaudit_version=__version__,
        standalone=standalone, css=Markup(stylesheet()) if standalone else None, asset_prefix="../")


def render_explanation(explanation: Explanation, *, gold: Sequence[str] = (), title: str = "explain") -> str:
    """A standalone case page for one explanation (``qaaudit explain --html``): no verdicts, no index."""
    case = CaseResult(nodeid=title, path="", line=0, case_id=title, outcome="", question=explanation.question,
                      context=explanation.context, gold=tuple(gold), prediction=explanation.answer.to_dict(),
                      explanation=explanation.to_dict())
    return render_case(view.case_view(case), standalone=True)


def write_report(run: RunResult, out_dir: str | os.PathLike, *, comparison: Any = None,
                 baseline: RunResult | None = None, pages: Pages = DEFAULT_SAMPLE,
                 progress: Progress | None = None) -> Path | None:
    """Write ``index.html``, ``cases/*.html``, ``assets/report.css`` and ``results.json`` into ``out_dir``;
    return the index path.

    ``comparison``: None, the baseline's RunResult, a ``gate.Comparison`` (pass the
    baseline's RunResult as ``baseline`` to draw its heatmaps), or a mapping node id ->
    ``CaseComparison`` / ``{"status": ..., "baseline": CaseResult | dict}``.
    ``pages``: ``"all"``, or how many passes get a page beside every item that did not pass
    (see :mod:`qaaudit.report.pages`). ``progress(done, total)`` is called as case pages are written.
    A complete run without cases writes nothing and returns None; an unfinished one is written, so that
    no earlier report stands in for it.
    """
    if not run.cases and run.complete:
        return None
    out_dir = Path(out_dir).resolve()
    _check_replaceable(out_dir)
    comp = normalize_comparison(comparison, run, baseline)
    label = _baseline_label(run, comparison, baseline)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    try:
        os.chmod(tmp, umask_mode(0o777))   # mkdtemp's 0700 would become the report folder's mode
        _render_into(tmp, run, comp, label, pages=pages, progress=progress)
        for name in PLACEHOLDERS:  # keep files a repository tracks in its report folder (reports/.gitkeep)
            if (out_dir / name).is_file() and not (tmp / name).exists():
                shutil.copy2(out_dir / name, tmp / name)
        _swap_into_place(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)   # the new tree on failure, the old one after an exchange
    return out_dir / "index.html"


def _render_into(root: Path, run: RunResult, comp: dict[str, CaseComparison] | None, label: str, *,
                 pages: Pages, progress: Progress | None) -> None:
    env = _env()
    (root / CASES_DIR).mkdir()
    (root / ASSETS_DIR).mkdir()
    (root / ASSETS_DIR / "report.css").write_text(stylesheet(), encoding="utf-8")
    plan = plan_pages(order_cases(run), pages=pages, comparison=comp)
    _write_pages(root, plan, env, comp, label, progress)
    write_json_atomic(root / "results.json", run.to_dict())
    js, src = _script()
    index = env.get_template("index.html").render(
        **index_view(run, plan, comp, baseline_label=label), script=Markup(js), script_src=src,
        qaaudit_version=__version__, css=None, asset_prefix="")
    (root / "index.html").write_text(index, encoding="utf-8")
    (root / MARKER).write_text(run.schema + "\n", encoding="utf-8")


def _write_pages(root: Path, plan: PagePlan, env: jinja2.Environment, comp: dict[str, CaseComparison] | None,
                 label: str, progress: Progress | None) -> None:
    done, total = 0, plan.n_pages
    if progress is not None:
        progress(0, total)
    for name, cases in plan.files:
        views = [view.case_view(c, comparison=comp.get(c.nodeid) if comp else None, baseline_label=label,
                                anchor=plan.anchors.get(c.nodeid, "")) for c in cases]
        (root / CASES_DIR / name).write_text(render_case(views, env=env), encoding="utf-8")
        done += len(cases)
        if progress is not None:
            progress(done, total)


def _remove_stale(out_dir: Path, *, older_than: float = STALE_SECONDS) -> None:
    """Remove temporaries that a killed run left beside the report (old enough not to be another writer's)."""
    now = time.time()
    for prefix in (f".{out_dir.name}.new-", f".{out_dir.name}.old-"):
        for p in out_dir.parent.glob(glob.escape(prefix) + "*"):
            try:
                if p.is_dir() and not p.is_symlink() and now - p.stat().st_mtime > older_than:
                    shutil.rmtree(p, ignore_errors=True)
            except OSError:
                pass


# Files a repository keeps in an otherwise ignored report folder; they survive every report swap.
PLACEHOLDERS = (".gitkeep", ".gitignore", "README.md")


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a directory that holds anything but an earlier report (e.g. ``--qaaudit-report .``)."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise InvalidArgument(f"report directory {out_dir} exists and is not a directory; choose another path")
    if (out_dir / MARKER).is_file() or all(p.name in PLACEHOLDERS for p in out_dir.iterdir()):
        return
    raise InvalidArgument(f"report directory {out_dir} holds files that are not a qaaudit report; "
                          "choose an empty or new directory (the report replaces the whole directory)")


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_into_place(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``; afterwards ``new`` holds the old report (or nothing)."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        return
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    os.rename(old, new)   # so the caller's clean-up removes the old report

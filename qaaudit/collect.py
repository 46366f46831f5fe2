"""pytest collection of audit files: one File per ``*.audit.yaml``, one Item per case and robustness check.

Spec errors are found at collection and shown as one error item at the file's
bad line, so the other audit files still run (a genuine collection error would
stop the whole session).
"""
from __future__ import annotations

import fnmatch
import os
import re
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from qaaudit.errors import ExpectationFailed, QAAuditError, SpecError

__all__ = ["AuditFile", "CaseItem", "RobustnessItem", "TemplateItem", "InvalidAuditItem", "ModelErrorItem", "is_audit_file",
           "DEFAULT_PATTERNS"]

DEFAULT_PATTERNS = ("*.audit.yaml", "*.audit.yml")
_MARKER_OK = re.compile(r"^[^\W\d]\w*$")  # an identifier, as `-m` parses it (Unicode letters too: 한국어)


_MARKERS = pytest.StashKey[set]()


def _internal_error(path: Path, exc: BaseException) -> SpecError:
    """A SpecError standing for an unexpected exception while reading ``path``, with its traceback as text."""
    import traceback

    lines = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-8)
    tail = "".join(lines)[-4000:]  # the innermost frames, never the data
    return SpecError(f"qaaudit could not read this file: {type(exc).__name__}: {str(exc)[:300]} (a bug in qaaudit; "
                     f"please report it with the file)\n{tail}", path=str(path), line=1,
                     hint="the other audit files still run; until this is fixed, simplify the construct the "
                          "traceback names")


def is_audit_file(path: Path, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path.name, p) for p in patterns)


def _marker_name(tag: str) -> str:
    """Tags become markers; -m needs Python identifiers, so other characters turn into '_'."""
    name = re.sub(r"\W", "_", tag)
    return name if _MARKER_OK.match(name) else f"tag_{name}"


def _looks_like_path(model: str) -> bool:
    """A local path rather than a hub id ('name' or 'org/name')."""
    return (model.startswith((".", "/", "~")) or "\\" in model or model.count("/") > 1
            or (len(model) > 1 and model[1] == ":"))


def _missing_model(audit: Any, config: pytest.Config) -> SpecError | None:
    """The file's ``model:`` names a local path that does not exist (and neither --qaaudit-model nor
    --qaaudit-predictions makes it unused)."""
    model = audit.model
    overridden = config.getoption("qaaudit_model") or config.getoption("qaaudit_predictions")
    if not isinstance(model, str) or not model or overridden or not _looks_like_path(model):
        return None
    path = Path(model).expanduser()
    base = Path(audit.path).parent
    if path.exists() or (not path.is_absolute() and (base / path).exists()):
        return None
    line, col = audit.model_line, None
    try:
        if line:
            col = Path(audit.path).read_text(encoding="utf-8").splitlines()[line - 1].find(model) + 1 or None
    except (OSError, IndexError, UnicodeError):
        pass
    return SpecError(f"model path {model!r} does not exist", path=audit.path, line=line, col=col,
                     hint="point `model:` at a checkpoint directory (one holding config.json; a relative path is "
                          "taken from the audit file's folder, then the working directory) or a hub id like "
                          "'org/name', or pass --qaaudit-model")


class AuditFile(pytest.File):
    """An audit YAML file."""

    def _invalid(self, error: SpecError) -> Iterator[pytest.Item]:
        """An error item (the other files still run); with --collect-only, a collection error that shows."""
        if self.config.getoption("collectonly", False):
            raise self.CollectError(_invalid_message(self.config, error))
        item = InvalidAuditItem.from_parent(self, name="<invalid audit file>", error=error)
        self.invalid_item = item
        yield item

    def _child_id(self, name: str) -> str:
        """The item's node id as a string, so pytest parses it as it parses the ids it stored.

        pytest >= 9 keeps node ids structured: a child's name is one segment, whereas an id
        read back (``--lf``'s cache) is split at ``::`` and ``[``. Names such as
        ``case::robust[typos]`` or ``[weird] id`` would then never match their stored id.
        """
        return f"{self.nodeid}::{name}"

    def collect(self) -> Iterator[pytest.Item]:
        from qaaudit.spec import load_audit

        try:
            audit = load_audit(self.path)
        except SpecError as exc:
            yield from self._invalid(exc.with_traceback(None))
            return
        except Exception as exc:  # a bug of qaaudit's: this file fails, the others still run
            yield from self._invalid(_internal_error(self.path, exc))
            return
        missing = _missing_model(audit, self.config)
        if missing is not None:
            yield from self._invalid(missing)
            return
        self.audit = audit
        registered = self.config.stash.setdefault(_MARKERS, set())
        for case in audit.cases:
            for tag in case.tags:
                # once per session: every added line makes pytest re-read the whole list for a new name
                if tag not in registered:
                    registered.add(tag)
                    self.config.addinivalue_line("markers", f"{_marker_name(tag)}: qaaudit tag {tag!r}")
            yield CaseItem.from_parent(self, name=case.id, case=case, audit=audit, nodeid=self._child_id(case.id))
            for check in case.robustness:
                name = f"{case.id}::robust[{check.name}]"
                yield RobustnessItem.from_parent(self, name=name, nodeid=self._child_id(name), case=case,
                                                 audit=audit, check=check)
        for template in audit.templates:
            # a template is one item (CheckList's test): its tags and its capability are markers
            for tag in (*template.tags, template.capability):
                if tag not in registered:
                    registered.add(tag)
                    self.config.addinivalue_line("markers", f"{_marker_name(tag)}: qaaudit tag {tag!r}")
            yield TemplateItem.from_parent(self, name=template.id, nodeid=self._child_id(template.id),
                                           case=template.cases[0], audit=audit, template=template)


def _shown_path(config: pytest.Config, path: Path) -> str:
    try:
        return os.path.relpath(path, config.invocation_params.dir)
    except ValueError:  # another drive on Windows
        return str(path)


def keep_invalid_collected(collector: Any, report: pytest.CollectReport) -> None:
    """--lf and --ff never hide an invalid audit file: pytest skips collecting files without a recorded
    failure, and keeps only recorded failures of the others, which would drop a file broken since."""
    if not isinstance(collector, AuditFile) or report.outcome != "passed":
        return
    item = getattr(collector, "invalid_item", None)
    if item is None and not report.result and not hasattr(collector, "audit"):
        for _ in collector.collect():   # skipped unread: read it, to know whether it is still valid
            break
        item = getattr(collector, "invalid_item", None)
    if item is not None and item not in report.result:
        report.result.insert(0, item)


def _invalid_message(config: pytest.Config, error: SpecError) -> str:
    text = str(error)
    if error.path:  # name the file as the rest of pytest's output does: relative to where it ran
        text = text.replace(str(error.path), _shown_path(config, Path(error.path)))
    return f"invalid audit file: {text}"


class _AuditItemBase(pytest.Item):
    """Shared behaviour of audit items: markers from tags, location at the YAML line, compact failures."""

    def __init__(self, *, case: Any, audit: Any, check: Any = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.case = case
        self.audit = audit
        self.check = check
        self.outcome_data: Any = None
        for tag in case.tags:
            self.add_marker(_marker_name(tag))
        # a robustness check's own skip/xfail wins over its case's
        skip = getattr(check, "skip", None) or case.skip
        xfail = getattr(check, "xfail", None) or (case.xfail if check is None else None)
        if skip:
            self.add_marker(pytest.mark.skip(reason=skip))
        if xfail:
            self.add_marker(pytest.mark.xfail(reason=xfail, raises=ExpectationFailed, strict=False))

    @property
    def line(self) -> int:
        return int(self.case.line)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.line - 1, f"{self.path.name}:{self.line}::{self.name}"

    def _session(self) -> Any:
        from qaaudit.plugin import get_session

        return get_session(self.config)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, QAAuditError):
            loc = f"{self.path.name}:{self.line}"
            origin = f" (from {self.case.origin})" if getattr(self.case, "origin", "") else ""
            return f"{loc}: case {self.case.id!r}{origin}\n{excinfo.value}"
        return super().repr_failure(excinfo, style=style)


class CaseItem(_AuditItemBase):
    """One case: predict, explain when needed, check every expectation."""

    def runtest(self) -> None:
        from qaaudit.render import failure_message

        start = time.perf_counter()
        outcome = self._session().run_case(self.case, self.audit)
        outcome.duration = time.perf_counter() - start
        self.outcome_data = outcome
        if outcome.failed:
            raise ExpectationFailed(failure_message(self.case, outcome), outcome.failed)


class RobustnessItem(_AuditItemBase):
    """One robustness check of a case, driven by hypothesis."""

    @property
    def line(self) -> int:
        return int(getattr(self.check, "line", None) or self.case.line)

    def runtest(self) -> None:
        from qaaudit.render import robustness_message

        start = time.perf_counter()
        outcome = self._session().run_robustness(self.case, self.audit, self.check,
                                                 max_examples=self.config.getoption("qaaudit_examples"))
        outcome.duration = time.perf_counter() - start
        self.outcome_data = outcome
        if outcome.failed:
            raise ExpectationFailed(robustness_message(self.case, self.check, outcome), outcome.failed)


class TemplateItem(_AuditItemBase):
    """One template: its generated cases run together; it fails when too few of them pass."""

    def __init__(self, *, template: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.template = template
        self.add_marker(_marker_name(template.capability))

    def runtest(self) -> None:
        from qaaudit.template_run import run_template, template_message

        start = time.perf_counter()
        outcome = run_template(self._session(), self.template, self.audit)
        outcome.duration = time.perf_counter() - start
        self.outcome_data = outcome
        if outcome.failed:
            raise ExpectationFailed(template_message(outcome), outcome.failed)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, QAAuditError):
            return f"{self.path.name}:{self.line}: template {self.template.id!r}\n{excinfo.value}"
        return super().repr_failure(excinfo, style=style)


class InvalidAuditItem(pytest.Item):
    """Stands for an audit file that failed validation; errors at setup with the spec message."""

    def __init__(self, *, error: SpecError, **kw: Any) -> None:
        super().__init__(**kw)
        self.error = error
        self.outcome_data = None

    def reportinfo(self) -> tuple[Path, int, str]:
        line = (self.error.line or 1) - 1
        loc = _shown_path(self.config, Path(self.error.path or self.path))
        if self.error.line is not None:
            loc += f":{self.error.line}" + (f":{self.error.col}" if self.error.col is not None else "")
        return self.path, line, loc

    def setup(self) -> None:
        raise self.error.with_traceback(None)

    def runtest(self) -> None:  # pragma: no cover - setup always raises
        raise self.error.with_traceback(None)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, SpecError):
            return _invalid_message(self.config, excinfo.value)
        return super().repr_failure(excinfo, style=style)

    # pytest renders a setup error through this, not repr_failure: the message alone, never a traceback
    # (whose frames' arguments would be repr'd, and could be a whole document)
    def _repr_failure_py(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, SpecError):
            return _invalid_message(self.config, excinfo.value)
        return super()._repr_failure_py(excinfo, style=style)


class ModelErrorItem(pytest.Item):
    """Stands, in an xdist worker, for every selected item of a model that does not load: one error, not N.

    (Outside xdist the same problem is a usage error before anything runs; a worker cannot raise one.)
    """

    def __init__(self, *, message: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.message = message
        self.outcome_data = None

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, "qaaudit: the model could not be loaded"

    def runtest(self) -> None:
        raise QAAuditError(self.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, QAAuditError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


def cost_rank(item: pytest.Item) -> int:
    """A rough cost order for scheduling: 0 for attribution-stability checks (an explanation per variant),
    1 for other robustness checks, 2 for everything else."""
    if isinstance(item, RobustnessItem):
        return 0 if item.check.property == "attribution_stability" else 1
    if isinstance(item, TemplateItem):   # many cases in one item: start it early
        return 1
    return 2

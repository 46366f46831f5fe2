"""Turns pytest reports of audit items into result records, then writes the report and applies the gate.

Each item's data rides on its pytest report as a plain dict (``report.qaaudit``),
so under pytest-xdist the workers' results reach the controller, which alone
writes the report, once, at the end.
"""
from __future__ import annotations

import datetime as _dt
import platform
import time
from pathlib import Path
from typing import Any, Mapping

from qaaudit.errors import QAAuditError
from qaaudit.results import CaseResult, RunResult, Verdict

__all__ = ["Recorder", "item_payload"]


def _verdicts(outcome: Any) -> list[dict[str, Any]]:
    from dataclasses import asdict

    return [asdict(v) for v in outcome.verdicts]


def _side(outcome: Any) -> dict[str, Any]:
    exp = outcome.explanation
    return {
        "verdicts": _verdicts(outcome),
        "prediction": outcome.prediction.to_dict() if outcome.prediction is not None else None,
        "explanation": exp.to_dict() if exp is not None else None,
        "robustness": dict(outcome.robustness) if outcome.robustness else None,
        "model": outcome.model_name,
        "duration": getattr(outcome, "duration", 0.0),
    }


def item_payload(item: Any) -> dict[str, Any]:
    """The JSON-able facts of an audit item that its report carries to the controller."""
    case = getattr(item, "case", None)
    rel = item.nodeid.split("::", 1)[0]
    payload: dict[str, Any] = {"nodeid": item.nodeid, "path": rel}
    if case is None:  # an invalid audit file
        err = getattr(item, "error", None)
        payload.update(line=getattr(err, "line", None) or 1, case_id=item.name, kind="invalid")
        return payload
    if getattr(item, "template", None) is not None:
        from qaaudit.template_run import template_payload

        payload.update(line=item.line, case_id=item.template.id, tags=list(item.template.tags), question="",
                       context="", gold=[], xfail_reason=_xfail_reason(item))
        return template_payload(item, payload)
    check = getattr(item, "check", None)
    payload.update(
        line=item.line, case_id=case.id, kind="robustness" if check is not None else "case",
        check_name=check.name if check is not None else None,
        tags=list(case.tags), question=case.question, context=case.context,
        gold=[a.text for a in case.answers], unanswerable=bool(case.unanswerable),
        xfail_reason=_xfail_reason(item), normalization=case.normalization, origin=getattr(case, "origin", ""),
    )
    outcome = getattr(item, "outcome_data", None)
    if outcome is not None:
        payload["candidate"] = _side(outcome)
        if outcome.baseline is not None:
            payload["baseline"] = _side(outcome.baseline)
    return payload


def _xfail_reason(item: Any) -> str:
    """The reason of the xfail marker the item carries: a robustness check's own, or its case's."""
    mark = item.get_closest_marker("xfail") if hasattr(item, "get_closest_marker") else None
    if mark is None:
        return ""
    return str(mark.kwargs.get("reason") or (mark.args[0] if mark.args and isinstance(mark.args[0], str) else ""))


def _outcome_of(report: Any) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.when != "call" and report.failed:
        return "error"
    return report.outcome  # passed | failed | skipped


def _case_result(payload: Mapping[str, Any], side: str, outcome: str, message: str, duration: float) -> CaseResult:
    data = payload.get(side) or {}
    return CaseResult(
        nodeid=payload["nodeid"], path=payload["path"], line=int(payload.get("line") or 1),
        case_id=str(payload.get("case_id")), outcome=outcome,
        kind=payload["kind"] if payload.get("kind") in ("robustness", "template", "generated") else "case",
        check_name=payload.get("check_name"), tags=tuple(payload.get("tags") or ()),
        verdicts=tuple(Verdict.from_dict(v) for v in data.get("verdicts") or ()),
        question=payload.get("question", ""), context=payload.get("context", ""),
        gold=tuple(payload.get("gold") or ()), unanswerable=bool(payload.get("unanswerable")),
        prediction=data.get("prediction"), explanation=data.get("explanation"),
        robustness=data.get("robustness"), message=message, duration=duration,
        xfail_reason=payload.get("xfail_reason", ""), normalization=payload.get("normalization") or "auto",
        template=payload.get("template"), slots=payload.get("slots"), origin=str(payload.get("origin") or ""),
    )


def _generated_results(payload: Mapping[str, Any], side: str) -> list[CaseResult]:
    """A template item's generated cases, each its own record (and report page), outcome passed or failed."""
    out = []
    for g in payload.get("generated") or ():
        data = g.get(side if side in g else "candidate") or {}
        failed = any(v.get("passed") is False for v in data.get("verdicts") or ())
        out.append(_case_result(g, side if side in g else "candidate", "failed" if failed else "passed", "", 0.0))
    return out


class Recorder:
    """Collects results during the run; writes the report and decides the gate at the end.

    It knows which audit items were selected (``plan``), so a run that ends early says so: the items that
    did not finish are recorded as ``not_run``, the run's ``status`` is not ``complete``, and the gate fails.
    """

    def __init__(self, config: Any) -> None:
        self.config = config
        self.started = time.time()
        self.started_iso = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self.payloads: dict[str, tuple[dict[str, Any], str, str, float]] = {}
        self.planned: dict[str, dict[str, Any] | None] = {}   # node id -> payload without outcome (None: id only)
        self.gate_text: str | None = None
        self.summary_text: str | None = None
        self.report_path: Path | None = None
        self.notes: list[str] = []       # lines for the terminal
        self.run_notes: list[str] = []   # what results.json and the report must say too
        self.compact_lines: list[str] = []   # failing audit items, a line each (qaaudit.compact)
        self.started_marked = False
        self.write_failed = False
        self.abort_reason: str | None = None   # a usage error found before any case ran (a model that won't load)
        self.cache_invalid = 0                  # cache entries that could not be used, over all workers
        self.cache_write_error: tuple[str, str] | None = None
        self.other_failures = 0  # failing tests that are not audit items: the gate never masks them

    # -- what was selected
    def plan(self, items: Any) -> None:
        """The selected audit items of this process (the session's items after -k/-m/--deselect)."""
        for item in items:
            if hasattr(item, "case") or type(item).__name__ == "InvalidAuditItem":
                self.planned.setdefault(item.nodeid, item_payload(item))

    def plan_ids(self, nodeids: Any) -> None:
        """Under xdist the controller learns the selection as node ids from the workers' collections."""
        from qaaudit.collect import is_audit_file

        patterns = self.config.getini("qaaudit_patterns")
        for nodeid in nodeids:
            if is_audit_file(Path(nodeid.split("::", 1)[0]), patterns):
                self.planned.setdefault(nodeid, None)

    def add(self, report: Any) -> None:
        news = getattr(report, "qaaudit_cache", None)
        if isinstance(news, dict):
            self.cache_invalid += int(news.get("invalid") or 0)
            if news.get("write_error") and self.cache_write_error is None:
                self.cache_write_error = (str(news.get("root")), str(news["write_error"]))
        model_error = getattr(report, "qaaudit_model_error", None)
        if model_error is not None:  # an xdist worker's stand-in for the items of a model that won't load
            self.abort_reason = model_error
            return
        payload = getattr(report, "qaaudit", None)
        if payload is None:
            if report.failed:
                self.other_failures += 1
            return
        if report.when == "setup" and report.passed:
            return  # a passed setup says nothing of the verdict: an item interrupted in its call has only this
        outcome = _outcome_of(report)
        if payload.get("kind") == "invalid":
            outcome = "error"
        message = report.longreprtext if report.failed else ""
        prev = self.payloads.get(payload["nodeid"])
        # call and teardown each report; keep the most telling one (a call, or a setup/teardown error or skip)
        if prev is None or report.when == "call" or outcome in ("error",):
            self.payloads[payload["nodeid"]] = (payload, outcome, message, getattr(report, "duration", 0.0))

    # -- building the run records
    def mark_started(self) -> None:
        """Once the selection is known (see :mod:`qaaudit.report.unfinished`): an earlier report in the report
        folder is replaced by one that says this run has not finished, for the case that it is killed."""
        if self.started_marked or self.config.getoption("collectonly", False) or \
                self.config.getoption("qaaudit_no_report") or not self.planned:
            return
        self.started_marked = True
        from dataclasses import replace

        from qaaudit.report.unfinished import mark_unfinished

        run = replace(self._run("candidate", {}, {}), status="incomplete",
                      status_detail=f"the run that started at {self.started_iso} has not finished: it is still "
                                    f"running, or it was killed before it could write its report (SIGKILL, "
                                    f"out of memory, a crash)")
        mark_unfinished(run, report_dir(self.config))

    def _not_run(self) -> list[str]:
        return [nodeid for nodeid in self.planned if nodeid not in self.payloads]

    def _run(self, side: str, model_info: Mapping[str, Any], session_info: Mapping[str, Any]) -> RunResult:
        cases = []
        for payload, outcome, message, duration in self.payloads.values():
            if side == "baseline":
                if "baseline" not in payload:
                    continue
                failed = any(v.get("passed") is False for v in payload["baseline"]["verdicts"])
                outcome = "failed" if failed else "passed"
                message = ""
            cases.append(_case_result(payload, side if side in payload else "candidate", outcome, message, duration))
            if payload.get("kind") == "template":
                cases.extend(_generated_results(payload, side))
        if side != "baseline":
            for nodeid in self._not_run():
                payload = self.planned[nodeid] or _payload_of_id(nodeid)
                cases.append(_case_result(payload, "candidate", "not_run", "", 0.0))
        return RunResult(cases=tuple(cases), model=dict(model_info), versions=_versions(),
                         device=str(session_info.get("device", "cpu")), started=self.started_iso,
                         duration=time.time() - self.started)

    def _status(self, exitstatus: int) -> tuple[str, str]:
        import pytest

        from qaaudit.interrupt import was_interrupted

        not_run = len(self._not_run())
        left = f"; {not_run} of {len(self.planned)} selected items did not run" if not_run else ""
        signal = was_interrupted()
        if self.abort_reason is not None:
            return "aborted", self.abort_reason.removeprefix("qaaudit: ") + left
        if signal is not None:
            return "interrupted", f"the run was interrupted ({signal})" + left
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return "interrupted", "the run was interrupted" + left
        if exitstatus in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
            return "aborted", f"pytest ended with exit status {int(exitstatus)}" + left
        if not_run:
            why = "it stopped early (-x, --maxfail, pytest.exit or a lost worker)"
            return "incomplete", f"{not_run} of {len(self.planned)} selected items did not run: {why}"
        return "complete", ""

    def finish(self, session: Any, audit_session: Any | None, exitstatus: int = 0) -> int | None:
        """Write the report and evaluate the gate; returns the exit status qaaudit decides, if any."""
        if not self.payloads and not self.planned and self.abort_reason is None:
            return None
        if self.config.getoption("collectonly", False):
            return None
        from dataclasses import replace

        from qaaudit import gate as gate_mod
        from qaaudit.summary import render_summary, summarize

        models = dict(audit_session.models_used) if audit_session is not None else {}
        model_info = _model_info(models, self.payloads, "candidate")
        device = next((m.get("device") for m in models.values()), "cpu")
        run = self._run("candidate", model_info, {"device": device})
        status, detail = self._status(exitstatus)
        if audit_session is not None:
            self.run_notes.extend(getattr(audit_session, "run_notes", ()))
        if self.cache_invalid:
            n = self.cache_invalid
            self.run_notes.append(f"cache: {n} entr{'y was' if n == 1 else 'ies were'} unreadable (truncated, "
                                  f"foreign or of another shape) and recomputed")
        if self.cache_write_error is not None:
            root, why = self.cache_write_error
            self.run_notes.append(f"cache: {root} cannot be written ({why}); cases were computed without "
                                  f"caching. Make it writable, or pass --qaaudit-no-cache")
        run = replace(run, status=status, status_detail=detail, notes=tuple(dict.fromkeys(self.run_notes)))
        summary = summarize(run)
        extra: dict[str, Any] = {"summary": summary, "settings": run_settings(self.config)}
        from qaaudit.plugin import SHARD_INFO

        shard = self.config.stash.get(SHARD_INFO, None)
        if shard is None and self.config.getoption("qaaudit_shard"):   # a shard with nothing to run
            from qaaudit.shard import parse_shard

            k = parse_shard(self.config.getoption("qaaudit_shard"))
            shard = {"index": k.index, "count": k.count, "sizes": None, "selected": None, "selection": None}
        if shard is not None:
            extra["shard"] = dict(shard)
        if audit_session is not None and getattr(audit_session, "predictions_info", None):
            extra["predictions"] = dict(audit_session.predictions_info)
        from qaaudit.capabilities import capability_table

        capabilities = capability_table(run)
        if capabilities is not None:
            extra["capabilities"] = capabilities
        run = replace(run, extra=extra)
        self.summary_text = render_summary(summary)
        baseline_run = None
        opt = self.config.getoption
        try:
            if opt("qaaudit_baseline_results"):
                baseline_run = gate_mod.read_results(
                    self.config.invocation_params.dir / opt("qaaudit_baseline_results"), baseline=True)
            elif any("baseline" in p for p, *_ in self.payloads.values()):
                baseline_run = self._run("baseline", {"name": opt("qaaudit_baseline") or
                                                      self.config.getini("qaaudit_baseline")}, {"device": device})
            comparison = gate_mod.compare(run, baseline_run) if baseline_run is not None else None
            overrides = {}
            if opt("qaaudit_min_pass_rate") is not None:
                overrides["min_pass_rate"] = opt("qaaudit_min_pass_rate")
            config = gate_mod.load_gate_config(self.config.rootpath, overrides)
            if config is None and comparison is not None:
                config = gate_mod.GateConfig()  # a baseline alone gates on regressions
            if config is None and not run.complete:
                config = gate_mod.GateConfig()  # nothing configured, but an unfinished run never reads as a pass
            verdict = gate_mod.evaluate_gate(run, config, comparison) if config is not None else None
        except QAAuditError as exc:
            self.notes.append(f"qaaudit gate: ERROR\n  {exc}")
            return 4 if exitstatus == 0 else None
        if verdict is not None:
            gate_dict = verdict.to_dict()
            if comparison is not None:
                gate_dict["comparison"] = comparison.to_dict()
            run = run.with_gate(gate_dict)
            self.gate_text = gate_mod.render_gate(verdict)
        if comparison is not None:
            run = replace(run, baseline={"model": dict(baseline_run.model), **comparison.to_dict()})
            if capabilities is not None:
                from qaaudit.capabilities import template_changes

                run = replace(run, extra={**run.extra, "capabilities": {
                    **capabilities, "template_changes": template_changes(run, baseline_run)}})
        if not opt("qaaudit_no_report"):
            out = report_dir(self.config)
            from qaaudit.report import write_report
            from qaaudit.report.pages import DEFAULT_SAMPLE
            from qaaudit.report.progress import terminal_progress

            pages = opt("qaaudit_report_pages") or self.config.getini("qaaudit_report_pages") or DEFAULT_SAMPLE
            try:
                # the gate's comparison, so the report classifies nothing again; the baseline run for its heatmaps
                self.report_path = write_report(run, out, comparison=comparison, baseline=baseline_run, pages=pages,
                                                progress=terminal_progress(self.config))
            except (OSError, QAAuditError) as exc:
                self.write_failed = True
                self.notes.append(_write_failure(out, exc))
        if self.abort_reason is not None:
            return 4   # a usage error: the model (or predictions file) must be fixed before anything can run
        if self.write_failed:
            return 1 if exitstatus in (0, 1, 5) else None
        if verdict is None:
            return None
        if exitstatus not in (0, 1):
            return None  # interrupted or aborted: pytest's own status stands (the gate said FAILED above)
        errors = sum(1 for _, outcome, *_ in self.payloads.values() if outcome == "error")
        if verdict.passed and (errors or self.other_failures):
            return 1  # broken audit files and ordinary test failures are not the gate's to forgive
        return verdict.exit_code

    def summary(self, terminal: Any) -> None:
        if not self.payloads and not self.planned and self.abort_reason is None:
            return
        if self.abort_reason is not None:  # pytest (or the error item) shows the reason itself
            shown = f"qaaudit report: {self.report_path} (says: aborted)" if self.report_path else ""
            for line in (shown, *self.notes):
                if line:
                    terminal.write_line(line)
            return
        if self.compact_lines:
            terminal.write_sep("=", f"{len(self.compact_lines)} failed audit items, one line each "
                                    f"(-v or --tb=short shows each in full)")
            for line in self.compact_lines:
                terminal.write_line(f"FAILED {line}")
        if self.summary_text:
            terminal.write_line(self.summary_text)
        for note in self.run_notes:
            terminal.write_line(f"qaaudit: {note}")
        if self.report_path is not None:
            terminal.write_line(f"qaaudit report: {self.report_path}")
        for note in self.notes:
            terminal.write_line(note)
        if self.gate_text:
            terminal.write_line(self.gate_text)


def run_settings(config: Any) -> dict[str, Any]:
    """The settings that can change a verdict, beside the model and the audit files: shards of one run must
    agree on them (``qaaudit merge`` refuses shards that do not)."""
    import os

    import qaaudit
    from qaaudit.robustness import SEED_ENV, _is_ci

    opt = config.getoption
    predictions = opt("qaaudit_predictions")
    return {"qaaudit": qaaudit.__version__, "autocast": opt("qaaudit_autocast"), "examples": opt("qaaudit_examples"),
            "predictions": Path(predictions).name if predictions else None,
            "predictions_strict": bool(opt("qaaudit_predictions_strict")),
            "baseline": opt("qaaudit_baseline") or config.getini("qaaudit_baseline") or None,
            "baseline_results": Path(opt("qaaudit_baseline_results")).name if opt("qaaudit_baseline_results") else None,
            "hypothesis_profile": "ci" if _is_ci() else "local",
            "robustness_seed": os.environ.get(SEED_ENV),
            "device": opt("qaaudit_device") or config.getini("qaaudit_device") or "auto"}


def report_dir(config: Any) -> Path:
    """Where the report goes: like --junitxml, a command-line path is relative to where pytest was invoked,
    an ini path to the rootdir."""
    if config.getoption("qaaudit_report"):
        return Path(config.invocation_params.dir) / config.getoption("qaaudit_report")
    return Path(config.rootpath) / (config.getini("qaaudit_report_dir") or "reports")


def _write_failure(out: Path, exc: BaseException) -> str:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    where = getattr(exc, "filename", None) or out
    stale = out / "results.json"
    lines = [f"qaaudit report: FAILED: could not write {where}: {reason}",
             "  this run's verdict was not saved; the exit status says the run failed"]
    if stale.is_file():
        lines.append(f"  {stale} is from an earlier run: do not gate on it")
    lines.append("  make the directory writable, or pass --qaaudit-report=DIR (an empty or new directory)")
    return "\n".join(lines)


def _payload_of_id(nodeid: str) -> dict[str, Any]:
    """What a node id alone tells of an item that never reported (xdist: the controller saw only its id)."""
    path, _, rest = nodeid.partition("::")
    case_id, _, check = rest.partition("::robust[")
    return {"nodeid": nodeid, "path": path, "line": 1, "case_id": case_id or nodeid,
            "kind": "robustness" if check else "case", "check_name": check[:-1] if check.endswith("]") else None}


def _model_info(models: Mapping[str, Mapping[str, Any]], payloads: Mapping[str, Any], side: str) -> dict[str, Any]:
    names = {p[0].get(side, {}).get("model") for p in payloads.values() if p[0].get(side)}
    for info in models.values():
        if info.get("name") in names or len(models) == 1:
            return dict(info)
    return {"name": ", ".join(sorted(n for n in names if n)) or "unknown"}


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("qaaudit", "torch", "transformers", "captum", "pytest"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out

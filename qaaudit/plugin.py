"""qaaudit's pytest plugin: options and hooks only.

The work lives in :mod:`qaaudit.collect` (files and items), :mod:`qaaudit.session`
(models, cache, running cases) and :mod:`qaaudit.recorder` (results, report, gate).
Nothing heavy is imported here, so ``pytest --help`` and test suites without audit
files stay as fast as without the plugin.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

__all__ = ["get_session"]

_SESSION = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qaaudit", "qaaudit: audit extractive question-answering models")
    group.addoption("--qaaudit-model", dest="qaaudit_model", metavar="MODEL", default=None,
                    help="checkpoint directory or hub id to audit (wins over the audit files' model and the "
                         "ini option qaaudit_model; default: the embedded demo model)")
    group.addoption("--qaaudit-device", dest="qaaudit_device", metavar="DEVICE", default=None,
                    help="torch device: auto (default), cpu, cuda, cuda:N")
    group.addoption("--qaaudit-no-cache", dest="qaaudit_no_cache", action="store_true",
                    help="do not read or write the explanation cache (.qaaudit_cache/)")
    group.addoption("--qaaudit-clear-cache", dest="qaaudit_clear_cache", action="store_true",
                    help="delete the explanation cache before the run")
    group.addoption("--qaaudit-report", dest="qaaudit_report", metavar="DIR", default=None,
                    help="directory for the HTML report and results.json (default: reports/)")
    group.addoption("--qaaudit-report-pages", dest="qaaudit_report_pages", metavar="N|all", default=None,
                    type=_report_pages,
                    help="case pages for every item that did not pass and N sampled passes (default 100), or all")
    group.addoption("--qaaudit-no-report", dest="qaaudit_no_report", action="store_true",
                    help="do not write the HTML report (attributions are then computed only where expected)")
    group.addoption("--qaaudit-baseline", dest="qaaudit_baseline", metavar="MODEL", default=None,
                    help="also run the audits on this baseline model and report regressions")
    group.addoption("--qaaudit-baseline-results", dest="qaaudit_baseline_results", metavar="FILE", default=None,
                    help="compare with an earlier run's results.json instead of loading a baseline model")
    group.addoption("--qaaudit-predictions", dest="qaaudit_predictions", metavar="FILE", default=None,
                    help="audit answers from a predictions file (SQuAD format or JSON lines) instead of a model")
    group.addoption("--qaaudit-examples", dest="qaaudit_examples", metavar="N", type=int, default=None,
                    help="examples per robustness check (overrides the audit files)")
    group.addoption("--qaaudit-autocast", dest="qaaudit_autocast", metavar="DTYPE", default=None,
                    choices=("bf16", "fp16"), help="autocast the attribution passes to bf16 (CPU/GPU) or fp16 (GPU)")
    group.addoption("--qaaudit-batch", dest="qaaudit_batch", metavar="MODE", default=None,
                    choices=("auto", "on", "off"),
                    help="explain the selected cases together in batches: auto (default: on a GPU only), on, off")
    group.addoption("--qaaudit-min-pass-rate", dest="qaaudit_min_pass_rate", metavar="X", type=float, default=None,
                    help="gate: minimum overall pass rate (overrides [tool.qaaudit.gate])")
    group.addoption("--qaaudit-trust-remote-code", dest="qaaudit_trust_remote_code", action="store_true",
                    help="allow checkpoints that ship their own model code (off by default)")
    parser.addini("qaaudit_model", "model audited when neither --qaaudit-model nor the audit file names one")
    parser.addini("qaaudit_device", "torch device for audits (auto, cpu, cuda)", default="auto")
    parser.addini("qaaudit_patterns", "file name patterns of audit files", type="args",
                  default=["*.audit.yaml", "*.audit.yml"])
    parser.addini("qaaudit_report_dir", "directory for the HTML report", default="reports")
    parser.addini("qaaudit_report_pages", "case pages: N sampled passes beside every other item (default 100), or all",
                  default="")
    parser.addini("qaaudit_cache", "use the explanation cache (.qaaudit_cache/)", type="bool", default=True)
    parser.addini("qaaudit_baseline", "baseline model for regression checks", default="")
    parser.addini("qaaudit_batch", "explain the selected cases in batches: auto (on a GPU), on, off", default="auto")


def _report_pages(value: str) -> str:
    """``all`` or a whole number (checked here so that a typo fails at once, not after the run)."""
    if value.strip().lower() == "all" or value.strip().isdigit():
        return value.strip().lower()
    raise argparse.ArgumentTypeError(f"{value!r} is neither 'all' nor a whole number of sampled passes, e.g. 200")


def pytest_configure(config: pytest.Config) -> None:
    ini = config.getini("qaaudit_report_pages")
    if ini:
        try:
            _report_pages(ini)
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"qaaudit: ini option qaaudit_report_pages: {exc}") from None
    config.pluginmanager.register(_RunHooks(config), "qaaudit-run")
    config.addinivalue_line("markers", "qaaudit: an item collected from a qaaudit audit file")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Any:
    from qaaudit.collect import AuditFile, is_audit_file

    if is_audit_file(file_path, parent.config.getini("qaaudit_patterns")):
        return AuditFile.from_parent(parent, path=file_path)
    return None


def get_session(config: pytest.Config) -> Any:
    """The process-wide AuditSession, created on first use (so torch loads only when a case runs)."""
    session = config.stash.get(_SESSION, None)
    if session is None:
        from qaaudit.session import build_session

        session = build_session(config)
        config.stash[_SESSION] = session
    return session


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, hand the costliest audit items out first so one of them does not finish the run alone."""
    if not hasattr(config, "workerinput"):
        return
    from qaaudit.collect import cost_rank

    items.sort(key=cost_rank)  # stable, and the same in every worker (xdist requires equal collections)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    invalid = type(item).__name__ == "InvalidAuditItem"
    if hasattr(item, "case") or invalid:
        from qaaudit.recorder import item_payload

        report.qaaudit = item_payload(item)
    if invalid and report.failed and call.excinfo is not None:
        # pytest renders setup errors as a full traceback; an invalid file is the user's to fix: its message only
        report.longrepr = item.repr_failure(call.excinfo)


class _RunHooks:
    """Hooks that need the config: registered per session in pytest_configure."""

    def __init__(self, config: pytest.Config) -> None:
        from qaaudit.recorder import Recorder

        self.config = config
        self.recorder = Recorder(config)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.config.getoption("qaaudit_clear_cache") and not hasattr(self.config, "workerinput"):
            from qaaudit.session import clear_cache

            clear_cache(self.config)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Tell the session which cases will run (it may explain them in batches); a predictions file must
        answer every collected case: say how many do not, before anything runs."""
        planned = [(item.audit, item.case) for item in session.items if type(item).__name__ == "CaseItem"]
        if planned:  # an audit run: what collection built lives until the end (see qaaudit.heap)
            from qaaudit.heap import settle_heap

            settle_heap("collection")
        path = self.config.getoption("qaaudit_predictions")
        if planned and not path:
            get_session(self.config).plan(planned)
        if not path:
            return
        from qaaudit.errors import QAAuditError
        from qaaudit.predictions import load_predictions, match_predictions

        ids = [item.case.id for item in session.items if hasattr(item, "case")]
        try:
            error = match_predictions(load_predictions(path), ids).error(str(path))
        except QAAuditError as exc:
            error = exc
        if error is not None:
            raise pytest.UsageError(f"qaaudit: {error}")

    @pytest.hookimpl(tryfirst=True)   # before junitxml writes the item's <testcase>
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if getattr(report, "qaaudit", None) is not None and getattr(self.config.option, "xmlpath", None):
            from qaaudit.junit import name_in_junit_xml

            name_in_junit_xml(self.config, report)
        self.recorder.add(report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):  # xdist workers send reports; the controller writes
            return
        status = self.recorder.finish(session, self.config.stash.get(_SESSION, None))
        if status is not None and exitstatus in (0, 1):
            session.exitstatus = status

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        self.recorder.summary(terminalreporter)

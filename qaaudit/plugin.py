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
SHARD_INFO = pytest.StashKey[dict]()
PROGRESS_MIN = 50   # fewer cases are explained in a moment: no progress lines
PREDICT_PROGRESS_MIN = 1000   # predictions are ~100x cheaper than explanations


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
    group.addoption("--qaaudit-predictions-strict", dest="qaaudit_predictions_strict", action="store_true",
                    help="with --qaaudit-predictions: a case without a prediction is a usage error (default: it "
                         "scores 0, as in the official SQuAD script, and is listed in the summary)")
    group.addoption("--qaaudit-shard", dest="qaaudit_shard", metavar="K/N", default=None,
                    help="run shard K of N of the selected audit items (deterministic, balanced by expected "
                         "cost); merge the shards' results.json with `qaaudit merge`")
    group.addoption("--qaaudit-examples", dest="qaaudit_examples", metavar="N", type=int, default=None,
                    help="examples per robustness check (overrides the audit files)")
    group.addoption("--qaaudit-autocast", dest="qaaudit_autocast", metavar="DTYPE", default=None,
                    choices=("bf16", "fp16"), help="autocast the attribution passes to bf16 (CPU/GPU) or fp16 (GPU)")
    group.addoption("--qaaudit-batch", dest="qaaudit_batch", metavar="MODE", default=None,
                    choices=("auto", "on", "off"),
                    help="explain the selected cases together in batches: auto (default: on a GPU only), on, off; "
                         "cases without attributions are predicted in batches unless off")
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
    examples = config.getoption("qaaudit_examples")
    if examples is not None and not 1 <= examples <= 10_000:
        raise pytest.UsageError(f"qaaudit: --qaaudit-examples={examples} is out of range; give a number of "
                                f"examples per robustness check from 1 to 10000")
    if config.getoption("qaaudit_shard"):
        from qaaudit.errors import InvalidArgument
        from qaaudit.shard import parse_shard

        try:
            parse_shard(config.getoption("qaaudit_shard"))
        except InvalidArgument as exc:
            raise pytest.UsageError(f"qaaudit: {exc}") from None
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


@pytest.hookimpl(trylast=True)  # after -k, -m and --deselect chose the selection that is split
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--qaaudit-shard=K/N keeps this shard's share of the selection; under xdist, the costliest audit
    items are handed out first so one of them does not finish the run alone."""
    if config.getoption("qaaudit_shard"):
        from qaaudit import shard

        config.stash[SHARD_INFO] = shard.apply(config, items, shard.parse_shard(config.getoption("qaaudit_shard")))
        if hasattr(config, "workerinput"):   # the controller learns it from the worker's output
            config.workeroutput["qaaudit_shard"] = config.stash[SHARD_INFO]
    if not hasattr(config, "workerinput"):
        return
    from qaaudit.collect import cost_rank

    items.sort(key=cost_rank)  # stable, and the same in every worker (xdist requires equal collections)


@pytest.hookimpl(wrapper=True, tryfirst=True)   # outside --lf's own wrapper, which filters the result
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    if collector.config.getoption("lf", False) or collector.config.getoption("failedfirst", False):
        from qaaudit.collect import keep_invalid_collected

        keep_invalid_collected(collector, report)
    return report


@pytest.hookimpl(optionalhook=True, tryfirst=True)   # before xdist's own, which always answers
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Where batching applies, each worker gets a whole group of audit items (see qaaudit.workers)."""
    from qaaudit.workers import make_scheduler, wants_groups

    return make_scheduler(config, log) if wants_groups(config) else None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    from qaaudit.workers import GROUPS_KEY, wants_groups

    if wants_groups(node.config):
        node.workerinput[GROUPS_KEY] = len(node.config.getoption("tx"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    invalid = type(item).__name__ == "InvalidAuditItem"
    if type(item).__name__ == "ModelErrorItem":
        report.qaaudit_model_error = item.message
    audit_session = item.config.stash.get(_SESSION, None)
    if audit_session is not None and call.when == "call":
        news = audit_session.drain_cache_news()
        if news is not None:
            report.qaaudit_cache = news
    # a passed setup or teardown says nothing the call's report does not: no payload (it cost 0.6 ms an item)
    if (hasattr(item, "case") or invalid) and (call.when == "call" or not report.passed):
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

    # tryfirst, and registered after the cacheprovider's --lf plugin: outside every wrapper that deselects
    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_collection_modifyitems")
    def pytest_collection_modifyitems_keep_invalid(self, session: pytest.Session, config: pytest.Config,
                                                   items: list[pytest.Item]) -> Any:
        """-k, -m, --deselect and --lf never hide an invalid audit file: its error item runs whatever they
        select."""
        invalid = [item for item in items if type(item).__name__ == "InvalidAuditItem"]
        result = yield
        if invalid:
            kept = {id(item) for item in items}
            back = [item for item in invalid if id(item) not in kept]
            items[:0] = back
            # pytest counted them as deselected already; they run, so the summary must not say so
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            deselected = getattr(reporter, "stats", {}).get("deselected")
            if back and isinstance(deselected, list):
                gone = {id(item) for item in back}
                deselected[:] = [item for item in deselected if id(item) not in gone]
        return result

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return
        if self.config.getoption("qaaudit_clear_cache"):
            from qaaudit.session import clear_cache

            clear_cache(self.config)
        from qaaudit.interrupt import catch_signals

        catch_signals(self.config)

    @pytest.hookimpl(wrapper=True)
    def pytest_collection(self, session: pytest.Session) -> Any:
        """Collection-time progress (a dataset of thousands of questions) goes to the terminal."""
        from qaaudit.progress import terminal_writer, writing_to

        with writing_to(None if hasattr(self.config, "workerinput") else terminal_writer(self.config)):
            return (yield)

    @pytest.hookimpl(tryfirst=True)  # before xdist's worker sends the collected ids
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Before anything runs: record the selection, check the models and the predictions file once (a
        broken model is one usage error, not one failure per case), and tell the session what will run."""
        self.recorder.plan(session.items)
        planned = [(item.audit, item.case) for item in session.items if type(item).__name__ == "CaseItem"]
        if not any(hasattr(item, "case") for item in session.items):
            return
        from qaaudit.heap import settle_heap

        settle_heap("collection")  # an audit run: what collection built lives until the end (see qaaudit.heap)
        if self.config.getoption("collectonly", False):
            return
        if not hasattr(self.config, "workerinput"):
            self.recorder.mark_started()
        audit_session = get_session(self.config)
        problems = audit_session.preflight([item for item in session.items if hasattr(item, "case")])
        if problems:
            message = "qaaudit: " + "\n".join(problems)
            self.recorder.abort_reason = message
            if hasattr(self.config, "workerinput"):
                # a worker cannot raise a usage error (xdist reports an internal error): its audit items
                # become one error item, the same in every worker, and the controller exits with 4
                from qaaudit.collect import ModelErrorItem

                session.items[:] = [item for item in session.items if not hasattr(item, "case")]
                session.items.insert(0, ModelErrorItem.from_parent(session, name="qaaudit-model-error",
                                                                   nodeid="qaaudit::model-error", message=message))
                session.testscollected = len(session.items)
                return
            raise pytest.UsageError(message)
        if planned and not self.config.getoption("qaaudit_predictions"):
            count = getattr(self.config, "workerinput", {}).get("qaaudit_groups")
            groups = None
            if count:   # this worker will get whole groups: the same split the controller's scheduler made
                from qaaudit.workers import audit_matcher, group_nodeids

                where = group_nodeids([i.nodeid for i in session.items], count, audit_matcher(self.config))
                groups = [where.get(item.nodeid, -1) for item in session.items if type(item).__name__ == "CaseItem"]
            audit_session.plan(planned, groups)
            from qaaudit.progress import Progress, terminal_writer

            write = terminal_writer(self.config)
            if write is not None and not hasattr(self.config, "workerinput"):   # a worker's lines go nowhere
                audit_session.progress = Progress(
                    write, start="qaaudit: explaining {total} cases in batches before the first of them runs",
                    step="qaaudit: explained {done} of {total} cases ({pct}%){tail}", min_total=PROGRESS_MIN)
                audit_session.predict_progress = Progress(
                    write, start="qaaudit: predicting {total} cases in batches before the first of them runs",
                    step="qaaudit: predicted {done} of {total} cases ({pct}%){tail}", min_total=PREDICT_PROGRESS_MIN)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.recorder.plan_ids(ids)
        self.recorder.mark_started()   # the first worker's collection is the selection (xdist checks they agree)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        info = getattr(node, "workeroutput", {}).get("qaaudit_shard")
        if info is not None:
            self.config.stash[SHARD_INFO] = info

    @pytest.hookimpl(tryfirst=True)   # before junitxml writes the item's <testcase>
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if getattr(report, "qaaudit", None) is not None and getattr(self.config.option, "xmlpath", None):
            from qaaudit.junit import name_in_junit_xml

            name_in_junit_xml(self.config, report)
        self.recorder.add(report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):  # xdist workers send reports; the controller writes
            return
        status = self.recorder.finish(session, self.config.stash.get(_SESSION, None), int(exitstatus))
        if status is not None:
            session.exitstatus = status

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        from qaaudit.interrupt import tidy_traceback

        tidy_traceback(excinfo)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        from qaaudit.interrupt import restore_signals

        restore_signals(config)

    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_terminal_summary")
    def pytest_terminal_summary_compact(self, terminalreporter: Any) -> Any:
        """Past a few dozen failing audit items, pytest's block per failure gives way to a line each."""
        from qaaudit.compact import compact_line, wants_compact

        failed = terminalreporter.stats.get("failed", [])
        audit = [r for r in failed if getattr(r, "qaaudit", None) is not None and r.when == "call"]
        if not wants_compact(self.config, len(audit)):
            return (yield)
        shown = {id(r) for r in audit}
        terminalreporter.stats["failed"] = [r for r in failed if id(r) not in shown]
        self.recorder.compact_lines = [compact_line(r.qaaudit, r.longreprtext) for r in audit]
        try:
            return (yield)
        finally:   # the counts of the last line are pytest's, of every failure
            terminalreporter.stats["failed"] = failed

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        self.recorder.summary(terminalreporter)

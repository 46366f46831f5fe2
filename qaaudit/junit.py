"""JUnit XML names for audit items: ``classname="audits.facts"``, ``name="capital"``.

pytest's ``--junitxml`` makes a classname of the node id's path with every ``/`` turned into a dot, built for
``tests/test_x.py``; for ``audits/facts.audit.yaml`` that gave ``audits.facts.audit.yaml``, which CI dashboards
(Jenkins, GitLab, Azure) read as package ``audits.facts.audit`` and class ``yaml``. An audit file is named here as
a test module would be: its folders and its stem, without the ``.audit.yaml`` suffix (dots inside a name become
``_`` so that they do not read as packages). The name is the case id, ``case::robust[check]`` for a robustness
check, so that two cases' checks of the same name stay apart.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["junit_classname", "junit_name", "name_in_junit_xml"]

_SUFFIX = re.compile(r"(\.audit)?\.ya?ml$")


def junit_classname(nodeid: str, prefix: str | None = None) -> str:
    """``audits/facts.audit.yaml::capital`` -> ``audits.facts`` (``prefix.audits.facts`` with ``--junit-prefix``)."""
    path = nodeid.split("::", 1)[0]
    parts = [p for p in _SUFFIX.sub("", path).replace("\\", "/").split("/") if p and p != "."]
    dotted = ".".join(p.replace(".", "_") for p in parts) or "audit"
    return f"{prefix}.{dotted}" if prefix else dotted


def junit_name(nodeid: str) -> str:
    """The item's part of the node id: ``capital``, or ``capital::robust[typos]``."""
    return nodeid.split("::", 1)[1] if "::" in nodeid else nodeid


def name_in_junit_xml(config: Any, report: Any) -> None:
    """Give an audit item's ``<testcase>`` these names, when ``--junitxml`` is on (before junitxml records it)."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:   # pragma: no cover - a pytest without the junitxml plugin
        return
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    reporter = xml.node_reporter(report)
    reporter.add_attribute("classname", junit_classname(report.nodeid, getattr(xml, "prefix", None)))
    reporter.add_attribute("name", junit_name(report.nodeid))

"""JUnit XML names of audit items: the file as a dotted module path, the case (and check) as the name."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from qaaudit.junit import junit_classname, junit_name

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("nodeid, classname, name", [
    ("audits/facts.audit.yaml::capital", "audits.facts", "capital"),
    ("audits/facts.audit.yml::capital", "audits.facts", "capital"),
    ("facts.audit.yaml::a", "facts", "a"),
    ("suites/v1.2/ko.audit.yaml::수도", "suites.v1_2.ko", "수도"),
    ("audits/facts.audit.yaml::case::robust[typos]", "audits.facts", "case::robust[typos]"),
    ("audits/my.checks.yaml::x", "audits.my_checks", "x"),
])
def test_names(nodeid, classname, name):
    assert junit_classname(nodeid) == classname and junit_name(nodeid) == name
    assert junit_classname(nodeid, "ci") == f"ci.{classname}"


@pytest.fixture(scope="module", autouse=True)
def _preload(preloaded_qaaudit) -> None:
    """In-process pytester runs: torch imported once."""


def test_junitxml_of_an_audit_run(pytester, tiny_checkpoint):
    from test_plugin import good_yaml

    pytester.makefile(".audit.yaml", **{"audits/facts": good_yaml(tiny_checkpoint("bert"))})
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest("-p", "no:cacheprovider", "--qaaudit-no-report", f"--junitxml={xml}",
                                "--junit-prefix=nightly")
    assert result.ret == pytest.ExitCode.OK
    names = {(tc.get("classname"), tc.get("name")) for tc in ET.parse(xml).getroot().iter("testcase")}
    assert names == {("nightly.audits.facts", "eiffel"), ("nightly.audits.facts", "seoul"),
                     ("nightly.audits.facts", "eiffel::robust[whitespace]"),
                     ("nightly.test_plain", "test_ok")}   # ordinary tests keep pytest's names

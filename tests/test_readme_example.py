"""The README's examples hold as written: the annotated audit file validates and gives, on the demo model,
the outcome the README states; the node ids and commands it cites exist."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from qaaudit.spec import load_audit, parse_audit

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
pytest_plugins = ["pytester"]


def _example() -> str:
    block = re.search(r"```yaml\n(# audits/people.audit.yaml\n.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block, "README.md lost its annotated audit example"
    return block.group(1)


def test_readme_audit_example_validates():
    audit = parse_audit(_example(), "README.md")
    assert [c.id for c in audit.cases] == ["songchaesi-birthplace", "nobody-debut", "founder"]
    families = {e.family for e in audit.cases[0].expectations}
    assert families == {"prediction", "focus", "avoid", "completeness", "faithfulness"}
    assert audit.cases[1].unanswerable and audit.cases[2].xfail


@pytest.mark.slow
def test_readme_audit_example_gives_what_the_readme_says_on_the_demo_model(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")   # the derandomized profile, so the outcome is the same on every machine
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)
    (pytester.path / "audits").mkdir()
    (pytester.path / "audits" / "people.audit.yaml").write_text(_example(), encoding="utf-8")
    result = pytester.runpytest_subprocess("audits/", "-p", "no:cacheprovider", "--qaaudit-no-cache", "-v",
                                           timeout=600)
    claimed = re.search(r"On the demo model this file gives `(\d+) passed, (\d+) xfailed`",
                        README.read_text(encoding="utf-8"))
    assert claimed, "README.md no longer states the example's outcome"
    result.assert_outcomes(passed=int(claimed.group(1)), xfailed=int(claimed.group(2)))
    result.stdout.fnmatch_lines(["*audits/people.audit.yaml::songchaesi-birthplace PASSED*",
                                 "*audits/people.audit.yaml::songchaesi-birthplace::robust[[]punctuation] PASSED*"])


def test_node_ids_the_readme_cites_exist():
    text = README.read_text(encoding="utf-8")
    cited = set(re.findall(r"`(audits/[\w.]+\.audit\.yaml)::([\w-]+)(?:::robust\[(\w+)\])?`", text))
    assert cited, "the README cites no node ids any more: drop this test"
    for path, case_id, check in cited:
        audit = load_audit(ROOT / path)
        case = next((c for c in audit.cases if c.id == case_id), None)
        assert case is not None, f"README cites {path}::{case_id}, which does not exist"
        if check:
            assert check in {r.name for r in case.robustness}, f"README cites {path}::{case_id}::robust[{check}]"


def test_options_the_docs_name_exist():
    from qaaudit.plugin import pytest_addoption

    names: list[str] = []

    class Group:
        def addoption(self, *opts, **kw):
            names.extend(opts)

    class Parser:
        def getgroup(self, *a, **kw):
            return Group()

        def addini(self, *a, **kw):
            pass

    pytest_addoption(Parser())
    for doc in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for option in set(re.findall(r"--qaaudit-[a-z-]+", doc.read_text(encoding="utf-8"))):
            assert option in names, f"{doc.name} names {option}, which pytest does not know"
    text = "".join(p.read_text(encoding="utf-8") for p in [README, *(ROOT / "docs").glob("*.md")])
    undocumented = [n for n in names if n not in text]
    assert not undocumented, f"options no document mentions: {undocumented}"
    # path-valued options are written --option=PATH: a bare value is taken for a test path while pytest
    # picks its rootdir
    commands = "\n".join(re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.S) + re.findall(r"`(pytest [^`]+)`", text))
    for option in ("--qaaudit-report", "--qaaudit-baseline", "--qaaudit-baseline-results", "--qaaudit-predictions",
                   "--qaaudit-model"):
        bare = re.findall(rf"{option} [\w./~-]+", commands)
        assert not bare, f"write {option}=PATH in commands: {bare[:3]}"

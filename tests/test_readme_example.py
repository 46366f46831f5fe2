"""The annotated audit example in README.md stays a valid audit file."""
from __future__ import annotations

import re
from pathlib import Path

from qaaudit.spec import parse_audit

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_audit_example_validates():
    block = re.search(r"```yaml\n(# audits/people.audit.yaml\n.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block, "README.md lost its annotated audit example"
    audit = parse_audit(block.group(1), "README.md")
    ids = [c.id for c in audit.cases]
    assert ids == ["rose-birthplace", "nobody-debut"]
    families = {e.family for e in audit.cases[0].expectations}
    assert families == {"prediction", "focus", "avoid", "completeness", "faithfulness"}
    assert audit.cases[1].unanswerable and audit.cases[1].xfail

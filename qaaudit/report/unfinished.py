"""An earlier report must never stand in for a run that did not finish.

A run that is killed outright (SIGKILL after a CI timeout's grace period, the out-of-memory killer, a
crashed interpreter) gets no chance to write anything at its end. So when a run knows what it will run, it
overwrites an earlier report's ``results.json`` and ``index.html`` with ones that say *this run has not
finished* (every selected item not run); the run's own report replaces them at its end. A later
``qaaudit gate reports/results.json`` on what a killed run left then FAILS instead of passing on the
previous run's verdict.
"""
from __future__ import annotations

import os
from pathlib import Path

from markupsafe import escape

from qaaudit.results import RunResult, write_json_atomic, write_text_atomic

from .writer import MARKER

__all__ = ["mark_unfinished"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>qaaudit report: run not finished</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto">
<h1>This run did not finish</h1>
<p style="background:#fde8e8; padding: 1rem; border-left: 4px solid #c0392b">{detail}</p>
<p>{total} selected items; none has a recorded result. The report of an earlier run that was here has been
replaced so that it is not taken for this run's. Run the audits again to get a report.</p>
</body></html>
"""


def mark_unfinished(run: RunResult, out_dir: str | os.PathLike) -> bool:
    """Replace the earlier report in ``out_dir`` (if there is one) by ``run``'s unfinished record.

    Nothing is written where no report is (a killed run then leaves no results.json at all, which the gate
    also refuses) or where the folder is not a qaaudit report; errors are left to the run's final write,
    which reports them. Returns whether the earlier report was replaced.
    """
    out = Path(out_dir)
    try:
        if not (out / MARKER).is_file():
            return False
        write_json_atomic(out / "results.json", run.to_dict())
        write_text_atomic(out / "index.html", _PAGE.format(detail=escape(run.status_detail),
                                                           total=len(run.cases)))
    except OSError:
        return False
    return True

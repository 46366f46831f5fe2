"""The HTML audit report: ``index.html``, one page per case and ``results.json``.

Plain data in, files out: no torch or transformers here.
"""
from __future__ import annotations

from qaaudit.report.compare import CaseComparison
from qaaudit.report.names import case_filename
from qaaudit.report.writer import render_case, render_explanation, write_report

__all__ = ["write_report", "render_case", "render_explanation", "CaseComparison", "case_filename"]

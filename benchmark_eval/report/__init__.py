"""Report: a Comparison -> report.md, report.html (plots embedded) and verdict.json."""

from .render import write_reference_report, write_report

__all__ = ["write_reference_report", "write_report"]

"""Reports of a period: an offline HTML page (Jinja2) and a plain-text summary from the archive."""

from monitor.report.build import ReportResult, build_report

__all__ = ["ReportResult", "build_report"]

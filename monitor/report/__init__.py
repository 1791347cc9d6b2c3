"""Reports from the archive: the offline HTML page and text summary (``build``), the public tables
(``tables``), the parade truth table (``truth``) and the evaluation against it (``evaluate``).

Names are re-exported lazily, so ``monitor scores`` importing ``monitor.report.tables`` loads no Jinja2.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "ReportResult": "monitor.report.build",
    "build_report": "monitor.report.build",
}

__all__ = ["ReportResult", "build_report"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'monitor.report' has no attribute {name!r}")

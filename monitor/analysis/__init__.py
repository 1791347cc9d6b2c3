"""The analyst's Python API over an archive: pandas tables, xarray rasters, matplotlib plots.

``monitor.open(path)`` returns a :class:`Monitor`. This sub-package holds the heavy optional imports
(pandas, xarray, rioxarray); nothing else in ``monitor`` imports it, so the cron path never loads them.
"""

from __future__ import annotations

from monitor.analysis.session import Monitor, open_archive

__all__ = ["Monitor", "open_archive"]

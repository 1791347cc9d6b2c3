"""monitor: watch free Sentinel-1/2 imagery of parade-rehearsal sites, score zone by zone, alert with evidence.

Importing the package is cheap: heavy libraries load only when a function needs them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from monitor.errors import (
    ArchiveError,
    ConfigError,
    EmptySceneError,
    LockedError,
    MonitorError,
    NotifyError,
    SceneError,
    SourceError,
    TruthTableError,
)

if TYPE_CHECKING:
    from monitor.analysis import Monitor

__version__ = "0.1.0"


def open(path: str | os.PathLike[str], *, data_dir: str | os.PathLike[str] | None = None) -> Monitor:
    """Open an archive for analysis in Python or Jupyter: ``m = monitor.open("configs/pyongyang.toml")``.

    ``path`` is a config file, a ``monitor demo`` output folder, or a bare data_dir. Returns a
    :class:`monitor.analysis.Monitor` (tables as pandas DataFrames, rasters as xarray, matplotlib plots).
    pandas, xarray and matplotlib load here, not when ``monitor`` is imported.
    """
    from monitor.analysis import open_archive

    return open_archive(path, data_dir=data_dir)


__all__ = [
    "ArchiveError",
    "ConfigError",
    "EmptySceneError",
    "LockedError",
    "MonitorError",
    "NotifyError",
    "SceneError",
    "SourceError",
    "TruthTableError",
    "__version__",
    "open",
]

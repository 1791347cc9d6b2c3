"""The archive in ``data_dir``: an SQLite catalogue plus one GeoTIFF crop per site per scene.

``catalogue`` (SQLite, no raster imports, so read-only commands start fast), ``crops`` (GeoTIFF crops and
rasters), ``baselines`` (baseline rasters), ``lock`` (the run lock). Names are re-exported lazily.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "Catalogue": "monitor.archive.catalogue",
    "read_crop_file": "monitor.archive.crops",
    "write_crop_file": "monitor.archive.crops",
    "run_lock": "monitor.archive.lock",
}

__all__ = ["Catalogue", "read_crop_file", "run_lock", "write_crop_file"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'monitor.archive' has no attribute {name!r}")

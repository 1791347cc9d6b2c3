"""File output of the simulator (the only module that touches the file system).

Scenes follow the monitor's imagery contract: ``S2_YYYYMMDDTHHMMSS.tif`` (UTC), uint16 bands described
``B02 B03 B04 B08 SCL``, nodata 0, EPSG:32651, 10 m, DEFLATE, 256 x 256 tiles, and dataset tags that label
the file as simulated. Every file is written under a temporary name in the same folder, then renamed with
``os.replace``, so a reader never sees a half-written scene.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray

BAND_DESCRIPTIONS: tuple[str, ...] = ("B02", "B03", "B04", "B08", "SCL")
"""Band descriptions, in band order."""

SIMULATED_CREDIT = "Simulated imagery (monitor.simulate), not Copernicus data"
"""Value of the ``LICENSE`` and ``CREDIT`` tags of every simulated scene."""

DEMO_CONFIG_NAME = "demo.toml"
"""Name of the packaged demo configuration template (in ``monitor.simulate``)."""


def scene_filename(acquired: datetime) -> str:
    """``S2_YYYYMMDDTHHMMSS.tif`` for a UTC acquisition time (naive times are taken as UTC)."""
    return f"S2_{_as_utc(acquired):%Y%m%dT%H%M%S}.tif"


def write_scene(
    path: Path,
    dn: NDArray[np.uint16],
    transform: Affine,
    crs: str,
    acquired: datetime,
    tags: Mapping[str, str],
) -> Path:
    """Write one simulated scene atomically.

    Args:
        path: destination ``.tif`` (normally ``folder / scene_filename(acquired)``).
        dn: ``(5, H, W)`` uint16: B02 B03 B04 B08 (L2A DN, >= 1) and SCL; 0 only where there is no data.
        transform: pixel -> CRS affine transform (10 m, north-up).
        crs: CRS of the grid, e.g. ``"EPSG:32651"``.
        acquired: acquisition time (UTC), written as ``ACQUISITION_DATETIME_UTC``.
        tags: extra dataset tags (e.g. ``MONITOR_SIMULATOR``); ``SIMULATED=yes``, ``LICENSE``, ``CREDIT`` and
            ``ACQUISITION_DATETIME_UTC`` are always set by the writer and override these.

    Returns:
        ``path``.

    Raises:
        ValueError: if ``dn`` is not a ``(5, H, W)`` uint16 array.
    """
    if dn.dtype != np.uint16 or dn.ndim != 3 or dn.shape[0] != len(BAND_DESCRIPTIONS):
        raise ValueError(f"expected a (5, H, W) uint16 array, got {dn.dtype} {dn.shape}")
    all_tags = {
        **tags,
        "SIMULATED": "yes",
        "LICENSE": SIMULATED_CREDIT,
        "CREDIT": SIMULATED_CREDIT,
        "ACQUISITION_DATETIME_UTC": f"{_as_utc(acquired):%Y-%m-%dT%H:%M:%SZ}",
    }
    profile = {
        "driver": "GTiff",
        "width": int(dn.shape[2]),
        "height": int(dn.shape[1]),
        "count": int(dn.shape[0]),
        "dtype": "uint16",
        "crs": crs,
        "transform": transform,
        "nodata": 0,
        "compress": "deflate",
        "predictor": 2,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "interleave": "band",
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with rasterio.open(temporary, "w", **profile) as dst:
            dst.write(dn)
            for band, description in enumerate(BAND_DESCRIPTIONS, start=1):
                dst.set_band_description(band, description)
            dst.update_tags(**all_tags)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def prepare_scene_folder(folder: Path, names: Iterable[str]) -> None:
    """Create ``folder`` if needed and check it holds no ``S2_*.tif`` outside ``names``.

    Raises:
        FileExistsError: listing the foreign scenes (they would be mixed into the replay archive).
    """
    folder.mkdir(parents=True, exist_ok=True)
    expected = set(names)
    foreign = sorted(p.name for p in folder.glob("S2_*.tif") if p.name not in expected)
    if foreign:
        listed = ", ".join(foreign[:5])
        raise FileExistsError(f"{folder} holds scenes that are not part of this demo: {listed}")


def write_truth_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """Write a CSV file atomically (UTF-8, ``\\n`` line ends); returns ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def demo_config_text() -> str:
    """The packaged demo configuration template (``monitor/simulate/demo.toml``)."""
    return resources.files("monitor.simulate").joinpath(DEMO_CONFIG_NAME).read_text(encoding="utf-8")


def write_demo_config(path: Path) -> Path:
    """Copy the demo configuration template to ``path`` atomically; returns ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        temporary.write_text(demo_config_text(), encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

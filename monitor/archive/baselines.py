"""Baselines in the archive: one GeoTIFF per site, sensor and version (medians, spreads, counts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from monitor.archive.crops import write_raster
from monitor.detect.baseline import Baseline
from monitor.errors import ArchiveError


def write_baseline_file(path: Path, baseline: Baseline, transform: Affine, crs: CRS) -> Path:
    """Store a baseline: bands ``median_<b>``..., ``sigma_<b>``..., ``count``, float32, atomically."""
    names = [f"median_{b}" for b in baseline.bands] + [f"sigma_{b}" for b in baseline.bands] + ["count"]
    data = np.concatenate([baseline.median, baseline.sigma, baseline.count[None].astype(np.float32)])
    tags = {
        "BANDS": ",".join(baseline.bands),
        "SENSOR": baseline.sensor,
        "SCENES": ",".join(baseline.scene_ids),
        "VERSION": str(baseline.version),
    }
    return write_raster(path, data, names=names, transform=transform, crs=crs, tags=tags)


def read_baseline_file(path: Path, scene_ids: tuple[str, ...], version: int, min_observations: int) -> Baseline:
    """Load a baseline written by :func:`write_baseline_file`; :class:`ArchiveError` if missing or broken."""
    try:
        with rasterio.open(path) as src:
            arr = src.read(out_dtype="float32")
            tags = src.tags()
        bands = tuple(tags["BANDS"].split(","))
        n = len(bands)
        if arr.shape[0] != 2 * n + 1:
            raise ValueError(f"{arr.shape[0]} bands, expected {2 * n + 1}")
    except (RasterioError, OSError, KeyError, ValueError) as exc:
        raise ArchiveError(f"cannot read baseline {path}: {exc}") from exc
    return Baseline(
        sensor=tags.get("SENSOR", ""),
        bands=bands,
        median=arr[:n],
        sigma=arr[n : 2 * n],
        count=arr[2 * n].astype(np.int16),
        scene_ids=scene_ids,
        version=version,
        min_observations=min_observations,
    )

"""``monitor diff``: a bi-temporal change map of two images, on BEFORE's grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.errors import CRSError, RasterioError

from monitor.archive.crops import write_raster
from monitor.detect.change import DIFF_SCALES_M, DIFF_STRATA, bitemporal_change
from monitor.detect.values import analysis_values
from monitor.errors import SceneError, SourceError
from monitor.grid import SiteGrid, pixel_sides_m
from monitor.provenance import is_simulated
from monitor.sensors import AUX_BANDS, S2_SPECTRAL, clear_mask, is_radar, nodata_of, sensor_from_prefix
from monitor.sources.base import BandAsset
from monitor.sources.local import time_from_name
from monitor.sources.raster import read_crop


@dataclass(frozen=True)
class DiffResult:
    """The written change map and what went into it."""

    path: Path
    bands: tuple[str, ...]
    change: np.ndarray
    valid_fraction: float
    grid: SiteGrid
    simulated: bool = False
    year: int = 0


def _sensor_of(path: Path) -> str:
    """The sensor of an input: its file-name prefix, else Sentinel-2 when its bands are Sentinel-2 band names
    stored as integers (so that its undeclared 0 no-data is honoured), else generic optical."""
    sensor = sensor_from_prefix(path.stem)
    if sensor in {"S1", "S2"}:
        return sensor
    with rasterio.open(path) as src:
        names = [d for d in src.descriptions if d]
        integer = all(np.issubdtype(np.dtype(t), np.integer) for t in src.dtypes)
    return "S2" if names and integer and all(n in S2_SPECTRAL or n == "SCL" for n in names) else sensor


def _grid_of(path: Path) -> tuple[SiteGrid, tuple[str, ...]]:
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise SceneError(f"{path}: the raster has no CRS")
            if src.transform.b or src.transform.d:
                raise SceneError(f"{path}: rotated grids are not supported")
            names = tuple(d or f"band{i + 1}" for i, d in enumerate(src.descriptions))
            return SiteGrid(crs=src.crs, transform=src.transform, width=src.width, height=src.height), names
    except (RasterioError, CRSError, CPLE_BaseError, OSError) as exc:
        raise SourceError(f"cannot open {path}: {exc}") from exc


def _read(
    path: Path, names: tuple[str, ...], wanted: list[str], grid: SiteGrid, sensor: str
) -> tuple[np.ndarray, dict[str, str]]:
    assets = [BandAsset(name=n, href=str(path), index=names.index(n) + 1, nodata=nodata_of(sensor, n)) for n in wanted]
    crop = read_crop(assets, grid)
    data = crop.data
    if "SCL" in wanted:
        scl = data[wanted.index("SCL")]
        data = np.delete(data, wanted.index("SCL"), axis=0)
        data[:, ~clear_mask(data, scl)] = np.nan
    return data, crop.tags


def ground_pixel_size(grid: SiteGrid) -> float:
    """Mean ground size of a pixel's two sides in metres (:func:`monitor.grid.pixel_sides_m`)."""
    sx, sy = pixel_sides_m(grid.crs, grid.transform, grid.height)
    return (sx + sy) / 2.0


def diff_images(before: Path, after: Path, out: Path) -> DiffResult:
    """Write the change map of AFTER against BEFORE as a float32 GeoTIFF on BEFORE's grid (NaN = no data).

    Bands are matched by their descriptions (by position when neither file names them); AFTER is warped
    onto BEFORE's grid when the grids differ; Sentinel-2 SCL, where both carry it, masks clouds.
    """
    grid, before_names = _grid_of(before)
    _, after_names = _grid_of(after)
    common = [n for n in before_names if n in after_names and n not in AUX_BANDS]
    if not common:
        raise SceneError(
            f"{before.name} ({', '.join(before_names)}) and {after.name} ({', '.join(after_names)}) share no band"
        )
    wanted = common + (["SCL"] if "SCL" in before_names and "SCL" in after_names else [])
    sensor = _sensor_of(before)
    b, before_tags = _read(before, before_names, wanted, grid, sensor)
    a, after_tags = _read(after, after_names, wanted, grid, _sensor_of(after))
    radar = is_radar(sensor, tuple(common))
    change = bitemporal_change(
        analysis_values(sensor, tuple(common), b),
        analysis_values(sensor, tuple(common), a),
        radar=radar,
        pixel_size_m=ground_pixel_size(grid),
        bands=tuple(common),
    )
    if not np.isfinite(change).any():
        raise SceneError(f"{before.name} and {after.name} have no valid pixel in common")
    stratified = not radar and "B04" in common and "B08" in common
    write_raster(
        out,
        change[None],
        names=["change"],
        transform=grid.transform,
        crs=grid.crs,
        tags={
            "BEFORE": str(before),
            "AFTER": str(after),
            "BANDS": ",".join(common),
            "METHOD": "band-covariance Mahalanobis statistic of the quantile-matched difference"
            + (f", no-change model per NDVI stratum (up to {DIFF_STRATA} quantiles)" if stratified else "")
            + f", geometric mean over Gaussian scales {', '.join(f'{m:g}' for m in DIFF_SCALES_M)} m",
        },
    )
    times = (time_from_name(before.stem), time_from_name(after.stem))
    return DiffResult(
        path=out,
        bands=tuple(common),
        change=change,
        valid_fraction=float(np.isfinite(change).mean()),
        grid=grid,
        simulated=any(is_simulated(t) for t in (before_tags, after_tags)),
        year=max((t.year for t in times if t is not None), default=0),
    )

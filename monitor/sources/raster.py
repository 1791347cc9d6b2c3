"""Read only the pixels a site needs from any GeoTIFF (local path or URL) and warp them onto its grid."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError, RasterioError
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from monitor.errors import EmptySceneError, SceneError, SourceError
from monitor.grid import SiteGrid, pixel_size_m
from monitor.scene import Scene
from monitor.sensors import AUX_BANDS, clear_mask, scale_of
from monitor.sources.base import BandAsset, SceneRef

#: rasterio's in-memory warp of numpy arrays is not safe from several threads at once (the sources read
#: band files concurrently); warps are small next to the reads, so they take turns.
_WARP_LOCK = threading.Lock()
#: GDAL drivers a remote href may be opened with: a COG is a GeoTIFF. Never VRT or the like, whose content
#: can name other files or URLs for GDAL to open.
REMOTE_DRIVERS = ("GTiff",)
#: A read never holds more than this many source pixels per band (a window of about 8000 x 8000): a file
#: whose pixels are far finer than the site's (a decompression bomb by transform) is refused, not read.
MAX_WINDOW_PIXELS = 64_000_000
#: Nor decompresses a block (tile or strip) larger than this: one strip of a whole huge image would have to
#: be inflated in full to read any window of it.
MAX_BLOCK_BYTES = 256 * 1024 * 1024  # rasterio takes one driver name per open


@dataclass(frozen=True)
class Crop:
    """Bands read onto a grid: float32 (bands, rows, cols), NaN where the source had no data."""

    names: tuple[str, ...]
    data: np.ndarray
    tags: dict[str, str]
    dtypes: tuple[str, ...]


def band_descriptions(href: str) -> tuple[str | None, ...]:
    """The band descriptions of a raster (None where unset). Raises SourceError if unreadable."""
    try:
        with rasterio.open(href) as src:
            return tuple(src.descriptions)
    except (RasterioError, CPLE_BaseError, OSError) as exc:
        raise SourceError(f"cannot open {href}: {exc}") from exc


def _source_window(src: rasterio.io.DatasetReader, grid: SiteGrid, pad: int = 2) -> Window | None:
    """The window of ``src`` covering the grid (plus ``pad`` pixels), clipped to the file; None if apart."""
    left, bottom, right, top = transform_bounds(grid.crs, src.crs, *grid.bounds, densify_pts=21)
    win = from_bounds(left, bottom, right, top, transform=src.transform)
    col0 = max(0, math.floor(win.col_off) - pad)
    row0 = max(0, math.floor(win.row_off) - pad)
    col1 = min(src.width, math.ceil(win.col_off + win.width) + pad)
    row1 = min(src.height, math.ceil(win.row_off + win.height) + pad)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def _aligned_slice(src_crs: CRS, src_transform: Affine, grid: SiteGrid) -> tuple[int, int] | None:
    """(row, col) offset of the grid inside the source when both share CRS, pixel size and phase."""
    t = src_transform
    g = grid.transform
    if src_crs != grid.crs or not (math.isclose(t.a, g.a) and math.isclose(t.e, g.e)) or t.b or t.d:
        return None
    col = (g.c - t.c) / t.a
    row = (g.f - t.f) / t.e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return round(row), round(col)


def _resampling(name: str, src_res: float, dst_res: float) -> Resampling:
    """Nearest for class layers, average when shrinking by 1.5x or more, else bilinear."""
    if name in AUX_BANDS:
        return Resampling.mode if src_res * 1.5 <= dst_res else Resampling.nearest
    return Resampling.average if src_res * 1.5 <= dst_res else Resampling.bilinear


def _read_one(
    href: str, bands: Sequence[BandAsset], grid: SiteGrid, drivers: Sequence[str] | None = None
) -> tuple[np.ndarray, dict[str, str], list[str]]:
    out = np.full((len(bands), *grid.shape), np.nan, dtype=np.float32)
    with rasterio.open(href, driver=drivers[0] if drivers else None) as src:
        if src.crs is None:
            raise SceneError(f"{href}: the raster has no CRS")
        for asset in bands:
            if not 1 <= asset.index <= src.count:
                raise SceneError(f"{href}: band index {asset.index} out of range 1..{src.count}")
        tags = {str(k): str(v) for k, v in src.tags().items()}
        dtypes = [src.dtypes[a.index - 1] for a in bands]
        win = _source_window(src, grid)
        if win is None:
            raise EmptySceneError(f"{href} does not overlap the target grid")
        _check_cost(href, src, win)
        indexes = [a.index for a in bands]
        raw = src.read(indexes, window=win, out_dtype="float32")
        masks = src.read_masks(indexes, window=win)
        raw[masks == 0] = np.nan
        for i, asset in enumerate(bands):
            if asset.nodata is not None:  # never let an undeclared no-data value be warped into valid pixels
                raw[i][raw[i] == asset.nodata] = np.nan
        win_transform = src.window_transform(win)
        offset = _aligned_slice(src.crs, win_transform, grid)
        if offset is not None:
            row, col = offset
            r0, c0 = max(0, -row), max(0, -col)
            r1 = min(grid.height, raw.shape[1] - row)
            c1 = min(grid.width, raw.shape[2] - col)
            if r1 > r0 and c1 > c0:
                out[:, r0:r1, c0:c1] = raw[:, row + r0 : row + r1, col + c0 : col + c1]
            return out, tags, dtypes
        src_res = pixel_size_m(src.crs, win_transform, int(win.height))
        for i, asset in enumerate(bands):
            with _WARP_LOCK:
                _reproject_band(raw[i], out[i], win_transform, src.crs, grid, asset.name, src_res)
    return out, tags, dtypes


def _check_cost(href: str, src: rasterio.io.DatasetReader, win: Window) -> None:
    """Refuse a read whose window or blocks would need far more memory than a site crop ever does."""
    pixels = int(win.width) * int(win.height)
    if pixels > MAX_WINDOW_PIXELS:
        raise SceneError(
            f"{href}: the site covers {int(win.width)} x {int(win.height)} px of this file (pixels far finer than "
            f"the site grid's); more than {MAX_WINDOW_PIXELS:,} px is refused"
        )
    block_h, block_w = src.block_shapes[0]
    block_bytes = (
        block_h
        * block_w
        * max(np.dtype(d).itemsize for d in src.dtypes)
        * (src.count if src.interleaving and src.interleaving.name == "PIXEL" else 1)
    )
    if block_bytes > MAX_BLOCK_BYTES:
        raise SceneError(
            f"{href}: its blocks are {block_w} x {block_h} px ({block_bytes / 2**20:.0f} MiB each when inflated); "
            f"more than {MAX_BLOCK_BYTES / 2**20:.0f} MiB is refused (write it tiled, e.g. as a COG)"
        )


def _reproject_band(
    raw: np.ndarray, out: np.ndarray, transform: Affine, crs: CRS, grid: SiteGrid, name: str, src_res: float
) -> None:
    reproject(
        source=raw,
        destination=out,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        dst_nodata=np.nan,
        resampling=_resampling(name, src_res, grid.pixel_size_m),
    )


def read_crop(assets: Sequence[BandAsset], grid: SiteGrid, drivers: Sequence[str] | None = None) -> Crop:
    """Read the given bands onto ``grid``, opening each distinct raster once and reading only its window.

    ``drivers`` limits the GDAL drivers tried (remote hrefs: :data:`REMOTE_DRIVERS`).

    Raises :class:`SourceError` when a raster cannot be opened or read (unreadable, truncated),
    :class:`EmptySceneError` when it does not overlap the grid.
    """
    if not assets:
        raise SceneError("no bands to read")
    by_href: dict[str, list[int]] = {}
    for i, asset in enumerate(assets):
        by_href.setdefault(asset.href, []).append(i)
    data = np.empty((len(assets), *grid.shape), dtype=np.float32)
    tags: dict[str, str] = {}
    dtypes: list[str] = [""] * len(assets)
    for href, idx in by_href.items():
        try:
            arr, file_tags, file_dtypes = _read_one(href, [assets[i] for i in idx], grid, drivers)
        except (SceneError, SourceError):
            raise
        except (RasterioError, CRSError, CPLE_BaseError, OSError) as exc:  # incl. a CRS GDAL cannot transform
            raise SourceError(f"cannot read {href}: {exc}") from exc
        data[idx] = arr
        for i, dt in zip(idx, file_dtypes, strict=True):
            dtypes[i] = dt
        tags.update(file_tags)
    return Crop(names=tuple(a.name for a in assets), data=data, tags=tags, dtypes=tuple(dtypes))


def to_scene(ref: SceneRef, crop: Crop, grid: SiteGrid) -> Scene:
    """Turn a crop into a :class:`Scene`: scale to physical units, split off auxiliary layers, mask.

    Raises :class:`EmptySceneError` when no pixel of the site holds data.
    """
    if ref.acquired is None:
        raise SceneError(f"{ref.scene_id}: unknown acquisition time")
    spectral = [i for i, n in enumerate(crop.names) if n not in AUX_BANDS]
    if not spectral:
        raise SceneError(f"{ref.scene_id}: no spectral band among {', '.join(crop.names)}")
    data = crop.data[spectral].copy()
    for j, i in enumerate(spectral):
        factor = scale_of(ref.sensor, crop.names[i], np.dtype(crop.dtypes[i]))
        if factor != 1.0:
            data[j] *= np.float32(factor)
    aux = {crop.names[i]: crop.data[i] for i in range(len(crop.names)) if crop.names[i] in AUX_BANDS}
    scl = aux.get("SCL")
    has_data = np.all(np.isfinite(data), axis=0)
    if grid.site_mask is not None:
        has_data &= grid.site_mask
    if not has_data.any():
        raise EmptySceneError(f"{ref.scene_id}: no valid pixel inside the site")
    provenance: dict[str, Any] = dict(crop.tags)
    provenance.update({"source": ref.source, "hrefs": sorted({a.href for a in ref.assets})})
    provenance.update({k: v for k, v in ref.properties.items() if isinstance(v, str | int | float | bool)})
    return Scene(
        scene_id=ref.scene_id,
        sensor=ref.sensor,
        acquired=ref.acquired,
        bands=tuple(crop.names[i] for i in spectral),
        data=data,
        valid=clear_mask(data, scl),
        transform=grid.transform,
        crs=grid.crs,
        source=ref.source,
        aux=aux,
        provenance=provenance,
    )

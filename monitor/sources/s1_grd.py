"""Sentinel-1 Level-1 GRD as distributed (Planetary Computer ``sentinel-1-grd``): calibration to sigma0 and
windowed reads of rasters located by ground control points (radar geometry, no map projection).

A GRD measurement file holds digital numbers; sigma0 (linear) is ``DN^2 / A^2`` with ``A`` the
``sigmaNought`` calibration vector of the product's calibration annotation, given on a sparse grid of
lines and pixels and interpolated bilinearly in between (ESA, "Radiometric Calibration of S-1 Level-1
Products"). The file has no geotransform but GCPs in WGS84; the site's window is found through the
affine that fits the GCPs best and warped onto the grid through the GCPs themselves (no terrain
correction: on the flat parade grounds the ellipsoid geolocation is within a pixel or two).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import rasterio
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from rasterio.control import GroundControlPoint
from rasterio.enums import Resampling
from rasterio.transform import from_gcps
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window
from scipy.interpolate import RegularGridInterpolator

from monitor.errors import EmptySceneError, SceneError, SourceError
from monitor.grid import SiteGrid
from monitor.sources.raster import _WARP_LOCK


@dataclass(frozen=True)
class Calibration:
    """The ``sigmaNought`` calibration vectors: values (lines, pixels) on the grid ``lines`` x ``pixels``."""

    lines: np.ndarray
    pixels: np.ndarray
    values: np.ndarray

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``A`` at full-resolution line/pixel coordinates (bilinear; clamped at the edges)."""
        interp = RegularGridInterpolator((self.lines, self.pixels), self.values, bounds_error=False, fill_value=None)
        r = np.clip(rows, self.lines[0], self.lines[-1])
        c = np.clip(cols, self.pixels[0], self.pixels[-1])
        return np.asarray(interp(np.stack([r, c], axis=-1)), dtype=np.float64)


def parse_calibration(xml: bytes) -> Calibration:
    """The sigmaNought LUT of a Sentinel-1 calibration annotation (``calibration-*.xml``).

    Raises :class:`SceneError` for a file without calibration vectors or with ragged ones.
    """
    try:  # defusedxml: no entity expansion (billion laughs), no external entities or DTDs fetched
        root = SafeET.fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise SceneError(f"calibration annotation refused: {type(exc).__name__} ({exc})") from exc
    except SafeET.ParseError as exc:
        raise SceneError(f"unreadable calibration annotation: {exc}") from exc
    lines, pixels, rows = [], None, []
    for vector in root.iter("calibrationVector"):
        line = vector.findtext("line")
        pix = vector.findtext("pixel")
        sigma = vector.findtext("sigmaNought")
        if line is None or pix is None or sigma is None:
            raise SceneError("calibration vector without line, pixel or sigmaNought")
        try:
            p = np.array(pix.split(), dtype=np.float64)
            row = np.array(sigma.split(), dtype=np.float64)
            line_number = float(line)
        except ValueError as exc:
            raise SceneError(f"calibration vector with a non-numeric value: {exc}") from exc
        if pixels is None:
            pixels = p
        elif p.shape != pixels.shape or not np.allclose(p, pixels):
            raise SceneError("calibration vectors sample different pixels")
        lines.append(line_number)
        rows.append(row)
    if pixels is None or len(lines) < 2:
        raise SceneError("the calibration annotation holds fewer than two calibration vectors")
    if any(r.shape != pixels.shape for r in rows):
        raise SceneError("sigmaNought calibration values must be positive, one per sampled pixel")
    values = np.vstack(rows)
    if values.shape != (len(lines), len(pixels)) or not np.all(np.isfinite(values) & (values > 0)):
        raise SceneError("sigmaNought calibration values must be positive, one per sampled pixel")
    return Calibration(np.array(lines), pixels, values)


def _window(gcps: list[GroundControlPoint], gcp_crs: object, grid: SiteGrid, width: int, height: int) -> Window:
    """The pixel window of a GCP-located raster that covers the grid, padded by 5 % (the GCP fit is affine)."""
    approx = from_gcps(gcps)
    left, bottom, right, top = transform_bounds(grid.crs, gcp_crs, *grid.bounds, densify_pts=21)
    inverse = ~approx
    corners = [inverse * (x, y) for x in (left, right) for y in (bottom, top)]
    cols = [c for c, _ in corners]
    rows = [r for _, r in corners]
    pad = max(16, int(0.05 * max(max(cols) - min(cols), max(rows) - min(rows))))
    col0, row0 = max(0, math.floor(min(cols)) - pad), max(0, math.floor(min(rows)) - pad)
    col1, row1 = min(width, math.ceil(max(cols)) + pad), min(height, math.ceil(max(rows)) + pad)
    if col1 <= col0 or row1 <= row0:
        raise EmptySceneError("the GRD slice does not overlap the site")
    return Window(col0, row0, col1 - col0, row1 - row0)


def read_sigma0(href: str, calibration: Calibration, grid: SiteGrid) -> np.ndarray:
    """Linear sigma0 of one polarisation on ``grid`` (float32, NaN where the slice has no data)."""
    out = np.full(grid.shape, np.nan, dtype=np.float32)
    try:
        with rasterio.open(href, driver="GTiff") as src:
            gcps, gcp_crs = src.gcps
            if not gcps or gcp_crs is None:
                raise SceneError(f"{href}: no ground control points")
            win = _window(gcps, gcp_crs, grid, src.width, src.height)
            dn = src.read(1, window=win, out_dtype="float64")
    except (SceneError, EmptySceneError):
        raise
    except (rasterio.errors.RasterioError, OSError) as exc:
        raise SourceError(f"cannot read {href}: {exc}") from exc
    rows, cols = np.mgrid[0 : dn.shape[0], 0 : dn.shape[1]]
    a = calibration.at(rows + win.row_off, cols + win.col_off)
    sigma0 = (dn * dn / (a * a)).astype(np.float32)
    sigma0[dn <= 0] = np.nan  # DN 0: outside the swath
    shifted = [GroundControlPoint(row=g.row - win.row_off, col=g.col - win.col_off, x=g.x, y=g.y, z=g.z) for g in gcps]
    with _WARP_LOCK:
        reproject(
            source=sigma0,
            destination=out,
            gcps=shifted,
            src_crs=gcp_crs,
            src_nodata=np.nan,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            dst_nodata=np.nan,
            resampling=Resampling.bilinear,
        )
    return out

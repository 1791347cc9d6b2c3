"""The site grid: the 10 m UTM raster the simulator paints on, and pixel-rectangle geometry.

The grid follows the monitor's imagery contract: EPSG:32651 (UTM 51N, the
zone that holds 125.85 E, as the monitor's own site grid), square 10 m pixels, north-up, origin
snapped to multiples of 10 m, covering the site's WGS84 bounding box (``transform_bounds`` with
``densify_pts=21``, floored/ceiled outward to the pixel size). For the Mirim bbox this is 402 x 347 pixels.

Rows grow southward, columns eastward; a :class:`Rect` is a half-open pixel rectangle of that grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from affine import Affine
from rasterio.warp import transform_bounds

SITE_CRS = "EPSG:32651"
"""CRS of every simulated scene (UTM zone 52N, WGS84)."""

PIXEL_SIZE_M = 10
"""Pixel size of the simulated scenes in metres (Sentinel-2 10 m bands)."""

LonLatBBox = tuple[float, float, float, float]
"""``(lon_min, lat_min, lon_max, lat_max)`` in degrees WGS84."""


@dataclass(frozen=True)
class Rect:
    """A half-open pixel rectangle ``[row0, row1) x [col0, col1)`` of the site grid (10 m pixels)."""

    row0: int
    col0: int
    row1: int
    col1: int

    def __post_init__(self) -> None:
        if self.row1 <= self.row0 or self.col1 <= self.col0:
            raise ValueError(f"empty rectangle {self}")

    @property
    def height(self) -> int:
        """Number of rows (pixels)."""
        return self.row1 - self.row0

    @property
    def width(self) -> int:
        """Number of columns (pixels)."""
        return self.col1 - self.col0

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return (self.height, self.width)

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices selecting the rectangle from a ``(..., H, W)`` array."""
        return (slice(self.row0, self.row1), slice(self.col0, self.col1))

    def grow(self, pixels: int) -> Rect:
        """The rectangle grown by ``pixels`` on every side (may extend past the grid; clip when slicing)."""
        return Rect(self.row0 - pixels, self.col0 - pixels, self.row1 + pixels, self.col1 + pixels)

    def clipped(self, height: int, width: int) -> Rect:
        """The rectangle clipped to a ``height x width`` grid."""
        return Rect(max(self.row0, 0), max(self.col0, 0), min(self.row1, height), min(self.col1, width))


@dataclass(frozen=True)
class SiteGrid:
    """The raster grid of a site: CRS, affine transform (pixel -> metres) and size in pixels."""

    crs: str
    transform: Affine
    width: int
    height: int

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return (self.height, self.width)

    def rect_bounds(self, rect: Rect) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` of a pixel rectangle, in metres of the grid CRS."""
        t = self.transform  # north-up: x = c + col * a, y = f + row * e
        return (t.c + rect.col0 * t.a, t.f + rect.row1 * t.e, t.c + rect.col1 * t.a, t.f + rect.row0 * t.e)

    def rect_lonlat(self, rect: Rect) -> LonLatBBox:
        """WGS84 bbox enclosing a pixel rectangle, rounded *outward* to 6 decimals (about 0.1 m).

        The rectangle is axis-aligned in UTM; grid north is rotated about 2 degrees from true north at
        Mirim, so the lon/lat bbox is slightly larger than the rectangle (by up to ``0.035 x`` its size).
        """
        bounds = self.rect_bounds(rect)
        lon0, lat0, lon1, lat1 = transform_bounds(self.crs, "EPSG:4326", *bounds, densify_pts=21)
        return (_floor6(lon0), _floor6(lat0), _ceil6(lon1), _ceil6(lat1))


def site_grid(bbox: LonLatBBox, *, crs: str = SITE_CRS, pixel_m: int = PIXEL_SIZE_M) -> SiteGrid:
    """The grid covering a WGS84 bbox: bounds from ``transform_bounds(densify_pts=21)`` snapped outward.

    Args:
        bbox: ``(lon_min, lat_min, lon_max, lat_max)`` in degrees.
        crs: target projected CRS (metres).
        pixel_m: pixel size in metres; the origin is a multiple of it.
    """
    left, bottom, right, top = transform_bounds("EPSG:4326", crs, *bbox, densify_pts=21)
    left = math.floor(left / pixel_m) * pixel_m
    bottom = math.floor(bottom / pixel_m) * pixel_m
    right = math.ceil(right / pixel_m) * pixel_m
    top = math.ceil(top / pixel_m) * pixel_m
    transform = Affine(pixel_m, 0.0, left, 0.0, -pixel_m, top)
    width, height = (right - left) // pixel_m, (top - bottom) // pixel_m
    return SiteGrid(crs=crs, transform=transform, width=width, height=height)


def _floor6(value: float) -> float:
    return round(math.floor(value * 1e6) / 1e6, 6)


def _ceil6(value: float) -> float:
    return round(math.ceil(value * 1e6) / 1e6, 6)

"""The fixed analysis grid of a site: its footprint in the local UTM zone, snapped to the pixel size.

Every scene of a site is warped onto this one grid, so crops of different dates are pixel-aligned.
Grid origins are multiples of the resolution, which is also how Sentinel-2 tiles are laid out, so at
10 m a Sentinel-2 crop lands on the grid without resampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import rasterize
from rasterio.warp import transform_geom
from shapely.geometry import mapping, shape

from monitor.config import SiteConfig
from monitor.errors import ConfigError
from monitor.geometry import Footprint, footprint

#: The largest site grid (pixels): 50 x 50 km at 10 m. Sites are parade grounds, not provinces.
MAX_GRID_PIXELS = 25_000_000


def pixel_sides_m(crs: CRS, transform: Affine, height: int) -> tuple[float, float]:
    """Ground size in metres of a pixel's x and y sides: CRS units for projected grids, degrees converted
    at the grid's centre latitude (WGS84 mean radius) for geographic ones. The one conversion from a
    grid to metres per pixel."""
    sx, sy = abs(float(transform.a)), abs(float(transform.e))
    if crs is not None and crs.is_geographic:
        lat = float(transform.f + transform.e * height / 2.0)
        metres_per_degree = math.pi / 180.0 * 6371008.8
        return sx * metres_per_degree * math.cos(math.radians(max(-89.9, min(89.9, lat)))), sy * metres_per_degree
    factor = float(crs.linear_units_factor[1]) if crs is not None and crs.is_projected else 1.0
    return sx * factor, sy * factor


def pixel_size_m(crs: CRS, transform: Affine, height: int) -> float:
    """Ground size in metres of a pixel's x side (see :func:`pixel_sides_m`)."""
    return pixel_sides_m(crs, transform, height)[0]


#: The largest site grid (pixels): 50 x 50 km at 10 m. Sites are parade grounds, not provinces.
MAX_GRID_PIXELS = 25_000_000


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone holding (lon, lat) in degrees (326xx north, 327xx south)."""
    zone = min(60, max(1, math.floor((lon + 180.0) / 6.0) + 1))
    return (32600 if lat >= 0 else 32700) + zone


@dataclass(frozen=True)
class SiteGrid:
    """A north-up grid: ``crs``, ``transform`` (pixel corner origin), ``width`` x ``height`` pixels."""

    crs: CRS
    transform: Affine
    width: int
    height: int
    zone_masks: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    site_mask: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return (self.height, self.width)

    @property
    def resolution(self) -> float:
        """Pixel size in CRS units: metres for site grids (UTM)."""
        return float(self.transform.a)

    @property
    def pixel_size_m(self) -> float:
        """Pixel size in metres, also for geographic grids (``monitor diff`` on EPSG:4326 images)."""
        return pixel_size_m(self.crs, self.transform, self.height)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the grid CRS."""
        left, top = self.transform.c, self.transform.f
        return (left, top - self.height * self.resolution, left + self.width * self.resolution, top)

    def rasterize(self, geom_wgs84: Footprint) -> np.ndarray:
        """Boolean mask (rows, cols) of pixels whose centre falls inside a WGS84 polygon.

        Polygons too small to hold a pixel centre fall back to every pixel they touch, so a tiny zone
        is never silently empty.
        """
        projected = transform_geom("EPSG:4326", self.crs, mapping(geom_wgs84))
        for all_touched in (False, True):
            mask = rasterize(
                [projected],
                out_shape=self.shape,
                transform=self.transform,
                fill=0,
                default_value=1,
                dtype="uint8",
                all_touched=all_touched,
            ).astype(bool)
            if mask.any():
                break
        return mask

    def area_m2(self, mask: np.ndarray) -> float:
        """Ground area in m2 of the pixels set in ``mask``."""
        return float(mask.sum()) * self.resolution**2


def _check_size(
    site: SiteConfig, bounds: tuple[float, float, float, float], res: float
) -> tuple[float, float, int, int]:
    """(left, bottom, width, height) of the grid holding ``bounds`` at ``res`` metres; ConfigError if too large."""
    xmin, ymin, xmax, ymax = bounds
    left, bottom = math.floor(xmin / res) * res, math.floor(ymin / res) * res
    right, top = math.ceil(xmax / res) * res, math.ceil(ymax / res) * res
    width, height = round((right - left) / res), round((top - bottom) / res)
    if width * height > MAX_GRID_PIXELS:
        raise ConfigError(
            f"site {site.id!r} covers {width} x {height} px at {res:g} m, more than the {MAX_GRID_PIXELS:,} px a "
            "site may have: split it into smaller sites around what you watch"
        )
    return left, top, width, height


def site_grid(site: SiteConfig) -> SiteGrid:
    """The analysis grid of a site, with its zone masks, in the site's local UTM zone."""
    geom = footprint(site.bbox, site.geometry)
    centre = geom.centroid
    crs = CRS.from_epsg(utm_epsg(centre.x, centre.y))
    res = float(site.resolution)
    # An oversized site is refused from a coarse outline first: densifying a continent every 50 m would
    # take minutes before the same answer (its vertices lie on the fine outline's curves, so if the coarse
    # one is too large, so is the fine one).
    xmin, ymin, xmax, ymax = geom.bounds
    coarse = shape(transform_geom("EPSG:4326", crs, mapping(geom.segmentize(max(xmax - xmin, ymax - ymin) / 64))))
    _check_size(site, coarse.bounds, res)
    # Densify: straight lon/lat edges are curves in UTM, and the bounds must hold them.
    projected = shape(transform_geom("EPSG:4326", crs, mapping(geom.segmentize(0.0005))))
    left, top, width, height = _check_size(site, projected.bounds, res)
    grid = SiteGrid(crs=crs, transform=Affine(res, 0.0, left, 0.0, -res, top), width=width, height=height)
    masks = {zone.id: grid.rasterize(footprint(zone.bbox, zone.geometry)) for zone in site.zones}
    # A zone too small to hold a pixel centre falls back to the pixels it touches (see rasterize); the
    # site mask takes those pixels in too, so every zone stays inside its site.
    site_mask = grid.rasterize(geom)
    for mask in masks.values():
        site_mask |= mask
    return SiteGrid(
        crs=crs,
        transform=grid.transform,
        width=width,
        height=height,
        zone_masks=masks,
        site_mask=site_mask,
    )

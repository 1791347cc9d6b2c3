"""The site grid: UTM zone choice, snapped origin and size, bounds that hold the site, zone masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import Polygon

from monitor.config import SiteConfig, ZoneConfig
from monitor.grid import SiteGrid, site_grid, utm_epsg
from tests.conftest import CROWD_BBOX, SITE_BBOX, VEHICLE_BBOX

GRID_SETTINGS = settings(max_examples=60)  # deadline and health checks: the "monitor" profile in conftest


def _site(bbox: tuple[float, float, float, float], resolution: float = 10.0, **zones: tuple) -> SiteConfig:
    return SiteConfig(
        id="s",
        bbox=bbox,
        resolution=resolution,
        zones=[ZoneConfig(id=z, bbox=b) for z, b in zones.items()],
    )


def _edge_points(bbox: tuple[float, float, float, float], n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Points densely along the four edges of a lon/lat bbox."""
    xmin, ymin, xmax, ymax = bbox
    t = np.linspace(0.0, 1.0, n)
    lon = np.concatenate([xmin + (xmax - xmin) * t, np.full(n, xmax), xmax - (xmax - xmin) * t, np.full(n, xmin)])
    lat = np.concatenate([np.full(n, ymin), ymin + (ymax - ymin) * t, np.full(n, ymax), ymax - (ymax - ymin) * t])
    return lon, lat


def _projected_bounds(grid: SiteGrid, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    lon, lat = _edge_points(bbox)
    x, y = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(lon, lat)
    return float(x.min()), float(y.min()), float(x.max()), float(y.max())


def _projected_area(grid: SiteGrid, bbox: tuple[float, float, float, float]) -> float:
    """Area in m2 of a lon/lat bbox drawn in the grid CRS (a slightly rotated quadrilateral in UTM)."""
    lon, lat = _edge_points(bbox)
    x, y = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(lon, lat)
    return float(Polygon(zip(x, y, strict=True)).area)


def _is_multiple(value: float, res: float) -> bool:
    return abs(value / res - round(value / res)) < 1e-9


# --- utm_epsg -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (125.75, 39.02, 32651),  # Pyongyang
        (3.02, 50.8, 32631),  # Flanders
        (151.21, -33.87, 32756),  # Sydney
        (-58.38, -34.60, 32721),  # Buenos Aires
        (-74.0, 40.7, 32618),  # New York
        (0.0, 0.0, 32631),  # the equator belongs to the north
        (0.0, -0.0001, 32731),
        (-180.0, 10.0, 32601),
        (180.0, 10.0, 32660),  # lon 180 is the east edge of zone 60, not a zone 61
        (180.0, -10.0, 32760),
        (179.999, 10.0, 32660),
        (6.0, 45.0, 32632),  # a zone's west edge belongs to it
        (5.999999, 45.0, 32631),
    ],
)
def test_utm_epsg_known_places(lon: float, lat: float, epsg: int) -> None:
    assert utm_epsg(lon, lat) == epsg


@given(lon=st.floats(-180.0, 180.0), lat=st.floats(-80.0, 84.0))
def test_utm_zone_holds_the_point(lon: float, lat: float) -> None:
    epsg = utm_epsg(lon, lat)
    assert (32601 <= epsg <= 32660) if lat >= 0 else (32701 <= epsg <= 32760)
    central = -183.0 + 6.0 * (epsg % 100)
    assert abs(lon - central) <= 3.0 + 1e-9


# --- site_grid ----------------------------------------------------------------------------------------


def test_site_grid_of_the_test_site() -> None:
    grid = site_grid(_site(SITE_BBOX, square=CROWD_BBOX, parking=VEHICLE_BBOX))
    assert grid.crs.to_epsg() == 32651
    assert grid.resolution == 10.0 and grid.transform.e == -10.0 and grid.transform.b == grid.transform.d == 0
    assert 55 <= grid.width <= 70 and 55 <= grid.height <= 70  # about 600 x 610 m
    assert _is_multiple(grid.transform.c, 10.0) and _is_multiple(grid.transform.f, 10.0)
    assert set(grid.zone_masks) == {"square", "parking"}
    assert grid.site_mask is not None and grid.site_mask.shape == grid.shape
    # masks cover about the right ground area
    for zone_id, bbox in (("square", CROWD_BBOX), ("parking", VEHICLE_BBOX)):
        assert grid.area_m2(grid.zone_masks[zone_id]) == pytest.approx(_projected_area(grid, bbox), rel=0.1)
        assert not (grid.zone_masks["square"] & grid.zone_masks["parking"]).any()


@st.composite
def small_bboxes(draw: st.DrawFn) -> tuple[float, float, float, float]:
    lat0 = draw(st.floats(-80.0, 79.95))
    lon0 = draw(st.floats(-180.0, 179.95))
    width = draw(st.floats(0.0005, 0.05))
    height = draw(st.floats(0.0005, 0.05))
    return (lon0, lat0, min(180.0, lon0 + width), min(80.0, lat0 + height))


@GRID_SETTINGS
@given(bbox=small_bboxes(), resolution=st.sampled_from([3.0, 10.0, 20.0, 60.0]))
def test_grid_is_snapped_and_holds_the_bbox(bbox: tuple[float, float, float, float], resolution: float) -> None:
    grid = site_grid(_site(bbox, resolution))
    centre_lon, centre_lat = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    assert grid.crs.to_epsg() == utm_epsg(centre_lon, centre_lat)
    assert grid.resolution == resolution and grid.transform.e == -resolution
    left, bottom, right, top = grid.bounds
    for value in (left, bottom, right, top):
        assert _is_multiple(value, resolution)
    assert grid.width == round((right - left) / resolution) and grid.height == round((top - bottom) / resolution)
    xmin, ymin, xmax, ymax = _projected_bounds(grid, bbox)
    tol = 1e-6
    assert left <= xmin + tol and bottom <= ymin + tol and right >= xmax - tol and top >= ymax - tol
    # and no bigger than it needs to be: at most one pixel of slack on each side
    assert xmin - left < resolution + tol and ymin - bottom < resolution + tol
    assert right - xmax < resolution + tol and top - ymax < resolution + tol
    assert grid.site_mask is not None and grid.site_mask.any()


@st.composite
def sites_with_a_zone(draw: st.DrawFn) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float]]:
    """A site of about 1-5 km and a zone inside it, at least 10 % of the site's size from its edges."""
    lat0 = draw(st.floats(-75.0, 74.9))
    lon0 = draw(st.floats(-180.0, 179.95))
    size = draw(st.floats(0.01, 0.05))
    site = (lon0, lat0, lon0 + size, lat0 + size)
    fx0, fy0 = draw(st.floats(0.1, 0.8)), draw(st.floats(0.1, 0.8))
    fx1, fy1 = draw(st.floats(fx0 + 0.001, 0.9)), draw(st.floats(fy0 + 0.001, 0.9))
    zone = (lon0 + fx0 * size, lat0 + fy0 * size, lon0 + fx1 * size, lat0 + fy1 * size)
    return site, zone


@GRID_SETTINGS
@given(case=sites_with_a_zone())
def test_zone_masks_lie_inside_the_site_mask(
    case: tuple[tuple[float, float, float, float], tuple[float, float, float, float]],
) -> None:
    site_bbox, zone_bbox = case
    assume(zone_bbox[2] > zone_bbox[0] and zone_bbox[3] > zone_bbox[1])
    grid = site_grid(_site(site_bbox, z=zone_bbox))
    zone, site = grid.zone_masks["z"], grid.site_mask
    assert site is not None and zone.dtype == bool and zone.shape == grid.shape
    assert zone.sum() >= 1
    assert not (zone & ~site).any()


@pytest.mark.parametrize("where", ["centre", "near-edge-inside"])
def test_a_zone_smaller_than_a_pixel_gets_a_pixel(where: str) -> None:
    lon = 125.8435 if where == "centre" else 125.8402
    zone = (lon, 39.0125, lon + 0.00003, 39.01253)  # about 2.6 x 3.3 m
    grid = site_grid(_site(SITE_BBOX, tiny=zone))
    mask = grid.zone_masks["tiny"]
    assert 1 <= mask.sum() <= 4
    assert grid.site_mask is not None and not (mask & ~grid.site_mask).any()


# Regression: a sub-pixel zone falls back to the pixels it touches while the site mask was centre-based, so a tiny
# zone in the site's corner got a pixel outside the site mask.
def test_a_sub_pixel_zone_in_the_site_corner_stays_inside_the_site_mask() -> None:
    corner = (SITE_BBOX[0] + 0.00001, SITE_BBOX[1] + 0.00001, SITE_BBOX[0] + 0.00003, SITE_BBOX[1] + 0.00003)
    grid = site_grid(_site(SITE_BBOX, tiny=corner))
    mask = grid.zone_masks["tiny"]
    assert mask.sum() >= 1
    assert grid.site_mask is not None and not (mask & ~grid.site_mask).any()


def test_a_site_smaller_than_a_pixel_gets_a_pixel() -> None:
    grid = site_grid(_site((125.8435, 39.0125, 125.84353, 39.01253)))
    assert grid.site_mask is not None and 1 <= grid.site_mask.sum() <= 4
    assert 1 <= grid.width <= 2 and 1 <= grid.height <= 2


def test_three_metre_grid() -> None:
    coarse = site_grid(_site(SITE_BBOX, 10.0, square=CROWD_BBOX))
    fine = site_grid(_site(SITE_BBOX, 3.0, square=CROWD_BBOX))
    assert fine.resolution == 3.0 and fine.crs == coarse.crs
    assert _is_multiple(fine.transform.c, 3.0) and _is_multiple(fine.transform.f, 3.0)
    # the same extent, each snapped outward by less than one of its own pixels per side
    assert abs(fine.width * 3.0 - coarse.width * 10.0) < 2 * (10.0 + 3.0)
    assert abs(fine.height * 3.0 - coarse.height * 10.0) < 2 * (10.0 + 3.0)
    # the same ground area at both resolutions, the finer one closer to the truth
    truth = _projected_area(fine, CROWD_BBOX)
    assert fine.area_m2(fine.zone_masks["square"]) == pytest.approx(truth, rel=0.03)
    assert abs(fine.area_m2(fine.zone_masks["square"]) - truth) <= abs(
        coarse.area_m2(coarse.zone_masks["square"]) - truth
    )
    assert fine.site_mask is not None and coarse.site_mask is not None
    assert fine.area_m2(fine.site_mask) == pytest.approx(coarse.area_m2(coarse.site_mask), rel=0.05)


def test_grid_bounds_and_shape_agree() -> None:
    grid = site_grid(_site(SITE_BBOX))
    left, bottom, right, top = grid.bounds
    assert (right - left, top - bottom) == (grid.width * 10.0, grid.height * 10.0)
    assert grid.shape == (grid.height, grid.width)
    assert math.isclose(grid.area_m2(np.ones(grid.shape, bool)), grid.width * grid.height * 100.0)

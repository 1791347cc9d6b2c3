"""Where the held-out zones lie on the real Flanders patch, and their shapes and surfaces.

The patch (``../shared/data/worldcereal-flanders``) is 64 x 64 px of 10 m in EPSG:32631, origin
(501360, 5629680). Zones are unions of pixel rectangles (rows and columns on that 10 m grid, half-open),
60 m to 400 m across, with shapes the other injectors do not use: an L-shaped square, a 400 m x 50 m
road strip, a square dirt ground with a grass edge, a concrete apron, a 60 m pad, a civilian car park
and a construction yard, spread over every part of the patch (so real clouds cover some of them, partly,
on many dates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.holdout import spectra

PATCH_ORIGIN = (501360.0, 5629680.0)  # x_min, y_max (EPSG:32631)
PATCH_PX = 64
PIXEL_M = 10.0
CRS = "EPSG:32631"


@dataclass(frozen=True)
class Rect:
    """Half-open pixel rectangle on the patch grid: rows r0..r1, columns c0..c1 (10 m pixels)."""

    r0: int
    r1: int
    c0: int
    c1: int


@dataclass(frozen=True)
class Zone:
    """A held-out zone: id, the kind the monitor watches it for, its shape and its ground material."""

    id: str
    kind: str  # crowd | vehicle | any
    rects: tuple[Rect, ...]
    ground: spectra.Material
    grass_edge_px: int = 0  # width of a grass border (on its south and west sides), 10 m pixels
    description: str = ""

    @property
    def bounds(self) -> Rect:
        """The bounding rectangle of the zone's pixel rectangles."""
        return Rect(
            min(r.r0 for r in self.rects),
            max(r.r1 for r in self.rects),
            min(r.c0 for r in self.rects),
            max(r.c1 for r in self.rects),
        )

    def mask(
        self, shape: tuple[int, int] = (PATCH_PX, PATCH_PX), factor: int = 1, origin: tuple[int, int] = (0, 0)
    ) -> np.ndarray:
        """Boolean footprint on a grid ``factor`` times finer than the patch, whose (0, 0) is patch pixel ``origin``."""
        m = np.zeros(shape, dtype=bool)
        for r in self.rects:
            m[
                max(0, (r.r0 - origin[0]) * factor) : max(0, (r.r1 - origin[0]) * factor),
                max(0, (r.c0 - origin[1]) * factor) : max(0, (r.c1 - origin[1]) * factor),
            ] = True
        return m

    def area_m2(self) -> float:
        """Footprint area in m^2."""
        return float(self.mask().sum()) * PIXEL_M * PIXEL_M


ZONES: tuple[Zone, ...] = (
    Zone(
        "l-square",
        "crowd",
        (Rect(10, 17, 2, 24), Rect(17, 28, 2, 9)),
        spectra.CONCRETE,
        description="L-shaped concrete parade square, arms 220 m x 70 m and 180 m x 70 m (north-west)",
    ),
    Zone(
        "road-strip",
        "any",
        (Rect(2, 7, 12, 52),),
        spectra.ASPHALT_AGED,
        description="400 m x 50 m asphalt road and parking strip (north edge)",
    ),
    Zone(
        "apron",
        "vehicle",
        (Rect(10, 19, 40, 52),),
        spectra.CONCRETE,
        description="120 m x 90 m concrete apron (north-east)",
    ),
    Zone(
        "dirt-ground",
        "any",
        (Rect(32, 48, 14, 30),),
        spectra.GRAVEL,
        grass_edge_px=2,
        description="160 m x 160 m gravel and dirt training ground, 20 m grass border south and west (centre-west)",
    ),
    Zone(
        "pad",
        "crowd",
        (Rect(24, 30, 54, 60),),
        spectra.ASPHALT_AGED,
        description="60 m x 60 m asphalt pad (east)",
    ),
    Zone(
        "car-park",
        "vehicle",
        (Rect(52, 58, 4, 11),),
        spectra.ASPHALT_AGED,
        description="70 m x 60 m civilian car park, always about full (south-west): a confounder",
    ),
    Zone(
        "yard",
        "any",
        (Rect(50, 58, 46, 52),),
        spectra.GRAVEL,
        description=(
            "60 m x 80 m construction yard filling slowly, a tower crane from May 2018 (south-east): a confounder"
        ),
    ),
)


def zone(zone_id: str) -> Zone:
    """The zone with this id."""
    for z in ZONES:
        if z.id == zone_id:
            return z
    raise KeyError(zone_id)


def pixel_to_xy(row: float, col: float) -> tuple[float, float]:
    """Patch pixel corner (row, col) to EPSG:32631 (x, y) metres."""
    return PATCH_ORIGIN[0] + col * PIXEL_M, PATCH_ORIGIN[1] - row * PIXEL_M


def patch_center_lonlat() -> tuple[float, float]:
    """(lon, lat) of the patch centre, for the sun's position."""
    from pyproj import Transformer

    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    x, y = pixel_to_xy(PATCH_PX / 2, PATCH_PX / 2)
    lon, lat = to_ll.transform(x, y)
    return float(lon), float(lat)


def site_bbox(inset_m: float = 5.0) -> list[float]:
    """WGS84 bbox of the patch shrunk by ``inset_m`` (the site must not reach past the imagery)."""
    from pyproj import Transformer

    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    x0, y1 = pixel_to_xy(0, 0)
    x1, y0 = pixel_to_xy(PATCH_PX, PATCH_PX)
    xs = [x0 + inset_m, x1 - inset_m]
    ys = [y0 + inset_m, y1 - inset_m]
    corners = [to_ll.transform(x, y) for x in xs for y in ys]
    # the largest box inside the four corners (the UTM box is slightly rotated in lon/lat)
    lons = sorted(c[0] for c in corners)
    lats = sorted(c[1] for c in corners)
    return [round(lons[1], 6), round(lats[1], 6), round(lons[2], 6), round(lats[2], 6)]


def write_geojson(z: Zone, path: Path) -> None:
    """The zone's outline as a GeoJSON Feature in WGS84 (an L stays an L)."""
    from pyproj import Transformer
    from shapely.geometry import box, mapping
    from shapely.ops import transform, unary_union

    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    boxes = []
    for r in z.rects:
        xa, ya = pixel_to_xy(r.r1, r.c0)
        xb, yb = pixel_to_xy(r.r0, r.c1)
        boxes.append(box(xa, ya, xb, yb))
    shape = unary_union(boxes).simplify(0.01)

    def to_lonlat(x: float, y: float, z: float | None = None) -> tuple[float, ...]:
        lon, lat = to_ll.transform(x, y)
        return float(lon), float(lat)

    ll = transform(to_lonlat, shape)
    feature = {"type": "Feature", "properties": {"id": z.id}, "geometry": mapping(ll)}
    path.write_text(json.dumps(feature))

"""The fixed layout of the simulated Mirim-like site: land-cover legend, painted features and zones.

Everything here is plain immutable data in pixel coordinates of the site grid (see :mod:`.grid`; 10 m pixels,
row 0 at the north edge, column 0 at the west edge). The ground generator paints these rectangles; the zone
rectangles are where formations are placed, and their WGS84 bboxes (the demo config's zones) are derived
from the same rectangles, so zones and painted areas match.

Layout of the 402 x 347 px grid (about 4.0 x 3.5 km)::

    north:  barracks blocks (NW, NE), a boulevard, the grandstand north of the replica square
    centre: replica square (concrete, 460 x 260 m), concrete approach down to the parade track
    middle: parade track (asphalt, 80 m wide, 3.4 km long, west-east) with tree belts
    south:  west parking (asphalt, 460 x 340 m), assembly apron (asphalt, 560 x 220 m),
            bare-soil training field, barracks (SE), a pond (SW)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from .grid import LonLatBBox, Rect

ZoneKind = Literal["crowd", "vehicle", "any"]
"""What a zone watches for, as in the monitor config: ``crowd`` | ``vehicle`` | ``any``."""


class LandCover(IntEnum):
    """Ground classes of the class map (uint8 codes)."""

    GRASS = 1
    TREES = 2
    SOIL = 3
    CONCRETE = 4
    ASPHALT = 5
    ROOF_BRIGHT = 6
    ROOF_DARK = 7
    WATER = 8


@dataclass(frozen=True)
class Zone:
    """A watched zone: config id, kind and its pixel rectangle (formations are drawn strictly inside)."""

    id: str
    kind: ZoneKind
    rect: Rect


@dataclass(frozen=True)
class Feature:
    """A rectangle painted with one land-cover class (later features paint over earlier ones)."""

    cover: LandCover
    rect: Rect


@dataclass(frozen=True)
class Pond:
    """An elliptical water body: centre and semi-axes in pixels."""

    row: float
    col: float
    radius_rows: float
    radius_cols: float


@dataclass(frozen=True)
class SiteLayout:
    """A complete site layout.

    Attributes:
        site_id: config id of the site.
        bbox: WGS84 bbox of the site; the grid is derived from it.
        features: fixed painted rectangles, in paint order.
        building_areas: rectangles filled procedurally (seeded) with barracks rows and lanes.
        pond: the water body.
        zones: watched zones; their rectangles are also painted by ``features``.
        zone_margin_px: pixels around each zone kept free of procedural trees, soil and buildings.
    """

    site_id: str
    bbox: LonLatBBox
    features: tuple[Feature, ...]
    building_areas: tuple[Rect, ...]
    pond: Pond
    zones: tuple[Zone, ...]
    zone_margin_px: int = 5

    def zone(self, zone_id: str) -> Zone:
        """The zone with this id (``KeyError`` if absent)."""
        for zone in self.zones:
            if zone.id == zone_id:
                return zone
        raise KeyError(zone_id)


SQUARE_ZONE_ID = "replica-square"
PARKING_ZONE_ID = "west-parking"
APRON_ZONE_ID = "assembly-apron"

REPLICA_SQUARE = Rect(120, 236, 146, 282)
"""Paved concrete replica square, 260 m N-S x 460 m W-E: troop-block rehearsals."""

WEST_PARKING = Rect(182, 40, 216, 86)
"""Asphalt parking area at the west end, 340 x 460 m: the vehicle park."""

ASSEMBLY_APRON = Rect(180, 150, 202, 206)
"""Asphalt apron south of the parade track, 220 x 560 m: vehicle columns forming up."""

_C = LandCover

MIRIM_LAYOUT = SiteLayout(
    site_id="mirim",
    bbox=(125.825, 39.005, 125.870, 39.035),
    features=(
        Feature(_C.SOIL, Rect(226, 110, 296, 250)),  # bare-soil training field
        Feature(_C.TREES, Rect(160, 40, 164, 230)),  # tree belt north of the track (west part)
        Feature(_C.TREES, Rect(160, 290, 164, 372)),  # tree belt north of the track (east part)
        Feature(_C.ASPHALT, Rect(166, 30, 174, 372)),  # parade track, 80 m wide
        Feature(_C.ASPHALT, Rect(98, 180, 102, 340)),  # northern boulevard
        Feature(_C.ASPHALT, Rect(40, 300, 320, 304)),  # north-south road, east
        Feature(_C.ASPHALT, Rect(30, 100, 166, 104)),  # north-south road, west
        Feature(_C.CONCRETE, REPLICA_SQUARE),
        Feature(_C.CONCRETE, Rect(146, 252, 166, 266)),  # approach from the square to the track
        Feature(_C.ROOF_BRIGHT, Rect(110, 246, 116, 272)),  # grandstand
        Feature(_C.ROOF_DARK, Rect(108, 274, 116, 282)),  # grandstand annex
        Feature(_C.ASPHALT, WEST_PARKING),
        Feature(_C.ASPHALT, Rect(174, 56, 182, 70)),  # parking access
        Feature(_C.ASPHALT, ASSEMBLY_APRON),
        Feature(_C.ASPHALT, Rect(174, 170, 180, 186)),  # apron access
    ),
    building_areas=(Rect(36, 30, 92, 96), Rect(40, 320, 92, 380), Rect(222, 310, 312, 372)),
    pond=Pond(row=300.0, col=60.0, radius_rows=9.0, radius_cols=16.0),
    zones=(
        Zone(SQUARE_ZONE_ID, "crowd", REPLICA_SQUARE),
        Zone(PARKING_ZONE_ID, "vehicle", WEST_PARKING),
        Zone(APRON_ZONE_ID, "any", ASSEMBLY_APRON),
    ),
)
"""The Mirim-like demo site."""

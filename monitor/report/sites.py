"""The configured sites and zones as an analyst checks them (``monitor sites``): kind, area, the analysis
grid, and the zones as RFC 7946 GeoJSON features for QGIS.

Areas are geodesic (WGS84 ellipsoid, pyproj), in m2: the area of the configured footprint, not of the
pixels. ``pixels`` is how many grid pixels the zone is scored on (pixel centres inside it), so
``pixels * resolution_m ** 2`` is the area the scores actually cover; the two differ most for small zones.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from pyproj import Geod
from shapely.geometry import mapping

from monitor.config import Config, SiteConfig
from monitor.geometry import Footprint, footprint
from monitor.grid import SiteGrid, site_grid

_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class GridInfo:
    """A site's analysis grid: CRS, size in pixels, pixel size (m) and upper-left corner (CRS metres)."""

    crs: str
    width: int
    height: int
    resolution_m: float
    origin: tuple[float, float]


@dataclass(frozen=True)
class ZoneInfo:
    """One zone: id, name, kind (crowd | vehicle | any), geodesic area (m2), scored pixels, WGS84 bounds."""

    id: str
    name: str | None
    kind: str
    area_m2: float
    pixels: int
    bounds: tuple[float, float, float, float]


@dataclass(frozen=True)
class SiteInfo:
    """One site with its grid and zones."""

    id: str
    name: str | None
    area_m2: float
    bounds: tuple[float, float, float, float]
    grid: GridInfo
    zones: tuple[ZoneInfo, ...]


def geodesic_area_m2(geom: Footprint) -> float:
    """Area of a WGS84 polygon on the ellipsoid, m2 (always positive)."""
    return abs(float(_GEOD.geometry_area_perimeter(geom)[0]))


def _bounds(geom: Footprint) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = geom.bounds
    return (round(xmin, 7), round(ymin, 7), round(xmax, 7), round(ymax, 7))


def describe_site(site: SiteConfig, grid: SiteGrid | None = None) -> SiteInfo:
    """A site's description; ``grid`` defaults to the one :func:`monitor.grid.site_grid` builds."""
    grid = grid or site_grid(site)
    geom = footprint(site.bbox, site.geometry)
    zones = tuple(
        ZoneInfo(
            id=z.id,
            name=z.name,
            kind=z.kind,
            area_m2=round(geodesic_area_m2(footprint(z.bbox, z.geometry)), 1),
            pixels=int(grid.zone_masks[z.id].sum()),
            bounds=_bounds(footprint(z.bbox, z.geometry)),
        )
        for z in site.zones
    )
    t = grid.transform
    return SiteInfo(
        id=site.id,
        name=site.name,
        area_m2=round(geodesic_area_m2(geom), 1),
        bounds=_bounds(geom),
        grid=GridInfo(grid.crs.to_string(), grid.width, grid.height, grid.resolution, (t.c, t.f)),
        zones=zones,
    )


def describe(config: Config, site: str | None = None) -> tuple[SiteInfo, ...]:
    """Every configured site (or the one named), in config order."""
    sites = [config.site(site)] if site is not None else config.sites
    return tuple(describe_site(s) for s in sites)


def _km2(area_m2: float) -> str:
    return f"{area_m2 / 1e6:.3f} km2" if area_m2 >= 1e5 else f"{area_m2:,.0f} m2"


def to_text(sites: tuple[SiteInfo, ...]) -> str:
    """One block per site: its grid, then one line per zone (kind, area, scored pixels, bounds)."""
    lines: list[str] = []
    for s in sites:
        g = s.grid
        lines.append(f"{s.id}  {s.name or ''}".rstrip())
        lines.append(
            f"  area {_km2(s.area_m2)}; grid {g.width} x {g.height} px at {g.resolution_m:g} m in {g.crs}, "
            f"upper-left ({g.origin[0]:.0f}, {g.origin[1]:.0f})"
        )
        lines.append(f"  bounds (lon/lat) {', '.join(f'{v:.5f}' for v in s.bounds)}")
        if not s.zones:
            lines.append("  no zones: the whole site is scored as one zone, 'site'")
        width = max((len(z.id) for z in s.zones), default=0)
        for z in s.zones:
            lines.append(
                f"  {z.id:<{width}}  {z.kind:<7}  {_km2(z.area_m2):>12}  {z.pixels:>6} px  "
                f"[{', '.join(f'{v:.5f}' for v in z.bounds)}]{'  ' + z.name if z.name else ''}"
            )
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def to_json(sites: tuple[SiteInfo, ...]) -> str:
    """The descriptions as a JSON array."""
    return json.dumps([asdict(s) for s in sites], indent=2) + "\n"


def to_geojson(config: Config, sites: tuple[SiteInfo, ...]) -> str:
    """Every zone (and every site outline, ``role`` "site") as a RFC 7946 FeatureCollection: WGS84
    lon/lat, counter-clockwise exterior rings, properties ``site``, ``zone``, ``kind``, ``name``,
    ``area_m2``, ``role``. QGIS opens it as one layer; style by ``kind``."""
    from shapely.geometry.polygon import orient

    def oriented(geom: Footprint) -> dict[str, Any]:
        if geom.geom_type == "Polygon":
            return dict(mapping(orient(geom, sign=1.0)))
        return dict(mapping(type(geom)([orient(p, sign=1.0) for p in geom.geoms])))

    features = []
    for info in sites:
        site = config.site(info.id)
        features.append(
            {
                "type": "Feature",
                "id": info.id,
                "geometry": oriented(footprint(site.bbox, site.geometry)),
                "properties": {
                    "role": "site",
                    "site": info.id,
                    "zone": None,
                    "kind": None,
                    "name": info.name,
                    "area_m2": info.area_m2,
                },
            }
        )
        for zone, z in zip(site.zones, info.zones, strict=True):
            features.append(
                {
                    "type": "Feature",
                    "id": f"{info.id}/{z.id}",
                    "geometry": oriented(footprint(zone.bbox, zone.geometry)),
                    "properties": {
                        "role": "zone",
                        "site": info.id,
                        "zone": z.id,
                        "kind": z.kind,
                        "name": z.name,
                        "area_m2": z.area_m2,
                    },
                }
            )
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=2) + "\n"

"""``monitor sites --map``: a site's configured zones over its latest clear optical scene in the archive.

The scene is the newest readable optical scene with at least :data:`CLEAR_FRACTION` of the site clear;
when there is none, the clearest one; when the archive holds no optical scene (or no archive exists
yet), the zones are drawn on an empty grid and the title says so.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon

from monitor.archive.catalogue import Catalogue
from monitor.archive.crops import read_crop_file
from monitor.archive.records import SceneRecord, SceneStatus
from monitor.config import Config, SiteConfig
from monitor.errors import MonitorError
from monitor.geometry import footprint
from monitor.grid import SiteGrid, site_grid
from monitor.pipeline.evidence import display_rgb
from monitor.render.evidence import credit_line
from monitor.render.sitemap import AxisTicks, ZoneOutline, render_site_map
from monitor.sensors import is_radar

log = logging.getLogger(__name__)

#: Share of the site that must be clear for a scene to count as clear, 0..1.
CLEAR_FRACTION = 0.9


@dataclass(frozen=True)
class SiteMap:
    """Where the map went and which scene is under the zones (None: no scene, an empty grid)."""

    path: Path
    scene_id: str | None
    usable_fraction: float | None


def choose_scene(scenes: list[SceneRecord]) -> SceneRecord | None:
    """The newest optical scene with a crop that is at least :data:`CLEAR_FRACTION` clear, else the clearest
    (newest first among equals); None when there is no optical scene with a crop."""
    optical = [s for s in scenes if s.status is SceneStatus.OK and s.crop and not is_radar(s.sensor, ())]
    clear = [s for s in optical if s.usable_fraction >= CLEAR_FRACTION]
    if clear:
        return max(clear, key=lambda s: s.acquired or "")
    return max(optical, key=lambda s: (s.usable_fraction, s.acquired or ""), default=None)


def _to_pixels(grid: SiteGrid, transformer: Transformer, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x, y = transformer.transform(lon, lat)
    col, row = ~grid.transform * (np.asarray(x), np.asarray(y))
    return np.column_stack([col, row])


def zone_outlines(site: SiteConfig, grid: SiteGrid) -> tuple[ZoneOutline, ...]:
    """Each zone's exterior ring(s) in grid pixel coordinates (densified: straight lon/lat edges bend in UTM)."""
    transformer = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    out = []
    for zone in site.zones:
        geom = footprint(zone.bbox, zone.geometry).segmentize(0.0002)
        polygons = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
        rings = []
        for polygon in polygons:
            assert isinstance(polygon, Polygon)
            lon, lat = (np.asarray(v) for v in polygon.exterior.xy)
            rings.append(_to_pixels(grid, transformer, lon, lat))
        out.append(ZoneOutline(zone.id, zone.kind, tuple(rings)))
    return tuple(out)


def _step(span: float) -> float:
    """A round tick step in degrees giving 3 to 7 ticks over ``span`` degrees."""
    for step in (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0):
        if span / step <= 7:
            return step
    return 1.0


def lonlat_ticks(site: SiteConfig, grid: SiteGrid) -> AxisTicks:
    """Longitude ticks along the grid's middle row and latitude ticks along its middle column (UTM is
    nearly north-up over a few km: the error is well under a pixel at the edge of a site)."""
    xmin, ymin, xmax, ymax = footprint(site.bbox, site.geometry).bounds
    transformer = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    mid_lon, mid_lat = (xmin + xmax) / 2, (ymin + ymax) / 2
    ticks = []
    for lo, hi, along in ((xmin, xmax, "lon"), (ymin, ymax, "lat")):
        step = _step(hi - lo)
        values = np.arange(math.ceil(lo / step) * step, hi + step / 2, step)
        lon = values if along == "lon" else np.full(values.shape, mid_lon)
        lat = values if along == "lat" else np.full(values.shape, mid_lat)
        pixels = _to_pixels(grid, transformer, lon, lat)
        axis = 0 if along == "lon" else 1
        digits = max(0, -math.floor(math.log10(step)))
        suffix = "E" if along == "lon" else "N"
        ticks.append(tuple((float(p[axis]), f"{v:.{digits}f}{suffix}") for p, v in zip(pixels, values, strict=True)))
    return AxisTicks(x=ticks[0], y=ticks[1])


def draw_site_map(config: Config, site_id: str, out: Path) -> SiteMap:
    """Draw ``site_id``'s zones over its latest clear scene into ``out`` (PNG). Reads the archive only."""
    site = config.site(site_id)
    grid = site_grid(site)
    row: SceneRecord | None = None
    if (config.data_dir / Catalogue.FILENAME).exists():
        with Catalogue(config.data_dir, readonly=True) as catalogue:
            row = choose_scene(catalogue.scenes(site=site.id, status=SceneStatus.OK))
    rgb = None
    simulated = False
    if row is not None:
        try:
            scene = read_crop_file(Path(row.crop or ""))
        except MonitorError as exc:
            log.warning(
                "site %s: cannot read the crop of %s (%s): drawing the zones on an empty grid",
                site.id,
                row.scene_id,
                exc,
            )
            row = None
        else:
            full = (slice(0, grid.height), slice(0, grid.width))
            rgb = display_rgb(scene, scene.bands, full)
            simulated = scene.simulated
    name = site.name or site.id
    if row is None:
        title = f"{name}: zones as configured\nno optical scene in the archive yet (run `monitor run`): no imagery"
        credit = "Zone outlines from the config; no imagery"
    else:
        title = (
            f"{'SIMULATED - ' if simulated else ''}{name}: zones as configured\nover {row.scene_id} "
            f"({str(row.acquired)[:16].replace('T', ' ')} UTC, "
            f"{100 * row.usable_fraction:.0f}% of the site clear)"
        )
        credit = credit_line(simulated, int(str(row.acquired)[:4]))
    path = render_site_map(
        out, rgb, grid.shape, zone_outlines(site, grid), lonlat_ticks(site, grid), grid.resolution, title, credit
    )
    return SiteMap(path, row.scene_id if row else None, row.usable_fraction if row else None)

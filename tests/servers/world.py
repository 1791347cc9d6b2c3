"""A small world of Sentinel-2 tiles over the synthetic test site, served by a file server and a STAC API.

Tile ``51SYD`` (EPSG:32651) covers the west half of the site, tile ``52SBJ`` (EPSG:32652) the east half,
so a scene only covers the whole site when both are mosaicked.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from rasterio.warp import transform_bounds

from monitor.config import SiteConfig, ZoneConfig
from monitor.grid import SiteGrid, site_grid
from tests.conftest import CROWD_BBOX, SITE_BBOX, VEHICLE_BBOX
from tests.servers.cogs import s2_tile
from tests.servers.http import Files, Server
from tests.servers.stac import StacApi, earth_search_item

#: True surface reflectance of the ground in every tile (after the offset is removed).
REFLECTANCE = {"B02": 0.05, "B03": 0.08, "B04": 0.10, "B08": 0.30}
ES_KEYS = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "SCL": "scl"}
TILE_PX = 1024


@lru_cache(maxsize=32)
def _tile(
    crs: str, left: float, top: float, reflectance: tuple[tuple[str, float], ...], offset: int, scl: int
) -> dict[str, bytes]:
    """Band COGs of one tile (cached: building them is the slow part of these tests)."""
    return s2_tile(
        crs=crs,
        left=left,
        top=top,
        width_px=TILE_PX,
        height_px=TILE_PX,
        reflectance=dict(reflectance),
        offset=offset,
        scl=scl,
    )


@dataclass
class World:
    grid: SiteGrid
    files: Server
    stac: Server
    api: StacApi
    store: Files
    tiles: dict[str, tuple[str, float, float]] = field(default_factory=dict)  # code -> (crs, left, top)

    def layout(self) -> None:
        """Place the two tiles so that each covers one half (plus 50 m) of the site."""
        left, bottom, right, top = self.grid.bounds
        mid = math.floor((left + right) / 2 / 10) * 10
        self.tiles["51SYD"] = ("EPSG:32651", mid + 50 - TILE_PX * 10, math.ceil(top / 10) * 10 + 2000)
        l52, _b52, _r52, t52 = transform_bounds(self.grid.crs, "EPSG:32652", mid, bottom, right, top)
        self.tiles["52SBJ"] = ("EPSG:32652", math.floor(l52 / 10) * 10 - 50, math.ceil(t52 / 10) * 10 + 2000)

    def add_scene(
        self,
        when: datetime,
        *,
        tiles: tuple[str, ...] = ("51SYD", "52SBJ"),
        platform: str = "sentinel-2b",
        orbit: int = 89,
        collection: str = "sentinel-2-l2a",
        baseline: str = "05.09",
        offset: int = 1000,
        offset_applied: bool = False,
        scl: int = 4,
        reflectance: dict[str, float] | None = None,
    ) -> list[dict[str, Any]]:
        """Serve the band COGs of one overpass and list its items in the STAC API; returns the items."""
        items = []
        for code in tiles:
            crs, left, top = self.tiles[code]
            cogs = _tile(crs, left, top, tuple(sorted((reflectance or REFLECTANCE).items())), offset, scl)
            hrefs = {}
            for band, payload in cogs.items():
                path = f"/{collection}/{code}/{when:%Y%m%d}/{band}.tif"
                self.store.files[path] = payload
                hrefs[ES_KEYS[band]] = f"{self.files.url}{path}"
            bbox = transform_bounds(crs, "EPSG:4326", left, top - TILE_PX * 10, left + TILE_PX * 10, top)
            items.append(
                earth_search_item(
                    tile=code,
                    when=when,
                    platform=platform,
                    orbit=orbit,
                    bbox=bbox,
                    hrefs=hrefs,
                    epsg=int(crs.split(":")[1]),
                    collection=collection,
                    baseline=baseline,
                    offset_applied=offset_applied,
                )
            )
        self.api.items.extend(items)
        return items


@contextmanager
def serve_world() -> Iterator[World]:
    """A file server with range support and a STAC API on 127.0.0.1 over the synthetic site (no tiles yet)."""
    site = SiteConfig(
        id="test-site",
        bbox=SITE_BBOX,
        zones=[ZoneConfig(id="square", kind="crowd", bbox=CROWD_BBOX), ZoneConfig(id="parking", bbox=VEHICLE_BBOX)],
    )
    store, api = Files(), StacApi()
    with Server(store) as files, Server(api) as stac:
        api.base = stac.url
        world = World(grid=site_grid(site), files=files, stac=stac, api=api, store=store)
        world.layout()
        yield world

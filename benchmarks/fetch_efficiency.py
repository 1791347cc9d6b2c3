"""Fetch efficiency of the Earth Search source against odc-stac, over a local HTTP server with latency.

Serves Sentinel-2-shaped COGs (1024 px blocks, DEFLATE, overviews; a scaled tile, 10 m bands + 20 m SCL)
from a range-request server that adds a fixed latency to every request, lists them in a local STAC API,
and fetches a Mirim-sized window (about 390 x 330 px) for N scenes, first with the monitor's
EarthSearchSource.read, then with odc.stac.load on the same items, bands and bbox. Prints per scene:
HTTP requests, bytes transferred, the byte floor (compressed size of the full-resolution COG blocks the
window touches plus each file's header) and wall time. Targets: bytes <= 1.1 x floor; wall time <= 0.8 x
odc-stac's.

    python benchmarks/fetch_efficiency.py --scenes 4 --tile-px 4096 --latency 0.05
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from affine import Affine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import SiteConfig, SourceConfig
from monitor.grid import site_grid
from monitor.sources.stac import EarthSearchSource
from tests.servers.cogs import byte_floor, cog_bytes
from tests.servers.http import Files, Server
from tests.servers.stac import StacApi, earth_search_item

MIRIM = (125.825, 39.005, 125.870, 39.035)
BANDS = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "SCL": "scl"}


def _field(shape: tuple[int, int], seed: int, base: float) -> np.ndarray:
    """Ground-like DN: smooth structure plus sensor noise (compresses like real imagery, ~1.5-2x)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    smooth = 400 * np.sin(x / 37.0) * np.cos(y / 53.0) + 300 * np.sin((x + y) / 211.0)
    return np.clip(base + 1000 + smooth + rng.normal(0, 60, shape), 1, 65535).astype(np.uint16)


def build(store: Files, files_url: str, grid, tile_px: int, scenes: int, prefix: str = "") -> list[dict]:  # type: ignore[no-untyped-def]
    """The COGs and items: one tile per scene placed so the window sits off the block grid, as in real tiles."""
    left, _, _, top = grid.bounds
    # the window starts a third of the way in and straddles block edges (1337 px: not a multiple of 1024)
    tile_left = float(np.floor(left / 10) * 10 - 10 * (tile_px // 3) - 13370)
    tile_top = float(np.ceil(top / 10) * 10 + 10 * (tile_px // 4) + 170)
    items = []
    t10 = Affine(10.0, 0.0, tile_left, 0.0, -10.0, tile_top)
    t20 = Affine(20.0, 0.0, tile_left, 0.0, -20.0, tile_top)
    payloads = {}
    for band, base in (("B02", 500), ("B03", 800), ("B04", 1000), ("B08", 3000)):
        payloads[band] = cog_bytes(
            _field((tile_px, tile_px), hash(band) % 100, base), crs=grid.crs.to_string(), transform=t10, blocksize=1024
        )
    scl = np.where(_field((tile_px // 2, tile_px // 2), 7, 0) > 1100, 4, 5).astype(np.uint8)
    payloads["SCL"] = cog_bytes(scl, crs=grid.crs.to_string(), transform=t20, blocksize=1024)
    t0 = datetime(2025, 5, 1, 2, 25, 31, tzinfo=UTC)
    for i in range(scenes):
        when = t0 + timedelta(days=5 * i)
        hrefs = {}
        for band, payload in payloads.items():
            path = f"/{prefix}scene{i}/{band}.tif"
            store.files[path] = payload  # same bytes per scene: the floor is the same; GDAL caches per URL
            hrefs[BANDS[band]] = files_url + path
        from rasterio.warp import transform_bounds

        bbox = transform_bounds(
            grid.crs, "EPSG:4326", tile_left, tile_top - 10 * tile_px, tile_left + 10 * tile_px, tile_top
        )
        item = earth_search_item(
            tile="51SYD",
            when=when,
            platform="sentinel-2a",
            orbit=89 + i,
            bbox=bbox,
            hrefs=hrefs,
            epsg=grid.crs.to_epsg(),
        )
        item["stac_extensions"] = ["https://stac-extensions.github.io/projection/v1.1.0/schema.json"]
        for key, asset in item["assets"].items():
            if key in BANDS.values():
                px = tile_px // 2 if key == "scl" else tile_px
                res = 20.0 if key == "scl" else 10.0
                asset["proj:shape"] = [px, px]
                asset["proj:transform"] = [res, 0.0, tile_left, 0.0, -res, tile_top]
                asset["proj:epsg"] = grid.crs.to_epsg()
        items.append(item)
    return items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--tile-px", type=int, default=4096, help="tile width in 10 m pixels (real: 10980)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every HTTP request")
    parser.add_argument("--odc-pool", type=int, default=None, help="threads for odc.stac.load (default: its own)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    site = SiteConfig(id="mirim", bbox=MIRIM)
    grid = site_grid(site)
    store, api = Files(), StacApi()
    with Server(store) as files, Server(api) as stac:
        api.base = stac.url
        api.items.extend(build(store, files.url, grid, args.tile_px, args.scenes))
        # the same COGs under other URLs for odc-stac, so that neither reader profits from GDAL's cache of the other
        items = build(store, files.url, grid, args.tile_px, args.scenes, prefix="odc/")
        floor = sum(sum(byte_floor(store.files[f"/scene0/{b}.tif"], grid)) for b in BANDS)
        files.latency = args.latency
        print(
            f"site grid {grid.width} x {grid.height} px; tile {args.tile_px} px, 1024 px blocks, DEFLATE; "
            f"latency {args.latency * 1000:.0f} ms/request; byte floor per scene {floor / 1e6:.3f} MB"
        )

        source = EarthSearchSource(SourceConfig(kind="earth-search", url=stac.url))
        refs = source.search(site, None, None)
        print("\nmonitor (EarthSearchSource.read)")
        print(f"{'scene':<22}{'requests':>9}{'MB':>9}{'floor MB':>10}{'x floor':>9}{'seconds':>9}")
        ours = []
        for ref in refs:
            files.log.clear()
            start = time.perf_counter()
            scene = source.read(ref, grid)
            wall = time.perf_counter() - start
            sent = sum(e.sent for e in files.log)
            ours.append((len(files.log), sent, wall))
            assert scene.valid.any()
            print(
                f"{ref.scene_id:<22}{len(files.log):>9}{sent / 1e6:>9.3f}{floor / 1e6:>10.3f}"
                f"{sent / floor:>9.2f}{wall:>9.2f}"
            )

        import odc.stac
        import pystac

        odc.stac.configure_rio(cloud_defaults=True)
        pool = f"pool={args.odc_pool}" if args.odc_pool else "default pool"
        print(f"\nodc-stac (odc.stac.load, configure_rio(cloud_defaults=True), {pool})")
        print(f"{'scene':<22}{'requests':>9}{'MB':>9}{'floor MB':>10}{'x floor':>9}{'seconds':>9}")
        theirs = []
        for item in items:
            files.log.clear()
            start = time.perf_counter()
            ds = odc.stac.load(
                [pystac.Item.from_dict(item)],
                bands=list(BANDS.values()),
                bbox=MIRIM,
                crs=grid.crs.to_string(),
                resolution=10.0,
                resampling={"scl": "nearest"},
                pool=args.odc_pool,
            )
            ds.load()
            wall = time.perf_counter() - start
            sent = sum(e.sent for e in files.log)
            theirs.append((len(files.log), sent, wall))
            print(
                f"{item['id']:<22}{len(files.log):>9}{sent / 1e6:>9.3f}{floor / 1e6:>10.3f}"
                f"{sent / floor:>9.2f}{wall:>9.2f}"
            )

        our_wall = sum(w for _, _, w in ours)
        their_wall = sum(w for _, _, w in theirs)
        our_bytes = max(b for _, b, _ in ours)
        print(f"\nbytes: worst scene {our_bytes / floor:.3f} x floor (target <= 1.1)")
        print(f"wall: {our_wall:.2f} s vs odc-stac {their_wall:.2f} s = {our_wall / their_wall:.2f} x (target <= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

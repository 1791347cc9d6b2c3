"""Backfill throughput: scenes per minute with 1, 2 and 4 Dask workers, against odc-stac + Dask.

Serves Sentinel-2-shaped COGs (DEFLATE, 1024 px blocks, 10 m bands + 20 m SCL) from a local range-request
server that adds a fixed latency to every request, lists them in a local STAC API, and backfills a
Mirim-sized site (about 390 x 330 px at 10 m) over N scenes with ``monitor.pipeline.backfill`` (search,
fetch, register, score, alert: the whole thing) on a LocalCluster of 1, 2 and 4 single-threaded worker
processes. On each cluster, odc-stac then loads the same windows of the same scenes (same bands, CRS and
10 m grid) with ``odc.stac.load(..., chunks=...)`` computed on that cluster: loading only, no scoring.
Cluster start-up is not timed. Targets: 2 workers >= 1.7 x one worker; the backfill >= 2 x odc-stac's
throughput with the same workers.

    python benchmarks/backfill_throughput.py --scenes 24 --latency 0.05
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fetch_efficiency import BANDS, MIRIM, build
from monitor.config import SiteConfig, load_config
from monitor.grid import site_grid
from monitor.pipeline.backfill import backfill
from tests.servers.http import Files, Server
from tests.servers.stac import StacApi

CONFIG = """
[monitor]
data_dir = "{data}"

[[sources]]
kind = "earth-search"
url = "{url}"

[[sites]]
id = "mirim"
bbox = [{bbox}]

[detect]
warmup_scenes = 6
"""


def ours(stac_url: str, folder: Path, address: str) -> tuple[float, int]:
    """Backfill every scene on the cluster at ``address``: (seconds, scenes done)."""
    path = folder / "monitor.toml"
    path.write_text(CONFIG.format(data=folder / "data", url=stac_url, bbox=", ".join(map(str, MIRIM))))
    config = load_config(path, env={})
    start = time.perf_counter()
    summary = backfill(config, since=date(2025, 1, 1), scheduler=address)
    wall = time.perf_counter() - start
    assert not summary.errors and summary.waiting == 0, (summary.errors[:3], summary.waiting)
    return wall, summary.done


def theirs(items: list[dict], grid_crs: str, client: object) -> tuple[float, int]:  # type: ignore[type-arg]
    """odc.stac.load of the same windows, computed on the cluster: (seconds, scenes loaded)."""
    import odc.stac
    import pystac

    odc.stac.configure_rio(cloud_defaults=True, client=client)
    start = time.perf_counter()
    ds = odc.stac.load(
        [pystac.Item.from_dict(i) for i in items],
        bands=list(BANDS.values()),
        bbox=MIRIM,
        crs=grid_crs,
        resolution=10.0,
        resampling={"scl": "nearest"},
        chunks={"x": 2048, "y": 2048},
        groupby="id",
    )
    ds.compute()
    return time.perf_counter() - start, len(items)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=24)
    parser.add_argument("--tile-px", type=int, default=4096, help="tile width in 10 m pixels (real: 10980)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every HTTP request")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    from distributed import Client, LocalCluster

    grid = site_grid(SiteConfig(id="mirim", bbox=MIRIM))
    store, api = Files(), StacApi()
    with Server(store) as files, Server(api) as stac:
        api.base = stac.url
        print(
            f"site grid {grid.width} x {grid.height} px; {args.scenes} scenes on a {args.tile_px} px tile; "
            f"latency {args.latency * 1000:.0f} ms per request"
        )
        print(f"{'workers':>7}{'backfill scenes/min':>21}{'odc-stac scenes/min':>21}{'ratio':>7}{'vs 1 worker':>13}")
        first = None
        for n in args.workers:
            # fresh URLs per round: no reader profits from GDAL's cache of an earlier round
            store.files.clear()
            api.items[:] = build(store, files.url, grid, args.tile_px, args.scenes, prefix=f"w{n}/")
            odc_items = build(store, files.url, grid, args.tile_px, args.scenes, prefix=f"odc{n}/")
            files.latency = args.latency
            with (
                LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                ) as cluster,
                Client(cluster) as client,
                tempfile.TemporaryDirectory() as tmp,
            ):
                wall, done = ours(stac.url, Path(tmp), cluster.scheduler_address)
                rate = done / wall * 60
                odc_wall, loaded = theirs(odc_items, grid.crs.to_string(), client)
                odc_rate = loaded / odc_wall * 60
            files.latency = 0.0
            first = first or rate
            print(f"{n:>7}{rate:>21.1f}{odc_rate:>21.1f}{rate / odc_rate:>7.2f}{rate / first:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

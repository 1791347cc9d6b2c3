"""The Planetary Computer source over real HTTP: pystac-client against a local STAC API with items in the
Planetary Computer's shape, the planetary-computer package against a local SAS token endpoint (its
documented ``PC_SDK_SAS_URL`` setting), and GDAL reading blob hrefs through a local proxy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from rasterio.warp import transform_bounds

from monitor.archive.catalogue import Catalogue
from monitor.config import SiteConfig, SourceConfig, load_config
from monitor.errors import ConfigError
from monitor.grid import SiteGrid, site_grid
from monitor.pipeline.run import run
from monitor.sources import harmonise, make_source
from monitor.sources.planetary_computer import PlanetaryComputerSource
from monitor.sources.retry import RetryPolicy
from tests.conftest import SITE_BBOX, write_config
from tests.servers.blob import BlobStorage
from tests.servers.http import Server
from tests.servers.stac import StacApi, pc_item
from tests.servers.world import REFLECTANCE, TILE_PX, World, _tile

planetary_computer = pytest.importorskip("planetary_computer")

T0 = datetime(2025, 5, 1, 2, 25, 31, tzinfo=UTC)
ACCOUNT = "sentinel2l2a01"
CONTAINER = "sentinel2-l2"


@dataclass
class PC:
    stac: Server
    blob: Server
    api: StacApi
    store: BlobStorage
    grid: SiteGrid
    site: SiteConfig


@pytest.fixture
def pc(monkeypatch: pytest.MonkeyPatch) -> Iterator[PC]:
    from planetary_computer import sas
    from planetary_computer.settings import Settings

    site = SiteConfig(id="test-site", bbox=SITE_BBOX)
    store, api = BlobStorage(), StacApi()
    with Server(store) as blob, Server(api) as stac:
        api.base = stac.url
        monkeypatch.setenv("PC_SDK_SAS_URL", f"{blob.url}/api/sas/v1/token")
        Settings.get.cache_clear()
        sas.TOKEN_CACHE.clear()
        monkeypatch.setattr(PlanetaryComputerSource, "default_retry", RetryPolicy(attempts=3, backoff=0.05))
        monkeypatch.setattr(
            PlanetaryComputerSource,
            "default_gdal_options",
            {"GDAL_HTTP_PROXY": blob.url.removeprefix("http://"), "GDAL_HTTP_RETRY_DELAY": "0.1"},
        )
        yield PC(stac, blob, api, store, site_grid(site), site)
        Settings.get.cache_clear()
        sas.TOKEN_CACHE.clear()


def _add(pc: PC, when: datetime = T0) -> None:
    world = World(grid=pc.grid, files=pc.blob, stac=pc.stac, api=pc.api, store=pc.store.files)
    world.layout()
    for code in ("51SYD", "52SBJ"):
        crs, left, top = world.tiles[code]
        cogs = _tile(crs, left, top, tuple(sorted(REFLECTANCE.items())), 1000, 4)
        hrefs = {}
        for band, payload in cogs.items():
            path = f"/{CONTAINER}/{code}/{when:%Y/%m/%d}/{band}.tif"
            pc.store.files.files[f"/{ACCOUNT}.blob.core.windows.net{path}"] = payload
            hrefs[band] = f"http://{ACCOUNT}.blob.core.windows.net{path}"
        bbox = transform_bounds(crs, "EPSG:4326", left, top - TILE_PX * 10, left + TILE_PX * 10, top)
        pc.api.items.append(
            pc_item(tile=code, when=when, platform="Sentinel-2B", orbit=89, bbox=bbox, hrefs=hrefs, epsg=int(crs[5:]))
        )


def _source(pc: PC) -> PlanetaryComputerSource:
    source = make_source(SourceConfig(kind="planetary-computer", url=pc.stac.url))
    assert isinstance(source, PlanetaryComputerSource)
    return source


def test_reads_signed_blobs_and_harmonises(pc: PC) -> None:
    _add(pc)
    source = _source(pc)
    (ref,) = source.search(pc.site, None, None)
    assert ref.scene_id == "S2B_20250501_R089"  # the same id Earth Search gives this overpass
    scene = source.read(ref, pc.grid)
    assert scene.valid[pc.grid.site_mask].mean() == 1.0
    for band, value in REFLECTANCE.items():
        assert abs(float(np.median(scene.band(band)[scene.valid])) - value) < 0.003
    assert scene.provenance["harmonisation"] == harmonise.REMOVED
    blob_reads = [e for e in pc.blob.log if ".tif" in e.path]
    assert blob_reads and all("sig=" in e.path for e in blob_reads)
    assert len(pc.blob.requests("/api/sas/")) == 1  # one token per container, cached


def test_an_expired_signature_is_renewed(pc: PC) -> None:
    _add(pc)
    _add(pc, T0 + timedelta(days=10))
    source = _source(pc)
    first, second = source.search(pc.site, None, None)
    source.read(first, pc.grid)
    assert len(pc.store.issued) == 1
    pc.store.expire_all()  # the cached token looks valid for another hour, but the service refuses it
    scene = source.read(second, pc.grid)
    assert scene.valid[pc.grid.site_mask].mean() == 1.0
    assert len(pc.store.issued) == 2
    refused = [e for e in pc.blob.log if e.status == 403]
    assert refused and all(pc.store.issued[0] in e.path for e in refused)


def test_sentinel_1_collections_are_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match=r"sources\[1\]\.collections.*account"):
        make_source(SourceConfig(kind="planetary-computer", collections=["sentinel-1-rtc"]), index=1)
    with pytest.raises(ConfigError, match="sentinelhub"):
        make_source(SourceConfig(kind="planetary-computer", collections=["sentinel-1-grd"]))


def test_the_same_overpass_from_two_providers_is_stored_and_scored_once(pc: PC, tmp_path: Path) -> None:
    _add(pc)
    es_api = StacApi()
    with Server(es_api) as es:
        es_api.base = es.url
        world = World(grid=pc.grid, files=pc.blob, stac=es, api=es_api, store=pc.store.files)
        world.layout()
        world.add_scene(T0)  # the same overpass, in Earth Search's shape and paths
        path = write_config(tmp_path)
        path.write_text(
            path.read_text()
            .replace(
                '[[sources]]\nkind = "local"\npath = "imagery"',
                f'[[sources]]\nkind = "earth-search"\nurl = "{es.url}"\n'
                f'[[sources]]\nkind = "planetary-computer"\nurl = "{pc.stac.url}"\n'
                "[monitor.since]\n",
            )
            .replace("[monitor.since]\n", "")
        )
        text = path.read_text().replace('data_dir = "data"', 'data_dir = "data"\nsince = 2025-04-01')
        path.write_text(text)
        config = load_config(path)
        summary = run(config)
    assert summary.new_scenes == 1 and not summary.errors
    with Catalogue(config.data_dir, readonly=True) as cat:
        rows = cat.scenes()
    assert [(r["scene_id"], r["source"]) for r in rows] == [("S2B_20250501_R089", "earth-search")]
    assert not [e for e in pc.blob.log if ".blob.core.windows.net" in e.path]  # never fetched twice

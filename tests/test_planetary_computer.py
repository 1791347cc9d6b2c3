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
        # blob host names reach the stand-in as an HTTP proxy (requests for small files, GDAL for COGs)
        monkeypatch.setenv("http_proxy", blob.url)
        monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
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


def test_the_sentinel_1_collection_that_needs_an_account_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match=r"sources\[1\]\.collections.*account.*sentinel-1-grd"):
        make_source(SourceConfig(kind="planetary-computer", collections=["sentinel-1-rtc"]), index=1)
    source = make_source(SourceConfig(kind="planetary-computer"))
    assert isinstance(source, PlanetaryComputerSource)
    assert source.collections == ("sentinel-2-l2a", "sentinel-1-grd")


# --- Sentinel-1 GRD: radar geometry (GCPs), calibration to sigma0 ------------------------------------

SIGMA0 = {"VV": 0.12, "VH": 0.03}
A_SIGMA = 480.0  # sigmaNought calibration constant of the stand-in product


def _calibration_xml(lines: int, pixels: int, value: float = A_SIGMA) -> bytes:
    sampled = " ".join(str(p) for p in range(0, pixels, 100))
    vectors = "".join(
        f"<calibrationVector><azimuthTime>2025-05-01T09:34:19</azimuthTime><line>{line}</line>"
        f'<pixel count="{len(sampled.split())}">{sampled}</pixel>'
        f"<sigmaNought>{' '.join([str(value)] * len(sampled.split()))}</sigmaNought>"
        f"<betaNought>{' '.join(['400.0'] * len(sampled.split()))}</betaNought></calibrationVector>"
        for line in range(0, lines + 1, 100)
    )
    return f"<calibration><calibrationVectorList>{vectors}</calibrationVectorList></calibration>".encode()


def _sigma0_field(base: float, row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """sigma0 rising eastwards (with the column) and northwards (with the row, ascending geometry)."""
    return base + 2e-4 * col + 1e-4 * row


def _grd_tiff(grid: SiteGrid, value_sigma0: float) -> bytes:
    """A GRD-like measurement: uint16 DN in radar geometry (rows run south to north, as on an ascending
    pass), located only by a 6 x 6 grid of WGS84 GCPs."""
    from pyproj import Transformer
    from rasterio.control import GroundControlPoint
    from rasterio.io import MemoryFile

    height = width = 300
    left, bottom, _, _ = grid.bounds
    x0, y0 = left - 900.0, bottom - 700.0  # south-west corner of the slice, UTM metres
    to_wgs = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    gcps = []
    for row in np.linspace(0, height, 6):
        for col in np.linspace(0, width, 6):
            lon, lat = to_wgs.transform(x0 + 10 * col, y0 + 10 * row)  # row 0 is the southern edge
            gcps.append(GroundControlPoint(row=row, col=col, x=lon, y=lat, z=0.0))
    dn = np.round(np.sqrt(_sigma0_field(value_sigma0, *np.mgrid[0:height, 0:width] + 0.5)) * A_SIGMA).astype(np.uint16)
    dn[:, :20] = 0  # outside the swath
    with MemoryFile() as mem:
        with mem.open(
            driver="GTiff",
            width=width,
            height=height,
            count=1,
            dtype="uint16",
            tiled=True,
            blockxsize=256,
            blockysize=256,
            compress="deflate",
            gcps=gcps,
            crs="EPSG:4326",
        ) as dst:
            dst.write(dn, 1)
        return bytes(mem.read())


def _add_grd(pc: PC, when: datetime) -> None:
    account, container = "sentinel1euwest", "s1-grd"
    base = f"http://{account}.blob.core.windows.net/{container}/GRD/{when:%Y/%m/%d}/IW/DV"
    assets = {}
    for pol, value in SIGMA0.items():
        for key, path, payload in (
            (pol.lower(), f"/measurement/iw-{pol.lower()}.tiff", _grd_tiff(pc.grid, value)),
            (
                f"schema-calibration-{pol.lower()}",
                f"/annotation/calibration/calibration-iw-{pol.lower()}.xml",
                _calibration_xml(300, 300),
            ),
        ):
            pc.store.files.files[f"/{account}.blob.core.windows.net/{container}/GRD/{when:%Y/%m/%d}/IW/DV{path}"] = (
                payload
            )
            assets[key] = {"href": base + path, "roles": ["data"] if key == pol.lower() else ["metadata"]}
    left, bottom, right, top = transform_bounds(pc.grid.crs, "EPSG:4326", *pc.grid.bounds)
    item_id = f"S1A_IW_GRDH_1SDV_{when:%Y%m%dT%H%M%S}_{when:%Y%m%dT%H%M%S}_058000_072CDE"
    pc.api.items.append(
        {
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": [],
            "id": item_id,
            "collection": "sentinel-1-grd",
            "bbox": [left - 0.05, bottom - 0.05, right + 0.05, top + 0.05],
            "geometry": None,
            "links": [],
            "assets": assets,
            "properties": {
                "datetime": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "platform": "SENTINEL-1A",
                "constellation": "Sentinel-1",
                "sat:relative_orbit": 127,
                "sat:absolute_orbit": 58000,
                "sat:orbit_state": "ascending",
                "sar:instrument_mode": "IW",
                "sar:product_type": "GRD",
                "sar:polarizations": ["VV", "VH"],
            },
        }
    )


def test_grd_is_calibrated_to_sigma0_and_warped_through_its_gcps(pc: PC) -> None:
    when = datetime(2025, 5, 1, 9, 34, 19, tzinfo=UTC)
    _add_grd(pc, when)
    source = make_source(SourceConfig(kind="planetary-computer", url=pc.stac.url))
    (ref,) = source.search(pc.site, None, None)
    assert (ref.scene_id, ref.sensor) == ("S1A_20250501_R127", "S1")
    scene = source.read(ref, pc.grid)
    assert scene.bands == ("VV", "VH")
    # where each grid pixel centre lies in the slice: 900 m east and 700 m north of its south-west corner
    left, bottom, _, top = pc.grid.bounds
    rows, cols = np.mgrid[0 : pc.grid.height, 0 : pc.grid.width] + 0.5
    col_radar = (left + 10 * cols - (left - 900.0)) / 10
    row_radar = (top - 10 * rows - (bottom - 700.0)) / 10
    for pol, value in SIGMA0.items():
        expected = _sigma0_field(value, row_radar, col_radar)
        error = np.abs(scene.band(pol) - expected)[scene.valid]
        assert float(np.median(error)) < 0.001 and float(error.max()) < 0.003, (pol, float(error.max()))
    # the slice starts 900 m west of the site and its first 20 columns (200 m) are outside the swath
    assert scene.valid[pc.grid.site_mask].mean() == 1.0
    cal_reads = [e for e in pc.blob.log if "calibration" in e.path]
    assert cal_reads and all("sig=" in e.path for e in cal_reads)


def test_calibration_lut_is_interpolated_bilinearly() -> None:
    from monitor.sources.s1_grd import parse_calibration

    xml = (
        b"<calibration><calibrationVectorList>"
        b"<calibrationVector><line>0</line><pixel>0 100</pixel><sigmaNought>100 200</sigmaNought></calibrationVector>"
        b"<calibrationVector><line>10</line><pixel>0 100</pixel><sigmaNought>300 400</sigmaNought></calibrationVector>"
        b"</calibrationVectorList></calibration>"
    )
    cal = parse_calibration(xml)
    assert cal.at(np.array([5.0]), np.array([50.0]))[0] == pytest.approx(250.0)
    assert cal.at(np.array([20.0]), np.array([0.0]))[0] == pytest.approx(300.0)  # clamped past the last line


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
    assert [(r.scene_id, r.source) for r in rows] == [("S2B_20250501_R089", "earth-search")]
    assert not [e for e in pc.blob.log if ".blob.core.windows.net" in e.path]  # never fetched twice

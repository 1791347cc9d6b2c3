"""The Sentinel Hub source over real HTTPS: the sentinelhub client against a local stand-in of the OAuth,
Catalog and Process endpoints, behind a throwaway certificate authority (trustme)."""

from __future__ import annotations

import logging
import math
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.warp import transform_bounds

from monitor.archive.catalogue import Catalogue
from monitor.config import SiteConfig, SourceConfig, load_config
from monitor.errors import ConfigError
from monitor.grid import SiteGrid, site_grid
from monitor.pipeline.run import run
from monitor.sources import harmonise, make_source
from monitor.sources.retry import RetryPolicy
from monitor.sources.sentinelhub import S1_BACKSCATTER, SentinelHubSource, s1_relative_orbit
from tests.conftest import SITE_BBOX, run_cli, write_config
from tests.servers.http import Server
from tests.servers.sentinelhub import Acquisition, SentinelHubStandIn

trustme = pytest.importorskip("trustme")

T0 = datetime(2025, 5, 1, 2, 25, 31, tzinfo=UTC)
TRUE = {"B02": 0.05, "B03": 0.08, "B04": 0.10, "B08": 0.30}
FAST_RETRY = RetryPolicy(attempts=3, backoff=0.05, max_wait=0.2)


@pytest.fixture(scope="module")
def site() -> SiteConfig:
    return SiteConfig(id="test-site", bbox=SITE_BBOX)


@pytest.fixture(scope="module")
def grid(site: SiteConfig) -> SiteGrid:
    return site_grid(site)


@pytest.fixture
def sh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, SentinelHubStandIn]]:
    """The stand-in over TLS; the test CA is trusted through REQUESTS_CA_BUNDLE (as a user would)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    bundle = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    app = SentinelHubStandIn()
    monkeypatch.setenv("SH_CLIENT_ID", app.client_id)
    monkeypatch.setenv("SH_CLIENT_SECRET", app.client_secret)
    monkeypatch.setattr(SentinelHubSource, "default_retry", FAST_RETRY)
    monkeypatch.setattr(SentinelHubSource, "download_sleep", 0.05)
    monkeypatch.setattr(SentinelHubSource, "download_timeout", 1.0)
    with Server(app, tls=context) as server:
        yield server, app


def _source(server: Server, **kwargs: object) -> SentinelHubSource:
    config = SourceConfig(kind="sentinelhub", base_url=server.url, token_url=f"{server.url}/oauth/token", **kwargs)
    source = make_source(config)
    assert isinstance(source, SentinelHubSource)
    return source


def _halves(grid: SiteGrid) -> list[tuple[str, float, float]]:
    """Two 200 x 200 px rasters: one in UTM 51 covering the west half of the site, one in UTM 52 the east."""
    left, bottom, right, top = grid.bounds
    mid = math.floor((left + right) / 2 / 10) * 10
    l52, _, _, t52 = transform_bounds(grid.crs, "EPSG:32652", mid, bottom, right, top)
    return [
        ("EPSG:32651", mid + 50 - 2000, math.ceil(top / 10) * 10 + 500),
        ("EPSG:32652", math.floor(l52 / 10) * 10 - 50, math.ceil(t52 / 10) * 10 + 500),
    ]


def add_s2(
    app: SentinelHubStandIn,
    grid: SiteGrid,
    when: datetime,
    platform: str = "sentinel-2b",
    orbit: int = 89,
    halves: tuple[int, ...] = (0, 1),
) -> None:
    for k in halves:
        crs, left, top = _halves(grid)[k]
        tile = ("51SYD", "52SBJ")[k]
        bands = {b: np.full((200, 200), v * 10000 + 1000, np.float32) for b, v in TRUE.items()}
        bands["SCL"] = np.full((200, 200), 4, np.float32)
        code = platform.upper().replace("SENTINEL-", "S")
        app.acquisitions.append(
            Acquisition(
                collection="sentinel-2-l2a",
                item_id=f"{code}_MSIL2A_{when:%Y%m%dT%H%M%S}_N0511_R{orbit:03d}_T{tile}_{when:%Y%m%dT%H%M%S}",
                when=when + timedelta(seconds=3 * k),
                platform=platform,
                bbox=transform_bounds(crs, "EPSG:4326", left, top - 2000, left + 2000, top),
                bands=bands,
                crs=crs,
                transform=Affine(10, 0, left, 0, -10, top),
            )
        )


def add_s1(app: SentinelHubStandIn, grid: SiteGrid, when: datetime, absolute_orbit: int = 58_000) -> None:
    left, _bottom, _right, top = grid.bounds
    bands = {"VV": np.full((100, 50), 0.12, np.float32), "VH": np.full((100, 50), 0.03, np.float32)}
    app.acquisitions.append(
        Acquisition(
            collection="sentinel-1-grd",
            item_id=f"S1A_IW_GRDH_1SDV_{when:%Y%m%dT%H%M%S}_{when:%Y%m%dT%H%M%S}_058000_072CDE_ABCD",
            when=when,
            platform="sentinel-1a",
            bbox=transform_bounds(grid.crs, "EPSG:4326", left - 200, top - 800, left + 300, top + 200),
            bands=bands,
            crs=grid.crs.to_string(),
            transform=Affine(10, 0, left - 200, 0, -10, top + 200),
            offset=0,
            extra={"sat:absolute_orbit": absolute_orbit, "sat:orbit_state": "ascending"},
        )
    )


# --- credentials --------------------------------------------------------------------------------------


def test_no_credentials_is_a_config_error_naming_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SH_CLIENT_ID", raising=False)
    monkeypatch.delenv("SH_CLIENT_SECRET", raising=False)
    with pytest.raises(ConfigError, match=r"sources\[2\]\.profile.*SH_CLIENT_ID and SH_CLIENT_SECRET") as info:
        make_source(SourceConfig(kind="sentinelhub"), origin="monitor.toml", index=2)
    assert info.value.key == "sources[2].profile"


def test_cli_without_credentials_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace('kind = "local"\npath = "imagery"', 'kind = "sentinelhub"'))
    env = {"SH_CLIENT_ID": "", "SH_CLIENT_SECRET": "", "HOME": str(tmp_path)}
    result = run_cli("run", "--config", str(path), env=env)
    assert result.returncode == 2, result.stderr
    assert "SH_CLIENT_ID" in result.stderr and "sources[0].profile" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_secret_is_never_shown(
    sh: tuple[Server, SentinelHubStandIn], caplog: pytest.LogCaptureFixture, site: SiteConfig, grid: SiteGrid
) -> None:
    server, app = sh
    add_s2(app, grid, T0)
    caplog.set_level(logging.DEBUG)
    source = _source(server)
    (ref,) = source.search(site, None, None)
    source.read(ref, grid)
    assert app.client_secret not in repr(source)
    assert all(app.client_secret not in r.getMessage() for r in caplog.records)


# --- Sentinel-2 and Sentinel-1 on the site grid ---------------------------------------------------


def test_s2_overpass_is_one_scene_fetched_on_the_grid_over_tls(
    sh: tuple[Server, SentinelHubStandIn], site: SiteConfig, grid: SiteGrid
) -> None:
    server, app = sh
    add_s2(app, grid, T0)
    add_s2(app, grid, T0 + timedelta(days=5), platform="sentinel-2a")
    source = _source(server, collections=["sentinel-2-l2a"])
    refs = source.search(site, None, None)
    assert [r.scene_id for r in refs] == ["S2B_20250501_R089", "S2A_20250506_R089"]
    scene = source.read(refs[0], grid)
    assert scene.valid[grid.site_mask].mean() == 1.0  # both tiles, mosaicked by the service
    for band, value in TRUE.items():
        assert float(np.median(scene.band(band)[scene.valid])) == pytest.approx(value, abs=1e-4)
    assert scene.provenance["harmonisation"] == harmonise.BY_PROVIDER
    assert scene.provenance["processing_units"] > 0
    request = app.process_requests[-1]
    assert request["input"]["bounds"]["bbox"] == pytest.approx(list(grid.bounds))
    assert request["input"]["bounds"]["properties"]["crs"].endswith("32651")
    assert (request["output"]["width"], request["output"]["height"]) == (grid.width, grid.height)
    assert request["input"]["data"][0]["processing"]["harmonizeValues"] is True


def test_s1_is_sigma0_orthorectified(sh: tuple[Server, SentinelHubStandIn], site: SiteConfig, grid: SiteGrid) -> None:
    server, app = sh
    add_s1(app, grid, T0)
    source = _source(server, collections=["sentinel-1-grd"])
    (ref,) = source.search(site, None, None)
    assert ref.scene_id == f"S1A_20250501_R{s1_relative_orbit('S1A', 58_000):03d}"
    scene = source.read(ref, grid)
    assert scene.bands == ("VV", "VH")
    assert float(np.nanmedian(scene.band("VV"))) == pytest.approx(0.12, rel=1e-5)
    processing = app.process_requests[-1]["input"]["data"][0]["processing"]
    assert processing["backCoeff"] == S1_BACKSCATTER and processing["orthorectify"] is True
    assert 0.2 < scene.valid[grid.site_mask].mean() < 1.0  # the raster covers part of the site only


def test_s1_orbit_from_the_product_name_when_the_catalog_omits_it() -> None:
    from monitor.sources.sentinelhub import catalog_tile

    feature = {
        "id": "S1A_IW_GRDH_1SDV_20230115T093419_20230115T093444_046771_059B5E_1F3A_COG.SAFE",
        "properties": {"datetime": "2023-01-15T09:34:19Z", "platform": "sentinel-1a"},
    }
    tile = catalog_tile(feature, "sentinel-1-grd")
    assert not isinstance(tile, str)
    assert tile.orbit == s1_relative_orbit("S1A", 46771)


def test_s1_relative_orbit() -> None:
    assert s1_relative_orbit("S1A", 73) == 1
    assert s1_relative_orbit("S1A", 73 + 175) == 1
    assert s1_relative_orbit("S1B", 27 + 174) == 175
    assert s1_relative_orbit("S1C", 1000) is None


# --- faults ---------------------------------------------------------------------------------------


def test_an_expired_token_is_renewed(sh: tuple[Server, SentinelHubStandIn], site: SiteConfig, grid: SiteGrid) -> None:
    server, app = sh
    add_s2(app, grid, T0)
    source = _source(server, collections=["sentinel-2-l2a"])
    (ref,) = source.search(site, None, None)
    app.expire_tokens()  # the service drops our token before it says it expires
    scene = source.read(ref, grid)
    assert scene.valid.any()
    assert len(server.requests("/oauth/token")) >= 2


@pytest.mark.filterwarnings("ignore::sentinelhub.exceptions.SHRateLimitWarning")  # the 429 is the point
@pytest.mark.parametrize("kind", ["429", "503", "reset", "truncate", "timeout"])
def test_process_survives_a_fault(
    sh: tuple[Server, SentinelHubStandIn], site: SiteConfig, grid: SiteGrid, kind: str
) -> None:
    server, app = sh
    add_s2(app, grid, T0)
    source = _source(server, collections=["sentinel-2-l2a"])
    (ref,) = source.search(site, None, None)
    server.faults.add(kind, match="/api/v1/process", retry_after=200, delay=2)  # Retry-After: milliseconds here
    scene = source.read(ref, grid)
    assert scene.valid[grid.site_mask].mean() == 1.0
    assert len(server.requests("/api/v1/process")) == 2


def test_catalog_search_survives_a_fault(
    sh: tuple[Server, SentinelHubStandIn], site: SiteConfig, grid: SiteGrid
) -> None:
    server, app = sh
    add_s2(app, grid, T0)
    server.faults.add("503", match="/catalog/")
    assert len(_source(server, collections=["sentinel-2-l2a"]).search(site, None, None)) == 1


# --- the pipeline ---------------------------------------------------------------------------------


def test_run_records_processing_units_and_searches_incrementally(
    tmp_path: Path, sh: tuple[Server, SentinelHubStandIn], grid: SiteGrid
) -> None:
    server, app = sh
    now = datetime.now(UTC).replace(microsecond=0)
    add_s2(app, grid, now - timedelta(days=20))
    add_s1(app, grid, now - timedelta(days=18))
    path = write_config(tmp_path)
    path.write_text(
        path.read_text().replace(
            'kind = "local"\npath = "imagery"',
            f'kind = "sentinelhub"\nbase_url = "{server.url}"\ntoken_url = "{server.url}/oauth/token"',
        )
    )
    config = load_config(path)
    first = run(config)
    assert first.new_scenes == 2 and not first.errors
    with Catalogue(config.data_dir, readonly=True) as cat:
        rows = {r.sensor: r for r in cat.scenes()}
    assert (rows["S2"].processing_units or 0) > 0 and (rows["S1"].processing_units or 0) > 0
    assert rows["S2"].harmonisation == harmonise.BY_PROVIDER
    server.log.clear()
    second = run(config)
    assert second.new_scenes == 0
    assert [e.path for e in server.log if "/api/" in e.path] == ["/api/v1/catalog/1.0.0/search"] * 2  # S2, S1


def test_error_text_is_kept_whole_on_one_line_and_redacted() -> None:
    from monitor.sources.sentinelhub import MESSAGE_CHARS, _message

    body = '{"error": {"status": 400, "reason": "Bad Request", "message": "' + "x" * 420 + '"}}'
    text = f"Failed to download from:\nhttps://sh.test/api/v1/process\nwith HTTPError:\n{body}\n"
    text += "Please check your internet connection and try again. access_token=abc123"
    out = _message(ValueError(text))
    assert "Please check your internet connection and try again." in out and "\n" not in out
    assert "abc123" not in out and "access_token=***" in out
    long = _message(ValueError("word " * MESSAGE_CHARS))
    assert long.endswith("more characters]") and len(long) < MESSAGE_CHARS + 40

"""A catalogue we do not control must never make the monitor read local files or talk to other hosts
(issue 13; CONTRACT.md, "Sources"). Real clients against the local servers; every test counts the
connections each host received."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.archive.catalogue import Catalogue
from monitor.config import SiteConfig, SourceConfig, load_config
from monitor.errors import ConfigError, SceneError, SourceError
from monitor.pipeline.run import run
from monitor.sources import stac as stac_module
from monitor.sources.hosts import HostPolicy
from monitor.sources.retry import RetryPolicy
from monitor.sources.s1_grd import parse_calibration
from monitor.sources.stac import EarthSearchSource, StacSource
from tests.conftest import SITE_BBOX, write_config, write_s2
from tests.servers.http import Files, Handler, Server
from tests.servers.stac import StacApi
from tests.servers.world import World, serve_world

T0 = datetime(2025, 5, 1, 2, 25, 31, tzinfo=UTC)
FAST_GDAL = {"GDAL_HTTP_RETRY_DELAY": "0.1", "GDAL_HTTP_TIMEOUT": "2", "GDAL_HTTP_CONNECTTIMEOUT": "2"}
FAST_RETRY = RetryPolicy(attempts=3, backoff=0.05, max_wait=0.2)
SITE = SiteConfig(id="test-site", bbox=SITE_BBOX)


@pytest.fixture
def world() -> Iterator[World]:
    with serve_world() as w:
        yield w


@pytest.fixture
def elsewhere() -> Iterator[Server]:
    """A second file server reached by another host name (``localhost``, while the world is ``127.0.0.1``)."""
    store = Files()
    with Server(store) as server:
        server.store = store  # type: ignore[attr-defined]
        yield server


def other(server: Server) -> str:
    return server.url.replace("127.0.0.1", "localhost")


def source(world: World, **config: Any) -> EarthSearchSource:
    return EarthSearchSource(
        SourceConfig(kind="earth-search", url=world.stac.url, **config),
        retry=FAST_RETRY,
        gdal_options=FAST_GDAL,
        timeout=2.0,
    )


def repoint(item: dict[str, Any], band_key: str, href: str) -> None:
    item["assets"][band_key]["href"] = href


# --- asset hrefs -----------------------------------------------------------------------------------------


def _local_geotiff(tmp_path: Path, world: World) -> Path:
    """A perfectly readable GeoTIFF on the local disk: if the monitor opened it, the read would succeed."""
    data = np.full((4, *world.grid.shape), 0.1, np.float32)
    return write_s2(tmp_path / "local.tif", data, world.grid.transform, world.grid.crs)


@pytest.mark.parametrize(
    "href",
    [
        "file://{path}",
        "{path}",
        "/vsicurl/{url}/x.tif",
        "/vsimem/x.tif",
        "s3://sentinel-cogs/x.tif",
        "ftp://127.0.0.1/x.tif",
        "http://user:pw@127.0.0.1/x.tif",
    ],
)
def test_an_href_that_is_not_http_to_an_allowed_host_fails_the_scene(tmp_path: Path, world: World, href: str) -> None:
    local = _local_geotiff(tmp_path, world)
    items = world.add_scene(T0, tiles=("51SYD",))
    repoint(items[0], "red", href.format(path=local, url=world.files.url))
    world.files.log.clear()
    (ref,) = source(world).search(SITE, None, None)
    assert (ref.problem is not None and "refused" in ref.problem) or "only http(s)" in (ref.problem or "")
    with pytest.raises(SceneError):
        source(world).read(ref, world.grid)
    assert world.files.log == []  # not one band of the item was fetched


def test_an_href_on_another_host_is_never_contacted(world: World, elsewhere: Server) -> None:
    items = world.add_scene(T0, tiles=("51SYD",))
    for key, asset in items[0]["assets"].items():
        if key != "thumbnail":
            path = asset["href"].removeprefix(world.files.url)
            elsewhere.store.files[path] = world.store.files[path]  # type: ignore[attr-defined]
            asset["href"] = other(elsewhere) + path
    (ref,) = source(world).search(SITE, None, None)
    assert ref.problem is not None and "'localhost' is not one of earth-search's hosts" in ref.problem
    assert elsewhere.log == []
    # listed in asset_hosts, the same host is trusted and read
    trusted = source(world, asset_hosts=["localhost"])
    (ref,) = trusted.search(SITE, None, None)
    assert ref.problem is None
    scene = trusted.read(ref, world.grid)
    assert scene.valid.any() and elsewhere.log


def test_the_pipeline_records_the_refused_scene_with_its_reason_and_goes_on(
    tmp_path: Path, world: World, elsewhere: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(StacSource, "default_retry", FAST_RETRY)
    monkeypatch.setattr(StacSource, "default_gdal_options", FAST_GDAL)
    now = datetime.now(UTC).replace(microsecond=0)
    from datetime import timedelta

    (bad,) = world.add_scene(now - timedelta(days=20), tiles=("51SYD",), platform="sentinel-2a")
    world.add_scene(now - timedelta(days=15), tiles=("51SYD",))
    repoint(bad, "nir", other(elsewhere) + "/B08.tif")
    path = write_config(tmp_path)
    path.write_text(
        path.read_text().replace(
            '[[sources]]\nkind = "local"\npath = "imagery"',
            f'[[sources]]\nkind = "earth-search"\nurl = "{world.stac.url}"',
        )
    )
    config = load_config(path)
    summary = run(config)
    assert summary.new_scenes == 1 and not summary.errors
    with Catalogue(config.data_dir, readonly=True) as cat:
        rows = {r.scene_id: r for r in cat.scenes()}
    failed = [r for r in rows.values() if r.status.value == "failed"]
    assert len(failed) == 1 and "not one of earth-search's hosts" in (failed[0].reason or "")
    assert elsewhere.log == []
    run(config)  # the next run does not try it again either: the href is in the item itself
    assert elsewhere.log == []


def redirector(target: str) -> Any:
    def app(handler: Handler, method: str, path: str, body: bytes) -> None:
        handler.send_response(302)
        handler.send_header("Location", target + path)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        handler.entry.status = 302

    return app


def test_gdal_follows_no_redirect_to_another_host(world: World, elsewhere: Server) -> None:
    items = world.add_scene(T0, tiles=("51SYD",))
    with Server(redirector(other(elsewhere))) as hop:
        for key, asset in items[0]["assets"].items():
            if key != "thumbnail":
                path = asset["href"].removeprefix(world.files.url)
                elsewhere.store.files[path] = world.store.files[path]  # type: ignore[attr-defined]
                asset["href"] = hop.url + path  # 127.0.0.1: an allowed host, which redirects to localhost
        src = source(world)
        (ref,) = src.search(SITE, None, None)
        assert ref.problem is None
        with pytest.raises(SourceError):
            src.read(ref, world.grid)
        assert hop.log and elsewhere.log == []


def test_a_vrt_behind_a_tif_href_is_not_opened(tmp_path: Path, world: World) -> None:
    """A VRT can name any local file or URL for GDAL to open; a remote href is opened as a GeoTIFF only."""
    local = _local_geotiff(tmp_path, world)
    vrt = (
        f'<VRTDataset rasterXSize="10" rasterYSize="10"><SRS>EPSG:32651</SRS>'
        f'<VRTRasterBand dataType="UInt16" band="1"><SimpleSource><SourceFilename>{local}</SourceFilename>'
        f"<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>"
    ).encode()
    items = world.add_scene(T0, tiles=("51SYD",))
    red = items[0]["assets"]["red"]["href"]
    world.store.files[red.removeprefix(world.files.url)] = vrt
    src = source(world)
    (ref,) = src.search(SITE, None, None)
    with pytest.raises(SourceError, match=r"not recognized|not a supported|TIFF"):
        src.read(ref, world.grid)


# --- the STAC API itself: next-page links, redirects, pages without end, malformed answers ------------


class Endless(StacApi):
    """Every page links to a next one (a catalogue that never ends), optionally on another host."""

    def __init__(self, next_base: str | None = None) -> None:
        super().__init__()
        self.next_base = next_base
        self.pages = 0

    def search(self, handler: Handler, method: str, params: dict[str, Any]) -> None:
        self.pages += 1
        base = self.next_base or self.base
        link = {"rel": "next", "href": f"{base}/search", "method": "POST", "body": {**params, "token": str(self.pages)}}
        feature = {"type": "Feature", "id": f"junk-{self.pages}", "properties": {}, "assets": {}}
        doc = {"type": "FeatureCollection", "features": [feature], "links": [link]}
        handler.reply(200, json.dumps(doc).encode(), "application/geo+json")


def _stac(api: StacApi) -> Server:
    server = Server(api)
    api.base = server.url
    return server


def test_a_catalogue_whose_pages_never_end_fails_the_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stac_module, "MAX_PAGES", 7)
    api = Endless()
    with _stac(api) as server:
        src = EarthSearchSource(SourceConfig(kind="earth-search", url=server.url), retry=FAST_RETRY, timeout=2.0)
        with pytest.raises(SourceError, match="more than 7 pages"):
            src.search(SITE, None, None)
    assert api.pages == 8  # bounded; and not searched again (a catalogue that never ends will not end)


def test_a_next_link_to_another_host_is_not_followed(elsewhere: Server) -> None:
    api = Endless(next_base=other(elsewhere))
    with _stac(api) as server:
        src = EarthSearchSource(SourceConfig(kind="earth-search", url=server.url), retry=FAST_RETRY, timeout=2.0)
        with pytest.raises(SourceError, match="points elsewhere"):
            src.search(SITE, None, None)
    assert api.pages == 1 and elsewhere.log == []


def test_a_redirect_of_the_search_to_another_host_is_not_followed(elsewhere: Server) -> None:
    with Server(redirector(other(elsewhere))) as server:
        src = EarthSearchSource(SourceConfig(kind="earth-search", url=server.url), retry=FAST_RETRY, timeout=2.0)
        with pytest.raises(SourceError, match="redirected elsewhere"):
            src.search(SITE, None, None)
        assert len(server.log) == 1 and elsewhere.log == []


class Garbage(StacApi):
    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def search(self, handler: Handler, method: str, params: dict[str, Any]) -> None:
        handler.reply(200, self.body, "application/geo+json")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2, 3]",
        b'{"type": "FeatureCollection", "features": {"a": 1}}',
        b'{"type": "FeatureCollection", "features": [1, "two", null]}',
        b'{"type": "FeatureCollection", "features": [{"id": "x", "properties": [], "assets": "no"}]}',
        b'{"type": "FeatureCollection", "features": [{"id": "S2A_51SYD_20250501_0_L2A", "properties":'
        b' {"datetime": 5, "platform": ["x"]}, "assets": {"red": {"href": 7}}}]}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_a_malformed_search_answer_is_a_clear_source_error_or_skipped(body: bytes) -> None:
    with _stac(Garbage(body)) as server:
        src = EarthSearchSource(SourceConfig(kind="earth-search", url=server.url), retry=FAST_RETRY, timeout=2.0)
        try:
            refs = src.search(SITE, None, None)
        except SourceError as exc:
            assert server.url in str(exc)
        else:
            assert all(r.problem for r in refs)  # nothing usable, each with its reason


# --- policy and config -----------------------------------------------------------------------------------


def test_policy_allows_only_http_to_its_hosts() -> None:
    policy = HostPolicy.of(
        "earth-search", "https://earth-search.aws.element84.com/v1", ("sentinel-cogs.s3.amazonaws.com",)
    )
    assert policy.refusal("https://sentinel-cogs.s3.amazonaws.com/a/B04.tif") is None
    assert policy.refusal("https://EARTH-SEARCH.aws.element84.com:443/x.tif") is None
    for bad in (
        "https://sentinel-cogs.s3.amazonaws.com.evil.example/x.tif",
        "https://evil.example/sentinel-cogs.s3.amazonaws.com/x.tif",
        "https://evil.example#@sentinel-cogs.s3.amazonaws.com/x.tif",
        "file:///etc/passwd",
        "/etc/passwd",
        "C:/x.tif",
        "/vsizip//vsicurl/https://sentinel-cogs.s3.amazonaws.com/x.zip",
        "https://sentinel-cogs.s3.amazonaws.com/x.tif\n",
        "",
    ):
        assert policy.refusal(bad) is not None, bad


@pytest.mark.parametrize(
    "value", ['["https://x.example"]', '["x.example:8080"]', '["x.example/path"]', '["*.example"]']
)
def test_asset_hosts_must_be_bare_host_names(tmp_path: Path, value: str) -> None:
    path = write_config(tmp_path)
    path.write_text(
        path.read_text().replace(
            '[[sources]]\nkind = "local"\npath = "imagery"',
            f'[[sources]]\nkind = "earth-search"\nasset_hosts = {value}',
        )
    )
    with pytest.raises(ConfigError, match=r"sources\[0\]\.asset_hosts.*bare host name"):
        load_config(path)


def test_asset_hosts_do_not_apply_to_a_local_source(tmp_path: Path) -> None:
    (tmp_path / "imagery").mkdir()
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace('path = "imagery"', 'path = "imagery"\nasset_hosts = ["x.example"]'))
    with pytest.raises(ConfigError, match="asset_hosts"):
        load_config(path)


# --- calibration XML and Sentinel Hub answers ----------------------------------------------------------


def test_calibration_xml_with_entities_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("1 2 3")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<c><calibrationVector><line>0</line><pixel>0 1 2</pixel><sigmaNought>&x;</sigmaNought></calibrationVector></c>"
    ).encode()
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;</l>'
    )
    for payload in (xxe, laughs):
        with pytest.raises(SceneError, match="refused"):
            parse_calibration(payload)
    for broken in (
        b"<c><calibrationVector><line>x</line><pixel>0 1</pixel><sigmaNought>1 1</sigmaNought></calibrationVector></c>",
        b"<c",
        b"",
        b"<c><calibrationVector><line>0</line><pixel>0 1</pixel><sigmaNought>1 1</sigmaNought></calibrationVector>"
        b"<calibrationVector><line>9</line><pixel>0 1</pixel><sigmaNought>1</sigmaNought></calibrationVector></c>",
    ):
        with pytest.raises(SceneError):
            parse_calibration(broken)


def test_a_sentinel_hub_answer_that_is_a_vrt_is_not_opened(tmp_path: Path, world: World) -> None:
    from monitor.sources.sentinelhub import decode_tiff

    local = _local_geotiff(tmp_path, world)
    h, w = world.grid.shape
    vrt = (
        f'<VRTDataset rasterXSize="{w}" rasterYSize="{h}"><VRTRasterBand dataType="UInt16" band="1"><SimpleSource>'
        f"<SourceFilename>{local}</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>"
    ).encode()
    with pytest.raises(SourceError):
        decode_tiff(vrt, world.grid)

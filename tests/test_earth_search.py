"""The Earth Search source over real HTTP: pystac-client against a local STAC API, GDAL against a local
range server holding COGs built in the tests. Nothing is mocked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from monitor.archive.catalogue import Catalogue
from monitor.config import SourceConfig, load_config
from monitor.errors import SourceError
from monitor.pipeline.run import run
from monitor.sources import harmonise, make_source
from monitor.sources.retry import RetryPolicy
from monitor.sources.stac import EarthSearchSource, StacSource
from tests.conftest import run_cli, write_config
from tests.servers.cogs import byte_floor
from tests.servers.world import REFLECTANCE, World, serve_world

T0 = datetime(2025, 5, 1, 2, 25, 31, tzinfo=UTC)
FAST_GDAL = {"GDAL_HTTP_RETRY_DELAY": "0.1", "GDAL_HTTP_TIMEOUT": "2", "GDAL_HTTP_CONNECTTIMEOUT": "2"}
FAST_RETRY = RetryPolicy(attempts=3, backoff=0.05, max_wait=0.2)


@pytest.fixture
def stac_world() -> Iterator[World]:
    with serve_world() as world:
        yield world


def _source(world: World, **kwargs: object) -> EarthSearchSource:
    return EarthSearchSource(
        SourceConfig(kind="earth-search", url=world.stac.url),
        retry=FAST_RETRY,
        gdal_options=FAST_GDAL,
        timeout=2.0,
        **kwargs,  # type: ignore[arg-type]
    )


def _site():  # type: ignore[no-untyped-def]
    from monitor.config import SiteConfig
    from tests.conftest import SITE_BBOX

    return SiteConfig(id="test-site", bbox=SITE_BBOX)


def _check_reflectance(scene, tol: float = 0.003) -> None:  # type: ignore[no-untyped-def]
    for band, value in REFLECTANCE.items():
        got = scene.band(band)[scene.valid]
        assert abs(float(np.median(got)) - value) < tol, (band, float(np.median(got)), value)


# --- search, one scene per overpass, mosaic --------------------------------------------------------


@pytest.mark.parametrize("collection", ["sentinel-2-l2a", "sentinel-2-c1-l2a"])
def test_two_tiles_of_one_overpass_are_one_scene_covering_the_site(stac_world: World, collection: str) -> None:
    stac_world.add_scene(T0, collection=collection)
    source = _source(stac_world)
    refs = source.search(_site(), None, None)
    assert [r.scene_id for r in refs] == ["S2B_20250501_R089"]
    assert refs[0].properties["items"].count("_L2A") == 2
    scene = source.read(refs[0], stac_world.grid)
    assert scene.valid[stac_world.grid.site_mask].mean() == 1.0  # neither tile alone covers the site
    _check_reflectance(scene)
    assert scene.provenance["harmonisation"] == harmonise.REMOVED
    assert scene.provenance["tiles_read"] == 2
    assert scene.provenance["items"].startswith("S2B_51SYD")  # the tile in the grid's own UTM zone first


def test_each_tile_alone_covers_only_part_of_the_site(stac_world: World) -> None:
    for tile in ("51SYD", "52SBJ"):
        stac_world.api.items.clear()
        stac_world.add_scene(T0, tiles=(tile,))
        source = _source(stac_world)
        (ref,) = source.search(_site(), None, None)
        scene = source.read(ref, stac_world.grid)
        assert 0.3 < scene.valid[stac_world.grid.site_mask].mean() < 0.8


def test_only_the_window_is_fetched_with_range_requests(stac_world: World) -> None:
    stac_world.add_scene(T0)
    source = _source(stac_world)
    (ref,) = source.search(_site(), None, None)
    source.read(ref, stac_world.grid)
    gets = stac_world.files.requests(r"\.tif")
    assert gets and all(e.method == "HEAD" or "range" in e.headers for e in gets)
    sent = sum(e.sent for e in gets)
    floor = sum(sum(byte_floor(payload, stac_world.grid)) for payload in stac_world.store.files.values())
    # GDAL reads in 16 KiB chunks (range ends rounded to them) and its first read of the header is 32 KiB,
    # so each file costs at most 64 KiB over its floor; the whole files are ~4x larger than the floor
    total = sum(len(v) for v in stac_world.store.files.values())
    assert floor <= sent < floor + 65536 * len(stac_world.store.files) < total, (sent, floor, total)


def test_reprocessed_collection_wins_and_duplicates_are_dropped(stac_world: World) -> None:
    stac_world.add_scene(T0, collection="sentinel-2-l2a")
    stac_world.add_scene(T0, collection="sentinel-2-c1-l2a")
    stac_world.add_scene(T0 + timedelta(days=5), platform="sentinel-2a", tiles=("51SYD",))
    refs = _source(stac_world).search(_site(), None, None)
    assert [r.scene_id for r in refs] == ["S2B_20250501_R089", "S2A_20250506_R089"]
    assert refs[0].properties["collections"] == "sentinel-2-c1-l2a"


def test_an_unusable_item_is_reported_only_when_its_overpass_has_no_usable_one(stac_world: World) -> None:
    stac_world.add_scene(T0, collection="sentinel-2-l2a")
    (broken,) = stac_world.add_scene(T0, collection="sentinel-2-c1-l2a", tiles=("51SYD",))
    del broken["assets"]["scl"]
    (lonely,) = stac_world.add_scene(T0 + timedelta(days=5), platform="sentinel-2a", tiles=("51SYD",))
    del lonely["assets"]["red"]
    refs = _source(stac_world).search(_site(), None, None)
    assert [(r.scene_id, r.problem is None) for r in refs] == [
        ("S2B_20250501_R089", True),
        ("S2A_51SYD_20250506_0_L2A", False),
    ]
    assert "B04" in (refs[1].problem or "")


@pytest.mark.parametrize(
    ("baseline", "offset", "applied", "expected"),
    [
        ("05.09", 1000, False, harmonise.REMOVED),
        ("04.00", 1000, False, harmonise.REMOVED),
        ("03.01", 0, False, harmonise.NOT_NEEDED),
        ("05.09", 0, True, harmonise.BY_PROVIDER),
    ],
)
def test_harmonisation_follows_the_item(
    stac_world: World, baseline: str, offset: int, applied: bool, expected: str
) -> None:
    stac_world.add_scene(T0, baseline=baseline, offset=offset, offset_applied=applied)
    source = _source(stac_world)
    (ref,) = source.search(_site(), None, None)
    scene = source.read(ref, stac_world.grid)
    assert scene.provenance["harmonisation"] == expected
    _check_reflectance(scene)


def test_search_follows_pages(stac_world: World) -> None:
    for i in range(5):
        stac_world.add_scene(
            T0 + timedelta(days=5 * i), tiles=("51SYD",), platform=("sentinel-2a", "sentinel-2b")[i % 2]
        )
    refs = _source(stac_world, page_size=2).search(_site(), None, None)
    assert len(refs) == 5
    assert [r.acquired for r in refs] == sorted(r.acquired for r in refs)
    assert len(stac_world.stac.requests("/search")) == 3


def test_search_window_is_sent(stac_world: World) -> None:
    stac_world.add_scene(T0, tiles=("51SYD",))
    stac_world.add_scene(T0 + timedelta(days=10), tiles=("51SYD",))
    refs = _source(stac_world).search(_site(), T0 + timedelta(days=1), None)
    assert [r.acquired.date() for r in refs] == [(T0 + timedelta(days=10)).date()]


# --- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["429", "503", "reset", "truncate", "timeout"])
def test_search_survives_a_fault(stac_world: World, kind: str) -> None:
    stac_world.add_scene(T0, tiles=("51SYD",))
    stac_world.stac.faults.add(kind, match="/search", retry_after=1 if kind == "429" else None, delay=3)
    refs = _source(stac_world).search(_site(), None, None)
    assert len(refs) == 1
    searches = stac_world.stac.requests("/search")
    assert len(searches) == 2
    if kind == "429":  # Retry-After honoured
        assert searches[1].at - searches[0].at >= 0.9


@pytest.mark.parametrize("kind", ["429", "503", "reset", "truncate", "timeout"])
def test_read_survives_a_fault(stac_world: World, kind: str) -> None:
    stac_world.add_scene(T0)
    source = _source(stac_world)
    (ref,) = source.search(_site(), None, None)
    # the fault hits the first block read of a band file (not the header)
    stac_world.files.faults.add(kind, match="51SYD/.*/B04", retry_after=0, delay=3)
    scene = source.read(ref, stac_world.grid)
    assert scene.valid[stac_world.grid.site_mask].mean() == 1.0
    _check_reflectance(scene)
    hit = [e for e in stac_world.files.requests("51SYD/.*/B04")]
    assert len(hit) >= 2


def test_read_that_keeps_failing_raises_source_error(stac_world: World) -> None:
    stac_world.add_scene(T0)
    source = _source(stac_world)
    (ref,) = source.search(_site(), None, None)
    stac_world.files.faults.add("500", match="52SBJ/.*/B08", times=10_000)
    with pytest.raises(SourceError, match="B08"):
        source.read(ref, stac_world.grid)
    # bounded: our attempts x GDAL's own retries, not forever
    assert len(stac_world.files.requests("52SBJ/.*/B08")) <= FAST_RETRY.attempts * 4 + 2


# --- the pipeline: incremental search, failures recorded and retried, no partial crop -------------------------


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StacSource, "default_retry", FAST_RETRY)
    monkeypatch.setattr(StacSource, "default_gdal_options", FAST_GDAL)


def _config(tmp_path: Path, world: World) -> Path:
    path = write_config(tmp_path)
    text = path.read_text().replace(
        '[[sources]]\nkind = "local"\npath = "imagery"',
        f'[[sources]]\nkind = "earth-search"\nurl = "{world.stac.url}"',
    )
    path.write_text(text)
    return path


def test_a_run_with_nothing_new_makes_one_search_request(tmp_path: Path, stac_world: World, fast: None) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stac_world.add_scene(now - timedelta(days=30), tiles=("51SYD",))
    stac_world.add_scene(now - timedelta(days=25), tiles=("51SYD", "52SBJ"), platform="sentinel-2a")
    stac_world.add_scene(now - timedelta(days=500), tiles=("51SYD",), orbit=32)  # older than 400 days
    config = load_config(_config(tmp_path, stac_world))
    first = run(config)
    assert first.new_scenes == 2 and not first.errors
    with Catalogue(config.data_dir, readonly=True) as cat:
        rows = cat.scenes()
        assert {r.platform for r in rows} == {"S2A", "S2B"} and {r.orbit for r in rows} == {89}
        assert {r.harmonisation for r in rows} == {harmonise.REMOVED}
    stac_world.stac.log.clear()
    stac_world.files.log.clear()
    second = run(config)
    assert second.new_scenes == 0 and not second.errors
    assert len(stac_world.stac.log) == 1  # one search request (its landing page is not fetched twice)
    assert stac_world.files.log == []
    # a scene published late, acquired before the last one seen but within the look-back, is found
    stac_world.add_scene(now - timedelta(days=28), tiles=("51SYD",), orbit=46)
    third = run(config)
    assert third.new_scenes == 1


def test_a_scene_that_fails_is_recorded_without_crop_and_retried_next_run(
    tmp_path: Path, stac_world: World, fast: None
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stac_world.add_scene(now - timedelta(days=30), tiles=("51SYD",))
    stac_world.add_scene(now - timedelta(days=25), platform="sentinel-2a")
    stac_world.files.faults.add("503", match=f"52SBJ/{now - timedelta(days=25):%Y%m%d}/B03", times=10_000)
    config = load_config(_config(tmp_path, stac_world))
    first = run(config)
    assert (first.new_scenes, first.failed_scenes) == (1, 1)
    assert not first.errors  # a failed scene does not fail the run
    failed_id = f"S2A_{now - timedelta(days=25):%Y%m%d}_R089"
    with Catalogue(config.data_dir, readonly=True) as cat:
        row = cat.scene("test-site", failed_id)
        assert row is not None and row.status == "failed" and "B03" in row.reason and row.crop is None
    crops = list((config.data_dir / "crops" / "test-site").glob("*.tif"))
    assert [p.stem for p in crops] == [f"S2B_{now - timedelta(days=30):%Y%m%d}_R089"]
    stac_world.files.faults.clear()
    second = run(config)
    assert (second.new_scenes, second.failed_scenes) == (1, 0)
    with Catalogue(config.data_dir, readonly=True) as cat:
        row = cat.scene("test-site", failed_id)
        assert row is not None and row.status == "ok" and row.attempts == 2


def test_make_source_builds_earth_search_by_default() -> None:
    source = make_source(SourceConfig(kind="earth-search"))
    assert isinstance(source, EarthSearchSource)
    assert source.url == "https://earth-search.aws.element84.com/v1"
    assert source.collections == ("sentinel-2-c1-l2a", "sentinel-2-l2a")


def test_cli_run_exits_0_with_a_scene_that_cannot_be_read(tmp_path: Path, stac_world: World) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stac_world.add_scene(now - timedelta(days=30), tiles=("51SYD",))
    stac_world.add_scene(now - timedelta(days=25), tiles=("51SYD",), platform="sentinel-2a")
    gone = f"/sentinel-2-l2a/51SYD/{now - timedelta(days=25):%Y%m%d}/B08.tif"
    del stac_world.store.files[gone]  # listed, but the file is missing (404)
    path = _config(tmp_path, stac_world)
    result = run_cli("run", "--config", str(path))
    assert result.returncode == 0, result.stderr
    listing = run_cli("scenes", "--config", str(path), "--status", "failed", "--format", "json")
    assert listing.returncode == 0
    (failed,) = json.loads(listing.stdout)
    assert failed["id"] == f"S2A_{now - timedelta(days=25):%Y%m%d}_R089" and "B08" in failed["reason"]

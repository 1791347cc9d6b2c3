"""Tests of the scene simulator (monitor.simulate): contract of the files, truth, determinism, physics."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.features import rasterize
from rasterio.warp import transform_bounds, transform_geom

from monitor.simulate import (
    DEFAULT_SEED,
    DEMO_ZONES,
    SITE_BBOX,
    SITE_ID,
    SITE_NAME,
    TRUTH_FILENAME,
    DemoTruth,
    build_demo_imagery,
    demo_config_text,
    layout_zones,
    write_demo_config,
)
from monitor.simulate.formations import (
    Footprint,
    cover_fraction,
    troop_lattice,
    vehicle_column,
    vehicle_park,
)
from monitor.simulate.grid import site_grid
from monitor.simulate.layout import MIRIM_LAYOUT
from monitor.simulate.scenario import Scenario, build_scenario
from monitor.simulate.scene import RenderedScene, SiteModel, build_site, render_scene
from monitor.simulate.sensor import PSF_SIGMA_PX
from monitor.simulate.writer import prepare_scene_folder, scene_filename, write_scene

NAME = re.compile(r"^S2_(\d{8}T\d{6})\.tif$")
PSF_REACH_PX = math.ceil(4 * PSF_SIGMA_PX) + 1


@dataclass(frozen=True)
class Demo:
    folder: Path
    truth: DemoTruth


@pytest.fixture(scope="module")
def site() -> SiteModel:
    return build_site(DEFAULT_SEED)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_scenario(DEFAULT_SEED)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("demo") / "imagery"
    return Demo(folder=folder, truth=build_demo_imagery(folder))


@pytest.fixture(scope="module")
def renders(site: SiteModel, scenario: Scenario) -> dict[int, tuple[RenderedScene, RenderedScene]]:
    """Every date rendered with and without its formations."""
    return {
        plan.index: (render_scene(site, plan), render_scene(site, plan, formations=False)) for plan in scenario.dates
    }


def _scenes(folder: Path) -> Iterator[Path]:
    return iter(sorted(folder.glob("*.tif")))


# --- layout, zones and the demo config ----------------------------------------------------------------


def test_grid_follows_the_contract() -> None:
    grid = site_grid(SITE_BBOX)
    assert grid.crs == "EPSG:32651"
    assert (grid.transform.a, grid.transform.e, grid.transform.b, grid.transform.d) == (10, -10, 0, 0)
    assert grid.transform.c % 10 == 0 and grid.transform.f % 10 == 0
    assert 380 <= grid.width <= 410 and 320 <= grid.height <= 350
    left, bottom, right, top = transform_bounds("EPSG:4326", grid.crs, *SITE_BBOX, densify_pts=21)
    g_left, g_top = grid.transform.c, grid.transform.f
    assert g_left <= left < g_left + 10 and top <= g_top < top + 10
    assert g_left + 10 * grid.width - 10 < right <= g_left + 10 * grid.width
    assert g_top - 10 * grid.height <= bottom < g_top - 10 * grid.height + 10


def test_zone_constants_are_the_layout_rectangles() -> None:
    assert layout_zones() == DEMO_ZONES
    assert [zone.id for zone in DEMO_ZONES] == [zone.id for zone in MIRIM_LAYOUT.zones]
    assert MIRIM_LAYOUT.bbox == SITE_BBOX and MIRIM_LAYOUT.site_id == SITE_ID


def test_demo_toml_matches_the_constants(tmp_path: Path) -> None:
    doc = tomllib.loads(demo_config_text())
    assert doc["monitor"] == {"data_dir": "monitor-data"}
    assert doc["sources"] == [{"kind": "local", "path": "imagery"}]
    [site_doc] = doc["sites"]
    assert site_doc["id"] == SITE_ID and site_doc["name"] == SITE_NAME
    assert tuple(site_doc["bbox"]) == SITE_BBOX
    zones = [(z["id"], z["kind"], tuple(z["bbox"])) for z in site_doc["zones"]]
    assert zones == [(z.id, z.kind, z.bbox) for z in DEMO_ZONES]
    copy = write_demo_config(tmp_path / "monitor.toml")
    assert copy.read_text(encoding="utf-8") == demo_config_text()


def test_zones_lie_strictly_inside_the_site_and_are_rounded() -> None:
    lon0, lat0, lon1, lat1 = SITE_BBOX
    for zone in DEMO_ZONES:
        z_lon0, z_lat0, z_lon1, z_lat1 = zone.bbox
        assert lon0 < z_lon0 < z_lon1 < lon1 and lat0 < z_lat0 < z_lat1 < lat1
        assert all(round(v, 6) == v for v in zone.bbox)


def test_zone_polygons_cover_their_painted_rectangles(site: SiteModel) -> None:
    """Rasterised by pixel centres, each zone bbox covers its painted rectangle, with little extra."""
    for zone, demo_zone in zip(site.layout.zones, DEMO_ZONES, strict=True):
        lon0, lat0, lon1, lat1 = demo_zone.bbox
        polygon = {
            "type": "Polygon",
            "coordinates": [[(lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1)]],
        }
        projected = transform_geom("EPSG:4326", site.grid.crs, polygon)
        mask = rasterize([projected], out_shape=site.grid.shape, transform=site.grid.transform).astype(bool)
        rect = np.zeros(site.grid.shape, dtype=bool)
        rect[zone.rect.slices] = True
        assert not (rect & ~mask).any()
        assert (mask & ~rect).sum() < 0.15 * rect.sum()


def test_layout_paints_the_zones(site: SiteModel) -> None:
    from monitor.simulate.layout import LandCover

    classes = site.ground.classes
    assert (classes[site.layout.zone("replica-square").rect.slices] == LandCover.CONCRETE).all()
    assert (classes[site.layout.zone("west-parking").rect.slices] == LandCover.ASPHALT).all()
    assert (classes[site.layout.zone("assembly-apron").rect.slices] == LandCover.ASPHALT).all()
    assert set(np.unique(classes).tolist()) == set(LandCover)


# --- files ---------------------------------------------------------------------------------------------


def test_files_follow_the_imagery_contract(demo: Demo, scenario: Scenario) -> None:
    scenes = list(_scenes(demo.folder))
    assert [p.name for p in scenes] == sorted(scene_filename(plan.acquired) for plan in scenario.dates)
    assert not [p for p in demo.folder.iterdir() if p.name.startswith(".")]
    for path in scenes:
        match = NAME.match(path.name)
        assert match
        acquired = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        assert acquired.hour == 2
        with rasterio.open(path) as src:
            assert src.descriptions == ("B02", "B03", "B04", "B08", "SCL")
            assert src.dtypes == ("uint16",) * 5
            assert src.nodata == 0
            assert src.crs.to_epsg() == 32651
            assert src.res == (10.0, 10.0)
            assert src.transform.c % 10 == 0 and src.transform.f % 10 == 0
            assert src.profile["compress"].lower() == "deflate"
            assert src.profile["tiled"] and src.block_shapes == [(256, 256)] * 5
            tags = src.tags()
            data = src.read()
        assert tags["SIMULATED"] == "yes"
        assert tags["MONITOR_SIMULATOR"] == f"monitor.simulate 1 seed={DEFAULT_SEED}"
        assert "not Copernicus data" in tags["LICENSE"] and tags["CREDIT"] == tags["LICENSE"]
        assert tags["ACQUISITION_DATETIME_UTC"] == acquired.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert data.min() >= 1, "valid pixels must never be 0 (nodata)"
        assert set(np.unique(data[4]).tolist()) <= {3, 4, 5, 6, 8, 9, 10}
        assert data[:4].max() < 10000


def test_truth_csv_matches_the_returned_truth(demo: Demo) -> None:
    lines = (demo.folder / TRUTH_FILENAME).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "date,zone,kind,count,cloud_fraction,scene"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == len(demo.truth.records) == len(demo.truth.scenes) * len(DEMO_ZONES)
    for row, record in zip(rows, demo.truth.records, strict=True):
        assert row == [
            record.date.isoformat(),
            record.zone,
            record.kind,
            str(record.count),
            f"{record.cloud_fraction:.3f}",
            record.scene,
        ]
        assert (record.kind == "none") == (record.count == 0)


def test_the_build_is_byte_identical_for_a_seed(demo: Demo, tmp_path: Path) -> None:
    again = tmp_path / "imagery"
    truth = build_demo_imagery(again)
    assert truth == demo.truth

    def digest(folder: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}

    assert digest(again) == digest(demo.folder)


def test_renders_are_deterministic_and_seeded(site: SiteModel, scenario: Scenario) -> None:
    plan = scenario.dates[18]
    first, second = render_scene(site, plan), render_scene(site, plan)
    assert np.array_equal(first.bands, second.bands)
    other_site = build_site(DEFAULT_SEED + 1)
    other = render_scene(other_site, build_scenario(DEFAULT_SEED + 1).dates[18])
    assert not np.array_equal(first.bands, other.bands)


def test_writer_refuses_bad_arrays_and_foreign_scenes(tmp_path: Path, site: SiteModel) -> None:
    with pytest.raises(ValueError):
        write_scene(
            tmp_path / "x.tif",
            np.ones((4, 5, 5), dtype=np.uint16),
            site.grid.transform,
            site.grid.crs,
            datetime(2025, 5, 1, 2, tzinfo=UTC),
            {},
        )
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "S2_20240101T000000.tif").write_bytes(b"")
    with pytest.raises(FileExistsError):
        prepare_scene_folder(tmp_path, ["S2_20250501T020600.tif"])
    prepare_scene_folder(tmp_path, ["S2_20240101T000000.tif"])


# --- formations ----------------------------------------------------------------------------------------


def test_troop_blocks_darken_the_square_and_nothing_else(
    site: SiteModel, scenario: Scenario, renders: dict[int, tuple[RenderedScene, RenderedScene]]
) -> None:
    square = site.layout.zone("replica-square").rect
    outside = np.ones(site.grid.shape, dtype=bool)
    for zone in site.layout.zones:
        outside[zone.rect.grow(PSF_REACH_PX).clipped(*site.grid.shape).slices] = False
    checked = 0
    for plan in scenario.dates:
        with_f, without = renders[plan.index]
        assert np.array_equal(with_f.bands[:, outside], without.bands[:, outside])
        assert np.array_equal(with_f.bands[4], without.bands[4])
        crowd = plan.formation_in("replica-square")
        if crowd is None:
            window = (slice(None), *square.slices)
            assert np.array_equal(with_f.bands[window], without.bands[window])
            continue
        if crowd.count >= 8 and with_f.cloud_fraction(square) == 0:
            b04 = (with_f.bands[2][square.slices].astype(float) - without.bands[2][square.slices]) / 10000
            assert b04.mean() < -0.002  # >= 20 DN darker on average over the whole 460 x 260 m square
            assert b04.min() < -0.05  # block pixels much darker
            checked += 1
    assert checked >= 5


def test_vehicle_park_brightens_nir_in_the_parking(
    site: SiteModel, scenario: Scenario, renders: dict[int, tuple[RenderedScene, RenderedScene]]
) -> None:
    parking = site.layout.zone("west-parking").rect
    checked = 0
    for plan in scenario.dates:
        park = plan.formation_in("west-parking")
        with_f, without = renders[plan.index]
        if park is None or with_f.cloud_fraction(parking) > 0:
            continue
        nir = (with_f.bands[3][parking.slices].astype(float) - without.bands[3][parking.slices]) / 10000
        assert nir.mean() > 0.002 and nir.max() > 0.04
        assert len(with_f.footprints["west-parking"]) == park.count >= 100
        checked += 1
    assert checked >= 2


def test_footprints_lie_inside_their_zone(site: SiteModel, scenario: Scenario) -> None:
    from monitor.simulate.scene import formation_footprints

    for plan in scenario.dates:
        for formation in plan.formations:
            rect = site.layout.zone(formation.zone).rect
            height, width = rect.height * 10, rect.width * 10
            for fp in formation_footprints(site, formation):
                for x, y in _corners(fp):
                    assert 0 < x < width and 0 < y < height


@pytest.mark.parametrize("seed", range(6))
def test_cover_fractions_conserve_area(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (26, 46)
    area_m = (260.0, 460.0)
    cases = [
        troop_lattice(rng, area_m, int(rng.integers(8, 17))),
        vehicle_park(rng, area_m, int(rng.integers(100, 401))),
        vehicle_column(rng, area_m, int(rng.integers(40, 91))),
    ]
    for footprints in cases:
        cover = cover_fraction(footprints, shape)
        assert cover.shape == shape and cover.min() >= 0 and cover.max() <= 1
        expected = sum(fp.area for fp in footprints)
        assert cover.sum() * 100 == pytest.approx(expected, rel=0.01)


def test_cover_of_an_aligned_block_is_exact() -> None:
    """A 20 x 10 m block spanning x 15-35 m, y 10-20 m: half, full, half pixel in the middle row."""
    cover = cover_fraction([Footprint(x=25.0, y=15.0, length=20.0, width=10.0)], (3, 5))
    expected = np.zeros((3, 5), dtype=np.float32)
    expected[1, 1:4] = (0.5, 1.0, 0.5)
    assert np.allclose(cover, expected)


# --- clouds and the timeline ---------------------------------------------------------------------------


def test_scl_marks_clouds_where_clouds_were_drawn(
    scenario: Scenario, renders: dict[int, tuple[RenderedScene, RenderedScene]], site: SiteModel
) -> None:
    cloudy = 0
    for plan in scenario.dates:
        scene = renders[plan.index][0]
        scl, alpha, shadow = scene.bands[4], scene.clouds.alpha, scene.clouds.shadow
        assert np.array_equal(np.isin(scl, [8, 9, 10]), alpha > 0)
        assert (scl[alpha >= 0.6] == 9).all()
        assert (scl[(shadow >= 0.1) & (alpha == 0)] == 3).all()
        clear = (alpha == 0) & (shadow < 0.1)
        assert set(np.unique(scl[clear]).tolist()) <= {4, 5, 6}
        if (alpha >= 0.6).any():
            cloudy += 1
            assert np.median(scene.bands[0][alpha >= 0.6]) > 3000  # thick cloud is bright in blue
        if plan.clouds.mode == "clear":
            assert not alpha.any() and not shadow.any()
    assert cloudy >= 6


def test_quiet_period_gives_a_clear_baseline(demo: Demo, scenario: Scenario) -> None:
    first_event = min(plan.index for plan in scenario.dates if plan.formations)
    assert first_event >= 12
    records = demo.truth.records
    quiet_scenes = demo.truth.scenes[:first_event]
    assert all(r.kind == "none" for r in records if r.scene in quiet_scenes)
    clear = [s for s in quiet_scenes if all(r.cloud_fraction <= 0.05 for r in records if r.scene == s)]
    assert len(clear) >= 10


def test_timeline_shape(demo: Demo, scenario: Scenario) -> None:
    dates = [plan.acquired for plan in scenario.dates]
    assert 28 <= len(dates) <= 32
    assert dates[0].date().isoformat() == "2025-05-01" and dates[-1].date().isoformat() <= "2025-09-30"
    assert all(timedelta(days=4) < b - a < timedelta(days=6) for a, b in itertools.pairwise(dates))
    cloudy = [plan for plan in scenario.dates if plan.clouds.mode != "clear"]
    assert 0.2 <= len(cloudy) / len(dates) <= 0.25
    assert {plan.clouds.mode for plan in cloudy} == {"partial", "over_zone", "overcast"}

    rehearsal = scenario.dates[scenario.quiet_dates :]
    crowd = [plan.formation_in("replica-square") is not None for plan in rehearsal]
    assert 0.4 * len(crowd) <= sum(crowd) < len(crowd)
    assert all(c.kind == "crowd" and c.count >= 8 for p in rehearsal if (c := p.formation_in("replica-square")))
    park = [plan.index for plan in scenario.dates if plan.formation_in("west-parking")]
    assert len(park) >= 3 and park == list(range(park[0], park[-1] + 1))
    assert park[-1] < len(dates) - 1  # the park leaves before the end

    by_scene = {s: [r for r in demo.truth.records if r.scene == s] for s in demo.truth.scenes}
    for plan, scene in zip(scenario.dates, demo.truth.scenes, strict=True):
        fractions = [r.cloud_fraction for r in by_scene[scene]]
        if plan.clouds.mode == "partial":
            assert max(fractions) == 0
        if plan.clouds.mode == "overcast":
            assert min(fractions) == 1
    partly = [r for r in demo.truth.records if r.kind != "none" and 0 < r.cloud_fraction < 1]
    assert partly, "some formation must be partly under clouds"


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 12345])
def test_timeline_invariants_hold_for_any_seed(seed: int) -> None:
    scenario = build_scenario(seed)
    first_event = min(plan.index for plan in scenario.dates if plan.formations)
    assert first_event >= 12
    quiet_clear = [p for p in scenario.dates[:first_event] if p.clouds.mode in ("clear", "partial")]
    assert len(quiet_clear) >= 10
    assert scenario == build_scenario(seed)
    for plan in scenario.dates:
        for formation in plan.formations:
            zone = MIRIM_LAYOUT.zone(formation.zone)
            assert zone.kind in ("any", formation.kind)


def test_misregistration_is_optional(site: SiteModel) -> None:
    plain = build_scenario(DEFAULT_SEED)
    shifted = build_scenario(DEFAULT_SEED, misregistration_sigma_px=0.3)
    assert all(plan.misregistration_px == (0.0, 0.0) for plan in plain.dates)
    assert any(plan.misregistration_px != (0.0, 0.0) for plan in shifted.dates)
    a = render_scene(site, plain.dates[0]).bands
    b = render_scene(site, shifted.dates[0]).bands
    assert a.shape == b.shape and not np.array_equal(a[:4], b[:4])
    assert np.array_equal(a[4], b[4])


def _corners(fp: Footprint) -> list[tuple[float, float]]:
    theta = math.radians(fp.angle_deg)
    ux, uy = math.cos(theta), -math.sin(theta)
    vx, vy = math.sin(theta), math.cos(theta)
    return [
        (
            fp.x + su * fp.length / 2 * ux + sv * fp.width / 2 * vx,
            fp.y + su * fp.length / 2 * uy + sv * fp.width / 2 * vy,
        )
        for su in (-1, 1)
        for sv in (-1, 1)
    ]

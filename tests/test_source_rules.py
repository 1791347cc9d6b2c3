"""Pure rules of the remote sources: overpass identity and grouping, mosaicking, harmonisation, cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.archive.catalogue import MIGRATIONS, Catalogue
from monitor.sources import harmonise
from monitor.sources.scenes import Tile, group_overpasses, mgrs_code, mosaic, platform_code, relative_orbit, scene_id

T0 = datetime(2023, 1, 15, 2, 25, 31, tzinfo=UTC)


def _tile(code: str, when: datetime = T0, collection: str = "sentinel-2-l2a", platform: str = "S2B") -> Tile:
    return Tile(
        item_id=f"{platform}_{code}_{collection}",
        collection=collection,
        acquired=when,
        platform=platform,
        orbit=89,
        grid_code=code,
        assets=(),
    )


def test_platform_and_orbit_from_properties_or_ids() -> None:
    assert platform_code({"platform": "sentinel-2b"}) == "S2B"
    assert platform_code({"platform": "Sentinel-2A"}) == "S2A"
    assert platform_code({}, "S1A_IW_GRDH_1SDV_20230115") == "S1A"
    assert platform_code({"platform": "landsat-8"}, "LC08_x") is None
    assert relative_orbit({"sat:relative_orbit": 89}) == 89
    assert relative_orbit({}, "S2B_MSIL2A_20230115T022319_N0509_R089_T51SYD_20230115T051034") == 89
    assert relative_orbit({}, "no-orbit") is None
    assert mgrs_code({"mgrs:utm_zone": 51, "mgrs:latitude_band": "S", "mgrs:grid_square": "YD"}, "x") == "51SYD"
    assert mgrs_code({"s2:mgrs_tile": "52SBJ"}, "x") == "52SBJ"
    assert mgrs_code({"grid:code": "MGRS-52SBJ"}, "x") == "52SBJ"


@given(st.integers(min_value=0, max_value=3600 * 20))
def test_scene_id_is_the_same_for_every_tile_of_a_day(seconds: int) -> None:
    day = datetime(2023, 1, 15, tzinfo=UTC)
    assert scene_id("S2B", 89, day + timedelta(seconds=seconds)) == "S2B_20230115_R089"


def test_scene_id_without_orbit_uses_the_minute() -> None:
    assert scene_id("S1C", None, T0) == "S1C_20230115T0225"


def test_overpasses_group_tiles_and_prefer_the_first_collection() -> None:
    tiles = [
        _tile("51SYD"),
        _tile("52SBJ", T0 + timedelta(seconds=4)),
        _tile("51SYD", collection="sentinel-2-c1-l2a"),
        _tile("51SYD", T0 + timedelta(days=5), platform="S2A"),
    ]
    groups = group_overpasses(tiles, ("sentinel-2-c1-l2a", "sentinel-2-l2a"))
    assert [[t.grid_code for t in g] for g in groups] == [["51SYD", "52SBJ"], ["51SYD"]]
    assert groups[0][0].collection == "sentinel-2-c1-l2a"
    assert groups[1][0].platform == "S2A"


def test_mosaic_takes_whole_pixels_from_the_first_complete_layer() -> None:
    nan = np.nan
    a = np.array([[[1.0, nan, nan]], [[1.0, 1.0, nan]]], np.float32)  # (2 bands, 1 row, 3 cols)
    b = np.array([[[2.0, 2.0, 2.0]], [[2.0, 2.0, nan]]], np.float32)
    out = mosaic([a, b])
    # col 0: a complete; col 1: a lacks band 0 -> b whole; col 2: neither complete -> a's partial values
    np.testing.assert_array_equal(out[:, 0, 0], [1.0, 1.0])
    np.testing.assert_array_equal(out[:, 0, 1], [2.0, 2.0])
    assert np.isnan(out[:, 0, 2]).all()


@pytest.mark.parametrize(
    ("props", "acquired", "expected"),
    [
        ({"s2:processing_baseline": "05.09"}, T0, harmonise.REMOVED),
        ({"s2:processing_baseline": "04.00"}, T0, harmonise.REMOVED),
        ({"s2:processing_baseline": "03.01"}, T0, harmonise.NOT_NEEDED),
        ({"s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": True}, T0, harmonise.BY_PROVIDER),
        ({}, datetime(2022, 1, 26, tzinfo=UTC), harmonise.REMOVED),
        ({}, datetime(2021, 6, 1, tzinfo=UTC), harmonise.NOT_NEEDED),
        ({"processing:version": "5.0"}, T0, harmonise.REMOVED),
    ],
)
def test_harmonisation_rule(props: dict, acquired: datetime, expected: str) -> None:  # type: ignore[type-arg]
    assert harmonise.harmonisation(props, acquired) == expected


def test_offset_removal_floors_at_zero_and_keeps_nan() -> None:
    out = harmonise.remove_offset(np.array([1500.0, 900.0, np.nan], np.float32))
    assert out[0] == 500.0 and out[1] == 0.0 and np.isnan(out[2]) and out.dtype == np.float32


def test_search_cursor_only_moves_forward(tmp_path: Path) -> None:
    with Catalogue(tmp_path) as cat:
        assert cat.schema_version() == len(MIGRATIONS)
        assert cat.last_acquired("earth-search", "mirim") is None
        with cat.transaction():
            cat.set_last_acquired("earth-search", "mirim", T0)
        cat.set_last_acquired("earth-search", "mirim", T0 - timedelta(days=3))
        assert cat.last_acquired("earth-search", "mirim") == T0
        assert cat.last_acquired("sentinelhub", "mirim") is None

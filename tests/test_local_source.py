"""The local source: file names, search, and reading GeoTIFFs (any CRS, any resolution) onto the site grid."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from shapely.geometry import box, mapping

from monitor.config import SiteConfig, SourceConfig, ZoneConfig
from monitor.errors import EmptySceneError, MonitorError, SceneError, SourceError
from monitor.grid import SiteGrid, site_grid
from monitor.scene import Scene
from monitor.sensors import sensor_from_prefix
from monitor.sources.local import LocalSource, time_from_name
from tests.conftest import CROWD_BBOX, S2_NAMES, SITE_BBOX, VEHICLE_BBOX, write_geotiff, write_s2

SPECTRAL = S2_NAMES[:4]
STAMP = "S2_20230115T021530"


@pytest.fixture(scope="module")
def site() -> SiteConfig:
    return SiteConfig(
        id="test-site",
        bbox=SITE_BBOX,
        zones=[ZoneConfig(id="square", bbox=CROWD_BBOX), ZoneConfig(id="parking", bbox=VEHICLE_BBOX)],
    )


@pytest.fixture(scope="module")
def grid(site: SiteConfig) -> SiteGrid:
    return site_grid(site)


def _read(folder: Path, site: SiteConfig, grid: SiteGrid, scene_id: str = STAMP) -> Scene:
    source = LocalSource(SourceConfig(kind="local", path=folder))
    refs = {r.scene_id: r for r in source.search(site, None, None)}
    return source.read(refs[scene_id], grid)


def _dn(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(200, 9000, size=shape, dtype=np.uint16)


# --- file names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("S2_20230115T021530", datetime(2023, 1, 15, 2, 15, 30, tzinfo=UTC)),
        ("S1_20230115_021530", datetime(2023, 1, 15, 2, 15, 30, tzinfo=UTC)),
        ("PS_2023-01-15", datetime(2023, 1, 15, tzinfo=UTC)),
        ("20230115T021530", datetime(2023, 1, 15, 2, 15, 30, tzinfo=UTC)),
        ("S2_20230115T021530_r052", datetime(2023, 1, 15, 2, 15, 30, tzinfo=UTC)),
        ("S2_20231315T021530", None),  # month 13
        ("S2_20230230T021530", None),  # 30 February
        ("S2_20230115T256000", None),  # hour 25
        ("PS_2023-13-01", None),
        ("S2_123456789T021530", None),  # nine digits are not a date
        ("S2_scene", None),
        ("", None),
    ],
)
def test_time_from_name(name: str, expected: datetime | None) -> None:
    got = time_from_name(name)
    assert got == expected
    if got is not None:
        assert got.tzinfo is not None and got.utcoffset() is not None and got.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("name", "sensor"),
    [
        ("S2_20230115T021530", "S2"),
        ("S1_20230115_021530", "S1"),
        ("PS_2023-01-15", "PS"),
        ("s2_20230115T021530", "S2"),
        ("S2A_20230115T021530", "S2"),
        ("S2B_MSIL2A_20230115T021530", "S2"),
        ("planet_2023-01-15", "PLANET"),
        ("20230115T021530", "OPT"),
        ("_20230115T021530", "OPT"),
    ],
)
def test_sensor_from_prefix(name: str, sensor: str) -> None:
    assert sensor_from_prefix(name) == sensor


# --- search -------------------------------------------------------------------------------------------


def test_search_lists_geotiffs_by_time(tmp_path: Path, site: SiteConfig, caplog: pytest.LogCaptureFixture) -> None:
    names = [
        "S2_20230301T021530.tif",
        "S2_20230115T021530.tif",
        "sub/2023/S1_20230201_093000.tiff",
        "sub/PS_2023-01-20.TIF",
        "S2_20230401T021530.tif.aux.xml",
        "S2_20230402T021530.png",
        "notes.txt",
        "notes.tif",
        "S2_notime.tif",
    ]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    source = LocalSource(SourceConfig(kind="local", path=tmp_path))
    with caplog.at_level(logging.DEBUG, logger="monitor.sources.local"):
        refs = source.search(site, None, None)
    # notes.tif claims neither a time nor a sensor: one debug line, no failed scene; S2_notime claims a sensor
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'notes.tif'}: not imagery by its name (no acquisition time, no sensor prefix): skipped"
    ]
    ids = [r.scene_id for r in refs]
    assert ids == ["S2_notime", "S2_20230115T021530", "PS_2023-01-20", "S1_20230201_093000", "S2_20230301T021530"]
    by_id = {r.scene_id: r for r in refs}
    assert by_id["S1_20230201_093000"].sensor == "S1" and by_id["PS_2023-01-20"].sensor == "PS"
    assert by_id["S2_notime"].acquired is None and "no acquisition time" in (by_id["S2_notime"].problem or "")
    assert by_id["S2_20230115T021530"].problem is None
    assert by_id["S2_20230115T021530"].source == f"local:{tmp_path}"
    assert by_id["PS_2023-01-20"].assets[0].href == str(tmp_path / "sub" / "PS_2023-01-20.TIF")
    # since / until are inclusive; files without a time stay listed so they are recorded as failed
    window = source.search(site, datetime(2023, 1, 20, tzinfo=UTC), datetime(2023, 2, 1, 9, 30, tzinfo=UTC))
    assert [r.scene_id for r in window] == ["S2_notime", "PS_2023-01-20", "S1_20230201_093000"]
    assert [r.scene_id for r in source.search(site, datetime(2023, 3, 1, 2, 15, 31, tzinfo=UTC), None)] == ["S2_notime"]


def test_search_of_a_missing_folder(tmp_path: Path, site: SiteConfig) -> None:
    source = LocalSource(SourceConfig(kind="local", path=tmp_path / "nowhere"))
    with pytest.raises(SourceError, match="nowhere"):
        source.search(site, None, None)


# --- reading a file on the site grid -------------------------------------------------------------------


def test_aligned_file_reads_back_exact_reflectance(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    rng = np.random.default_rng(3)
    dn = _dn(rng, (4, *grid.shape))
    scl = np.full(grid.shape, 4, np.uint16)
    write_geotiff(tmp_path / f"{STAMP}.tif", np.concatenate([dn, scl[None]]), grid.transform, grid.crs)
    scene = _read(tmp_path, site, grid)
    assert scene.scene_id == STAMP and scene.sensor == "S2"
    assert scene.acquired == datetime(2023, 1, 15, 2, 15, 30, tzinfo=UTC)
    assert scene.bands == SPECTRAL and set(scene.aux) == {"SCL"}
    assert scene.transform == grid.transform and scene.crs == grid.crs and scene.shape == grid.shape
    assert scene.data.dtype == np.float32
    np.testing.assert_array_equal(scene.data, dn.astype(np.float32) * np.float32(1e-4))
    np.testing.assert_array_equal(scene.aux["SCL"], 4)
    assert scene.valid.all()
    assert len(scene.provenance["checksum"]) == 64 and scene.provenance["source"] == f"local:{tmp_path}"


def test_aligned_file_larger_than_the_grid(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    """A Sentinel-2-tile-like file holding the grid somewhere inside: the crop is an exact slice."""
    rng = np.random.default_rng(4)
    rows, cols, r0, c0 = grid.height + 50, grid.width + 70, 17, 41
    dn = _dn(rng, (4, rows, cols))
    scl = np.full((1, rows, cols), 5, np.uint16)
    transform = grid.transform @ Affine.translation(-c0, -r0)
    write_geotiff(tmp_path / f"{STAMP}.tif", np.concatenate([dn, scl]), transform, grid.crs)
    scene = _read(tmp_path, site, grid)
    expected = dn[:, r0 : r0 + grid.height, c0 : c0 + grid.width].astype(np.float32) * np.float32(1e-4)
    np.testing.assert_array_equal(scene.data, expected)


def test_scl_classes_decide_validity(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    rng = np.random.default_rng(5)
    dn = _dn(rng, (4, *grid.shape))
    classes = np.arange(12, dtype=np.uint16)
    scl = classes[np.arange(grid.width) % 12][None, :].repeat(grid.height, axis=0)
    write_geotiff(tmp_path / f"{STAMP}.tif", np.concatenate([dn, scl[None]]), grid.transform, grid.crs)
    scene = _read(tmp_path, site, grid)
    for k in range(12):
        column_valid = scene.valid[:, scl[0] == k]
        assert column_valid.all() if k in (4, 5, 6) else not column_valid.any(), k
    assert scene.usable_fraction(np.ones(grid.shape, bool)) == pytest.approx(np.isin(scl, (4, 5, 6)).mean())


def test_nodata_zero_is_invalid(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    rng = np.random.default_rng(6)
    dn = _dn(rng, (4, *grid.shape))
    holes = rng.random(grid.shape) < 0.2
    band = rng.integers(0, 4, size=grid.shape)
    for b in range(4):
        dn[b][holes & (band == b)] = 0  # one band missing is enough to make the pixel invalid
    scl = np.full(grid.shape, 4, np.uint16)
    write_geotiff(tmp_path / f"{STAMP}.tif", np.concatenate([dn, scl[None]]), grid.transform, grid.crs)
    scene = _read(tmp_path, site, grid)
    np.testing.assert_array_equal(scene.valid, ~holes)
    assert np.isnan(scene.data[band[holes], *np.nonzero(holes)]).all()


def test_nan_is_invalid(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    rng = np.random.default_rng(7)
    refl = rng.uniform(0.02, 0.4, (4, *grid.shape)).astype(np.float32)
    holes = rng.random(grid.shape) < 0.1
    refl[2][holes] = np.nan
    write_geotiff(tmp_path / f"{STAMP}.tif", refl, grid.transform, grid.crs, descriptions=SPECTRAL, nodata=None)
    scene = _read(tmp_path, site, grid)
    np.testing.assert_array_equal(scene.valid, ~holes)
    # float reflectance is already physical: no DN scaling
    np.testing.assert_array_equal(scene.data[:, ~holes], refl[:, ~holes])
    assert "SCL" not in scene.aux


# --- other CRS and resolutions: warped onto the grid -----------------------------------------------------


def _field(grid: SiteGrid, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A smooth reflectance field (4, ...) defined in the grid CRS: gentle ramps, 0.08..0.35."""
    left, bottom, right, top = grid.bounds
    u, v = (x - left) / (right - left), (y - bottom) / (top - bottom)
    base = np.array([0.08, 0.10, 0.12, 0.25])[:, None]
    return base + 0.06 * u.ravel()[None] + 0.04 * v.ravel()[None] + 0.02 * np.sin(2.0 * u.ravel() + v.ravel())


def _source_raster(
    grid: SiteGrid, crs: CRS, res: float, margin: float, offset: float = 0.0
) -> tuple[np.ndarray, np.ndarray, Affine]:
    """The smooth field and a class layer (4 left of the grid centre, 8 right) sampled on a north-up raster
    in ``crs`` covering the grid plus ``margin`` (in ``crs`` units)."""
    left, bottom, right, top = transform_bounds(grid.crs, crs, *grid.bounds, densify_pts=21)
    transform = Affine(res, 0.0, left - margin + offset, 0.0, -res, top + margin + offset)
    cols = int(np.ceil((right - left + 2 * margin) / res))
    rows = int(np.ceil((top - bottom + 2 * margin) / res))
    jj, ii = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
    sx, sy = transform @ (jj, ii)
    x, y = Transformer.from_crs(crs, grid.crs, always_xy=True).transform(sx, sy)
    refl = _field(grid, np.asarray(x), np.asarray(y)).reshape(4, rows, cols)
    centre = (grid.bounds[0] + grid.bounds[2]) / 2
    scl = np.where(np.asarray(x) < centre, 4, 8).astype(np.uint16)
    return refl, scl, transform


def _grid_field(grid: SiteGrid) -> np.ndarray:
    jj, ii = np.meshgrid(np.arange(grid.width) + 0.5, np.arange(grid.height) + 0.5)
    x, y = grid.transform @ (jj, ii)
    return _field(grid, np.asarray(x), np.asarray(y)).reshape(4, *grid.shape)


@pytest.mark.parametrize(
    ("crs", "res", "margin", "offset"),
    [
        (CRS.from_epsg(4326), 0.0001, 0.002, 0.0),  # geographic, about 8.6 x 11 m
        (CRS.from_epsg(32652), 10.0, 200.0, 3.0),  # the neighbouring UTM zone: rotated by about 2.3 degrees
        (CRS.from_epsg(32651), 3.0, 60.0, 1.0),  # PlanetScope-like, off the grid's phase
        (CRS.from_epsg(32651), 20.0, 100.0, 0.0),  # Sentinel-2 20 m bands
    ],
    ids=["epsg4326", "utm52", "3m", "20m"],
)
def test_foreign_grids_are_warped(
    tmp_path: Path, site: SiteConfig, grid: SiteGrid, crs: CRS, res: float, margin: float, offset: float
) -> None:
    refl, scl, transform = _source_raster(grid, crs, res, margin, offset)
    write_s2(tmp_path / f"{STAMP}.tif", refl, transform, crs, scl)
    scene = _read(tmp_path, site, grid)
    assert scene.crs == grid.crs and scene.transform == grid.transform and scene.shape == grid.shape
    expected = _grid_field(grid)
    finite = np.all(np.isfinite(scene.data), axis=0)
    assert finite.mean() > 0.99
    for b in range(4):
        got = scene.data[b][finite]
        assert got.mean() == pytest.approx(expected[b][finite].mean(), rel=0.01)
        assert np.median(np.abs(got - expected[b][finite])) < 0.003
    # SCL resampled by nearest or mode: still whole classes, and the split line stays in place
    classes = scene.aux["SCL"][finite]
    assert set(np.unique(classes)) <= {4.0, 8.0}
    x = (grid.transform @ (np.arange(grid.width) + 0.5, np.zeros(grid.width)))[0]
    centre = (grid.bounds[0] + grid.bounds[2]) / 2
    reach = 2 * (res if crs.is_projected else 12.0) + grid.resolution  # a source pixel in metres, twice
    left_cols, right_cols = x < centre - reach, x > centre + reach
    assert (scene.aux["SCL"][:, left_cols] == 4).mean() > 0.99
    assert (scene.aux["SCL"][:, right_cols] == 8).mean() > 0.99
    np.testing.assert_array_equal(scene.valid, finite & (scene.aux["SCL"] == 4))


# Regression: the resampling choice compared the source pixel size in degrees (EPSG:4326) with the grid's metres,
# so a coarse geographic file that had to be enlarged was block-averaged instead of interpolated bilinearly.
def test_a_coarse_geographic_file_is_interpolated(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    refl, scl, transform = _source_raster(grid, CRS.from_epsg(4326), 0.0005, 0.003)  # about 43 x 55 m
    write_s2(tmp_path / f"{STAMP}.tif", refl, transform, "EPSG:4326", scl)
    scene = _read(tmp_path, site, grid)
    b02 = scene.band("B02")
    # bilinear on a ramp leaves no two neighbours equal; block-wise resampling repeats values
    assert np.mean(np.diff(b02, axis=1) == 0) < 0.05


# --- broken, foreign and partial files -------------------------------------------------------------------


def test_a_file_without_band_descriptions(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    dn = _dn(np.random.default_rng(8), (5, *grid.shape))
    write_geotiff(tmp_path / f"{STAMP}.tif", dn, grid.transform, grid.crs, descriptions=None)
    with pytest.raises(SceneError, match=f"{STAMP}.tif") as info:
        _read(tmp_path, site, grid)
    assert "description" in str(info.value)


def test_a_file_with_some_band_descriptions(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    dn = _dn(np.random.default_rng(8), (5, *grid.shape))
    write_geotiff(tmp_path / f"{STAMP}.tif", dn, grid.transform, grid.crs, descriptions=("B02", "B03"))
    with pytest.raises(SceneError, match=f"{STAMP}.tif"):
        _read(tmp_path, site, grid)


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.75])
def test_a_truncated_file_is_a_source_error(tmp_path: Path, site: SiteConfig, grid: SiteGrid, keep: float) -> None:
    dn = _dn(np.random.default_rng(9), (4, *grid.shape))
    scl = np.full((1, *grid.shape), 4, np.uint16)
    full = write_geotiff(tmp_path / "full" / "full.tif", np.concatenate([dn, scl]), grid.transform, grid.crs)
    # a cloud-optimised layout keeps the header in front, so a cut file still opens and fails when read
    cog = tmp_path / "cog.tif"
    rasterio.shutil.copy(full, cog, driver="COG", compress="deflate")
    payload = cog.read_bytes()
    folder = tmp_path / "imagery"
    folder.mkdir()
    (folder / f"{STAMP}.tif").write_bytes(payload[: int(len(payload) * keep)])
    with pytest.raises(SourceError) as info:
        _read(folder, site, grid)
    assert isinstance(info.value, MonitorError) and isinstance(info.value, OSError)
    assert f"{STAMP}.tif" in str(info.value)


def test_an_empty_file_is_a_source_error(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    (tmp_path / f"{STAMP}.tif").write_bytes(b"")
    with pytest.raises(SourceError):
        _read(tmp_path, site, grid)


@pytest.mark.parametrize("crs", ["EPSG:32651", "EPSG:4326"])
def test_a_file_elsewhere_is_an_empty_scene(tmp_path: Path, site: SiteConfig, grid: SiteGrid, crs: str) -> None:
    if crs == "EPSG:4326":
        transform = Affine(0.0001, 0.0, 127.5, 0.0, -0.0001, 38.0)  # 150 km away
    else:
        transform = grid.transform @ Affine.translation(5000, 0)  # 50 km east
    dn = _dn(np.random.default_rng(10), (4, 64, 64))
    scl = np.full((1, 64, 64), 4, np.uint16)
    write_geotiff(tmp_path / f"{STAMP}.tif", np.concatenate([dn, scl]), transform, crs)
    with pytest.raises(EmptySceneError):
        _read(tmp_path, site, grid)


def test_a_file_of_nodata_over_the_site_is_an_empty_scene(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    data = np.zeros((5, *grid.shape), np.uint16)
    write_geotiff(tmp_path / f"{STAMP}.tif", data, grid.transform, grid.crs)
    with pytest.raises(EmptySceneError):
        _read(tmp_path, site, grid)


def test_partial_overlap(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    """The file covers the western half of the grid and a strip beyond it; the rest counts as not valid."""
    half = grid.width // 2
    dn = _dn(np.random.default_rng(11), (4, grid.height + 20, half + 30))
    scl = np.full((1, grid.height + 20, half + 30), 4, np.uint16)
    transform = grid.transform @ Affine.translation(-30, -10)
    write_geotiff(tmp_path / f"{STAMP}.tif", np.concatenate([dn, scl]), transform, grid.crs)
    scene = _read(tmp_path, site, grid)
    assert scene.shape == grid.shape
    assert scene.valid[:, :half].all() and not scene.valid[:, half:].any()
    assert np.isnan(scene.data[:, :, half:]).all()
    assert grid.site_mask is not None
    for mask in (grid.site_mask, *grid.zone_masks.values()):
        assert scene.usable_fraction(mask) == pytest.approx(mask[:, :half].sum() / mask.sum())
    assert 0.4 < scene.usable_fraction(grid.site_mask) < 0.6
    assert (
        scene.usable_fraction(grid.zone_masks["parking"]) < 0.2 < 0.8 < scene.usable_fraction(grid.zone_masks["square"])
    )


def _tile_offsets(path: Path) -> dict[tuple[int, int], tuple[int, int]]:
    """(tile col, tile row) -> (byte offset, byte size) of every tile of a pixel-interleaved tiled GeoTIFF."""
    out = {}
    with rasterio.open(path) as src:
        (th, tw) = src.block_shapes[0]
        for tr in range((src.height + th - 1) // th):
            for tc in range((src.width + tw - 1) // tw):
                offset = src.get_tag_item(f"BLOCK_OFFSET_{tc}_{tr}", "TIFF", bidx=1)
                size = src.get_tag_item(f"BLOCK_SIZE_{tc}_{tr}", "TIFF", bidx=1)
                out[(tc, tr)] = (int(offset), int(size))
    return out


def test_only_the_window_is_read(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    """A large tiled file whose tiles away from the site are garbage: reading the crop never decodes them."""
    size, tile, r0, c0 = 2048, 256, 900, 1100
    transform = grid.transform @ Affine.translation(-c0, -r0)
    ii, jj = np.mgrid[0:size, 0:size]
    dn = (1000 + (ii + 2 * jj) % 3000).astype(np.uint16)
    data = np.concatenate([np.stack([dn + 100 * b for b in range(4)]), np.full((1, size, size), 4, np.uint16)])
    path = write_geotiff(
        tmp_path / f"{STAMP}.tif", data, transform, grid.crs, tiled=True, blockxsize=tile, blockysize=tile
    )
    pad = 8  # the window the site needs, plus a few pixels
    rows = range((r0 - pad) // tile, (r0 + grid.height + pad) // tile + 1)
    cols = range((c0 - pad) // tile, (c0 + grid.width + pad) // tile + 1)
    payload = bytearray(path.read_bytes())
    garbage = np.random.default_rng(12).integers(0, 256, size=len(payload), dtype=np.uint8).tobytes()
    spoiled = 0
    for (tc, tr), (offset, length) in _tile_offsets(path).items():
        if tr not in rows or tc not in cols:
            payload[offset : offset + length] = garbage[offset : offset + length]
            spoiled += 1
    path.write_bytes(bytes(payload))
    assert spoiled >= 60  # of 64 tiles
    with rasterio.open(path) as src, pytest.raises(rasterio.errors.RasterioError):
        src.read(1)  # the whole file really is unreadable
    scene = _read(tmp_path, site, grid)
    expected = data[:4, r0 : r0 + grid.height, c0 : c0 + grid.width].astype(np.float32) * np.float32(1e-4)
    np.testing.assert_array_equal(scene.data, expected)
    assert scene.valid.all()


# --- a static STAC catalog ---------------------------------------------------------------------------


def _stac_catalog(root: Path, grid: SiteGrid, stamps: list[datetime]) -> tuple[Path, dict[str, np.ndarray]]:
    """A self-contained catalog of Sentinel-2 items with one single-band GeoTIFF per asset."""
    catalog = pystac.Catalog(id="local-s2", description="test catalog")
    arrays: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(13)
    for t in stamps:
        item_id = f"S2A_51SXX_{t:%Y%m%d}_0_L2A"
        folder = root / item_id
        item = pystac.Item(
            id=item_id,
            geometry=mapping(box(*SITE_BBOX)),
            bbox=list(SITE_BBOX),
            datetime=t,
            properties={"platform": "sentinel-2a", "eo:cloud_cover": 3.0},
        )
        scl = np.full(grid.shape, 4, np.uint16)
        scl[:, : grid.width // 4] = 9  # a cloud strip in the west
        layers = {key: _dn(rng, grid.shape) for key in ("blue", "green", "red", "nir")} | {"scl": scl}
        for key, layer in layers.items():
            tif = write_geotiff(folder / f"{key}.tif", layer[None], grid.transform, grid.crs, descriptions=None)
            item.add_asset(key, pystac.Asset(href=str(tif), media_type=pystac.MediaType.GEOTIFF, roles=["data"]))
        item.add_asset("thumbnail", pystac.Asset(href=str(folder / "thumb.jpg"), roles=["thumbnail"]))
        catalog.add_item(item)
        arrays[item_id] = np.stack([layers[k] for k in ("blue", "green", "red", "nir", "scl")])
    catalog.normalize_hrefs(str(root))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json", arrays


def test_static_stac_catalog(tmp_path: Path, site: SiteConfig, grid: SiteGrid) -> None:
    stamps = [datetime(2023, 3, 1, 2, 15, 30, tzinfo=UTC), datetime(2023, 1, 15, 2, 15, 30, tzinfo=UTC)]
    catalog_path, arrays = _stac_catalog(tmp_path / "stac", grid, stamps)
    source = LocalSource(SourceConfig(kind="local", path=catalog_path))
    refs = source.search(site, None, None)
    assert [r.acquired for r in refs] == sorted(stamps)
    assert all(r.sensor == "S2" and r.problem is None for r in refs)
    assert {a.name for a in refs[0].assets} == set(S2_NAMES)
    assert [r.scene_id for r in source.search(site, datetime(2023, 2, 1, tzinfo=UTC), None)] == [refs[1].scene_id]
    scene = source.read(refs[0], grid)
    assert set(scene.bands) == set(SPECTRAL) and set(scene.aux) == {"SCL"}
    assert scene.sensor == "S2" and scene.acquired == stamps[1]
    expected = arrays[refs[0].scene_id]
    for b, name in enumerate(SPECTRAL):
        np.testing.assert_array_equal(scene.band(name), expected[b].astype(np.float32) * np.float32(1e-4))
    np.testing.assert_array_equal(scene.valid, expected[4] == 4)
    assert scene.usable_fraction(np.ones(grid.shape, bool)) == pytest.approx(0.75, abs=0.02)
    assert scene.provenance["stac_item"] == refs[0].scene_id


def test_a_broken_stac_catalog(tmp_path: Path, site: SiteConfig) -> None:
    (tmp_path / "catalog.json").write_text("{not json")
    with pytest.raises(SourceError, match="catalog"):
        LocalSource(SourceConfig(kind="local", path=tmp_path / "catalog.json")).search(site, None, None)

"""Broken or hostile imagery in the local folder (issue 13): each file is a scene recorded with its reason
(failed, or empty when nothing of it lies on the site), the run goes on (exit 0), the good scenes are
scored, and no file makes the monitor allocate what a site crop never needs."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

from tests.conftest import S2_NAMES, invoke, site_grid_of, write_geotiff


def _png(path: Path, grid: Any) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)


def _text(path: Path, grid: Any) -> None:
    path.write_text("<html>404 Not Found</html>")


def _fine_pixels(path: Path, grid: Any) -> None:
    """5 cm pixels over the site: its window would be 12,000 x 12,000 px per band (a bomb by transform)."""
    left, _bottom, _right, top = grid.bounds
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=20000,
        height=20000,
        count=5,
        dtype="uint16",
        crs=grid.crs,
        transform=Affine(0.05, 0, left, 0, -0.05, top),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        sparse_ok=True,
        nodata=0,
    ) as dst:
        for i, name in enumerate(S2_NAMES, start=1):
            dst.set_band_description(i, name)


def _giant_strip(path: Path, grid: Any) -> None:
    """One strip of 30,000 x 30,000 px: reading any window inflates 1.7 GiB."""
    left, _bottom, _right, top = grid.bounds
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=30000,
        height=30000,
        count=1,
        dtype="uint16",
        crs=grid.crs,
        transform=Affine(10, 0, left, 0, -10, top),
        tiled=False,
        blockysize=30000,
        compress="deflate",
        sparse_ok=True,
        nodata=0,
    ) as dst:
        dst.set_band_description(1, "B02")


def _no_crs(path: Path, grid: Any) -> None:
    data = np.full((5, *grid.shape), 1000, np.uint16)
    write_geotiff(path, data, grid.transform, None)


def _nan_inf(path: Path, grid: Any) -> None:
    data = np.full((4, *grid.shape), np.nan, np.float32)
    data[:, ::2] = np.inf
    data[:, 1::4] = -np.inf
    write_geotiff(path, data, grid.transform, grid.crs, descriptions=S2_NAMES[:4], nodata=None)


def _far_side(path: Path, grid: Any) -> None:
    """A tile over the Atlantic, in another UTM zone (the site's own transform, the wrong CRS)."""
    data = np.full((5, *grid.shape), 1000, np.uint16)
    write_geotiff(path, data, Affine(10, 0, 500000, 0, -10, 4000000), "EPSG:32624")


def _impossible_crs(path: Path, grid: Any) -> None:
    """Geographic coordinates beyond the poles: no transform to the site's CRS exists."""
    data = np.full((5, 20, 20), 1000, np.uint16)
    write_geotiff(path, data, Affine(1, 0, 500, 0, -1, 400), "EPSG:4326")


def _one_band(path: Path, grid: Any) -> None:
    data = np.full((1, *grid.shape), 1000, np.uint16)
    write_geotiff(path, data, grid.transform, grid.crs, descriptions=("SCL",))


def _unnamed_bands(path: Path, grid: Any) -> None:
    data = np.full((3, *grid.shape), 1000, np.uint16)
    write_geotiff(path, data, grid.transform, grid.crs, descriptions=None)


CASES: dict[str, tuple[Callable[[Path, Any], None], set[str], str]] = {
    # name: (writer, allowed statuses, a word the reason holds)
    "png": (_png, {"failed"}, "cannot"),
    "html": (_text, {"failed"}, "cannot"),
    "fine-pixels": (_fine_pixels, {"failed"}, "refused"),
    "giant-strip": (_giant_strip, {"failed"}, "refused"),
    "no-crs": (_no_crs, {"failed"}, "CRS"),
    "nan-inf": (_nan_inf, {"empty"}, "no valid pixel"),
    "far-side": (_far_side, {"empty"}, "overlap"),
    "impossible-crs": (_impossible_crs, {"failed", "empty"}, ""),
    "one-band": (_one_band, {"failed"}, "spectral"),
    "unnamed-bands": (_unnamed_bands, {"failed"}, "description"),
}


def test_each_broken_file_is_a_recorded_scene_and_the_run_goes_on(synthetic_site: Any) -> None:
    config = synthetic_site(quiet=6, formations=())
    imagery = config.parent / "imagery"
    grid = site_grid_of(config)
    ids = {}
    for day, (name, (writer, _, _)) in enumerate(CASES.items(), start=1):
        scene_id = f"S2_202509{day:02d}T021530"
        writer(imagery / f"{scene_id}.tif", grid)
        ids[scene_id] = name
    result = invoke("run", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(invoke("scenes", "--config", str(config)).stdout))}
    for scene_id, name in ids.items():
        _, statuses, word = CASES[name]
        row = rows[scene_id]
        assert row["status"] in statuses and row["reason"], (name, row)
        assert word.lower() in row["reason"].lower(), (name, row["reason"])
    good = [r for r in rows.values() if r["id"] not in ids]
    assert len(good) == 6 and all(r["status"] == "ok" for r in good)


@pytest.mark.parametrize("size", [0, 1, 7, 8, 100, 1000])
def test_a_truncated_file_at_any_length_is_refused_cleanly(tmp_path: Path, size: int, synthetic_site: Any) -> None:
    from monitor.errors import MonitorError
    from monitor.sources.base import BandAsset
    from monitor.sources.raster import read_crop

    config = synthetic_site(quiet=1, formations=())
    good = sorted((config.parent / "imagery").glob("*.tif"))[0]
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[:size])
    with pytest.raises(MonitorError):
        read_crop([BandAsset("B02", str(cut), 1)], site_grid_of(config))

"""New bright radar targets: metal that was not there rises far above a dim lot; speckle and a wetter
ground do not count."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from monitor.detect.baseline import Baseline
from monitor.detect.formations import describe
from monitor.detect.radar import bright_targets
from monitor.detect.scoring import score_scene
from monitor.scene import Scene

SHAPE = (60, 60)
LOOKS = 4.4  # equivalent number of looks of Sentinel-1 IW GRD-HR


def _speckled(mean_db: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Linear sigma0 with gamma speckle of LOOKS looks around ``mean_db``."""
    mean = 10.0 ** (mean_db / 10.0)
    return (mean * rng.gamma(LOOKS, 1.0 / LOOKS, mean.shape)).astype(np.float32)


def _scene(data: np.ndarray) -> Scene:
    return Scene(
        scene_id="S1A_20250701T213000",
        sensor="S1",
        acquired=datetime(2025, 7, 1, 21, 30, tzinfo=UTC),
        bands=("VV", "VH"),
        data=data,
        valid=np.ones(SHAPE, dtype=bool),
        transform=Affine(10, 0, 500000, 0, -10, 4300000),
        crs=CRS.from_epsg(32652),
    )


def _baseline() -> Baseline:
    median = np.stack([np.full(SHAPE, -18.0), np.full(SHAPE, -25.0)]).astype(np.float32)
    return Baseline("S1", ("VV", "VH"), median, np.full_like(median, 2.0), np.full(SHAPE, 12, np.int16), ("a",))


def test_new_metal_on_a_dim_lot_is_counted_and_speckle_is_not() -> None:
    rng = np.random.default_rng(4)
    lot = np.stack([np.full(SHAPE, -18.0), np.full(SHAPE, -25.0)])
    wetter = lot.copy()
    wetter[:, :, 30:] += 3.0  # the east half wetter: 3 dB, no object
    data = np.stack([_speckled(b, rng) for b in wetter])
    vehicles = [(r, c) for r in range(8, 52, 11) for c in range(6, 54, 12)]  # 16, on both halves
    for r, c in vehicles:
        data[0, r, c] = 10.0**0.2  # +2 dB: a truck's double bounce
        data[1, r, c] = 10.0**-0.6
    masks = {"lot": np.ones(SHAPE, dtype=bool)}
    zone = score_scene(_scene(data), _baseline(), masks).zones[0]
    targets = [d for d in zone.detections if d.cls == "bright-target"]
    assert len(targets) == len(vehicles)
    assert {(round(d.row), round(d.col)) for d in targets} == set(vehicles)
    assert all(d.db_change is not None and d.db_change > 15 for d in targets)
    assert f"{len(vehicles)} new bright radar target(s)" in describe(zone.detections)
    assert zone.crowd_score is None  # radar never scores troops


def test_no_target_without_a_large_rise_to_a_bright_level() -> None:
    median = np.full((1, 10, 10), -18.0, dtype=np.float32)
    values = median.copy()
    values[0, 2, 2] = -13.0  # +5 dB: below the rise
    values[0, 5, 5] = -11.0  # +7 dB but still dim (-11 dB)
    values[0, 8, 8] = -2.0  # +16 dB and bright: one target
    compared = np.ones((10, 10), dtype=bool)
    scale = np.full_like(median, 1.0)
    found = bright_targets(values, median, scale, compared, 10.0)
    assert [(round(d.row), round(d.col)) for d in found] == [(8, 8)]
    compared[8, 8] = False
    assert bright_targets(values, median, scale, compared, 10.0) == []
    # a pixel that normally varies by 4 dB needs a 20 dB rise
    compared[8, 8] = True
    scale[0, 8, 8] = 4.0
    assert bright_targets(values, median, scale, compared, 10.0) == []

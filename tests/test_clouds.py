"""Cloud shadows SCL left clear (detect/clouds.py) and the clear-view rule for opening alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from monitor.alerts.engine import Observation, step
from monitor.config import AlertsConfig
from monitor.detect.baseline import Baseline
from monitor.detect.clouds import SHADOW_MAX_RATIO, crossing_shadows, shadow_components, shadow_like
from monitor.detect.scoring import CLEAR_VIEW_SHARE, clear_view, score_scene
from monitor.scene import Scene

BANDS = ("B02", "B03", "B04", "B08")
CONCRETE = np.array([0.24, 0.27, 0.29, 0.32], dtype=np.float32)
FIELD = np.array([0.04, 0.07, 0.05, 0.35], dtype=np.float32)
#: what a cloud's umbra leaves of each band: the sky light, blue-rich
UMBRA = np.array([0.45, 0.4, 0.35, 0.3], dtype=np.float32)
#: what a troop block leaves of concrete at 10 m: uniforms (dark, some NIR) among shaded pavement
TROOPS = np.array([0.6, 0.6, 0.6, 0.75], dtype=np.float32)


def _site(shape: tuple[int, int] = (64, 64)) -> tuple[np.ndarray, np.ndarray]:
    """Fields around a 22 x 22 px concrete square (rows/cols 21..42) and the square's zone mask (inset 1 px)."""
    ground = np.broadcast_to(FIELD[:, None, None], (4, *shape)).astype(np.float32).copy()
    ground[:, 21:43, 21:43] = CONCRETE[:, None, None]
    zone = np.zeros(shape, dtype=bool)
    zone[22:42, 22:42] = True
    return ground, zone


def test_a_shadow_darkens_every_band() -> None:
    ground, _ = _site()
    scene = ground.copy()
    scene[:, 10:20, 10:20] *= UMBRA[:, None, None]
    scene[:3, 30:33, 30:33] *= 0.6  # dark in the visible only: not a shadow
    compared = np.ones(ground.shape[1:], dtype=bool)
    dark = shadow_like(scene, ground, compared)
    assert dark[10:20, 10:20].all()
    assert not dark[30:33, 30:33].any()
    assert dark.sum() == 100
    compared[12, 12] = False
    assert not shadow_like(scene, ground, compared)[12, 12]
    assert SHADOW_MAX_RATIO < 1


def test_a_shadow_crossing_the_zone_edge_onto_the_fields_is_found() -> None:
    ground, zone = _site()
    scene = ground.copy()
    scene[:, 35:55, 35:55] *= UMBRA[:, None, None]  # a cloud's shadow over the square's corner and the fields
    labels = shadow_components(shadow_like(scene, ground, np.ones(zone.shape, dtype=bool)))
    cast = crossing_shadows(labels, zone, reach_px=2, min_outside_px=4)
    assert cast[36:42, 36:42].all() and cast[50, 50]


def test_a_formation_at_the_zone_edge_is_not_a_crossing_shadow() -> None:
    ground, zone = _site()
    scene = ground.copy()
    # troops standing at the square's edge; the PSF darkens the rim pixel outside the zone too
    scene[:, 30:36, 21:26] *= TROOPS[:, None, None]
    labels = shadow_components(shadow_like(scene, ground, np.ones(zone.shape, dtype=bool)))
    assert not crossing_shadows(labels, zone, reach_px=2, min_outside_px=4).any()
    # and a dark patch wholly inside the zone is left to the detector (no crossing)
    inside = ground.copy()
    inside[:, 28:34, 28:34] *= UMBRA[:, None, None]
    labels = shadow_components(shadow_like(inside, ground, np.ones(zone.shape, dtype=bool)))
    assert labels.max() == 1
    assert not crossing_shadows(labels, zone, reach_px=2, min_outside_px=4).any()


def _scene(data: np.ndarray, scl: np.ndarray) -> Scene:
    return Scene(
        scene_id="S2_20180625T105253",
        sensor="S2",
        acquired=datetime(2018, 6, 25, 10, 52, tzinfo=UTC),
        bands=BANDS,
        data=data.astype(np.float32),
        valid=np.isin(scl, (4, 5, 6)),
        transform=Affine(10.0, 0, 500000.0, 0, -10.0, 5600000.0),
        crs=CRS.from_epsg(32631),
        aux={"SCL": scl.astype(np.float32)},
    )


def _baseline(ground: np.ndarray) -> Baseline:
    shape = ground.shape[1:]
    return Baseline(
        sensor="S2",
        bands=BANDS,
        median=ground.astype(np.float32),
        sigma=np.full(ground.shape, 0.004, dtype=np.float32),
        count=np.full(shape, 10, dtype=np.int16),
        scene_ids=tuple(f"S2_{i}" for i in range(10)),
    )


def _textured(ground: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (ground * (1 + rng.normal(0, 0.01, ground.shape))).astype(np.float32)


def _lattice(data: np.ndarray) -> None:
    """Nine troop blocks (2 x 2 px, 40 m apart) on the square."""
    for r in (25, 31, 37):
        for c in (25, 31, 37):
            data[:, r : r + 2, c : c + 2] *= TROOPS[:, None, None]


def test_scoring_a_cloud_shadow_crossing_onto_the_fields_is_no_formation(monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.detect.scoring as scoring

    ground, zone = _site()
    base = _baseline(ground)
    scl = np.full(zone.shape, 5, dtype=np.int16)
    shaded = _textured(ground, 1)
    # the shadow of a cloud outside the site over the square's south-east corner and the fields beyond
    shaded[:, 34:46, 37:64] *= UMBRA[:, None, None]
    zs = score_scene(_scene(shaded, scl), base, {"square": zone}).zones[0]
    assert zs.crowd_score == 0.0 and zs.vehicle_score == 0.0
    assert zs.detections and all(d.cls == "cloud-shadow" for d in zs.detections)
    # without the rule the same pixels are troop blocks
    with monkeypatch.context() as m:
        m.setattr(scoring, "SHADOW_MIN_OUTSIDE_M2", 1e9)
        zs = score_scene(_scene(shaded, scl), base, {"square": zone}).zones[0]
    assert any(d.cls == "crowd-block" for d in zs.detections)
    troops = _textured(ground, 2)
    _lattice(troops)
    zs = score_scene(_scene(troops, scl), base, {"square": zone}).zones[0]
    assert zs.crowd_score is not None and zs.crowd_score > 0.9
    assert not any(d.cls == "cloud-shadow" for d in zs.detections)


def test_scoring_says_whether_the_view_is_clear() -> None:
    ground, zone = _site()
    base = _baseline(ground)
    troops = _textured(ground, 3)
    _lattice(troops)
    scl = np.full(zone.shape, 5, dtype=np.int16)
    zs = score_scene(_scene(troops, scl), base, {"square": zone}).zones[0]
    assert zs.clear_view is True and zs.crowd_score is not None and zs.crowd_score > 0.9
    # a cloud over the square's west: with its 30 m margin, more than half the zone is not compared
    cloudy = scl.copy()
    cloudy[22:42, 16:31] = 9
    zs = score_scene(_scene(troops, cloudy), base, {"square": zone}).zones[0]
    assert zs.compared_fraction is not None and 0 < zs.compared_fraction < CLEAR_VIEW_SHARE
    assert zs.clear_view is False


def test_clear_view_needs_half_of_the_zone() -> None:
    assert clear_view(1.0)
    assert clear_view(CLEAR_VIEW_SHARE)
    assert not clear_view(CLEAR_VIEW_SHARE - 0.01)


def _obs(day: int, score: float, clear: bool) -> Observation:
    when = datetime(2025, 6, 1, 2, 0, tzinfo=UTC) + timedelta(days=day)
    return Observation("s", "z", f"S2_{day}", when, 0.9, score, "S2", clear_view=clear)


def test_an_unclear_observation_waits_for_confirmation() -> None:
    config = AlertsConfig()
    assert step(None, "crowd", _obs(0, 0.9, False), config) is None
    assert step(None, "crowd", _obs(5, 0.9, False), config, previous=_obs(0, 0.1, True)) is None
    opened = step(None, "crowd", _obs(5, 0.9, False), config, previous=_obs(0, 0.8, False))
    assert opened is not None and opened.action == "opened"
    assert opened.alert.scene_ids == ("S2_0", "S2_5")
    assert opened.alert.first_seen == _obs(0, 0.8, False).acquired.isoformat()
    clear = step(None, "crowd", _obs(5, 0.9, True), config)
    assert clear is not None and clear.alert.scene_ids == ("S2_5",)
    # a clear observation after one that waited opens the alert from the one that waited
    after = step(None, "crowd", _obs(5, 0.9, True), config, previous=_obs(0, 0.8, False))
    assert after is not None and after.alert.scene_ids == ("S2_0", "S2_5")

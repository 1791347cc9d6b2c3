"""Score one scene zone by zone against its baseline: usable share, change share, formation scores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from monitor.detect.baseline import Baseline
from monitor.detect.change import (
    change_statistic,
    chi2_threshold,
    normalise_linear,
    normalise_offset,
    robust_z,
)
from monitor.detect.formations import (
    Detection,
    PixelContext,
    crowd_score,
    find_parks,
    find_regions,
    vehicle_score,
)
from monitor.detect.registration import Registration, apply_shift, estimate_shift, registration_image
from monitor.detect.validity import cloud_margin
from monitor.detect.values import analysis_values, noise_floor
from monitor.scene import Scene
from monitor.sensors import is_radar

VISIBLE = ("B02", "B03", "B04")


@dataclass(frozen=True)
class ZoneScore:
    """The score of one zone in one scene; the formation scores are None when nothing was usable."""

    zone: str
    usable_fraction: float
    change_fraction: float | None
    crowd_score: float | None
    vehicle_score: float | None
    detections: list[Detection] = field(default_factory=list)


@dataclass(frozen=True)
class SceneChange:
    """Per-pixel results of one scene: the change statistic, the significant pixels, the compared pixels."""

    statistic: np.ndarray
    significant: np.ndarray
    compared: np.ndarray
    threshold: float
    zones: list[ZoneScore]
    registration: Registration | None = None  # None: not attempted (radar)
    haze_offset: float | None = None  # scene-wide blue offset against the baseline, reflectance
    state: str = "scored"  # scored | unregistered | hazy: why the zones hold scores or not


def _ndvi(values: np.ndarray, bands: tuple[str, ...]) -> np.ndarray | None:
    if "B04" not in bands or "B08" not in bands:
        return None
    red, nir = values[bands.index("B04")], values[bands.index("B08")]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((nir - red) / (nir + red), dtype=np.float32)


def score_scene(
    scene: Scene,
    baseline: Baseline,
    zone_masks: Mapping[str, np.ndarray],
    false_alarm_rate: float = 1e-4,
    cloud_margin_m: float = 30.0,
) -> SceneChange:
    """Compare a scene with its baseline and score every zone.

    Steps: analysis units (dB for radar); pixels usable in both; a global radiometric match (linear
    quantile match for optical, dB offset for radar); per-band robust z; the chi-square change statistic thresholded at
    ``false_alarm_rate`` (per pixel, 0..0.5); connected regions classified per zone. Pixels within
    ``cloud_margin_m`` metres of a cloud or shadow are not compared.
    """
    if tuple(scene.bands) != baseline.bands:
        idx = [scene.bands.index(b) for b in baseline.bands]
        data = scene.data[idx]
    else:
        data = scene.data
    values = analysis_values(scene.sensor, baseline.bands, data)
    res = float(scene.transform.a)
    radar = is_radar(scene.sensor, baseline.bands)
    scene_valid, scl = scene.valid, scene.aux.get("SCL")
    registration = None
    if not radar:
        # Radar is not registered: GRD speckle defeats phase correlation at 20 m over a small site.
        registration = estimate_shift(
            registration_image(baseline.median),
            registration_image(values),
            scene_valid,
            baseline.valid,
            res,
        )
        if not registration.ok:
            return _unscored(scene, zone_masks, registration, "unregistered")
        aux = {"SCL": scl} if scl is not None else {}
        values, scene_valid, aux = apply_shift(values, scene_valid, registration.shift, aux)
        scl = aux.get("SCL")
    margin_px = round(cloud_margin_m / res)
    usable = cloud_margin(scene_valid, scl, margin_px)
    compared = usable & baseline.valid & np.all(np.isfinite(values), axis=0)
    if compared.any():
        values = (normalise_offset if radar else normalise_linear)(values, baseline.median, compared)
    floor = noise_floor(scene.sensor, baseline.bands, baseline.median)
    z = robust_z(values, baseline.median, baseline.sigma, floor)
    stat = change_statistic(z)
    stat[~compared] = np.nan
    threshold = chi2_threshold(len(baseline.bands), false_alarm_rate)
    significant = compared & (stat > threshold)

    vis_idx = [baseline.bands.index(b) for b in VISIBLE if b in baseline.bands]
    visible_diff = np.mean(values[vis_idx] - baseline.median[vis_idx], axis=0) if vis_idx and not radar else None
    ndvi_now, ndvi_base = _ndvi(values, baseline.bands), _ndvi(baseline.median, baseline.bands)
    ndvi_diff = ndvi_now - ndvi_base if ndvi_now is not None and ndvi_base is not None else None
    db_diff = np.mean(values - baseline.median, axis=0) if radar else None

    context = PixelContext(stat, visible_diff, ndvi_diff, ndvi_base, db_diff)
    zones = []
    for zone_id, mask in zone_masks.items():
        zone_usable = scene.usable_fraction(mask)
        zc = compared & mask
        n = int(zc.sum())
        if n == 0:
            zones.append(ZoneScore(zone_id, zone_usable, None, None, None))
            continue
        zone_m2 = float(mask.sum()) * res**2
        regions, blobs = find_regions(significant & mask, context, res, zone_m2)
        # Radar passes at dawn and dusk and rarely sees troops: no crowd score from it, not a zero.
        crowd = None if radar else crowd_score(regions, res)
        # Pixels explained by a recognised troop formation are not counted again as a vehicle park.
        explained = (
            np.isin(blobs, [d.region for d in regions if d.cls == "crowd-block"])
            if crowd is not None and crowd >= 0.5
            else np.zeros_like(mask)
        )
        parks, park_mask = find_parks(significant & mask & ~explained, context, res, zone_m2)
        detections = [d for d in regions if not (d.cls == "vehicle-row" and park_mask[round(d.row), round(d.col)])]
        detections += parks
        zones.append(
            ZoneScore(
                zone=zone_id,
                usable_fraction=zone_usable,
                change_fraction=float((significant & mask).sum()) / n,
                crowd_score=crowd,
                vehicle_score=vehicle_score(detections),
                detections=detections,
            )
        )
    return SceneChange(
        statistic=stat,
        significant=significant,
        compared=compared,
        threshold=threshold,
        zones=zones,
        registration=registration,
    )


def _unscored(
    scene: Scene, zone_masks: Mapping[str, np.ndarray], registration: Registration | None, state: str
) -> SceneChange:
    """A scene that must not be compared at all (it could not be registered, or is hazy): every zone gets
    its usable fraction and no score, so it neither raises nor quiets an alert."""
    nothing = np.zeros(scene.shape, dtype=bool)
    return SceneChange(
        statistic=np.full(scene.shape, np.nan, dtype=np.float32),
        significant=nothing,
        compared=nothing,
        threshold=float("nan"),
        zones=[ZoneScore(z, scene.usable_fraction(m), None, None, None) for z, m in zone_masks.items()],
        registration=registration,
        state=state,
    )

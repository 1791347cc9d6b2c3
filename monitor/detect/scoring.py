"""Score one scene zone by zone against its baseline: usable share, change share, formation scores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from scipy.ndimage import label as ndimage_label
from scipy.special import chdtri
from threadpoolctl import ThreadpoolController

from monitor.detect.baseline import Baseline
from monitor.detect.change import (
    change_statistic,
    chi2_threshold,
    covariance_sample,
    mahalanobis_columns,
    normalise_linear,
    normalise_offset,
    robust_covariance_columns,
    sample_index,
    scaled_z,
)
from monitor.detect.classes import DetectionClass
from monitor.detect.clouds import crossing_shadows, shadow_components, shadow_like
from monitor.detect.formations import (
    PARK_GAP_M,
    Detection,
    PixelContext,
    crowd_score,
    find_parks,
    find_regions,
    vehicle_score,
)
from monitor.detect.levels import harmonised, offset_jump
from monitor.detect.quantiles import median_rows, median_value, sorted_percentile
from monitor.detect.radar import bright_targets
from monitor.detect.registration import Registration, apply_shift, estimate_shift, registration_image
from monitor.detect.validity import cloud_margin, comparable
from monitor.detect.values import analysis_values
from monitor.scene import Scene
from monitor.sensors import is_radar

VISIBLE = ("B02", "B03", "B04")
#: Haze that the scorer refuses to see through: a rise of the blue band's dark end of more than this
#: (reflectance). Thin haze (0.01-0.04) is absorbed by the radiometric match; above it the contrast of
#: a dark formation on pavement is washed out and shadows of haze banks read as change.
MAX_HAZE_BLUE = 0.06
#: Pixels around a significant one join it when they pass this looser false-alarm rate (hysteresis):
#: the PSF and the pixel grid spread a 20 m block over up to 9 pixels, most of them partly covered;
#: alone they would not pass, next to a sure one they are its edge, not chance.
GROW_FALSE_ALARM_RATE = 0.01
#: A zone whose unchanged pixels are at least this share of it is rescaled on them alone.
MIN_INVARIANT_SHARE = 0.3


def invariant_factor(bands: int) -> float:
    """A zone's unchanged pixels have a squared z (summed over ``bands`` bands) below this multiple of the
    zone's median: the 95 % point of a chi-square law over its median (9.49 / 3.36 = 2.83 for 4 bands)."""
    return float(chdtri(bands, 0.05) / chdtri(bands, 0.5))


#: The scene's own no-change spread of z may tighten the noise model by at most this factor (the floor
#: is a guess at unmodelled residuals; a clean scene shows they are smaller, but never 0).
MIN_Z_SPREAD = 0.5
#: A zone needs this many compared pixels for its own radiometric gain.
MIN_ZONE_PIXELS = 20
#: A zone of which less than this share was compared (the rest under a cloud, its margin, or outside the
#: baseline) cannot show that a formation is absent: it may stand in the part not seen. Its scores are
#: reported only when they found one (at least :data:`EVIDENCE_SCORE`); below, the score is empty, not
#: low, so that a hidden formation neither lowers a score series nor quiets an alert.
MIN_VIEW_FOR_ABSENCE = 0.5
#: The score from which a formation counts as found (the middle of the 0..1 scale).
EVIDENCE_SCORE = 0.5
#: How far (m) a formation standing at a zone's edge can darken the ground outside the zone: the PSF
#: carries a change about one 10 m pixel, and a zone is drawn inside its pavement (``detect.clouds``).
SHADOW_REACH_M = 20.0
#: A dark change continuing over at least this much ground beyond that reach is a cloud's shadow crossing
#: the zone (``detect.clouds.crossing_shadows``): one troop block's area, which no formation's blur
#: reaches, and a small part of the smallest cumulus shadow (50 m or more across).
SHADOW_MIN_OUTSIDE_M2 = 400.0
#: A blob with at least this share of its pixels in a crossing shadow is the shadow, not a formation.
SHADOW_BLOB_SHARE = 0.5
#: A clear view (one observation may open an alert on its own, ``alerts.engine``): at least this share of
#: the zone compared. With less, the part not seen may hold the cloud whose rim made the change, as it may
#: hide a formation (:data:`MIN_VIEW_FOR_ABSENCE`): one observation shows neither. A formation's pixels
#: are compared pixels, so they already lie outside the 30 m cloud margin. See docs/detection.md,
#: section 1 ("Opening an alert needs a clear view"), for why no stricter share or distance.
CLEAR_VIEW_SHARE = 0.5


def reported(score: float | None, compared_fraction: float | None, evidence: float = EVIDENCE_SCORE) -> float | None:
    """A formation score as reported for a zone of which ``compared_fraction`` (0..1) was compared: the
    score, or None when it found nothing (below ``evidence``; callers pass the alert threshold when it is
    lower) in a zone mostly not seen (:data:`MIN_VIEW_FOR_ABSENCE`)."""
    if score is None or compared_fraction is None or compared_fraction >= MIN_VIEW_FOR_ABSENCE:
        return score
    return score if score >= min(evidence, EVIDENCE_SCORE) else None


@dataclass(frozen=True)
class ZoneScore:
    """The score of one zone in one scene; the formation scores are None when nothing was usable."""

    zone: str
    usable_fraction: float
    change_fraction: float | None
    crowd_score: float | None
    vehicle_score: float | None
    detections: list[Detection] = field(default_factory=list)
    # share of the zone's pixels compared: comparable (SCL 2, 4-7), outside the cloud margin, in the baseline
    compared_fraction: float | None = None
    # whether this observation may open an alert on its own (:func:`clear_view`); None: not scored
    clear_view: bool | None = None
    # the detections' pixels on the zone's box (int32, 0: none; a detection's pixels hold its ``region``:
    # a blob's changed pixels, a park's bridged footprint), the box's top-left pixel on the site grid;
    # what the evidence traces as outlines. None when nothing was compared.
    footprints: np.ndarray | None = field(default=None, compare=False, repr=False)
    footprint_origin: tuple[int, int] = (0, 0)


def rescored(
    zs: ZoneScore, detections: list[Detection], resolution: float, evidence: float = EVIDENCE_SCORE
) -> ZoneScore:
    """``zs`` with new ``detections`` (tracked ones: persistent change no longer counts) and its scores
    computed again from them and reported as :func:`score_scene` reports them (:func:`reported`); a crowd
    score the zone did not have (radar, or a hidden zone) stays empty. ``resolution``: pixel size, m."""
    crowd = None if zs.crowd_score is None else crowd_score(detections, resolution)
    return replace(
        zs,
        detections=detections,
        crowd_score=reported(crowd, zs.compared_fraction, evidence),
        vehicle_score=reported(vehicle_score(detections, resolution), zs.compared_fraction, evidence),
    )


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
    # level taken off the scene as a wrong BOA offset flag (+-0.1 reflectance, detect/levels.py), if any
    offset_jump: float | None = None
    state: str = "scored"  # scored | unusable (too cloudy to register) | unregistered | hazy


def _ndvi(values: np.ndarray, bands: tuple[str, ...]) -> np.ndarray | None:
    if "B04" not in bands or "B08" not in bands:
        return None
    red, nir = values[bands.index("B04")], values[bands.index("B08")]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((nir - red) / (nir + red), dtype=np.float32)


@lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def score_scene(
    scene: Scene,
    baseline: Baseline,
    zone_masks: Mapping[str, np.ndarray],
    false_alarm_rate: float = 1e-4,
    cloud_margin_m: float = 30.0,
    evidence_score: float = EVIDENCE_SCORE,
) -> SceneChange:
    """Compare a scene with its baseline and score every zone.

    Steps: analysis units (dB for radar); pixels usable in both; a global radiometric match (linear
    quantile match for optical, dB offset for radar); per-band robust z; the chi-square change statistic thresholded at
    ``false_alarm_rate`` (per pixel, 0..0.5); connected regions classified per zone. Pixels within
    ``cloud_margin_m`` metres of a cloud or shadow are not compared.

    Runs with one BLAS thread: its matrix products are small (4 x 4 covariances against a site's pixels,
    the 15-row kernels of the upsampled phase correlation), so waking BLAS threads costs more than they
    save, and on a busy machine every product waits for all of them (measured on the demo site: 234 ms
    per scene with two threads, 128 ms with one, same numbers).
    """
    with _threadpools().limit(limits=1, user_api="blas"):
        return _score_scene(scene, baseline, zone_masks, false_alarm_rate, cloud_margin_m, evidence_score)


def _score_scene(
    scene: Scene,
    baseline: Baseline,
    zone_masks: Mapping[str, np.ndarray],
    false_alarm_rate: float,
    cloud_margin_m: float,
    evidence_score: float,
) -> SceneChange:
    if tuple(scene.bands) != baseline.bands:
        idx = [scene.bands.index(b) for b in baseline.bands]
        data = scene.data[idx]
    else:
        data = scene.data
    values = analysis_values(scene.sensor, baseline.bands, data)
    res = float(scene.transform.a)
    radar = is_radar(scene.sensor, baseline.bands)
    scl = scene.aux.get("SCL")
    scene_valid = scene.valid if radar else comparable(scene.valid, values, scl)
    registration = None
    if not radar:
        # Radar is not registered: GRD speckle defeats phase correlation at 20 m over a small site.
        registration = estimate_shift(
            baseline.reference_image,
            registration_image(values),
            scene_valid,
            baseline.valid,
            res,
            baseline.registration_reference,
        )
        if not registration.ok:
            # too cloudy to register is the clouds' fault: the zones are unusable, as without registration
            return _unscored(scene, zone_masks, registration, "unusable" if registration.cloudy else "unregistered")
        aux = {"SCL": scl} if scl is not None else {}
        values, scene_valid, aux = apply_shift(values, scene_valid, registration.shift, aux)
        scl = aux.get("SCL")
    jump = None
    if not radar:
        # a whole scene 0.1 off its baseline in every band, dark and bright ground alike, is a wrong BOA
        # offset flag of the provider's (detect/levels.py): harmonised before anything else is compared
        jump = offset_jump(values, baseline.median, scene_valid & baseline.valid)
        if jump is not None:
            values = harmonised(values, jump)
            scene_valid = scene_valid & np.all(np.isfinite(values), axis=0)
    margin_px = round(cloud_margin_m / res)
    usable = cloud_margin(scene_valid, scl, margin_px)
    compared = usable & baseline.valid & np.all(np.isfinite(values), axis=0)
    haze = None if radar else blue_offset(values, baseline, compared)
    if haze is not None and haze > MAX_HAZE_BLUE:
        return replace(_unscored(scene, zone_masks, registration, "hazy", haze), offset_jump=jump)
    if compared.any():
        values = (normalise_offset if radar else normalise_linear)(values, baseline.median, compared)
    # shadows of clouds SCL left clear, on the site-wide match (detect/clouds.py); used per zone below
    shadows = None if radar else shadow_components(shadow_like(values, baseline.median, compared))
    z = scaled_z(values, baseline.median, baseline.z_scale)
    model = no_change_model(z, compared)
    stat = model_statistic(z, model)
    stat[~compared] = np.nan
    k = len(baseline.bands)
    threshold, low = chi2_threshold(k, false_alarm_rate), chi2_threshold(k, GROW_FALSE_ALARM_RATE)
    significant = grow_significant(stat, compared, threshold, low)

    zones = []
    for zone_id, mask in zone_masks.items():
        zone_usable = scene.usable_fraction(mask)
        zc = compared & mask
        n = int(zc.sum())
        if n == 0:
            zones.append(ZoneScore(zone_id, zone_usable, None, None, None))
            continue
        zone_m2 = float(mask.sum()) * res**2
        box = zone_box(mask, round(PARK_GAP_M / res) + 1)
        gains = None if radar else zone_gains(values, baseline.median, compared, mask, baseline.z_scale)
        if gains is None:
            # the layers are per pixel: made on the zone's box only
            cut = (slice(None), *box)
            zone_sig = significant[box]
            local = _context(stat[box], values[cut], baseline.median[cut], baseline.bands, radar)
        else:
            # the zone's own radiometric match (section 4 of docs/detection.md), on its box only, so that
            # a zone's score never depends on the other zones
            scaled = values[(slice(None), *box)] * gains[:, None, None]
            median = baseline.median[(slice(None), *box)]
            zz = scaled_z(scaled, median, baseline.z_scale[(slice(None), *box)])
            zstat = model_statistic(zz, (no_change_model(zz, compared[box] & mask[box]) or model) if model else None)
            zstat[~compared[box]] = np.nan
            zone_sig = grow_significant(zstat, compared[box], threshold, low)
            local = _context(zstat, scaled, median, baseline.bands, radar)
            inside = mask[box]
            stat[box][inside] = zstat[inside]  # the maps shown are the zone's (where zones overlap: the last)
            significant[box][inside] = zone_sig[inside]
        sig = zone_sig & mask[box]
        regions, blobs = find_regions(sig, local, res, zone_m2)
        cast = _cast_shadow(shadows, mask, res)[box] if shadows is not None and shadows.any() else None
        if cast is not None and cast.any():
            regions = _shadow_regions(regions, blobs, cast)
        # Radar passes at dawn and dusk and rarely sees troops: no crowd score from it, not a zero.
        crowd = None if radar else crowd_score(regions, res)
        # Pixels explained by a recognised troop formation are not counted again as a vehicle park.
        explained = np.zeros_like(sig)
        if crowd is not None and crowd >= 0.5:
            blocks = np.zeros(int(blobs.max()) + 1, dtype=bool)
            blocks[[d.region for d in regions if d.cls == "crowd-block"]] = True
            blocks[0] = False
            explained = blocks[blobs]
        if cast is not None:
            # a crossing shadow is no park either: its pixels and its blobs' are left out of the parks
            shaded = np.zeros(int(blobs.max()) + 1, dtype=bool)
            shaded[[d.region for d in regions if d.cls == DetectionClass.CLOUD_SHADOW]] = True
            shaded[0] = False
            explained = explained | (cast & sig) | shaded[blobs]
        parks, park_labels = find_parks(sig & ~explained, local, res, zone_m2)
        detections = [d for d in regions if not (d.cls == "vehicle-row" and park_labels[round(d.row), round(d.col)])]
        footprints, parks = _footprints(blobs, detections, park_labels, parks)
        detections += parks
        if radar:
            cut = (slice(None), *box)
            detections += bright_targets(values[cut], baseline.median[cut], baseline.z_scale[cut], zc[box], res)
        r0, c0 = box[0].start, box[1].start
        detections = [replace(d, row=d.row + r0, col=d.col + c0) for d in detections]
        seen = n / max(int(mask.sum()), 1)
        zones.append(
            ZoneScore(
                zone=zone_id,
                usable_fraction=zone_usable,
                change_fraction=float(sig.sum()) / n,
                crowd_score=reported(crowd, seen, evidence_score),
                vehicle_score=reported(vehicle_score(detections, res), seen, evidence_score),
                detections=detections,
                compared_fraction=seen,
                clear_view=clear_view(seen),
                footprints=footprints,
                footprint_origin=(r0, c0),
            )
        )
    return SceneChange(
        statistic=stat,
        significant=significant,
        compared=compared,
        threshold=threshold,
        zones=zones,
        registration=registration,
        haze_offset=haze,
        offset_jump=jump,
    )


def clear_view(seen: float) -> bool:
    """True when one observation of a zone may open an alert on its own: at least
    :data:`CLEAR_VIEW_SHARE` of the zone compared (``seen``, 0..1)."""
    return seen >= CLEAR_VIEW_SHARE


def _cast_shadow(shadows: np.ndarray, mask: np.ndarray, res: float) -> np.ndarray:
    """The shadow-like pixels of the components that cross ``mask``'s edge onto the ground around
    (:func:`~monitor.detect.clouds.crossing_shadows` with :data:`SHADOW_REACH_M` and
    :data:`SHADOW_MIN_OUTSIDE_M2`); ``res``: pixel size, m."""
    reach = max(round(SHADOW_REACH_M / res), 1)
    return crossing_shadows(shadows, mask, reach, max(round(SHADOW_MIN_OUTSIDE_M2 / res**2), 1))


def _shadow_regions(regions: list[Detection], blobs: np.ndarray, cast: np.ndarray) -> list[Detection]:
    """``regions`` with every blob that lies mostly (:data:`SHADOW_BLOB_SHARE`) in a crossing shadow
    (``cast``, on the blobs' grid) classed :attr:`DetectionClass.CLOUD_SHADOW` (no formation, no estimate)."""
    total = np.bincount(blobs.ravel(), minlength=int(blobs.max()) + 1)
    shaded = np.bincount(blobs[cast], minlength=total.size)
    out = []
    for d in regions:
        if d.region > 0 and total[d.region] > 0 and shaded[d.region] >= SHADOW_BLOB_SHARE * total[d.region]:
            d = replace(d, cls=DetectionClass.CLOUD_SHADOW, estimate=None)
        out.append(d)
    return out


def _footprints(
    blobs: np.ndarray, regions: list[Detection], park_labels: np.ndarray, parks: list[Detection]
) -> tuple[np.ndarray, list[Detection]]:
    """One label image of the kept detections' pixels (see :attr:`ZoneScore.footprints`): the blobs of
    ``regions`` under their own labels, the parks' footprints over them under labels after the blobs'
    (the parks are returned with those labels as their ``region``)."""
    out = np.where(np.isin(blobs, [d.region for d in regions]), blobs, 0).astype(np.int32)
    offset = int(blobs.max()) if blobs.size else 0
    out = np.where(park_labels > 0, park_labels + offset, out).astype(np.int32)
    return out, [replace(p, region=p.region + offset) for p in parks]


def _context(
    stat: np.ndarray, values: np.ndarray, median: np.ndarray, bands: tuple[str, ...], radar: bool
) -> PixelContext:
    """The per-pixel layers that describe a change (direction, ground) for :func:`find_regions`."""
    vis_idx = [bands.index(b) for b in VISIBLE if b in bands]
    visible_diff = np.mean(values[vis_idx] - median[vis_idx], axis=0) if vis_idx and not radar else None
    ndvi_now, ndvi_base = _ndvi(values, bands), _ndvi(median, bands)
    ndvi_diff = ndvi_now - ndvi_base if ndvi_now is not None and ndvi_base is not None else None
    db_diff = np.mean(values - median, axis=0) if radar else None
    contrast, nir_ratio = _nir_contrast(values, median, bands) if vis_idx and not radar else (None, None)
    nir0 = median[bands.index("B08")] if "B08" in bands and not radar else None
    return PixelContext(stat, visible_diff, ndvi_diff, ndvi_base, db_diff, contrast, nir_ratio, nir0)


def _nir_contrast(
    values: np.ndarray, median: np.ndarray, bands: tuple[str, ...]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per pixel: log((NIR / NIR0) / (visible / visible0)) and log(NIR / NIR0) (0: the baseline
    ``median``), NaN where a reflectance is not positive; None without B08 (see
    :data:`~monitor.detect.formations.OLIVE_MIN_NIR_CONTRAST`)."""
    if "B08" not in bands:
        return None, None
    vis_idx = [bands.index(b) for b in VISIBLE if b in bands]
    nir = bands.index("B08")
    vis, vis0 = np.mean(values[vis_idx], axis=0), np.mean(median[vis_idx], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        nir_ratio = values[nir] / median[nir]
        ratio = nir_ratio * (vis0 / vis)
        log_nir = np.log(np.where(nir_ratio > 0, nir_ratio, np.nan))
        contrast = np.log(np.where(ratio > 0, ratio, np.nan))
    return np.asarray(contrast, dtype=np.float32), np.asarray(log_nir, dtype=np.float32)


def no_change_model(z: np.ndarray, compared: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Centre and covariance of the per-band z-scores of the scene's unchanged pixels, or None with fewer
    than 50 compared pixels per band (then the plain sum of squared z is used).

    What is left after the radiometric match still moves the bands together (residual illumination,
    haze, BRDF): the z-scores of unchanged pixels are correlated across bands. They are estimated robustly
    on the compared pixels (:func:`robust_covariance`, changed pixels excluded). A band's spread is never
    taken below :data:`MIN_Z_SPREAD` (the floor is a guess at unmodelled residuals; a clean scene shows
    they are smaller, but not zero).
    """
    k = z.shape[0]
    if int(compared.sum()) < 50 * k:
        return None
    sample = z.reshape(k, -1)[:, covariance_sample(compared)].astype(np.float64)
    centre, cov = robust_covariance_columns(sample)
    spread = np.sqrt(np.maximum(np.diag(cov), 1e-12))
    corr = cov / np.outer(spread, spread)
    spread = np.maximum(spread, MIN_Z_SPREAD)
    return centre, corr * np.outer(spread, spread)


def model_statistic(z: np.ndarray, model: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """The change statistic of z: Mahalanobis under ``model`` (centre, covariance), else the sum of squares.

    Either way, unchanged pixels follow a chi-square law with one degree of freedom per band, so that
    :func:`chi2_threshold` means a false-alarm rate; under the model, a change that breaks the usual band
    correlation (vehicles brighten asphalt's NIR alone) stands out more than one along it.
    """
    if model is None:
        return change_statistic(z)
    # every pixel at once (a pixel's distance depends on its own z only), then NaN where a band is not finite:
    # cheaper than gathering the finite pixels and scattering them back
    k = z.shape[0]
    out = mahalanobis_columns(z.reshape(k, -1), *model).astype(np.float32).reshape(z.shape[1:])
    out[~np.all(np.isfinite(z), axis=0)] = np.nan
    return out


def covariance_statistic(z: np.ndarray, compared: np.ndarray) -> np.ndarray:
    """:func:`model_statistic` under the scene's own :func:`no_change_model`."""
    return model_statistic(z, no_change_model(z, compared))


def zone_box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The bounding box of a zone mask grown by ``margin`` pixels: regions, watersheds and closings run on
    it instead of the whole site (a zone is often a tenth of a site)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (slice(0, 0), slice(0, 0))
    return (
        slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, mask.shape[0])),
        slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, mask.shape[1])),
    )


def crop_context(context: PixelContext, box: tuple[slice, slice]) -> PixelContext:
    """The layers of a :class:`PixelContext` cut to ``box`` (views, not copies)."""
    return PixelContext(
        change=context.change[box],
        visible_diff=_cut(context.visible_diff, box),
        ndvi_diff=_cut(context.ndvi_diff, box),
        baseline_ndvi=_cut(context.baseline_ndvi, box),
        db_diff=_cut(context.db_diff, box),
        nir_contrast=_cut(context.nir_contrast, box),
        nir_log_ratio=_cut(context.nir_log_ratio, box),
        baseline_nir=_cut(context.baseline_nir, box),
    )


def _cut(layer: np.ndarray | None, box: tuple[slice, slice]) -> np.ndarray | None:
    return None if layer is None else layer[box]


def grow_significant(stat: np.ndarray, compared: np.ndarray, threshold: float, low: float) -> np.ndarray:
    """Hysteresis: pixels above ``threshold``, plus the pixels above ``low`` connected to them (the
    pixels above ``low`` are grouped as scikit-image's ``apply_hysteresis_threshold`` groups them, by
    edge-sharing neighbours; a group with a sure pixel in it is kept whole, counted with one
    ``bincount`` instead of a sum per group)."""
    strong = compared & (stat > threshold)
    if not strong.any() or low >= threshold:
        return strong
    weak = compared & (stat > low)
    groups, _ = ndimage_label(weak)
    held = np.bincount(groups[strong], minlength=int(groups.max()) + 1) > 0
    held[0] = False
    return np.asarray(held[groups], dtype=bool)


def blue_offset(values: np.ndarray, baseline: Baseline, compared: np.ndarray) -> float | None:
    """Scene-wide haze as the rise of the dark end of the blue band: the 5th percentile of B02 over the
    compared pixels minus the baseline's, in reflectance (None without B02 or pixels).

    Haze adds path radiance, most in the blue and the same over every surface, so it lifts the darkest
    pixels (water, shade, asphalt) that carry almost no surface signal of their own (the dark-object
    principle). Sen2Cor misses thin, uniform haze.
    """
    if "B02" not in baseline.bands or int(compared.sum()) < 50:
        return None
    b = baseline.bands.index("B02")
    idx = sample_index(compared)
    scene_blue, base_blue = values[b].ravel()[idx], baseline.median[b].ravel()[idx]
    # np.percentile's values (float32 ones), from a sort of the 20,000 samples instead of its partition
    return float(sorted_percentile(np.sort(scene_blue), 5) - sorted_percentile(np.sort(base_blue), 5))


def zone_gains(
    values: np.ndarray, reference: np.ndarray, compared: np.ndarray, mask: np.ndarray, scale: np.ndarray
) -> np.ndarray | None:
    """Per-band gains that rescale a zone to the baseline on its own unchanged pixels, or None.

    The site-wide match follows whatever dominates the site (fields); a paved zone does not follow the
    fields' season, and wet pavement reflects about a quarter less. ``scale`` is the baseline's z-score
    denominator. Two passes, both medians of the per-pixel ratio ``reference / values`` (pixel pairs,
    so the pavement's own texture cancels): first over all the zone's compared pixels (a formation
    covering less than half the zone moves a median little; more than half is no formation, see
    :data:`~monitor.detect.formations.MAX_ZONE_SHARE`), then over the zone's unchanged pixels only: those
    whose squared z after the first gains lies below :func:`invariant_factor` times the zone's
    median, the 95 % point of a chi-square law scaled to the zone's own spread. A formation's pixels are
    not among them, so it is not absorbed. None for zones with fewer than :data:`MIN_ZONE_PIXELS`
    compared pixels. Gains are clipped to 0.5..2.
    """
    zc = compared & mask
    if int(zc.sum()) < MIN_ZONE_PIXELS:
        return None
    idx = sample_index(zc)
    k = values.shape[0]
    v = values.reshape(k, -1)[:, idx].astype(np.float64)
    r = reference.reshape(k, -1)[:, idx].astype(np.float64)
    sc = scale.reshape(k, -1)[:, idx].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((v > 0) & (r > 0), r / v, np.nan)
    if not np.all(np.isfinite(ratio).any(axis=1)):
        return None
    gains = np.array([median_value(row[~np.isnan(row)]) for row in ratio])  # np.nanmedian's values, without its cost
    with np.errstate(invalid="ignore"):
        stat = np.sum(((v * gains[:, None] - r) / sc) ** 2, axis=0)
        finite = stat[~np.isnan(stat)]
        still = stat <= invariant_factor(k) * (median_value(finite) if finite.size else np.nan)
    # a pixel with a non-positive value in some band has no ratio there: it is not one of the pairs
    still &= np.all(np.isfinite(ratio), axis=0)
    if int(still.sum()) >= max(MIN_ZONE_PIXELS, MIN_INVARIANT_SHARE * len(idx)):
        gains = median_rows(ratio[:, still])
    if not np.all(np.isfinite(gains)):
        return None
    return np.clip(gains, 0.5, 2.0).astype(np.float32)


def normalise_zones(
    values: np.ndarray,
    reference: np.ndarray,
    compared: np.ndarray,
    zone_masks: Mapping[str, np.ndarray],
    scale: np.ndarray,
) -> np.ndarray:
    """``values`` with each zone rescaled by its :func:`zone_gains` (where zones overlap, the last wins).
    The scorer applies the gains zone by zone instead, so that a zone's score never depends on others."""
    out = values.copy()
    for mask in zone_masks.values():
        gains = zone_gains(values, reference, compared, mask, scale)
        if gains is not None:
            out[:, mask] = values[:, mask] * gains[:, None]
    return out


def _unscored(
    scene: Scene,
    zone_masks: Mapping[str, np.ndarray],
    registration: Registration | None,
    state: str,
    haze: float | None = None,
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
        haze_offset=haze,
        state=state,
    )

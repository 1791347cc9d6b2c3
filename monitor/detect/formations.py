"""Connected regions of significant change, their shape and spectral direction, and formation scores.

See ``docs/detection.md`` (section 6): a region is a *crowd block* when it is dark and block-sized (up to
a 2 x 2 group of blocks merged by the PSF), a *vehicle row* when it is long and narrow, a *vehicle park*
when it is a large patchy area; regions on vegetated ground are vegetation or season and never count.
The crowd score counts troop blocks by area, not by blob, because at 10 m blocks merge or split on the
pixel grid. Areas are in square metres, so the rules hold at any resolution (10 m Sentinel-2 as well as
3 m commercial imagery).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import binary_closing, binary_dilation
from skimage.measure import label, regionprops
from skimage.morphology import disk
from skimage.segmentation import watershed

from monitor.detect.classes import VEHICLE_CLASSES, DetectionClass
from monitor.detect.peaks import label_peaks
from monitor.detect.regions import region_means, region_table

#: A troop block of ~300 soldiers covers ~20 x 20 m; blurred by the PSF it changes at least 150 m2 (at
#: 10 m: at least two pixels, so a lone noisy pixel is never a block). Blocks 10-20 m apart merge at 10 m:
#: the upper bound is a 2 x 2 group with 20 m streets, grown by a pixel, (2 x 20 + 20 + 10)^2 = 4,900 m2.
BLOCK_AREA_M2 = (150.0, 4900.0)
#: A whole troop block's change is at least this wide (m): a 20 m block covers one pixel fully and, with
#: the PSF, its neighbours on both sides in part (at 10 m: two pixels or more). A narrower blob is a
#: fragment of a block split by the grid, or an edge (a kerb or a roof line after a residual
#: misregistration, a shadow line): it adds its area to a formation but does not make one.
BLOCK_MIN_WIDTH_M = 15.0
#: Side of a troop block (m): ~300 soldiers in ranks about 1.1 m apart.
TROOP_BLOCK_SIDE_M = 20.0
#: A blob can hold at most this many block-equivalents: BLOCK_AREA_M2's upper bound is a 2 x 2 group of
#: blocks merged by the PSF; more than that is one dark surface.
MAX_BLOCKS_PER_BLOB = 4.0
#: A formation is judged on the spacing of separate whole-block blobs (BLOCK_MIN_WIDTH_M): at least this
#: many. One dark surface of any size (a new roof, a shadow) or two blobs are not a lattice, however many
#: blocks their area could hold; nor are the one-pixel lines a residual misregistration leaves on kerbs.
MIN_FORMATION_BLOBS = 3
#: Blocks of one formation stand 10-20 m apart (30-60 m centre to centre); a block whose nearest
#: neighbour is farther than this belongs to no formation.
FORMATION_MAX_SPACING_M = 100.0
#: Local maxima of the change statistic closer than this (m) seed one blob, not two.
BLOB_MIN_SEPARATION_M = 15.0
#: Compact: major/minor axis ratio below this. One block is square (~1); two blocks merged along a rank
#: by the PSF and grown by a pixel are about twice as long as wide. Longer is a row or an edge.
BLOCK_MAX_ELONGATION = 2.5
#: A row of vehicles: at least this long (m) and this elongated.
ROW_MIN_LENGTH_M = 40.0
ROW_MIN_ELONGATION = 3.0
#: A park: changed pixels that, bridged over gaps of up to PARK_GAP_M, cover at least PARK_MIN_AREA_M2
#: with at least PARK_MIN_DENSITY of them changed. 200-800 vehicles cover 3-5 ha in rows 8-15 m apart,
#: which at 10 m shows as a patchy field of changed pixels, not one solid region.
PARK_MIN_AREA_M2 = 2500.0
PARK_GAP_M = 15.0
PARK_MIN_DENSITY = 0.25
#: Baseline NDVI at or above which the ground is (partly) vegetated: change there is phenology, not a
#: formation. Concrete and asphalt have an NDVI below 0.15, bare soil below 0.25; at 0.3 a pixel is a
#: quarter or more green and spring greening darkens its visible bands as troops would (Flanders, late
#: February: NDVI +0.2, visible -0.02 on ground of NDVI 0.35). Formations are watched on paved or bare
#: ground; olive vehicles on grass are nearly invisible at 10 m.
VEGETATED_NDVI = 0.3
#: A crowd block darkens bright pavement in the visible by at least this much reflectance (troops in dark
#: uniforms over concrete); a region that brightens is something else.
CROWD_MAX_VISIBLE_CHANGE = -0.015
#: Painted military vehicles (olive, visible reflectance 0.055-0.07) are no brighter than asphalt and
#: much darker than concrete in the visible; a change that brightens the visible by more than this
#: (reflectance) is a new roof, slab or sand, not vehicles.
VEHICLE_MAX_VISIBLE_CHANGE = 0.02
#: Olive paint (and canvas, and uniforms) is dark in the visible and bright in the near infrared, like
#: leaves (visible 0.055-0.07, NIR 0.2-0.35), while asphalt and concrete are flat across the four
#: bands (asphalt 0.07-0.1, concrete 0.2-0.28). Where olive replaces pavement, NIR rises against the
#: visible. The measure is the *NIR contrast*, log((NIR / NIR0) / (visible / visible0)) against the
#: baseline (0 / 0 the baseline's), a ratio of ratios: a gain of the illumination or of the zone match
#: cancels from it, as from NDVI, but unlike NDVI it does not blow up over dark ground. A quarter of a
#: 10 m pixel under olive vehicles gives log(1.35) = 0.30 on asphalt and log(1.15) = 0.14 on concrete;
#: with their shadows in the gaps more (shadow takes more of the NIR than of the sky-lit blue). Light
#: roofs and new slabs (every band up by a similar factor: log(0.87)), shadows and wet pavement (every
#: band down, NIR most: log(0.6)), haze (the visible up most) give none or a negative one. A pixel holds
#: olive material when its NIR contrast is at least this; the noise of it at the sensor's floor over
#: asphalt is ~0.1 (so twice that). On vegetated ground (:data:`VEGETATED_NDVI`) a rising NIR is
#: growth; on paved or bare ground it is not vegetation.
OLIVE_MIN_NIR_CONTRAST = math.log(1.2)
#: Olive paint reflects at least this much in the NIR (reflectance; olive drab 0.22, CARC greens up to
#: 0.35): more than asphalt (0.1), about as much as concrete (0.28). Where olive replaces pavement, the
#: NIR therefore rises over dark ground and falls at most to OLIVE_NIR / NIR0 over bright ground. A
#: shadow takes the direct sun away, 70-85 % of the NIR irradiance on a clear day; what lights it is the
#: sky (blue-rich) and, amid fields, the NIR the vegetation reflects into it, which can leave a shadow's
#: NIR contrast positive, but never its NIR up: on asphalt a cloud shadow keeps 0.2-0.65 of it.
OLIVE_NIR = 0.22
#: An olive pixel keeps at least this share of the NIR olive cover would leave it,
#: ``min(1, OLIVE_NIR / NIR0)``: the margin covers the shadows in a park's gaps (a pixel 30 % olive, 40 %
#: shadow on asphalt keeps 1.1 of its NIR) and the noise (~8 % over asphalt).
OLIVE_NIR_MARGIN = 0.85
#: Olive paint (visible 0.055-0.07) is no brighter than asphalt (0.065-0.085) and far darker than
#: concrete: where it replaces pavement, the visible goes down a little or a lot, never up. A pixel whose
#: mean visible reflectance rose by more than this (the noise of a three-band mean after the match,
#: about one standard deviation) holds something bright as well (a light roof, the rim of a new slab):
#: it may belong to a park, but it is not the olive evidence of one.
OLIVE_MAX_VISIBLE_RISE = 0.005
#: A park's changed pixels count towards its area where they lie within this distance (m) of its olive
#: pixels: at 10 m the coaches' light roofs and the vehicles' shadows are interleaved with the olive
#: vehicles row by row (a row of 12 m vehicles and its aisle are about 20 m), while a new roof or a
#: shadow a park's gaps were bridged to stands apart from them.
MIXTURE_REACH_M = 20.0
#: Pavement within this distance (m) of vegetated ground shows no olive evidence: the PSF (about a
#: pixel wide) and a residual misregistration of up to half a pixel carry a verge's or a field's NIR into
#: the pavement pixel along it, a NIR rise with the visible flat and no vehicle.
VEGETATION_BLEED_M = 10.0
#: A vehicle park at 10 m is a mixture: olive vehicles (NDVI up, visible down a little on asphalt, much
#: on concrete), light roofs of coaches and trucks (every band up), and shadows (every band down). No one
#: sign of change holds across bands or across the park, so a park takes every changed pixel; but at
#: least this share of them must hold olive material (:data:`OLIVE_MIN_NIR_CONTRAST`). A military park is
#: mostly olive vehicles; a change with no olive in it (a new roof or slab brightens, a cloud shadow or
#: wet pavement darkens, every band alike) is no vehicle park, however large.
PARK_MIN_OLIVE_SHARE = 0.2
#: A vehicle row's pixels, partly covered (a row of vehicles covers one or two 10 m pixels, most in part),
#: show at least half the olive NIR contrast on average. A shadow line (a building's shadow moving with the
#: season), a wet strip or a kerb's edge after a residual misregistration is long and narrow too, but
#: brings no olive.
ROW_MIN_NIR_CONTRAST = 0.5 * OLIVE_MIN_NIR_CONTRAST
#: Arrangement (see :func:`arrangement`): vehicles are parked in parallel rows at a regular pitch and
#: fill a rectangle; chance change is ragged. Two rows are parallel within this angle (degrees) ...
ROW_PARALLEL_DEG = 15.0
#: ... and a row pitch: 12 m deep rows with aisles of 3-15 m, or columns of vehicles in lanes 5-10 m
#: apart, up to two rows with an empty one between (metres, centre line to centre line).
ROW_PITCH_M = (5.0, 60.0)
#: Radar sees parked vehicles as new bright targets (metal, corner reflectors): at least this mean
#: backscatter increase (dB). Soil moisture and crop growth change fields by 1-3 dB.
RADAR_MIN_BRIGHTENING_DB = 3.0
#: A region covering more than this share of its zone is scene-wide change (season, flooding), not a formation.
MAX_ZONE_SHARE = 0.5
#: Constants of the scores (see :func:`crowd_score`, :func:`vehicle_score`): the logistic of the crowd
#: score is centred on this many block-equivalents with this slope per block; the vehicle score reaches
#: 1 - 1/e at this changed area (m2). ``benchmarks/calibration.py`` fits them on simulations and checks
#: their reliability on held-out ones.
CROWD_CENTRE_BLOCKS = 3.5
CROWD_SLOPE = 1.0
VEHICLE_SCALE_M2 = 5000.0
#: Assumptions behind the estimates (stated with every estimate).
PERSONNEL_PER_M2 = (0.5, 1.0)
M2_PER_VEHICLE = (60.0, 120.0)


@dataclass(frozen=True)
class PixelContext:
    """The per-pixel layers (rows, cols) that describe a change: the change statistic, and optionally the
    mean visible reflectance change (negative = darker), the NDVI change, the baseline NDVI of the ground,
    for radar the backscatter change in dB, and the NIR contrast of the change (:data:`OLIVE_MIN_NIR_CONTRAST`)."""

    change: np.ndarray
    visible_diff: np.ndarray | None = None
    ndvi_diff: np.ndarray | None = None
    baseline_ndvi: np.ndarray | None = None
    db_diff: np.ndarray | None = None
    nir_contrast: np.ndarray | None = None
    nir_log_ratio: np.ndarray | None = None  # log(NIR / NIR0): how the NIR itself changed
    baseline_nir: np.ndarray | None = None  # NIR0, the baseline's NIR reflectance


@dataclass(frozen=True)
class Detection:
    """One connected region of significant change inside a zone, with the reasons for its class."""

    cls: DetectionClass
    area_m2: float
    length_m: float
    width_m: float
    elongation: float
    orientation_deg: float
    extent: float
    row: float
    col: float
    mean_change: float
    visible_change: float | None
    ndvi_change: float | None
    baseline_ndvi: float | None
    estimate: str | None = None
    db_change: float | None = None  # radar: mean backscatter change over bands, dB
    region: int = 0  # label of the connected component in the zone's significant-pixel map (0: none)
    persistence: str | None = None  # transient | recurring | persistent (None: not tracked)
    # vehicle parks: 0..1, how much of its rectangle (length x width from its moments) the changed pixels fill
    fill: float | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict with rounded values."""
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def classify(
    area_m2: float,
    length_m: float,
    elongation: float,
    extent: float,
    baseline_ndvi: float | None,
    visible_change: float | None,
    zone_area_m2: float,
    db_change: float | None = None,
    nir_contrast: float | None = None,
) -> DetectionClass:
    """Class of one changed region from its size (m2, m), shape, the ground under it and its direction.

    ``db_change`` is given for radar scenes only: radar passes at dawn and dusk and rarely sees troops,
    so a radar region is never a crowd block, and a vehicle row must brighten by
    :data:`RADAR_MIN_BRIGHTENING_DB`. ``nir_contrast`` (the region's mean NIR contrast, when the bands
    give one): a vehicle row must bring olive material (:data:`ROW_MIN_NIR_CONTRAST`).
    """
    if db_change is not None:
        if zone_area_m2 > 0 and area_m2 > MAX_ZONE_SHARE * zone_area_m2:
            return DetectionClass.OTHER
        long = length_m >= ROW_MIN_LENGTH_M and elongation >= ROW_MIN_ELONGATION
        return DetectionClass.VEHICLE_ROW if long and db_change >= RADAR_MIN_BRIGHTENING_DB else DetectionClass.OTHER
    if baseline_ndvi is not None and baseline_ndvi >= VEGETATED_NDVI:
        return DetectionClass.VEGETATION
    if zone_area_m2 > 0 and area_m2 > MAX_ZONE_SHARE * zone_area_m2:
        return DetectionClass.OTHER
    if BLOCK_AREA_M2[0] <= area_m2 <= BLOCK_AREA_M2[1] and elongation < BLOCK_MAX_ELONGATION:
        darker = visible_change is None or visible_change <= CROWD_MAX_VISIBLE_CHANGE
        return DetectionClass.CROWD_BLOCK if darker else DetectionClass.OTHER
    if length_m >= ROW_MIN_LENGTH_M and elongation >= ROW_MIN_ELONGATION:
        brighter = visible_change is not None and visible_change > VEHICLE_MAX_VISIBLE_CHANGE
        olive = nir_contrast is None or nir_contrast >= ROW_MIN_NIR_CONTRAST
        return DetectionClass.VEHICLE_ROW if olive and not brighter else DetectionClass.OTHER
    return DetectionClass.OTHER


def _estimate(cls: str, area_m2: float) -> str | None:
    if cls == DetectionClass.CROWD_BLOCK:
        lo, hi = (area_m2 * d for d in PERSONNEL_PER_M2)
        return f"~{lo:.0f}-{hi:.0f} personnel (estimate: {PERSONNEL_PER_M2[0]}-{PERSONNEL_PER_M2[1]} per m2)"
    if cls in VEHICLE_CLASSES:
        lo, hi = (area_m2 / d for d in reversed(M2_PER_VEHICLE))
        return f"~{lo:.0f}-{hi:.0f} vehicles (estimate: one per {M2_PER_VEHICLE[0]:.0f}-{M2_PER_VEHICLE[1]:.0f} m2)"
    return None


def split_blobs(significant: np.ndarray, change: np.ndarray, resolution: float) -> np.ndarray:
    """Label image of blobs: connected regions of ``significant`` split at the saddles of ``change``.

    Troop blocks 10-20 m apart blur into one connected region at 10 m; a watershed of the change
    statistic seeded at its local maxima (at least :data:`BLOB_MIN_SEPARATION_M` apart) separates them
    again, one blob per block. Labels are 1..n, 0 outside ``significant``.
    """
    components = label(significant, connectivity=2)
    if components.max() == 0:
        return components
    surface = np.where(significant, np.nan_to_num(change, nan=0.0), 0.0)
    distance = max(1, round(BLOB_MIN_SEPARATION_M / resolution))
    peaks = label_peaks(surface, components, distance)  # scikit-image's peak_local_max, all regions at once
    markers = np.zeros(significant.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    # every component gets at least one seed, even a flat one without a strict maximum
    seeded = np.unique(components[markers > 0])
    for comp in np.setdiff1d(np.arange(1, components.max() + 1), seeded):
        r, c = np.argwhere(components == comp)[0]
        markers[r, c] = markers.max() + 1
    return np.asarray(watershed(-surface, markers, mask=significant, connectivity=2), dtype=np.int32)


def find_regions(
    significant: np.ndarray, context: PixelContext, resolution: float, zone_area_m2: float
) -> tuple[list[Detection], np.ndarray]:
    """Blobs of ``significant`` pixels (see :func:`split_blobs`), described and classified.

    ``resolution`` is the pixel size in metres, ``zone_area_m2`` the zone's area. Returns the detections
    and the blob label image (each detection's ``region`` is its label there).
    """
    labels = split_blobs(significant, context.change, resolution)
    table = region_table(labels)
    n = len(table.area) - 1
    ctx = context
    vis_m, ndvi_m, ground_m, db_m, change_m, contrast_m = (
        region_means(labels, a, n)
        for a in (ctx.visible_diff, ctx.ndvi_diff, ctx.baseline_ndvi, ctx.db_diff, ctx.change, ctx.nir_contrast)
    )
    out = []
    px = resolution**2
    for lab in table.labels:
        if table.area[lab] == 0:
            continue
        area_m2 = float(table.area[lab]) * px
        length_px, width_px = extent_px(float(table.major[lab]), float(table.minor[lab]))
        length_m, width_m = length_px * resolution, width_px * resolution
        elongation = length_px / width_px
        vis, ndvi, ground, db = vis_m[lab], ndvi_m[lab], ground_m[lab], db_m[lab]
        extent = float(table.extent[lab])
        cls = classify(area_m2, length_m, elongation, extent, ground, vis, zone_area_m2, db, contrast_m[lab])
        out.append(
            Detection(
                cls=cls,
                area_m2=area_m2,
                length_m=length_m,
                width_m=width_m,
                elongation=elongation,
                orientation_deg=math.degrees(float(table.orientation[lab])),
                extent=extent,
                row=float(table.row[lab]),
                col=float(table.col[lab]),
                mean_change=float(change_m[lab] or 0.0),
                visible_change=vis,
                ndvi_change=ndvi,
                baseline_ndvi=ground,
                estimate=_estimate(cls, area_m2),
                region=lab,
                db_change=db,
            )
        )
    return out, labels


def olive_pixels(context: PixelContext, resolution: float = 10.0) -> np.ndarray | None:
    """Pixels whose change holds olive material (vehicles, canvas, uniforms): NIR up against the visible
    by at least :data:`OLIVE_MIN_NIR_CONTRAST`, the visible no brighter than
    :data:`VEHICLE_MAX_VISIBLE_CHANGE` (olive paint is no brighter than asphalt), on ground of low
    baseline NDVI (below :data:`VEGETATED_NDVI`; unknown counts as low) and not within
    :data:`VEGETATION_BLEED_M` of vegetated ground. None when the bands give no NIR or visible change
    (radar); ``resolution`` is the pixel size in metres."""
    contrast = context.nir_contrast
    if contrast is None or context.visible_diff is None:
        return None
    with np.errstate(invalid="ignore"):
        olive = (contrast >= OLIVE_MIN_NIR_CONTRAST) & ~(context.visible_diff > OLIVE_MAX_VISIBLE_RISE)
        if context.nir_log_ratio is not None and context.baseline_nir is not None:
            kept = OLIVE_NIR_MARGIN * np.minimum(1.0, OLIVE_NIR / np.maximum(context.baseline_nir, 1e-6))
            olive &= context.nir_log_ratio >= np.log(kept)
        if context.baseline_ndvi is not None:
            vegetated = context.baseline_ndvi >= VEGETATED_NDVI
            reach = max(1, round(VEGETATION_BLEED_M / resolution))
            olive &= ~binary_dilation(vegetated, structure=np.ones((2 * reach + 1,) * 2, bool))
    return np.asarray(olive, dtype=bool)


def find_parks(
    candidates: np.ndarray, context: PixelContext, resolution: float, zone_area_m2: float
) -> tuple[list[Detection], np.ndarray]:
    """Vehicle parks: patchy fields of changed pixels, bridged over gaps of :data:`PARK_GAP_M` metres.

    ``candidates`` are the significant pixels not already explained (e.g. by crowd blocks). A park is a
    mixture (olive vehicles, light roofs, shadows: :data:`PARK_MIN_OLIVE_SHARE`), so it takes every
    changed pixel, whatever its sign, as long as enough of them hold olive material
    (:func:`olive_pixels`). Without a NIR band light roofs cannot be told from a new slab, and pixels
    whose visible reflectance rose by more than :data:`VEHICLE_MAX_VISIBLE_CHANGE` are left out instead;
    with it, a changed pixel counts towards the park's area when it lies within :data:`MIXTURE_REACH_M`
    of an olive one. Returns the park detections (their ``area_m2`` counts the
    changed pixels only, not the gaps; ``fill`` is their share of the park's rectangle; ``region`` 1, 2, ...) and
    the label image of the bridged park areas (0: no park; a park's pixels hold its ``region``), the
    park's footprint.
    """
    olive = olive_pixels(context, resolution)
    near_olive = None if olive is None else _near(olive, MIXTURE_REACH_M / resolution)
    if olive is None and context.visible_diff is not None:
        candidates = candidates & ~(np.nan_to_num(context.visible_diff) > VEHICLE_MAX_VISIBLE_CHANGE)
    radius = max(1, round(PARK_GAP_M / resolution))
    padded = np.zeros((candidates.shape[0] + 2 * radius, candidates.shape[1] + 2 * radius), dtype=bool)
    padded[radius:-radius, radius:-radius] = candidates  # np.pad's zeros, without its cost
    closed = binary_closing(padded, structure=disk(radius).astype(bool))[radius:-radius, radius:-radius]
    closed &= np.isfinite(context.change) | candidates
    labels = label(closed, connectivity=2)
    px = resolution**2
    parks: list[Detection] = []
    footprints = np.zeros(candidates.shape, np.int32)
    # decided by the area alone, before any region's properties: most bridged regions are a few pixels
    bridged = np.bincount(labels.ravel()) * px
    sized = (bridged >= PARK_MIN_AREA_M2) & (bridged <= MAX_ZONE_SHARE * zone_area_m2)
    sized[0] = False
    for region in regionprops(np.where(sized[labels], labels, 0)):  # labels kept: the same regions, in order
        bridged_m2 = float(region.area) * px
        coords = tuple(region.coords.T)
        changed = candidates[coords]
        density = float(changed.mean())
        ground = _mean(context.baseline_ndvi, coords)
        if density < PARK_MIN_DENSITY or (ground is not None and ground >= VEGETATED_NDVI):
            continue
        changed_coords = tuple(c[changed] for c in coords)
        if olive is not None and near_olive is not None:
            if float(olive[changed_coords].mean()) < PARK_MIN_OLIVE_SHARE:
                continue
            # the mixture is local: light roofs and shadows count where olive vehicles stand among them
            changed = changed & near_olive[coords]
            changed_coords = tuple(c[changed] for c in coords)
        db = _mean(context.db_diff, changed_coords)
        if context.db_diff is not None and (db is None or db < RADAR_MIN_BRIGHTENING_DB):
            continue
        length_px, width_px = extent_px(float(region.axis_major_length), float(region.axis_minor_length))
        area_m2 = float(changed.sum()) * px
        parks.append(
            Detection(
                cls=DetectionClass.VEHICLE_PARK,
                area_m2=area_m2,
                length_m=length_px * resolution,
                width_m=width_px * resolution,
                elongation=length_px / width_px,
                orientation_deg=math.degrees(float(region.orientation)),
                extent=density,
                row=float(region.centroid[0]),
                col=float(region.centroid[1]),
                mean_change=float(np.mean(context.change[changed_coords])),
                visible_change=_mean(context.visible_diff, changed_coords),
                ndvi_change=_mean(context.ndvi_diff, changed_coords),
                baseline_ndvi=ground,
                estimate=_estimate(DetectionClass.VEHICLE_PARK, bridged_m2),
                db_change=db,
                region=len(parks) + 1,
                fill=min(1.0, float(changed.sum()) / (length_px * width_px)),
            )
        )
        footprints[coords] = len(parks)
    return parks, footprints


def _near(mask: np.ndarray, reach_px: float) -> np.ndarray:
    """``mask`` grown by ``reach_px`` pixels (a disk)."""
    radius = max(1, round(reach_px))
    return np.asarray(binary_dilation(mask, structure=disk(radius).astype(bool)), dtype=bool)


def extent_px(major: float, minor: float) -> tuple[float, float]:
    """Length and width in pixels of a region from its moment axes (skimage's 4 x sqrt(eigenvalue)).

    A run of n pixels has variance (n^2 - 1) / 12 along it, so sqrt(12 var + 1) gives back n exactly,
    and a single pixel is 1 x 1: tiny regions get their true size instead of a zero width.
    """
    return float(np.sqrt(0.75 * major**2 + 1.0)), float(np.sqrt(0.75 * minor**2 + 1.0))


def _mean(values: np.ndarray | None, coords: tuple[np.ndarray, ...]) -> float | None:
    if values is None:
        return None
    with np.errstate(all="ignore"):
        m = float(np.nanmean(values[coords])) if np.isfinite(values[coords]).any() else float("nan")
    return m if math.isfinite(m) else None


def lattice_regularity(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray | None = None) -> float:
    """0..1: how regular the spacing of points is, from the coefficient of variation of nearest-neighbour
    distances. A lattice (CV ~0) gives 1; random points (CV ~0.52 for a Poisson pattern) give ~0.2;
    fewer than three points give 0.

    ``weights`` (e.g. each blob's area in block-equivalents) weight the mean and spread of the distances,
    so a blob that holds two merged blocks counts twice and a fragment of one counts little.
    """
    if rows.size < 3:
        return 0.0
    w = np.ones(rows.size) if weights is None else np.asarray(weights, dtype=float)
    pts = np.stack([rows, cols], axis=1).astype(float)
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    nn = d.min(axis=1)
    mean = float(np.average(nn, weights=w))
    cv = float(np.sqrt(np.average((nn - mean) ** 2, weights=w)) / mean) if mean > 0 else 1.0
    return float(np.clip((0.6 - cv) / 0.4, 0.0, 1.0))


def block_equivalent_m2(resolution: float) -> float:
    """Changed area (m2) one troop block leaves at a pixel size of ``resolution`` metres.

    A block is :data:`TROOP_BLOCK_SIDE_M` square; the pixels along its edge are only partly covered and,
    blurred by the PSF, pass the significance test about half the time, so on average the block shows as
    a square half a pixel wider: (20 + 5)^2 = 625 m2 at 10 m, 529 m2 at 3 m.
    """
    return (TROOP_BLOCK_SIDE_M + 0.5 * resolution) ** 2


def block_equivalents(block: Detection, resolution: float) -> float:
    """How many troop blocks a crowd-block blob holds, from its area (see :func:`block_equivalent_m2`).

    At 10 m, blocks 10-20 m apart merge into one blob: counting blobs undercounts them, counting area
    does not. A whole-block blob (:func:`is_whole_block`) is at least one block (a block lying on the
    pixel grid changes only its own four pixels, 400 m2 at 10 m); a narrower one counts its area only.
    At most :data:`MAX_BLOCKS_PER_BLOB`.
    """
    share = block.area_m2 / block_equivalent_m2(resolution)
    return float(np.clip(share, 1.0 if is_whole_block(block) else 0.0, MAX_BLOCKS_PER_BLOB))


def is_whole_block(block: Detection) -> bool:
    """True when a blob is at least :data:`BLOCK_MIN_WIDTH_M` wide: one or more whole blocks, not a
    one-pixel line (a fragment of a block, or an edge left by a residual misregistration)."""
    return block.width_m >= BLOCK_MIN_WIDTH_M


def block_points(blocks: list[Detection], resolution: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block positions (rows, cols in metres) and weights (block-equivalents) behind crowd-block blobs.

    A blob holding k = round(:func:`block_equivalents`) >= 2 blocks (merged by the PSF) stands for k points
    spread evenly along its major axis, each weighing 1/k of the blob: a row of two merged blocks becomes
    two points a block pitch apart, so the spacing of the lattice can still be measured. A blob holding
    one block or less is one point at its centroid. (A 2 x 2 group is laid out as a row of four: its
    spacing is then underestimated, a limit of judging a lattice from its blobs.)
    """
    rows: list[float] = []
    cols: list[float] = []
    weights: list[float] = []
    for b in blocks:
        n_eq = block_equivalents(b, resolution)
        k = max(1, round(n_eq))
        theta = math.radians(b.orientation_deg)
        step = b.length_m / k
        for i in range(k):
            offset = (i - (k - 1) / 2.0) * step
            rows.append(b.row * resolution + offset * math.cos(theta))
            cols.append(b.col * resolution + offset * math.sin(theta))
            weights.append(n_eq / k)
    return np.array(rows), np.array(cols), np.array(weights)


def formation_blocks(detections: list[Detection], resolution: float) -> list[Detection]:
    """The crowd blocks that belong together: each with a neighbouring block within
    :data:`FORMATION_MAX_SPACING_M` metres, edge to edge (``resolution``: pixel size, m).

    The gap is the centre distance less the half-lengths of both blobs, so a blob of two merged blocks is
    as near its neighbours as a single block is. Sizes are not required to match: merged and split blocks
    differ in area, and are counted by area (:func:`block_equivalents`).
    """
    blocks = [d for d in detections if d.cls == "crowd-block"]
    if len(blocks) < 2:
        return blocks
    pts = np.array([[b.row, b.col] for b in blocks]) * resolution
    half = np.array([b.length_m / 2.0 for b in blocks])
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)) - half[:, None] - half[None, :]
    np.fill_diagonal(d, np.inf)
    return [b for b, nn in zip(blocks, d.min(axis=1), strict=True) if nn <= FORMATION_MAX_SPACING_M]


def crowd_score(detections: list[Detection], resolution: float) -> float:
    """0..1: a logistic of the number of troop blocks in the formation, counted by area (centred on 3.5
    block-equivalents, so 8 blocks -> 0.99), times the regularity of the blob spacing weighted by area
    (a drilled formation is a lattice; chance blobs are not).

    One or two compact blobs happen by chance (a bus, a shadow); a formation fields several, evenly
    spaced. At least three blobs are needed to judge the spacing: one dark surface of any size is not a
    formation.
    """
    found = formation_measures(detections, resolution)
    if found is None:
        return 0.0
    n, regular = found
    return float(regular / (1.0 + math.exp(-CROWD_SLOPE * (n - CROWD_CENTRE_BLOCKS))))


def formation_measures(detections: list[Detection], resolution: float) -> tuple[float, float] | None:
    """What :func:`crowd_score` is computed from: the formation's troop blocks counted by area
    (block-equivalents) and the regularity of their spacing (0..1); None with fewer than
    :data:`MIN_FORMATION_BLOBS` whole-block blobs in the formation."""
    blocks = formation_blocks(detections, resolution)
    if sum(is_whole_block(b) for b in blocks) < MIN_FORMATION_BLOBS:
        return None
    rows, cols, weights = block_points(blocks, resolution)
    return float(weights.sum()), lattice_regularity(rows, cols, weights)


def arrangement(detection: Detection, others: list[Detection], resolution: float = 10.0) -> float:
    """0..1: how far a vehicle row or park is arranged as vehicles are parked.

    A park: the share of its rectangle (length x width from its moments) its changed pixels fill
    (``fill``): a dense park fills a rectangle, a ragged field of chance change does not. A row: 1 when
    another row of ``others`` runs parallel to it (:data:`ROW_PARALLEL_DEG`) at a row pitch
    (:data:`ROW_PITCH_M`) alongside it, else 0.5 (one straight line is also a kerb or a shadow's edge).
    At 10 m the rows inside a dense park (12 m deep, aisles of a few metres) are not resolved: there
    the filled rectangle is what shows the rows.
    """
    if detection.cls == DetectionClass.VEHICLE_PARK:
        return 0.5 if detection.fill is None else float(np.clip(detection.fill, 0.0, 1.0))
    if detection.cls != DetectionClass.VEHICLE_ROW:
        return 0.0
    return 1.0 if any(_parallel_rows(detection, o, resolution) for o in others if o is not detection) else 0.5


def _parallel_rows(a: Detection, b: Detection, resolution: float) -> bool:
    """True when rows ``a`` and ``b`` are parallel, a row pitch apart across them and side by side along them."""
    if b.cls != DetectionClass.VEHICLE_ROW:
        return False
    turn = abs(a.orientation_deg - b.orientation_deg) % 180.0
    if min(turn, 180.0 - turn) > ROW_PARALLEL_DEG:
        return False
    # rows and cols are pixels; orientation is the angle between the row axis and the major axis
    theta = math.radians(a.orientation_deg)
    axis = np.array([math.cos(theta), math.sin(theta)])
    gap = np.array([b.row - a.row, b.col - a.col])
    along, across = float(gap @ axis), float(abs(gap[0] * axis[1] - gap[1] * axis[0]))
    across_m, along_m = across * resolution, abs(along) * resolution
    return ROW_PITCH_M[0] <= across_m <= ROW_PITCH_M[1] and along_m <= 0.5 * (a.length_m + b.length_m)


def vehicle_evidence_m2(detections: list[Detection], resolution: float = 10.0) -> float:
    """The changed area of vehicle rows and parks (m2), each weighed by its :func:`arrangement`:
    ``area x (0.5 + arrangement)``, so that a filled rectangle or rows in parallel count up to 1.5 times
    their area and a ragged field or a lone line about once or less (``resolution``: pixel size, m)."""
    vehicles = [d for d in detections if d.cls in VEHICLE_CLASSES]
    return float(sum(d.area_m2 * (0.5 + arrangement(d, vehicles, resolution)) for d in vehicles))


def vehicle_score(detections: list[Detection], resolution: float = 10.0) -> float:
    """0..1 from the vehicle evidence (:func:`vehicle_evidence_m2`): 1 - exp(-evidence / 0.5 ha)
    (1 ha of a park filling its rectangle -> 0.95, of a ragged field -> 0.86; ``resolution``: pixel
    size, m)."""
    return float(1.0 - math.exp(-vehicle_evidence_m2(detections, resolution) / VEHICLE_SCALE_M2))


def describe(detections: list[Detection], resolution: float = 10.0) -> str:
    """One line an analyst can read: counts per formation class with the summed estimates.

    Troop blocks are counted by area, as the crowd score counts them (:func:`block_equivalents` at a
    pixel size of ``resolution`` metres: blocks the PSF merged into one blob are several blocks), over
    every crowd-block blob, including those too far from the others to join the formation the score
    judges. New bright radar targets are counted too.
    """
    parts = []
    blocks = [d for d in detections if d.cls == "crowd-block"]
    if blocks:
        area = sum(d.area_m2 for d in blocks)
        lo, hi = (area * k for k in PERSONNEL_PER_M2)
        n_blocks = sum(block_equivalents(d, resolution) for d in blocks)
        parts.append(
            f"~{n_blocks:.0f} troop block(s) in {len(blocks)} blob(s), {area:,.0f} m2, "
            f"est. {lo:,.0f}-{hi:,.0f} personnel"
        )
    vehicles = [d for d in detections if d.cls in {"vehicle-row", "vehicle-park"}]
    if vehicles:
        # a park's footprint is its bridged area (changed area / density), a row's its changed area
        area = sum(d.area_m2 / d.extent if d.cls == "vehicle-park" and d.extent > 0 else d.area_m2 for d in vehicles)
        lo, hi = (area / k for k in reversed(M2_PER_VEHICLE))
        parts.append(f"{len(vehicles)} vehicle row(s)/park(s) over {area:,.0f} m2, est. {lo:,.0f}-{hi:,.0f} vehicles")
    targets = [d for d in detections if d.cls == "bright-target"]
    if targets:
        parts.append(f"{len(targets)} new bright radar target(s)")
    return "; ".join(parts) or "no formation-like change"

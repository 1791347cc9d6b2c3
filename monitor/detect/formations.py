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
from scipy.ndimage import binary_closing
from skimage.feature import peak_local_max
from skimage.measure import label, regionprops
from skimage.morphology import disk
from skimage.segmentation import watershed

from monitor.detect.classes import VEHICLE_CLASSES, DetectionClass
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
    and for radar the backscatter change in dB."""

    change: np.ndarray
    visible_diff: np.ndarray | None = None
    ndvi_diff: np.ndarray | None = None
    baseline_ndvi: np.ndarray | None = None
    db_diff: np.ndarray | None = None


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
) -> DetectionClass:
    """Class of one changed region from its size (m2, m), shape, the ground under it and its direction.

    ``db_change`` is given for radar scenes only: radar passes at dawn and dusk and rarely sees troops,
    so a radar region is never a crowd block, and a vehicle row must brighten by
    :data:`RADAR_MIN_BRIGHTENING_DB`.
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
        return DetectionClass.OTHER if brighter else DetectionClass.VEHICLE_ROW
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
    peaks = peak_local_max(surface, min_distance=distance, labels=components, exclude_border=False)
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
    vis_m, ndvi_m, ground_m, db_m, change_m = (
        region_means(labels, a, n)
        for a in (ctx.visible_diff, ctx.ndvi_diff, ctx.baseline_ndvi, ctx.db_diff, ctx.change)
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
        cls = classify(area_m2, length_m, elongation, extent, ground, vis, zone_area_m2, db)
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


def find_parks(
    candidates: np.ndarray, context: PixelContext, resolution: float, zone_area_m2: float
) -> tuple[list[Detection], np.ndarray]:
    """Vehicle parks: patchy fields of changed pixels, bridged over gaps of :data:`PARK_GAP_M` metres.

    ``candidates`` are the significant pixels not already explained (e.g. by crowd blocks); pixels whose
    visible reflectance rose by more than :data:`VEHICLE_MAX_VISIBLE_CHANGE` are not vehicles. Returns the
    park detections (their ``area_m2`` counts the changed pixels only, not the gaps; ``region`` 1, 2, ...)
    and the label image of the bridged park areas (0: no park; a park's pixels hold its ``region``), the
    park's footprint.
    """
    if context.visible_diff is not None:
        candidates = candidates & ~(np.nan_to_num(context.visible_diff) > VEHICLE_MAX_VISIBLE_CHANGE)
    radius = max(1, round(PARK_GAP_M / resolution))
    padded = np.pad(candidates, radius)
    closed = binary_closing(padded, structure=disk(radius).astype(bool))[radius:-radius, radius:-radius]
    closed &= np.isfinite(context.change) | candidates
    labels = label(closed, connectivity=2)
    px = resolution**2
    parks: list[Detection] = []
    footprints = np.zeros(candidates.shape, np.int32)
    for region in regionprops(labels):
        coords = tuple(region.coords.T)
        changed = candidates[coords]
        bridged_m2 = float(region.area) * px
        density = float(changed.mean())
        ground = _mean(context.baseline_ndvi, coords)
        if (
            bridged_m2 < PARK_MIN_AREA_M2
            or density < PARK_MIN_DENSITY
            or bridged_m2 > MAX_ZONE_SHARE * zone_area_m2
            or (ground is not None and ground >= VEGETATED_NDVI)
        ):
            continue
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
            )
        )
        footprints[coords] = len(parks)
    return parks, footprints


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


def vehicle_score(detections: list[Detection]) -> float:
    """0..1 from the area of vehicle rows and parks: 1 - exp(-area / 0.5 ha) (1 ha -> 0.86)."""
    area = sum(d.area_m2 for d in detections if d.cls in {"vehicle-row", "vehicle-park"})
    return float(1.0 - math.exp(-area / VEHICLE_SCALE_M2))


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

"""Connected regions of significant change, their shape and spectral direction, and formation scores.

First cut (see ``docs/detection.md``): a region is a *crowd block* when it is compact and block-sized,
a *vehicle row* when it is long and narrow, a *vehicle park* when it is a large compact area; regions
whose NDVI changed strongly are vegetation or season and never count. Areas are in square metres, so
the rules hold at any resolution (10 m Sentinel-2 as well as 3 m commercial imagery).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from skimage.measure import label, regionprops

#: A troop block of ~300 soldiers covers ~20 x 20 m; blurred by the PSF it changes 100..2,500 m2.
BLOCK_AREA_M2 = (100.0, 2500.0)
#: Compact: major/minor axis ratio below this.
BLOCK_MAX_ELONGATION = 2.5
#: A row of vehicles: at least this long (m) and this elongated.
ROW_MIN_LENGTH_M = 40.0
ROW_MIN_ELONGATION = 3.0
#: A park: compact change over at least this area (m2); 200-800 vehicles cover 3-5 ha.
PARK_MIN_AREA_M2 = 2500.0
#: Baseline NDVI at or above which the ground is vegetated: change there is phenology, not a formation.
#: Formations are watched on paved or bare ground; olive vehicles on grass are nearly invisible at 10 m.
VEGETATED_NDVI = 0.4
#: A crowd block darkens bright pavement in the visible by at least this much reflectance (troops in dark
#: uniforms over concrete); a region that brightens is something else.
CROWD_MAX_VISIBLE_CHANGE = -0.005
#: A region covering more than this share of its zone is scene-wide change (season, flooding), not a formation.
MAX_ZONE_SHARE = 0.5
#: Assumptions behind the estimates (stated with every estimate).
PERSONNEL_PER_M2 = (0.5, 1.0)
M2_PER_VEHICLE = (60.0, 120.0)


@dataclass(frozen=True)
class Detection:
    """One connected region of significant change inside a zone, with the reasons for its class."""

    cls: str  # crowd-block | vehicle-row | vehicle-park | vegetation | other
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

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict with rounded values."""
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def classify(area_m2: float, length_m: float, elongation: float, extent: float, baseline_ndvi: float | None,
             visible_change: float | None, zone_area_m2: float) -> str:
    """Class of one changed region from its size (m2, m), shape, the ground under it and its direction."""
    if baseline_ndvi is not None and baseline_ndvi >= VEGETATED_NDVI:
        return "vegetation"
    if zone_area_m2 > 0 and area_m2 > MAX_ZONE_SHARE * zone_area_m2:
        return "other"
    if BLOCK_AREA_M2[0] <= area_m2 <= BLOCK_AREA_M2[1] and elongation < BLOCK_MAX_ELONGATION:
        darker = visible_change is None or visible_change <= CROWD_MAX_VISIBLE_CHANGE
        return "crowd-block" if darker else "other"
    if length_m >= ROW_MIN_LENGTH_M and elongation >= ROW_MIN_ELONGATION:
        return "vehicle-row"
    if area_m2 >= PARK_MIN_AREA_M2 and extent >= 0.3:
        return "vehicle-park"
    return "other"


def _estimate(cls: str, area_m2: float) -> str | None:
    if cls == "crowd-block":
        lo, hi = (area_m2 * d for d in PERSONNEL_PER_M2)
        return f"~{lo:.0f}-{hi:.0f} personnel (estimate: {PERSONNEL_PER_M2[0]}-{PERSONNEL_PER_M2[1]} per m2)"
    if cls in {"vehicle-row", "vehicle-park"}:
        lo, hi = (area_m2 / d for d in reversed(M2_PER_VEHICLE))
        return f"~{lo:.0f}-{hi:.0f} vehicles (estimate: one per {M2_PER_VEHICLE[0]:.0f}-{M2_PER_VEHICLE[1]:.0f} m2)"
    return None


def find_regions(
    significant: np.ndarray,
    change: np.ndarray,
    resolution: float,
    zone_area_m2: float,
    visible_diff: np.ndarray | None = None,
    ndvi_diff: np.ndarray | None = None,
    baseline_ndvi: np.ndarray | None = None,
) -> list[Detection]:
    """Connected (8-neighbour) regions of ``significant`` pixels, described and classified.

    ``change`` is the per-pixel change statistic; ``visible_diff`` the mean visible reflectance change
    (negative = darker), ``ndvi_diff`` the NDVI change and ``baseline_ndvi`` the NDVI of the ground in
    the baseline, all optional (rows, cols) arrays;
    ``resolution`` is the pixel size in metres.
    """
    labels = label(significant, connectivity=2)
    out = []
    px = resolution**2
    for region in regionprops(labels):
        coords = tuple(region.coords.T)
        area_m2 = float(region.area) * px
        major = float(region.axis_major_length)
        minor = float(region.axis_minor_length)
        length_m, width_m = (major + 1.0) * resolution, (minor + 1.0) * resolution
        elongation = (major + 1.0) / (minor + 1.0)
        vis, ndvi, ground = (_mean(a, coords) for a in (visible_diff, ndvi_diff, baseline_ndvi))
        cls = classify(area_m2, length_m, elongation, float(region.extent), ground, vis, zone_area_m2)
        out.append(Detection(
            cls=cls, area_m2=area_m2, length_m=length_m, width_m=width_m, elongation=elongation,
            orientation_deg=math.degrees(float(region.orientation)), extent=float(region.extent),
            row=float(region.centroid[0]), col=float(region.centroid[1]),
            mean_change=float(np.mean(change[coords])), visible_change=vis, ndvi_change=ndvi,
            baseline_ndvi=ground, estimate=_estimate(cls, area_m2),
        ))
    return out


def _mean(values: np.ndarray | None, coords: tuple[np.ndarray, ...]) -> float | None:
    if values is None:
        return None
    with np.errstate(all="ignore"):
        m = float(np.nanmean(values[coords])) if np.isfinite(values[coords]).any() else float("nan")
    return m if math.isfinite(m) else None


def lattice_regularity(rows: np.ndarray, cols: np.ndarray) -> float:
    """0..1: how regular the spacing of points is, from the coefficient of variation of nearest-neighbour
    distances. A lattice (CV ~0) gives 1; random points (CV ~0.52 for a Poisson pattern) give ~0.2;
    fewer than three points give 0.
    """
    if rows.size < 3:
        return 0.0
    pts = np.stack([rows, cols], axis=1).astype(float)
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    nn = d.min(axis=1)
    cv = float(nn.std() / nn.mean()) if nn.mean() > 0 else 1.0
    return float(np.clip((0.6 - cv) / 0.4, 0.0, 1.0))


def formation_blocks(detections: list[Detection]) -> list[Detection]:
    """The crowd blocks that belong together: those within a factor 2 of the median block area."""
    blocks = [d for d in detections if d.cls == "crowd-block"]
    if not blocks:
        return []
    median = float(np.median([b.area_m2 for b in blocks]))
    return [b for b in blocks if 0.5 * median <= b.area_m2 <= 2.0 * median]


def crowd_score(detections: list[Detection]) -> float:
    """0..1: a logistic of the number of similar-sized crowd blocks (centred on 3.5, so 8 blocks -> 0.99),
    times the regularity of their spacing (a drilled formation is a lattice; chance blobs are not).

    One or two compact blobs happen by chance (a bus, a shadow); a formation fields several, alike and
    evenly spaced.
    """
    blocks = formation_blocks(detections)
    n = len(blocks)
    if n == 0:
        return 0.0
    regular = lattice_regularity(np.array([b.row for b in blocks]), np.array([b.col for b in blocks]))
    return float(regular / (1.0 + math.exp(-(n - 3.5))))


def vehicle_score(detections: list[Detection]) -> float:
    """0..1 from the area of vehicle rows and parks: 1 - exp(-area / 0.5 ha) (1 ha -> 0.86)."""
    area = sum(d.area_m2 for d in detections if d.cls in {"vehicle-row", "vehicle-park"})
    return float(1.0 - math.exp(-area / 5000.0))

"""New bright radar targets: what metal does to a Sentinel-1 pixel.

Parked vehicles, containers and tent frames are strong double-bounce and corner reflectors: a pixel that
holds one rises far above the dim, specular return of an empty lot. A cluster of such pixels that was
not there in the baseline is a new bright target; their count per zone is evidence of vehicles that the
dawn and dusk passes of Sentinel-1 see through clouds, and it is shown with every radar score.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.measure import label, regionprops

from monitor.detect.classes import DetectionClass
from monitor.detect.formations import Detection, extent_px

#: A new target's backscatter rises at least this far above the baseline median (dB) ...
#: GRD-HR speckle (about 4.4 looks) puts a pixel 6 dB above its mean less than once in 10^5; soil
#: moisture and crop growth move fields by 1-3 dB.
NEW_TARGET_RISE_DB = 6.0
#: ... and at least this many times the pixel's own spread (the baseline's robust spread with its
#: 0.5 dB floor): a pixel that varies by 1.5 dB from date to date (farmland) needs 7.5 dB. On the real
#: Flanders series (149 Sentinel-1 scenes of 41 ha of fields and a village against the first ten) this
#: leaves 0.9 targets per scene (farm machinery and bales among them), against 4.0 with 6 dB alone.
NEW_TARGET_SPREADS = 5.0
#: ... and is at least this bright there (sigma0, dB, in the polarisation that rose). Metal on the ground gives 0 dB
#: and more at 10-20 m pixels; asphalt, concrete and short grass lie at -25..-10 dB, so a rise from
#: there that stays dim is wetness or roughness, not an object.
BRIGHT_TARGET_DB = -5.0
TARGET_ESTIMATE = "one or more new metal objects (vehicles, containers, tent frames): a radar count, not a headcount"


def bright_targets(
    values: np.ndarray, median: np.ndarray, scale: np.ndarray, compared: np.ndarray, resolution: float
) -> list[Detection]:
    """The new bright targets among ``compared`` pixels: 8-connected groups of pixels that, in some band,
    rose over the baseline ``median`` by at least :data:`NEW_TARGET_RISE_DB` and :data:`NEW_TARGET_SPREADS`
    times ``scale`` (the baseline's z-score denominator), and reach :data:`BRIGHT_TARGET_DB` there.

    ``values``, ``median`` and ``scale`` are (bands, rows, cols) in dB (the scene after its dB offset
    match); ``resolution`` the pixel size in metres. Each target is a :class:`Detection` of class
    ``bright-target`` with its area, shape, position and mean rise (``db_change``, dB, the band where it
    rose most).
    """
    with np.errstate(invalid="ignore"):
        step = values - median
        new = (step >= np.maximum(NEW_TARGET_RISE_DB, NEW_TARGET_SPREADS * scale)) & (values >= BRIGHT_TARGET_DB)
        hit = compared & np.any(new, axis=0)
        rise = np.nanmax(np.where(np.isfinite(step), step, -np.inf), axis=0)
    out: list[Detection] = []
    if not hit.any():
        return out
    labels = label(hit, connectivity=2)
    px = resolution**2
    for region in regionprops(labels):
        coords = tuple(region.coords.T)
        length_px, width_px = extent_px(float(region.axis_major_length), float(region.axis_minor_length))
        mean_rise = float(np.mean(rise[coords]))
        out.append(
            Detection(
                cls=DetectionClass.BRIGHT_TARGET,
                area_m2=float(region.area) * px,
                length_m=length_px * resolution,
                width_m=width_px * resolution,
                elongation=length_px / width_px,
                orientation_deg=math.degrees(float(region.orientation)),
                extent=float(region.extent),
                row=float(region.centroid[0]),
                col=float(region.centroid[1]),
                mean_change=mean_rise,
                visible_change=None,
                ndvi_change=None,
                baseline_ndvi=None,
                estimate=TARGET_ESTIMATE,
                db_change=mean_rise,
                region=int(region.label),
            )
        )
    return out

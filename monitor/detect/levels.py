"""A scene whose whole level jumps by Sentinel-2's BOA offset: Earth Search's ``boa_offset_applied`` flag
is wrong for some 2022-2025 items (element84/earth-search issues 66 and 71), so the -1000 DN offset is
removed twice or not at all and the scene sits 0.1 reflectance below or above its neighbours in time.

No surface or atmosphere does that: haze adds most in the blue and little in the near-infrared, an
illumination change scales each band by its reflectance, the season moves the visible and the
near-infrared in opposite directions. An offset of the same 0.1 in every band, B08 included, is the
product's, not the ground's. The baseline (the median of the scene's neighbours in time, co-registered
and matched) is the reference: the median of the per-pixel difference over the darkest and over the
brightest third of the site, per band, must lie within :data:`OFFSET_TOLERANCE` of +0.1 or of -0.1 in
every band (an offset moves dark and bright ground alike, a gain does not). Pure numpy.
"""

from __future__ import annotations

import numpy as np

from monitor.detect.change import sample_index

#: The offset of processing baseline 04.00 products: 1000 DN = 0.1 reflectance.
BOA_OFFSET = 0.1
#: How far each band's level may stray from the offset: 0.1 +- 0.03. A real change of the whole site
#: moves the bands unequally by far more than that; within it, the residual is left to the match.
OFFSET_TOLERANCE = 0.03
#: Pixels needed to judge a site's level.
MIN_PIXELS = 50


def offset_jump(values: np.ndarray, median: np.ndarray, compared: np.ndarray) -> float | None:
    """+0.1 or -0.1 (reflectance) when every band of ``values`` (bands, rows, cols) sits that far from
    the baseline ``median`` over the ``compared`` pixels (the site-wide median of the differences), else
    None. None also with fewer than :data:`MIN_PIXELS` pixels or fewer than three bands."""
    if values.shape[0] < 3 or int(compared.sum()) < MIN_PIXELS:
        return None
    idx = sample_index(compared)  # an even sample of the site: a level needs no more
    k = values.shape[0]
    base = median.reshape(k, -1)[:, idx]
    diff = values.reshape(k, -1)[:, idx] - base
    overall = np.nanmedian(diff, axis=1)
    sign = float(np.sign(np.nanmedian(overall)))
    if sign == 0 or not np.all(np.abs(overall - sign * BOA_OFFSET) <= OFFSET_TOLERANCE):
        return None
    # an offset moves dark and bright pixels alike, a gain moves them by their reflectance: the
    # darkest and the brightest third of each band must both sit at the offset
    low, high = np.nanpercentile(base, [33.3, 66.7], axis=1)
    for b in range(k):
        for part in (base[b] <= low[b], base[b] >= high[b]):
            if abs(float(np.nanmedian(diff[b][part])) - sign * BOA_OFFSET) > OFFSET_TOLERANCE:
                return None
    return sign * BOA_OFFSET


def harmonised(values: np.ndarray, jump: float) -> np.ndarray:
    """``values`` with a level ``jump`` taken off; pixels that would fall below 0 were clipped at 0 by
    the double removal and hold no value: NaN."""
    out = values - np.float32(jump)
    if jump < 0:
        out[values <= 0.0] = np.nan
    return out.astype(np.float32, copy=False)

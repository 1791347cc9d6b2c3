"""Cloud shadows that SCL left clear, told from formations by what a shadow is physically.

A cloud's shadow removes the direct sun from the ground under it and leaves the sky light: the ground
darkens in **every** band (the blue least, since sky light is blue-rich), by a factor that depends on
the cloud's opacity, not on the surface. The shadow of even the smallest cumulus is 50 m or more across
(a cloud 100 m wide at 1 km, the sun's 0.5 degree penumbra adding ~10 m), and a cloud has no reason to
stop at the edge of a paved zone: its shadow continues over the fields around. A formation stands on
the pavement; the point spread function carries its change about one pixel beyond it, no more.

So a dark change that continues, darker in every band, from inside a zone to ground well outside it is
a shadow crossing the zone, not a formation (:func:`crossing_shadows`). See docs/detection.md,
section 1 ("Cloud shadows SCL left clear"), for the measurement.

Pure numpy / scipy, no I/O.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation, generate_binary_structure
from scipy.ndimage import label as ndimage_label

#: A pixel lies in a cloud's umbra when every band keeps at most this share of the baseline's
#: reflectance. Under a sky clear enough for a cloud to cast a shadow, the direct beam is 55-75 % of the
#: global irradiance in the blue and 70-90 % in the NIR; a cloud of optical depth 1 or more passes at most
#: 37 % of it, so the umbra keeps at most 0.45 + 0.37 x 0.55 = 0.65 of the blue, less of the other bands.
#: Troops and vehicles do not darken every band that far on asphalt (uniforms and olive paint reflect
#: more NIR than asphalt; measured on the injector's troop blocks on asphalt: 0.76-0.90 of the visible);
#: on concrete they can, but they stand on the pavement, not on the fields around (see the module note).
#: The penumbra (0.7-1) is left out: a shadow is recognised by its umbra.
SHADOW_MAX_RATIO = 0.7
#: Eight-connected: a shadow's edge is smooth at 10 m, diagonal neighbours belong to it.
_CONNECTIVITY = generate_binary_structure(2, 2)


def shadow_like(values: np.ndarray, median: np.ndarray, compared: np.ndarray) -> np.ndarray:
    """Compared pixels darker than the baseline ``median`` in every band by at least the shadow's
    factor (:data:`SHADOW_MAX_RATIO`); ``values`` and ``median`` are (band, y, x) reflectance, the scene
    after the site-wide radiometric match."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(median > 0, values / median, np.nan)
        dark = np.all(ratio <= SHADOW_MAX_RATIO, axis=0)
    return np.asarray(dark & compared, dtype=bool)


def shadow_components(shadow: np.ndarray) -> np.ndarray:
    """Eight-connected labels of the shadow-like pixels over the whole site (int32, 0: none)."""
    labels, _ = ndimage_label(shadow, structure=_CONNECTIVITY)
    return np.asarray(labels, dtype=np.int32)


def crossing_shadows(labels: np.ndarray, zone: np.ndarray, reach_px: int, min_outside_px: int) -> np.ndarray:
    """The pixels of the shadow components (``labels``, :func:`shadow_components`) that enter ``zone``
    and hold at least ``min_outside_px`` pixels farther than ``reach_px`` pixels from it.

    ``reach_px`` is how far a formation standing at the zone's edge can darken the ground around (the
    PSF, a pixel, and the paved rim a zone is drawn inside); ``min_outside_px`` how much of a shadow must
    lie beyond that reach. A formation never darkens the fields around; a cloud's shadow does.
    """
    out = np.zeros(zone.shape, dtype=bool)
    inside = np.unique(labels[zone & (labels > 0)])
    if inside.size == 0:
        return out
    grown = binary_dilation(zone, structure=_CONNECTIVITY, iterations=max(reach_px, 0)) if reach_px > 0 else zone
    counts = np.bincount(labels[~grown & (labels > 0)], minlength=int(labels.max()) + 1)
    crossing = inside[counts[inside] >= min_outside_px]
    if crossing.size == 0:
        return out
    return np.asarray(np.isin(labels, crossing), dtype=bool)

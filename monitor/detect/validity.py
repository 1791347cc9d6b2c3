"""Which pixels may be compared: clear, with a safety margin around clouds and their shadows."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation
from skimage.morphology import disk

#: SCL classes whose surroundings are unsafe: cloud shadow, cloud medium/high probability, thin cirrus, snow.
SCL_CLOUDY = (3, 8, 9, 10, 11)
#: SCL classes compared with the baseline besides the clear ones (4 vegetation, 5 not vegetated, 6 water):
#: 2 "dark area" and 7 "unclassified". Neither is a cloud, a shadow of one, snow or a defect. Sen2Cor
#: gives class 2 to dark surfaces, and a crowd or a vehicle park is what darkens pavement: masking it
#: would mask the very change we look for. Class 7 is what its tests could not decide, common on bare
#: soil, wet ground and bright pavement in winter (on the real Flanders series, 30-60 % of a winter
#: scene). Both still count as not clear in ``usable_fraction`` (the contract's SCL 4, 5, 6); residual
#: thin cloud among them is caught by the haze test and by the robust statistics.
SCL_ALSO_COMPARED = (2, 7)


def comparable(valid: np.ndarray, data: np.ndarray, scl: np.ndarray | None) -> np.ndarray:
    """The pixels of a scene that may be compared: ``valid`` (clear), plus the pixels with finite bands
    whose SCL is in :data:`SCL_ALSO_COMPARED`. Without SCL, ``valid`` as it is."""
    if scl is None:
        return valid
    extra = np.isin(np.nan_to_num(scl, nan=0).astype(np.int16), SCL_ALSO_COMPARED)
    return valid | (extra & np.all(np.isfinite(data), axis=0))


def cloud_margin(valid: np.ndarray, scl: np.ndarray | None, margin_px: int) -> np.ndarray:
    """``valid`` minus every pixel within ``margin_px`` pixels of a cloud, shadow, cirrus or snow pixel.

    Sen2Cor's SCL is computed at 20 m and misses the thin, semi-transparent edges of clouds and shadows;
    those edges change reflectance and would otherwise be read as change. Without SCL, ``valid`` is
    returned unchanged.
    """
    if scl is None or margin_px <= 0:
        return valid
    masked = cloud_mask(scl, margin_px)
    return valid if masked is None else valid & ~masked


def cloud_mask(scl: np.ndarray | None, margin_px: int) -> np.ndarray | None:
    """The pixels SCL calls cloud, shadow, cirrus or snow (:data:`SCL_CLOUDY`) and those within
    ``margin_px`` pixels of them (a disk); None without SCL or without any such pixel."""
    if scl is None:
        return None
    cloudy = np.isin(np.nan_to_num(scl, nan=0).astype(np.int16), SCL_CLOUDY)
    if not cloudy.any():
        return None
    if margin_px <= 0:
        return cloudy
    return np.asarray(binary_dilation(cloudy, structure=disk(margin_px).astype(bool)), dtype=bool)

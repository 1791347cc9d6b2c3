"""Which pixels may be compared: clear, with a safety margin around clouds and their shadows."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation
from skimage.morphology import disk

#: SCL classes whose surroundings are unsafe: cloud shadow, cloud medium/high probability, thin cirrus, snow.
SCL_CLOUDY = (3, 8, 9, 10, 11)


def cloud_margin(valid: np.ndarray, scl: np.ndarray | None, margin_px: int) -> np.ndarray:
    """``valid`` minus every pixel within ``margin_px`` pixels of a cloud, shadow, cirrus or snow pixel.

    Sen2Cor's SCL is computed at 20 m and misses the thin, semi-transparent edges of clouds and shadows;
    those edges change reflectance and would otherwise be read as change. Without SCL, ``valid`` is
    returned unchanged.
    """
    if scl is None or margin_px <= 0:
        return valid
    cloudy = np.isin(np.nan_to_num(scl, nan=0).astype(np.int16), SCL_CLOUDY)
    if not cloudy.any():
        return valid
    return valid & ~binary_dilation(cloudy, structure=disk(margin_px).astype(bool))

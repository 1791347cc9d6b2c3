"""What the monitor knows about each sensor: band names, scaling, clear-sky classes, display bands.

Pure data and small pure functions; no I/O.
"""

from __future__ import annotations

import re

import numpy as np

S2_SPECTRAL = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
S2_DN_SCALE = 1e-4
#: Sentinel-2 L2A scene classes counted as clear (contract: 4 vegetation, 5 not vegetated, 6 water).
SCL_CLEAR = (4, 5, 6)
#: Auxiliary (non-spectral) band names: kept beside the data, never compared as reflectance.
AUX_BANDS = ("SCL", "dataMask", "CLM", "CLP")
RADAR_BANDS = ("VV", "VH", "HH", "HV")


def sensor_from_prefix(name: str) -> str:
    """The sensor of a local file from its leading prefix: ``S2``, ``S1``, or the prefix itself.

    ``S2_20230115T021530`` -> ``S2``; ``PS_20230115`` -> ``PS``; no prefix -> ``OPT`` (optical).
    """
    match = re.match(r"^([A-Za-z][A-Za-z0-9]*)_", name)
    if not match:
        return "OPT"
    prefix = match.group(1).upper()
    if re.fullmatch(r"S2[A-D]", prefix):
        return "S2"
    if re.fullmatch(r"S1[A-D]", prefix):
        return "S1"
    return prefix


def nodata_of(sensor: str, band: str) -> float | None:
    """A no-data value implied by the product even when a file does not declare it.

    Sentinel-2 L2A writes 0 for no data in every band, SCL included (Sen2Cor's floor for valid
    reflectance is 1), so a 0 outside the swath must never be warped into valid pixels.
    """
    if sensor == "S2" and (band in S2_SPECTRAL or band == "SCL"):
        return 0.0
    return None


def is_radar(sensor: str, bands: tuple[str, ...]) -> bool:
    """True for SAR scenes (Sentinel-1 or any scene whose bands are polarisations)."""
    return sensor == "S1" or (bool(bands) and all(b in RADAR_BANDS for b in bands))


def scale_of(sensor: str, band: str, dtype: np.dtype) -> float:
    """Factor from stored values to physical units: 1e-4 for integer Sentinel-2 reflectance DN, else 1."""
    if sensor == "S2" and band in S2_SPECTRAL and np.issubdtype(dtype, np.integer):
        return S2_DN_SCALE
    return 1.0


def clear_mask(data: np.ndarray, scl: np.ndarray | None) -> np.ndarray:
    """Boolean (rows, cols): every band finite and, where an SCL layer exists, SCL in 4, 5 or 6."""
    valid = np.all(np.isfinite(data), axis=0)
    if scl is not None:
        valid &= np.isin(np.nan_to_num(scl, nan=0).astype(np.int16), SCL_CLEAR)
    return valid


def rgb_bands(bands: tuple[str, ...]) -> tuple[str, str, str] | None:
    """The band names to show as true colour (red, green, blue), if the scene has them."""
    for triple in (("B04", "B03", "B02"), ("red", "green", "blue"), ("R", "G", "B")):
        if all(b in bands for b in triple):
            return triple
    return None

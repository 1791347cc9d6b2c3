"""Analysis units: what the change detector compares (reflectance for optical, dB for radar)."""

from __future__ import annotations

import numpy as np

from monitor.sensors import is_radar


def analysis_values(sensor: str, bands: tuple[str, ...], data: np.ndarray) -> np.ndarray:
    """Physical values -> analysis units: linear sigma0 -> dB for radar (NaN where <= 0), else unchanged."""
    if is_radar(sensor, bands):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 10.0 * np.log10(data)
        out[~np.isfinite(out)] = np.nan
        return out.astype(np.float32)
    return data.astype(np.float32, copy=False)


def noise_floor(sensor: str, bands: tuple[str, ...], median: np.ndarray) -> np.ndarray:
    """Per-pixel noise floor (same units as ``median``) added to the baseline spread.

    Optical: 0.005 reflectance (sensor noise and quantisation) plus 3 % of the value (residual
    illumination and BRDF). Radar: 0.5 dB (calibration and residual speckle after the baseline).
    Other optical sensors in unknown units: 3 % of the value.
    """
    if is_radar(sensor, bands):
        return np.full_like(median, 0.5)
    absolute = 0.005 if sensor == "S2" else 0.0
    return (absolute + 0.03 * np.abs(median)).astype(np.float32)

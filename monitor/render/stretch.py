"""Display stretches: the same stretch for every true-colour panel of one picture."""

from __future__ import annotations

import warnings

import numpy as np


def percentile_limits(rgb: np.ndarray, low: float = 2.0, high: float = 99.0) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) limits for a (3, rows, cols) array: percentiles over all channels together, ignoring NaN.

    One range for the three channels keeps the colour balance (grey asphalt stays grey), as a
    per-channel stretch would not.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.full(rgb.shape[0], np.nanpercentile(rgb, low))
        hi = np.full(rgb.shape[0], np.nanpercentile(rgb, high))
    lo = np.where(np.isfinite(lo), lo, 0.0)
    hi = np.where(np.isfinite(hi) & (hi > lo), hi, lo + 1.0)
    return lo, hi


def to_display(rgb: np.ndarray, limits: tuple[np.ndarray, np.ndarray], gamma: float = 1.0 / 1.6) -> np.ndarray:
    """(3, rows, cols) values -> (rows, cols, 4) RGBA floats 0..1; NaN pixels transparent grey."""
    lo, hi = limits
    scaled = (rgb - lo[:, None, None]) / (hi - lo)[:, None, None]
    scaled = np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 1.0) ** gamma
    alpha = np.all(np.isfinite(rgb), axis=0).astype(float)
    out = np.concatenate([np.moveaxis(scaled, 0, -1), alpha[..., None]], axis=-1)
    return out

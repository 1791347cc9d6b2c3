"""Display stretches: the same stretch for every true-colour panel of one picture."""

from __future__ import annotations

import warnings

import numpy as np


def percentile_limits(rgb: np.ndarray, low: float = 2.0, high: float = 98.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (low, high) percentiles of a (3, rows, cols) array, ignoring NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanpercentile(rgb.reshape(rgb.shape[0], -1), low, axis=1)
        hi = np.nanpercentile(rgb.reshape(rgb.shape[0], -1), high, axis=1)
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

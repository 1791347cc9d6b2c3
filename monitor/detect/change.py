"""Per-pixel change of a scene against a baseline, and between two images (``monitor diff``)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import chdtri

from monitor.detect.baseline import MAD_TO_SIGMA


def _nanmedian(a: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmedian(a)) if a.size else float("nan")


def normalise_gain(x: np.ndarray, reference: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Scale each band of ``x`` so its median over ``usable`` pixels matches ``reference``'s.

    Removes scene-wide illumination and haze gain (sun angle, season, thin uniform haze); the median
    is robust to the few pixels that really changed. Bands with no usable pixel are left as they are.
    """
    out = x.copy()
    for b in range(x.shape[0]):
        xs, rs = x[b][usable], reference[b][usable]
        mx, mr = _nanmedian(xs), _nanmedian(rs)
        if np.isfinite(mx) and np.isfinite(mr) and mx > 0 and mr > 0:
            out[b] *= np.float32(mr / mx)
    return out


def normalise_linear(x: np.ndarray, reference: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Map each band of ``x`` linearly (gain and offset) onto ``reference`` by matching quantiles.

    The 5th..95th percentiles of ``x`` and ``reference`` over ``usable`` pixels are paired and a straight
    line is fitted through the pairs: the gain absorbs illumination (sun angle, season), the offset the
    additive path radiance of residual haze, which lifts dark surfaces such as asphalt far more than a
    gain would. Quantiles are robust to the few percent of pixels that really changed. Falls back to
    :func:`normalise_gain` for a band with too few usable pixels or a degenerate fit.
    """
    out = normalise_gain(x, reference, usable)
    if int(usable.sum()) < 50:
        return out
    qs = np.linspace(5.0, 95.0, 19)
    for b in range(x.shape[0]):
        xs, rs = x[b][usable], reference[b][usable]
        ok = np.isfinite(xs) & np.isfinite(rs)
        if ok.sum() < 50:
            continue
        px, pr = np.percentile(xs[ok], qs), np.percentile(rs[ok], qs)
        if np.ptp(px) <= 0:
            continue
        gain, offset = np.polyfit(px, pr, 1)
        if np.isfinite(gain) and np.isfinite(offset) and 0.2 < gain < 5.0:
            out[b] = (x[b] * np.float32(gain) + np.float32(offset)).astype(np.float32)
    return out


def normalise_offset(x: np.ndarray, reference: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Shift each band of ``x`` (in dB) so its median difference to ``reference`` over ``usable`` is 0."""
    out = x.copy()
    for b in range(x.shape[0]):
        d = _nanmedian(x[b][usable] - reference[b][usable])
        if np.isfinite(d):
            out[b] -= np.float32(d)
    return out


def robust_z(x: np.ndarray, median: np.ndarray, sigma: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Per-pixel, per-band robust z-score of ``x`` against a baseline: (x - median) / hypot(sigma, floor)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((x - median) / np.hypot(sigma, floor)).astype(np.float32)


def change_statistic(z: np.ndarray) -> np.ndarray:
    """Sum of squared z over bands, (rows, cols); NaN where any band is NaN.

    For Gaussian noise this follows a chi-square law with one degree of freedom per band, which is
    what :func:`chi2_threshold` uses to turn a false-alarm rate into a threshold.
    """
    return np.sum(z.astype(np.float64) ** 2, axis=0).astype(np.float32)


def chi2_threshold(n_bands: int, false_alarm_rate: float) -> float:
    """The change statistic above which a no-change pixel lies with probability ``false_alarm_rate``."""
    return float(chdtri(n_bands, false_alarm_rate))  # inverse chi-square survival function


def bitemporal_change(before: np.ndarray, after: np.ndarray, radar: bool = False) -> np.ndarray:
    """Change between two co-registered images, float32 (rows, cols), higher = more change, NaN if invalid.

    ``before`` and ``after`` are (bands, rows, cols) in analysis units. After a global radiometric match
    (linear quantile match for optical, dB offset for radar), each band's difference is turned into a robust z-score
    against the scene-wide distribution of differences (median, 1.4826 x MAD); the result is the root
    mean square of those z-scores over bands.
    """
    usable = np.all(np.isfinite(before), axis=0) & np.all(np.isfinite(after), axis=0)
    out = np.full(before.shape[1:], np.nan, dtype=np.float32)
    if not usable.any():
        return out
    matched = normalise_offset(after, before, usable) if radar else normalise_linear(after, before, usable)
    zs = []
    for b in range(before.shape[0]):
        d = (matched[b] - before[b])[usable]
        centre = _nanmedian(d)
        spread = MAD_TO_SIGMA * _nanmedian(np.abs(d - centre))
        if not np.isfinite(spread) or spread <= 0:
            spread = float(np.nanstd(d)) or 1.0
        zs.append((d - centre) / spread)
    out[usable] = np.sqrt(np.mean(np.square(np.stack(zs)), axis=0))
    return out

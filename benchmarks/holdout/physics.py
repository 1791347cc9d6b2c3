"""Pure physics pieces of the held-out injector: PSF aggregation, sun and shadows, radar units, occupancy.

Everything here is numpy/scipy only and independent of the monitor. Units are given per function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Sun:
    """Sun position: ``elevation_deg`` above the horizon (0..90), ``azimuth_deg`` clockwise from north (0..360)."""

    elevation_deg: float
    azimuth_deg: float


def sun_position(when: datetime, lat_deg: float, lon_deg: float) -> Sun:
    """Apparent sun position at a UTC time and place (pvlib's NREL SPA), the geometry of the scene's shadows."""
    import pandas as pd
    import pvlib  # type: ignore[import-untyped]

    times = pd.DatetimeIndex([pd.Timestamp(when)])
    if times.tz is None:
        times = times.tz_localize("UTC")
    pos = pvlib.solarposition.get_solarposition(times, lat_deg, lon_deg)
    return Sun(float(pos["apparent_elevation"].iloc[0]), float(pos["azimuth"].iloc[0]))


def shadow_length_m(height_m: float, elevation_deg: float) -> float:
    """Length (m) of the shadow an object ``height_m`` tall casts on flat ground: h / tan(elevation)."""
    if not 0.0 < elevation_deg <= 90.0:
        raise ValueError(f"sun elevation must be in (0, 90] degrees, got {elevation_deg}")
    return height_m / math.tan(math.radians(elevation_deg))


def anti_sun_unit(azimuth_deg: float) -> tuple[float, float]:
    """Unit vector (d_row, d_col) on a north-up raster pointing away from the sun (where shadows fall).

    Rows grow southwards and columns eastwards; the sun at azimuth A lies along (−cos A, sin A) in
    (row, col), so shadows fall along (cos A, −sin A).
    """
    a = math.radians(azimuth_deg)
    return math.cos(a), -math.sin(a)


def cast_shadows(height: np.ndarray, pixel_m: float, sun: Sun) -> np.ndarray:
    """Boolean mask of ground pixels in the shadow of the height field ``height`` (m, on a ``pixel_m`` grid).

    A pixel is shadowed when some pixel toward the sun at horizontal distance d stands higher than
    d * tan(elevation) above it: ray marching at half-pixel steps up to the longest shadow the highest
    object can cast. Objects do not shadow themselves (only ground, height 0, is returned as shadowed).
    """
    if sun.elevation_deg <= 0:
        return np.ones(height.shape, dtype=bool)
    hmax = float(np.nanmax(height)) if height.size else 0.0
    shadow = np.zeros(height.shape, dtype=bool)
    if hmax <= 0:
        return shadow
    tan_e = math.tan(math.radians(sun.elevation_deg))
    dr, dc = anti_sun_unit(sun.azimuth_deg)
    max_steps = math.ceil(2 * hmax / tan_e / pixel_m) + 1
    padded_rows, padded_cols = height.shape
    for k in range(1, max_steps + 1):
        d_px = 0.5 * k
        # sample toward the sun: ground at p is shaded by the object at p - d * anti_sun
        ro, co = round(-dr * d_px), round(-dc * d_px)
        if abs(ro) >= padded_rows or abs(co) >= padded_cols:
            break
        shifted = np.zeros_like(height)
        src = height[max(0, ro) : padded_rows + min(0, ro), max(0, co) : padded_cols + min(0, co)]
        shifted[max(0, -ro) : padded_rows + min(0, -ro), max(0, -co) : padded_cols + min(0, -co)] = src
        shadow |= shifted > d_px * pixel_m * tan_e
    return shadow & (height <= 0)


def gaussian_psf(sigma_px: float, radius_sigmas: float = 4.0) -> np.ndarray:
    """A normalised 2-D Gaussian kernel (sum 1) of standard deviation ``sigma_px`` pixels."""
    if sigma_px <= 0:
        return np.ones((1, 1))
    r = math.ceil(radius_sigmas * sigma_px)
    ax = np.arange(-r, r + 1, dtype=float)
    g = np.exp(-0.5 * (ax / sigma_px) ** 2)
    k = np.outer(g, g)
    return k / k.sum()


def aggregate(
    fine: np.ndarray, factor: int, sigma_coarse_px: float, shift_coarse_px: tuple[float, float] = (0.0, 0.0)
) -> np.ndarray:
    """Sensor view of a fine reflectance field: PSF blur, sub-pixel shift, then block average.

    ``fine``: (..., H*factor, W*factor) at ``factor`` fine pixels per sensor pixel. The Gaussian PSF has
    ``sigma_coarse_px`` sensor pixels of standard deviation (Sentinel-2's 10 m bands: about 0.4-0.5 px).
    ``shift_coarse_px`` (rows, cols) moves the scene by a fraction of a sensor pixel (the sensor samples a
    slightly different place). The blur's kernel sums to 1 and the edges are reflected, so a uniform field
    stays uniform and the total signal is conserved up to what the blur moves across the edge.
    """
    if fine.shape[-1] % factor or fine.shape[-2] % factor:
        raise ValueError(f"fine shape {fine.shape} is not a multiple of factor {factor}")
    if factor > 5 and factor % 5 == 0:
        # average to a fifth of a sensor pixel first (2 m at 10 m): a box that small widens the 4-5 m PSF
        # by under 2 % and makes the blur 16-64x cheaper
        k = factor // 5
        h0, w0 = fine.shape[-2] // k, fine.shape[-1] // k
        fine = fine.reshape((*fine.shape[:-2], h0, k, w0, k)).mean(axis=(-3, -1))
        factor = 5
    sigma_f = sigma_coarse_px * factor
    lead = (0,) * (fine.ndim - 2)
    out = ndimage.gaussian_filter(fine, sigma=(*lead, sigma_f, sigma_f), mode="reflect", truncate=4.0)
    dy, dx = shift_coarse_px
    if dy or dx:
        out = ndimage.shift(out, (*lead, dy * factor, dx * factor), order=1, mode="nearest")
    h, w = fine.shape[-2] // factor, fine.shape[-1] // factor
    return out.reshape((*fine.shape[:-2], h, factor, w, factor)).mean(axis=(-3, -1))


def db_to_linear(db: np.ndarray | float) -> np.ndarray | float:
    """Power ratio from decibels: 10 ** (dB / 10)."""
    return np.power(10.0, np.asarray(db, dtype=float) / 10.0) if isinstance(db, np.ndarray) else 10.0 ** (db / 10.0)


def linear_to_db(lin: np.ndarray | float) -> np.ndarray | float:
    """Decibels from a power ratio (> 0): 10 log10(x)."""
    if isinstance(lin, np.ndarray):
        return 10.0 * np.log10(lin)
    if lin <= 0:
        raise ValueError(f"a power ratio must be > 0, got {lin}")
    return 10.0 * math.log10(lin)


def equivalent_looks(intensity: np.ndarray, window: int = 5) -> float:
    """Equivalent number of looks of a speckled intensity image, from the spread of its logarithm.

    For fully developed speckle of L looks (intensity Gamma(L, mean/L)) the variance of ln I is the
    trigamma function psi1(L), whatever the mean. The sample variance of ln I is taken in every
    ``window`` x ``window`` block and its median inverted; texture and edges only add variance, so on
    real ground this errs toward fewer looks (stronger speckle), the cautious side for an injector.
    """
    from scipy.optimize import brentq
    from scipy.special import polygamma

    x = np.log(np.asarray(intensity, dtype=float))
    h, w = (x.shape[0] // window) * window, (x.shape[1] // window) * window
    blocks = (
        x[:h, :w].reshape(h // window, window, w // window, window).transpose(0, 2, 1, 3).reshape(-1, window * window)
    )
    blocks = blocks[np.isfinite(blocks).all(axis=1)]
    v = float(np.median(blocks.var(axis=1, ddof=1)))
    return float(brentq(lambda n: float(polygamma(1, n)) - v, 0.05, 1e4))


def speckle(shape: tuple[int, ...], looks: float, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative speckle of ``looks`` equivalent looks: Gamma(L, 1/L), mean 1, variance 1/L."""
    if looks <= 0:
        raise ValueError(f"looks must be > 0, got {looks}")
    return rng.gamma(looks, 1.0 / looks, size=shape)


def occupancy(filled: np.ndarray) -> float:
    """Share (0..1) of a park's vehicle slots that hold a vehicle; ``filled`` is one boolean per slot."""
    filled = np.asarray(filled, dtype=bool)
    if filled.size == 0:
        raise ValueError("a park needs at least one slot")
    return float(filled.mean())


def fill_slots(n_slots: int, target: float, rng: np.random.Generator) -> np.ndarray:
    """A boolean slot vector with round(target * n) slots filled at random (occupancy 0..1, exact)."""
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"occupancy must be in 0..1, got {target}")
    k = round(target * n_slots)
    out = np.zeros(n_slots, dtype=bool)
    out[rng.choice(n_slots, size=k, replace=False)] = True
    return out

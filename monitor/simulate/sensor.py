"""The sensor and atmosphere of one date: PSF, registration, illumination, haze, noise, DN and SCL.

Choices (all reflectances 0-1, DN = reflectance x 10000 as in harmonised L2A, no +1000 offset):

* PSF: a Gaussian of ``sigma`` :data:`PSF_SIGMA_PX` = 0.45 px (4.5 m). Together with the 10 m pixel
  integration (sinc, MTF 0.64 at Nyquist) it gives a system MTF at Nyquist of ``0.64 exp(-pi^2 s^2 / 2)``
  = 0.23, inside the 0.15-0.30 requirement of the Sentinel-2 MSI 10 m bands.
* Illumination: a per-band multiplicative gain of 0.85-1.15 standing for residual sun-angle / BRDF /
  atmospheric-correction errors: a seasonal term (+-0.05, highest at the June solstice), a per-date common
  term (sd 0.04) and a per-band term (sd 0.015).
* Haze: on 20 % of dates an additive path-radiance residual of 0.005-0.025 in B02, scaled 1, 0.7, 0.5,
  0.2 across B02 B03 B04 B08.
* Noise: white Gaussian :data:`NOISE_SIGMA` = 0.005 (50 DN) per pixel and band. MSI instrument noise alone
  is ~0.001-0.003 at these radiances; the larger value adds atmospheric-correction and adjacency residuals,
  so detectors are not tuned on unrealistically clean images.
* SCL (Sen2Cor classes): 9 cloud high probability where cloud opacity >= 0.6, 8 medium for 0.25-0.6,
  10 thin cirrus for 0-0.25 (deck edges), 3 cloud shadow where shadow strength >= 0.1 outside clouds; clear
  pixels from the ground class: 4 vegetation (grass, trees), 6 water, 5 not vegetated (everything else).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .clouds import CloudLayer
from .layout import LandCover

PSF_SIGMA_PX = 0.45
"""Gaussian PSF sigma in 10 m pixels (see module docstring)."""

NOISE_SIGMA = 0.005
"""Per-pixel, per-band noise standard deviation in reflectance (50 DN)."""

HAZE_PROBABILITY = 0.2
"""Probability that a date carries an additive haze residual."""

SCL_NODATA, SCL_CLOUD_SHADOW, SCL_VEGETATION, SCL_NOT_VEGETATED, SCL_WATER = 0, 3, 4, 5, 6
SCL_UNCLASSIFIED, SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_THIN_CIRRUS = 7, 8, 9, 10

_HAZE_SHAPE = (1.0, 0.7, 0.5, 0.2)


@dataclass(frozen=True)
class Illumination:
    """Per-band gain (0.85-1.15) and additive haze (reflectance, 0-0.025) of one date, B02 B03 B04 B08."""

    gain: tuple[float, float, float, float]
    haze: tuple[float, float, float, float]


def apply_psf(reflectance: NDArray[np.float32], sigma_px: float = PSF_SIGMA_PX) -> NDArray[np.float32]:
    """Blur each band of a ``(bands, H, W)`` image with the Gaussian PSF (edges: nearest)."""
    if sigma_px <= 0:
        return reflectance
    blurred = ndimage.gaussian_filter(reflectance, (0.0, sigma_px, sigma_px), mode="nearest", truncate=4.0)
    return np.asarray(blurred, dtype=np.float32)


def misregister(reflectance: NDArray[np.float32], shift_px: tuple[float, float]) -> NDArray[np.float32]:
    """Shift a ``(bands, H, W)`` image by ``(rows, cols)`` pixels (bilinear, edges: nearest)."""
    if shift_px == (0.0, 0.0):
        return reflectance
    shifted = ndimage.shift(reflectance, (0.0, *shift_px), order=1, mode="nearest")
    return np.asarray(shifted, dtype=np.float32)


def draw_illumination(rng: np.random.Generator, day_of_year: int) -> Illumination:
    """Draw the gain and haze of a date (the date's illumination stream)."""
    seasonal = 0.05 * math.cos(2.0 * math.pi * (day_of_year - 172) / 365.0)
    common = float(np.clip(rng.normal(0.0, 0.04), -0.08, 0.08))
    per_band = rng.normal(0.0, 0.015, 4)
    gain = np.clip(1.0 + seasonal + common + per_band, 0.85, 1.15)
    hazy = rng.random() < HAZE_PROBABILITY
    level = float(rng.uniform(0.005, 0.025)) if hazy else 0.0
    g0, g1, g2, g3 = (float(v) for v in gain)
    h0, h1, h2, h3 = (level * s for s in _HAZE_SHAPE)
    return Illumination(gain=(g0, g1, g2, g3), haze=(h0, h1, h2, h3))


def illuminate(reflectance: NDArray[np.float32], illumination: Illumination) -> NDArray[np.float32]:
    """Apply ``gain * reflectance + haze`` per band to a ``(4, H, W)`` image."""
    gain = np.asarray(illumination.gain, dtype=np.float32)[:, None, None]
    haze = np.asarray(illumination.haze, dtype=np.float32)[:, None, None]
    return (reflectance * gain + haze).astype(np.float32, copy=False)


def add_noise(
    reflectance: NDArray[np.float32], rng: np.random.Generator, sigma: float = NOISE_SIGMA
) -> NDArray[np.float32]:
    """Add white Gaussian noise of standard deviation ``sigma`` (reflectance units)."""
    noise = rng.standard_normal(reflectance.shape, dtype=np.float32) * np.float32(sigma)
    return (reflectance + noise).astype(np.float32, copy=False)


def to_dn(reflectance: NDArray[np.float32]) -> NDArray[np.uint16]:
    """Quantise reflectance to L2A DN: ``round(10000 r)`` clipped to 1-65535 (0 is nodata)."""
    return np.asarray(np.clip(np.rint(reflectance * 10000.0), 1, 65535), dtype=np.uint16)


def scene_classification(classes: NDArray[np.uint8], clouds: CloudLayer) -> NDArray[np.uint16]:
    """Sen2Cor-like SCL from the ground classes and the date's clouds (see module docstring)."""
    scl = np.full(classes.shape, SCL_NOT_VEGETATED, dtype=np.uint16)
    scl[(classes == LandCover.GRASS) | (classes == LandCover.TREES)] = SCL_VEGETATION
    scl[classes == LandCover.WATER] = SCL_WATER
    cloudy = clouds.alpha > 0
    scl[(clouds.shadow >= 0.1) & ~cloudy] = SCL_CLOUD_SHADOW
    scl[cloudy] = SCL_THIN_CIRRUS
    scl[clouds.alpha >= 0.25] = SCL_CLOUD_MEDIUM
    scl[clouds.alpha >= 0.6] = SCL_CLOUD_HIGH
    return scl

"""Smooth random fields: the one noise primitive shared by the ground texture and the clouds."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> NDArray[np.float32]:
    """Gaussian-filtered white noise, rescaled to zero mean and unit standard deviation.

    Args:
        rng: random generator (consumes ``shape[0] * shape[1]`` normal draws).
        shape: ``(rows, cols)`` of the field.
        sigma_px: correlation length in pixels (Gaussian sigma); 0 gives white noise.

    Returns:
        float32 array of ``shape``; values are roughly in [-4, 4].
    """
    noise = rng.standard_normal(shape, dtype=np.float32)
    if sigma_px > 0:
        noise = ndimage.gaussian_filter(noise, sigma_px, mode="wrap")
    std = float(noise.std())
    centred = (noise - noise.mean()) / (std if std > 0 else 1.0)
    return np.asarray(centred, dtype=np.float32)

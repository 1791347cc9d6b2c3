"""Per-pixel robust baseline: median and MAD of each band over past usable observations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from monitor.detect.change import normalise_linear, normalise_offset
from monitor.detect.registration import Registration, apply_shift, estimate_shift, registration_image
from monitor.detect.validity import comparable
from monitor.detect.values import analysis_values, noise_floor
from monitor.scene import Scene
from monitor.sensors import is_radar

#: MAD -> standard deviation for normally distributed data.
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Baseline:
    """What a site normally looks like for one sensor.

    ``median`` and ``sigma`` (robust spread, 1.4826 x MAD) are float32 (bands, rows, cols) in analysis
    units; ``count`` (rows, cols) is the number of observations behind each pixel. ``valid`` marks pixels
    with at least ``min_observations``. The layers derived from the statistics alone (``valid``, the
    registration reference, the z-score scale) are computed once per baseline and cached: a cron run
    scores every new scene against the same baseline. The arrays must not be modified in place.
    """

    sensor: str
    bands: tuple[str, ...]
    median: np.ndarray
    sigma: np.ndarray
    count: np.ndarray
    scene_ids: tuple[str, ...]
    version: int = 1
    min_observations: int = 3

    @cached_property
    def valid(self) -> np.ndarray:
        """Pixels with enough observations and finite statistics."""
        return (self.count >= self.min_observations) & np.all(np.isfinite(self.median), axis=0)

    @cached_property
    def reference_image(self) -> np.ndarray:
        """The layer scenes are co-registered against: :func:`registration_image` of the median."""
        return registration_image(self.median)

    @cached_property
    def z_scale(self) -> np.ndarray:
        """The denominator of the per-band robust z-score, float32 (bands, rows, cols):
        ``hypot(sigma, noise_floor(median))`` (see :func:`monitor.detect.change.robust_z`)."""
        floor = noise_floor(self.sensor, self.bands, self.median)
        return np.hypot(self.sigma, floor).astype(np.float32)


def robust_stats(stack: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, robust sigma (1.4826 x MAD) and count over the first axis.

    ``stack`` is (observations, bands, rows, cols); ``valid`` (observations, rows, cols) marks usable
    observations. Pixels with no usable observation are NaN with count 0.
    """
    values = np.where(valid[:, None], stack, np.nan).astype(np.float32)
    count = valid.sum(axis=0).astype(np.int16)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels are expected (clouds)
            median = np.nanmedian(values, axis=0)
            mad = np.nanmedian(np.abs(values - median[None]), axis=0)
    return median.astype(np.float32), (MAD_TO_SIGMA * mad).astype(np.float32), count


def normalised_stats(
    stack: np.ndarray, valid: np.ndarray, match: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`robust_stats` after matching every observation radiometrically to the stack's median.

    ``match(x, reference, usable)`` is the radiometric match of one observation (gain for optical, dB
    offset for radar). Without it the spread would hold the illumination differences between dates and
    every pixel would look more variable than it is.
    """
    median, _, _ = robust_stats(stack, valid)
    matched = np.stack(
        [match(stack[i], median, valid[i] & np.all(np.isfinite(median), axis=0)) for i in range(stack.shape[0])]
    )
    return robust_stats(matched, valid)


def register_stack(
    stack: np.ndarray, valid: np.ndarray, pixel_size_m: float
) -> tuple[np.ndarray, np.ndarray, list[Registration]]:
    """Co-register the observations of a baseline stack with their own median, before the statistics.

    ``stack`` is (observations, bands, rows, cols) in analysis units, ``valid`` (observations, rows,
    cols). Misregistered observations would otherwise smear every edge of the site into the median and
    inflate the spread along it. An observation that cannot be registered is kept out (its ``valid`` is
    all False). Returns the shifted stack, its validity and one :class:`Registration` per observation.
    """
    median, _, _ = robust_stats(stack, valid)
    reference = registration_image(median)
    out, out_valid, regs = stack.copy(), valid.copy(), []
    for i in range(stack.shape[0]):
        reg = estimate_shift(reference, registration_image(stack[i]), valid[i], None, pixel_size_m)
        regs.append(reg)
        if not reg.ok:
            out_valid[i] = False
            continue
        out[i], out_valid[i], _ = apply_shift(stack[i], valid[i], reg.shift)
    return out, out_valid, regs


def baseline_from_scenes(
    scenes: Sequence[Scene], min_observations: int = 3, version: int = 1
) -> tuple[Baseline, list[Registration | None]]:
    """The baseline of a list of scenes of one sensor and band set: analysis units, co-registration with
    their own median (optical only; radar speckle defeats it), radiometric matching, robust statistics.

    Returns the baseline and each scene's registration (None for radar).
    """
    bands = scenes[0].bands
    sensor = scenes[0].sensor
    stack = np.stack([analysis_values(s.sensor, bands, s.data) for s in scenes])
    radar = is_radar(sensor, bands)
    valid = np.stack(
        [s.valid if radar else comparable(s.valid, v, s.aux.get("SCL")) for s, v in zip(scenes, stack, strict=True)]
    )
    regs: list[Registration | None] = [None] * len(scenes)
    if not radar:
        stack, valid, found = register_stack(stack, valid, float(scenes[0].transform.a))
        regs = list(found)
    match = normalise_offset if radar else normalise_linear
    median, sigma, count = normalised_stats(stack, valid, match)
    baseline = Baseline(
        sensor=sensor,
        bands=bands,
        median=median,
        sigma=sigma,
        count=count,
        scene_ids=tuple(s.scene_id for s in scenes),
        version=version,
        min_observations=min_observations,
    )
    return baseline, regs

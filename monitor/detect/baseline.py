"""Per-pixel robust baseline: median and MAD of each band over past usable observations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    with np.errstate(all="ignore"):  # all-NaN pixels are expected (clouds)
        median = nanmedian_first_axis(values)
        mad = nanmedian_first_axis(np.abs(values - median[None]))
    return median.astype(np.float32), (MAD_TO_SIGMA * mad).astype(np.float32), count


def nanmedian_first_axis(values: np.ndarray) -> np.ndarray:
    """``np.nanmedian(values, axis=0)``, the same values, by one sort (NaN sorts last) and the middle of
    each pixel's finite observations; NaN where there is none. numpy's own takes the masked-array path
    for fewer than 600 observations, about seven times slower on a baseline stack (``docs/alerts.md``)."""
    finite = np.sum(np.isfinite(values), axis=0)
    ordered = np.sort(values, axis=0)
    lo = np.take_along_axis(ordered, np.maximum((finite - 1) // 2, 0)[None], axis=0)[0]
    hi = np.take_along_axis(ordered, np.maximum(finite // 2, 0)[None], axis=0)[0]
    middle = (lo + hi) / np.asarray(2, dtype=values.dtype)
    return np.where(finite > 0, middle, np.nan).astype(values.dtype)


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


#: A seasonal baseline takes earlier years' scenes acquired within this many days of the 15th of the
#: scene's month. Sentinel-2 revisits a site every 5 days, so +-45 days of one earlier year hold ~18
#: overpasses, about half of them clear: one year of history nearly fills a baseline. Within 45 days the
#: noon sun moves by at most ~18 degrees (at the equinox, 39 N) and crops by about one growth stage;
#: what is left is a gain the radiometric match absorbs. A wider window mixes seasons, a narrower one
#: needs several years of history before it is ever used.
SEASON_WINDOW_DAYS = 45
#: A seasonal baseline uses at most this many times ``warmup_scenes`` scenes (the most recent ones):
#: more add little to a median and cost a registration each.
SEASONAL_MAX_FACTOR = 2


@dataclass(frozen=True)
class Candidate:
    """A usable past scene that may enter a baseline."""

    scene_id: str
    acquired: datetime


@dataclass(frozen=True)
class Composition:
    """Which scenes a baseline is made of, and by which rule: ``kind`` is ``seasonal`` (same time of year,
    earlier years), ``recent`` (the most recent quiet scenes before the month) or ``warm-up`` (the site's
    first usable scenes, before there is enough history for either)."""

    kind: str
    rule: str
    scene_ids: tuple[str, ...]


def season_centre(when: datetime, year: int | None = None) -> datetime:
    """The 15th of ``when``'s month at 00:00 (in ``year`` if given): scenes of one month share a season."""
    return when.replace(year=when.year if year is None else year, day=15, hour=0, minute=0, second=0, microsecond=0)


def month_start(when: datetime) -> datetime:
    """The first instant of ``when``'s month: scenes of one month share a recent baseline."""
    return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def seasonal_scenes(
    quiet: Sequence[Candidate], when: datetime, window_days: int = SEASON_WINDOW_DAYS
) -> list[Candidate]:
    """The ``quiet`` scenes of years before ``when``'s acquired within ``window_days`` of the 15th of
    ``when``'s month in their year (a window that crosses New Year counts for the year of its centre).

    Every scene of one month gets the same list, so one baseline serves the month.
    """
    out = []
    window = timedelta(days=window_days)
    for c in quiet:
        centres = (season_centre(when, y) for y in range(c.acquired.year - 1, c.acquired.year + 2) if y < when.year)
        if any(abs(c.acquired - centre) <= window for centre in centres):
            out.append(c)
    return sorted(out, key=lambda c: (c.acquired, c.scene_id))


def recent_scenes(quiet: Sequence[Candidate], when: datetime, n: int) -> list[Candidate]:
    """The ``n`` most recent ``quiet`` scenes acquired before ``when``'s month (fewer if there are not)."""
    start = month_start(when)
    before = sorted((c for c in quiet if c.acquired < start), key=lambda c: (c.acquired, c.scene_id))
    return before[-n:] if n > 0 else []


def choose_composition(
    quiet: Sequence[Candidate],
    warmup: Sequence[Candidate],
    when: datetime,
    n: int,
    warmup_rule: str,
    window_days: int = SEASON_WINDOW_DAYS,
) -> Composition | None:
    """The scenes of the baseline a scene acquired at ``when`` is compared with, or None (not enough yet).

    ``quiet`` are the usable past scenes that raised no alert, were not marked by an analyst and scored
    below the alert threshold in every zone; ``warmup`` the site's first usable scenes (not alerted, not
    marked) in acquisition order; ``n`` (``detect.warmup_scenes``) the number a baseline needs. In order:

    1. **seasonal**: at least ``n`` quiet scenes from earlier years within ``window_days`` of the same
       time of year (:func:`seasonal_scenes`; at most ``SEASONAL_MAX_FACTOR * n``, the most recent);
    2. **recent**: else the ``n`` most recent quiet scenes before the scene's month (:func:`recent_scenes`);
    3. **warm-up**: else the first ``n`` usable scenes (which may follow the scene: the first weeks of a
       site are scored as soon as there is a baseline at all).

    A rule depends on the month, not the day, so every scene of a month reuses one baseline.
    """
    season = seasonal_scenes(quiet, when, window_days)
    if len(season) >= n:
        chosen = season[-SEASONAL_MAX_FACTOR * n :]
        centre = season_centre(when)
        rule = (
            f"seasonal: the {len(chosen)} most recent quiet usable scenes of years before {when.year} "
            f"within {window_days} days of {centre:%d %B}"
        )
        return Composition("seasonal", rule, tuple(c.scene_id for c in chosen))
    recent = recent_scenes(quiet, when, n)
    if len(recent) >= n:
        rule = f"recent: the {n} most recent quiet usable scenes before {month_start(when):%Y-%m-%d}"
        return Composition("recent", rule, tuple(c.scene_id for c in recent))
    if len(warmup) >= n:
        return Composition("warm-up", warmup_rule, tuple(c.scene_id for c in warmup[:n]))
    return None

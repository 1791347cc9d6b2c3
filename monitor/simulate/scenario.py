"""The demo timeline: a pure, seeded description of what happens on each acquisition date.

Dates run every ``step_days`` (5) from 1 May to 30 September 2025 (31 dates), acquired at ~02:06 UTC
(~11:06 local, the Sentinel-2 pass over Pyongyang). The timeline has:

* a quiet period: the first ``quiet_dates`` (13) dates have no formation at all, and at most two of them are
  cloudy (one overcast, one partly cloudy away from the zones), so at least 11 are clear over the zones;
* a rehearsal period: troop-block lattices on the replica square on about 60 % of the remaining dates, never
  more than two dates in a row and never more than two rest dates in a row, growing from 8-10 blocks to
  12-16 blocks; the first rehearsal date is the first date after the quiet period;
* a vehicle park in the west parking that appears 2-4 dates into the rehearsal period and stays 5-6 dates
  (25-30 days), growing from ~40 % of its peak (280-400 vehicles, at least 100) then thinning out;
* two "dress rehearsal" vehicle columns (40-90 vehicles) on the assembly apron among the last five dates;
* clouds on about 22 % of dates: overcast (one quiet, one during rehearsals, hiding a formation), partly
  cloudy away from the zones, and partly cloudy over a zone on a formation date (square, parking). The
  first date of each formation episode is kept clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import numpy as np

from . import seeding
from .layout import APRON_ZONE_ID, PARKING_ZONE_ID, SQUARE_ZONE_ID

FormationKind = Literal["crowd", "vehicle"]
"""What a formation is made of: troops (``crowd``) or vehicles (``vehicle``)."""

Arrangement = Literal["lattice", "park", "column"]
"""How objects are arranged: troop-block lattice, parked vehicle rows, vehicle columns nose to tail."""

CloudMode = Literal["clear", "partial", "over_zone", "overcast"]
"""Cloud situation of a date: clear, partly cloudy away from zones, partly cloudy over a zone, overcast."""

DEMO_START = date(2025, 5, 1)
DEMO_END = date(2025, 9, 30)
PASS_TIME_UTC = time(2, 6, 0)
"""Nominal acquisition time (UTC); each date adds -30..+30 s."""


@dataclass(frozen=True)
class FormationPlan:
    """A formation on one date.

    Attributes:
        zone: id of the layout zone holding it.
        kind: ``crowd`` or ``vehicle``.
        arrangement: ``lattice`` (troop blocks), ``park`` or ``column`` (vehicles).
        count: troop blocks or vehicles present, >= 1.
        layout_index: date index whose formation stream draws the arrangement; the dates of one
            persistent vehicle park share it, so the park keeps its place from date to date.
        capacity: objects drawn from that stream (the park's peak); the first ``count`` are shown.
    """

    zone: str
    kind: FormationKind
    arrangement: Arrangement
    count: int
    layout_index: int
    capacity: int


@dataclass(frozen=True)
class CloudPlan:
    """Clouds of one date: mode, wanted fraction of the scene (0-1) and the zone targeted by ``over_zone``."""

    mode: CloudMode
    fraction: float = 0.0
    zone: str | None = None


@dataclass(frozen=True)
class DatePlan:
    """Everything that happens on one acquisition date.

    Attributes:
        index: position in the timeline, from 0.
        acquired: acquisition time, timezone-aware UTC.
        formations: formations present (empty on quiet and rest dates).
        clouds: the date's clouds.
        misregistration_px: ``(rows, cols)`` sub-pixel shift of the whole image, pixels (default 0).
    """

    index: int
    acquired: datetime
    formations: tuple[FormationPlan, ...]
    clouds: CloudPlan
    misregistration_px: tuple[float, float] = (0.0, 0.0)

    def formation_in(self, zone_id: str) -> FormationPlan | None:
        """The formation in a zone on this date, if any."""
        for formation in self.formations:
            if formation.zone == zone_id:
                return formation
        return None


@dataclass(frozen=True)
class Scenario:
    """A timeline: the seed it was drawn from, its dates in order, and the length of the quiet period."""

    seed: int
    dates: tuple[DatePlan, ...]
    quiet_dates: int


def build_scenario(
    seed: int,
    *,
    start: date = DEMO_START,
    end: date = DEMO_END,
    step_days: int = 5,
    quiet_dates: int = 13,
    misregistration_sigma_px: float = 0.0,
) -> Scenario:
    """Draw the demo timeline of the Mirim layout's zones (deterministic for a seed; no I/O).

    Args:
        seed: the demo seed.
        start: first acquisition date.
        end: last possible acquisition date (inclusive).
        step_days: days between acquisitions.
        quiet_dates: leading dates without any formation, >= 12.
        misregistration_sigma_px: standard deviation of a per-date random shift in pixels (0: none).

    Raises:
        ValueError: if the timeline is too short for the quiet period plus 12 rehearsal dates.
    """
    if quiet_dates < 12:
        raise ValueError("quiet_dates must be >= 12 (the monitor's baseline takes 10 usable scenes)")
    square, parking, apron = SQUARE_ZONE_ID, PARKING_ZONE_ID, APRON_ZONE_ID
    rng = seeding.rng_for(seed, seeding.SCENARIO)
    days = [start + timedelta(days=step_days * k) for k in range((end - start).days // step_days + 1)]
    n = len(days)
    if n < quiet_dates + 12:
        raise ValueError(f"{n} dates leave fewer than 12 rehearsal dates after {quiet_dates} quiet ones")
    rehearsal = list(range(quiet_dates, n))

    formations: list[list[FormationPlan]] = [[] for _ in range(n)]
    crowd_days = _crowd_schedule(rng, rehearsal)
    for i in crowd_days:
        progress = (i - quiet_dates) / (n - 1 - quiet_dates)
        stage = (8, 9, 10) if progress < 0.33 else (10, 12, 12) if progress < 0.66 else (12, 15, 16)
        blocks = int(rng.choice(stage))
        formations[i].append(FormationPlan(square, "crowd", "lattice", blocks, i, blocks))

    park_start = quiet_dates + int(rng.integers(2, 5))
    park_length = int(rng.integers(5, 7))
    peak = int(rng.integers(280, 401))
    ramp = [0.4, 0.7, 1.0] + [1.0] * (park_length - 4) + [0.6]
    park_days = list(range(park_start, park_start + park_length))
    for i, share in zip(park_days, ramp, strict=True):
        count = max(100, round(peak * share))
        formations[i].append(FormationPlan(parking, "vehicle", "park", count, park_start, peak))

    finale = list(range(n - 5, n))
    dress = [i for i in finale if i in crowd_days]
    column_days = sorted(rng.choice(dress if len(dress) >= 2 else finale, size=2, replace=False).tolist())
    for i in column_days:
        count = int(rng.integers(40, 91))
        formations[i].append(FormationPlan(apron, "vehicle", "column", count, i, count))

    clouds = _cloud_schedule(rng, n, quiet_dates, crowd_days, park_days, column_days, square, parking)
    plans: list[DatePlan] = []
    for i, day in enumerate(days):
        seconds = int(rng.integers(-30, 31))
        acquired = datetime.combine(day, PASS_TIME_UTC, tzinfo=UTC) + timedelta(seconds=seconds)
        shift = (0.0, 0.0)
        if misregistration_sigma_px > 0:
            dr, dc = rng.normal(0.0, misregistration_sigma_px, 2)
            shift = (float(dr), float(dc))
        plans.append(DatePlan(i, acquired, tuple(formations[i]), clouds[i], shift))
    return Scenario(seed=seed, dates=tuple(plans), quiet_dates=quiet_dates)


def _crowd_schedule(rng: np.random.Generator, rehearsal: list[int]) -> list[int]:
    """Rehearsal dates on the square: ~60 % of dates, at most 2 in a row, at most 2 rest dates in a row."""
    active: list[int] = []
    run_on = run_off = 0
    for position, i in enumerate(rehearsal):
        if position == 0:
            on = True
        elif run_on >= 2:
            on = False
        elif run_off >= 2:
            on = True
        else:
            on = bool(rng.random() < 0.6)
        if on:
            active.append(i)
            run_on, run_off = run_on + 1, 0
        else:
            run_on, run_off = 0, run_off + 1
    return active


def _cloud_schedule(
    rng: np.random.Generator,
    n: int,
    quiet: int,
    crowd_days: list[int],
    park_days: list[int],
    column_days: list[int],
    square: str,
    parking: str,
) -> list[CloudPlan]:
    """About 22 % cloudy dates; onsets (first crowd date, first park date) and column dates stay clear."""
    plans = [CloudPlan("clear") for _ in range(n)]
    quiet_pick = rng.choice(np.arange(1, quiet), size=2, replace=False)
    plans[int(quiet_pick[0])] = CloudPlan("overcast", 1.0)
    plans[int(quiet_pick[1])] = CloudPlan("partial", float(rng.uniform(0.15, 0.45)))

    protected = {crowd_days[0], park_days[0], *column_days}
    crowd_later = [i for i in crowd_days if i not in protected]
    park_later = [i for i in park_days if i not in protected and i not in crowd_days]
    over_square = int(rng.choice(crowd_later))
    plans[over_square] = CloudPlan("over_zone", float(rng.uniform(0.2, 0.35)), square)
    park_options = [i for i in park_later if i != over_square]
    park_options = park_options or [i for i in park_days[1:] if i != over_square]
    over_parking = int(rng.choice(park_options))
    plans[over_parking] = CloudPlan("over_zone", float(rng.uniform(0.2, 0.35)), parking)

    taken = protected | {over_square, over_parking}
    hidden = [i for i in crowd_later if i not in taken] or [i for i in range(quiet, n) if i not in taken]
    overcast = int(rng.choice(hidden))
    plans[overcast] = CloudPlan("overcast", 1.0)
    taken.add(overcast)

    n_cloudy = round(0.22 * n)
    free = [i for i in range(quiet, n) if i not in taken]
    for i in rng.choice(free, size=max(n_cloudy - 5, 0), replace=False):
        plans[int(i)] = CloudPlan("partial", float(rng.uniform(0.15, 0.45)))
    return plans

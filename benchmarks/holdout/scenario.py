"""What happens in each zone on each date: rehearsal episodes, confounders, and the truth table.

A run is the real series with the zones painted (``paint=True``) or not, with or without episodes, for a
seed. Episodes are windows of days in 2018, after the monitor's baseline has had the clear dates of
February and March; within one, every acquisition sees a new arrangement (rehearsals move, parks fill
and empty), drawn from the seed, the episode and the date. Confounders run on every painted run.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

from benchmarks.holdout import formations, physics, spectra
from benchmarks.holdout.layout import ZONES, Zone, zone
from benchmarks.holdout.render import Box, Canvas, GroundState, zone_rect_m

RESURFACED = date(2018, 7, 20)  # road-strip: fresh asphalt, ageing back over about a year
YARD_START, YARD_FULL = date(2018, 4, 1), date(2018, 11, 30)  # yard fills to 55 % of its area
CRANE_FROM = date(2018, 5, 10)


@dataclass(frozen=True)
class Episode:
    """A rehearsal: a formation of ``kind`` in ``zone`` on every acquisition from ``start`` to ``end``."""

    id: str
    zone: str
    kind: str  # crowd | vehicle
    start: date
    end: date
    recipe: str
    note: str


#: the schedule before each seed's jitter of +-6 days
_SCHEDULE = (
    ("E1", "l-square", "crowd", date(2018, 3, 5), date(2018, 4, 5), "troops-dark", "dark-uniform blocks"),
    ("E2", "apron", "vehicle", date(2018, 4, 15), date(2018, 5, 12), "park-dense", "olive trucks + tanks, 75-95 %"),
    ("E3", "road-strip", "crowd", date(2018, 5, 20), date(2018, 6, 15), "march", "marching columns on the road"),
    (
        "E4",
        "dirt-ground",
        "vehicle",
        date(2018, 6, 20),
        date(2018, 7, 18),
        "park-corner",
        "mixed park in a corner, 40-70 %",
    ),
    ("E5", "pad", "crowd", date(2018, 7, 25), date(2018, 8, 20), "troops-light", "light-uniform blocks"),
    ("E6", "road-strip", "vehicle", date(2018, 9, 1), date(2018, 9, 28), "park-coaches", "coaches + trucks, 60-90 %"),
    ("E7", "apron", "vehicle", date(2018, 8, 25), date(2018, 9, 20), "park-sparse", "sparse tanks, 40-55 %"),
    ("E8", "dirt-ground", "crowd", date(2018, 10, 1), date(2018, 10, 25), "troops-mixed", "light and dark blocks"),
    ("E9", "l-square", "crowd", date(2018, 11, 3), date(2018, 11, 27), "troops-dark", "dark blocks, cloudy season"),
)


def episodes(seed: int) -> tuple[Episode, ...]:
    """The episodes of a seed (seed 0: none, the quiet run)."""
    if seed == 0:
        return ()
    rng = np.random.default_rng(1000 + seed)
    out = []
    for eid, z, kind, start, end, recipe, note in _SCHEDULE:
        d = timedelta(days=int(rng.integers(-6, 7)))
        out.append(Episode(eid, z, kind, start + d, end + d, recipe, note))
    return tuple(out)


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, parts)).encode()))


def _inset(region: tuple[float, float, float, float], m: float) -> tuple[float, float, float, float]:
    r0, c0, r1, c1 = region
    return r0 + m, c0 + m, r1 - m, c1 - m


def formation_boxes(ep: Episode, canvas: Canvas, when: datetime, seed: int) -> tuple[list[Box], str]:
    """The boxes of an episode's formation on one acquisition, and a one-line description for the truth table."""
    rng = _rng(seed, ep.id, when.isoformat())
    z = canvas.zone
    region = _inset(zone_rect_m(canvas, z.rects[0]), 8.0)
    if ep.recipe.startswith("troops"):
        if ep.recipe == "troops-mixed":
            uniforms = [spectra.UNIFORM_LIGHT, spectra.UNIFORM_DARK]
        else:
            uniforms = [spectra.UNIFORM_DARK if ep.recipe == "troops-dark" else spectra.UNIFORM_LIGHT]
        boxes: list[Box] = []
        rects = list(z.rects)
        # a rehearsal of 2 to 12 blocks per arm of the zone (and per uniform), from a few hundred to a
        # few thousand people
        for k, u in enumerate(uniforms * len(rects)):
            sub = _inset(zone_rect_m(canvas, rects[k % len(rects)]), 6.0)
            boxes += formations.troop_blocks(sub, rng, u, int(rng.integers(2, 13)))
        return boxes, f"{len(boxes)} people in blocks ({'/'.join(u.name for u in uniforms)})"
    if ep.recipe == "march":
        boxes = formations.marching_column(_inset(zone_rect_m(canvas), 3.0), rng, spectra.UNIFORM_DARK)
        return boxes, f"marching column, {len(boxes)} people"
    if ep.recipe == "park-dense":
        occ = float(rng.uniform(0.75, 0.95))
        boxes, n, k = formations.vehicle_park(region, rng, {formations.TRUCK: 0.6, formations.TANK: 0.4}, occ)
        return boxes, f"{k}/{n} slots ({k / max(n, 1):.0%}) olive trucks and tanks"
    if ep.recipe == "park-sparse":
        occ = float(rng.uniform(0.40, 0.55))
        boxes, n, k = formations.vehicle_park(region, rng, {formations.TANK: 1.0}, occ, gap_range=(3.0, 4.0))
        return boxes, f"{k}/{n} slots ({k / max(n, 1):.0%}) tanks"
    if ep.recipe == "park-coaches":
        occ = float(rng.uniform(0.60, 0.90))
        boxes, n, k = formations.vehicle_park(
            _inset(zone_rect_m(canvas), 3.0), rng, {formations.COACH: 0.5, formations.TRUCK: 0.5}, occ
        )
        return boxes, f"{k}/{n} slots ({k / max(n, 1):.0%}) coaches and trucks"
    if ep.recipe == "park-corner":
        r0, c0, r1, c1 = region
        fr, fc = float(rng.uniform(0.35, 0.55)), float(rng.uniform(0.35, 0.55))
        corner = int(rng.integers(4))
        h, w = (r1 - r0) * fr, (c1 - c0) * fc
        rr = r0 if corner in (0, 1) else r1 - h
        cc = c0 if corner in (0, 2) else c1 - w
        occ = float(rng.uniform(0.40, 0.70))
        boxes, n, k = formations.vehicle_park(
            (rr, cc, rr + h, cc + w), rng, {formations.TRUCK: 0.4, formations.TANK: 0.3, formations.COACH: 0.3}, occ
        )
        return boxes, f"corner park {h:.0f} x {w:.0f} m, {k}/{n} slots ({k / max(n, 1):.0%}) mixed"
    raise ValueError(f"unknown recipe {ep.recipe}")


def ground_state(z: Zone, when: datetime, wet: bool) -> GroundState:
    """The zone's ground on a date: its material, the road's resurfacing, the grass border's season, wetness."""
    d = when.date()
    rho = z.ground.array()
    vv, vh = {"aged asphalt": (-19.0, -27.0), "concrete": (-14.0, -23.0)}.get(z.ground.name, (-12.0, -19.0))
    if z.id == "road-strip" and d >= RESURFACED:
        age = (d - RESURFACED).days
        k = 1.0 - math.exp(-age / 365.0)
        rho = spectra.ASPHALT_NEW.array() + (spectra.ASPHALT_AGED.array() - spectra.ASPHALT_NEW.array()) * k
        vv, vh = vv - 1.5 * (1 - k), vh - 1.5 * (1 - k)  # fresh asphalt: smoother, darker in radar
    doy = when.timetuple().tm_yday
    green = float(np.clip(0.5 + 0.6 * math.cos(2 * math.pi * (doy - 130) / 365.0), 0.0, 1.0))
    return GroundState(tuple(float(x) for x in rho), grass_green=green, wet=wet, s1_vv_db=vv, s1_vh_db=vh)  # type: ignore[arg-type]


def confounder_boxes(z: Zone, canvas: Canvas, when: datetime, sun: physics.Sun) -> tuple[list[Box], str]:
    """The car park's cars (about full every day, new places every day) and the yard's piles and crane."""
    if z.id == "car-park":
        rng = _rng("cars", when.isoformat())
        boxes, n, k = formations.vehicle_park(
            _inset(zone_rect_m(canvas), 2.0),
            rng,
            {formations.CAR: 1.0},
            float(rng.uniform(0.85, 0.95)),
            (0.7, 1.0),
            (6.0, 6.5),
        )
        return boxes, f"civilian cars {k}/{n}"
    if z.id == "yard":
        d = when.date()
        frac = float(np.clip((d - YARD_START).days / (YARD_FULL - YARD_START).days, 0.0, 1.0))
        piles = formations.yard_piles(_inset(zone_rect_m(canvas), 2.0), _rng("yard"), 60)
        boxes = formations.pile_boxes(piles[: round(frac * len(piles))])
        note = f"yard {frac:.0%} filled"
        if d >= CRANE_FROM:
            r0, c0, r1, c1 = zone_rect_m(canvas)
            boxes += formations.tower_crane(r0 + 0.7 * (r1 - r0), c0 + 0.5 * (c1 - c0), sun)
            note += " + crane"
        return boxes, note
    return [], ""


@dataclass(frozen=True)
class DateEffects:
    """Whole-scene effects of one acquisition: wet pavement, added haze strength, misregistration (px)."""

    wet: bool = False
    haze: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)

    def note(self) -> str:
        parts = []
        if self.wet:
            parts.append("wet")
        if self.haze:
            parts.append(f"haze {self.haze:.1f}")
        if self.shift != (0.0, 0.0):
            parts.append(f"shift {math.hypot(*self.shift):.2f} px")
        return " ".join(parts)


def date_effects(times: list[datetime], clear_share: list[float], seed: int) -> list[DateEffects]:
    """Wet pavement on 3 mostly clear dates, haze on 4, a 0.5-1 px shift on a fifth of the dates."""
    rng = _rng("effects", seed)
    n = len(times)
    out = [DateEffects() for _ in range(n)]
    candidates = [i for i in range(n) if clear_share[i] > 0.6 and times[i] >= datetime(2018, 2, 1, tzinfo=UTC)]
    wet = set(rng.choice(candidates, size=min(3, len(candidates)), replace=False).tolist()) if candidates else set()
    haze = set(rng.choice(candidates, size=min(4, len(candidates)), replace=False).tolist()) if candidates else set()
    for i in range(n):
        shift = (0.0, 0.0)
        if rng.random() < 0.2:
            mag, ang = float(rng.uniform(0.5, 1.0)), float(rng.uniform(0, 2 * math.pi))
            shift = (mag * math.sin(ang), mag * math.cos(ang))
        out[i] = DateEffects(i in wet, float(rng.uniform(0.3, 0.7)) if i in haze else 0.0, shift)
    return out


@dataclass
class TruthRow:
    """One zone on one acquisition: what was there."""

    zone: str
    scene_id: str
    sensor: str
    acquired: str
    formation: str  # crowd | vehicle | "" (none)
    episode: str
    observable: bool  # the sensor can see it (Sentinel-1 does not see people)
    detail: str
    confounders: str


@dataclass
class Truth:
    """The truth table of a run."""

    rows: list[TruthRow] = field(default_factory=list)

    def write_csv(self, path: object) -> None:
        import csv
        from dataclasses import asdict, fields

        with open(str(path), "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=[f.name for f in fields(TruthRow)])
            w.writeheader()
            for r in self.rows:
                w.writerow(asdict(r))


def active(eps: tuple[Episode, ...], zone_id: str, when: datetime) -> Episode | None:
    """The episode running in a zone at a time, if any."""
    for ep in eps:
        if ep.zone == zone_id and ep.start <= when.date() <= ep.end:
            return ep
    return None


__all__ = ["ZONES", "active", "confounder_boxes", "date_effects", "episodes", "formation_boxes", "ground_state", "zone"]

"""Benchmark: formations injected with the simulator into the real 118-date Flanders Sentinel-2 series.

Prints ROC-AUC of crowd_score (8-block troop lattices) and vehicle_score (3-row vehicle parks), how soon
each rehearsal episode is alerted, and the alerts raised on series without formations (un-injected, and
with construction, +-0.7 px shifts, haze and extra clouds added). Asserts nothing. Usage:

    python benchmarks/flanders_injection.py [--data ../shared/data] [--seed 1]

Two zones of the 640 m patch (300 x 300 m each) are first paved, concrete for the crowd zone and asphalt
for the vehicle zone, carrying each date's own illumination and atmosphere (fitted on the real scene),
wet (25 % darker) on some dates, real clouds left as they are; then formations are injected on the dates of
four rehearsal episodes (troops with rest days, parks for the whole episode). The detector is the
monitor's own ``score_scene``, tracking and alert state machine with default settings, against one
baseline built as the pipeline builds it (co-registered, matched) from the first 10 usable scenes and
kept all year. The pipeline would instead refresh it each month from the most recent quiet scenes (or
take earlier years' same season); the fixed one is the harder case, eight months old by the autumn.
A last section injects the same formations into the unpaved farmland.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from scipy.stats import rankdata

from monitor.alerts import Observation, step
from monitor.config import AlertsConfig
from monitor.detect.baseline import baseline_from_scenes
from monitor.detect.formations import Detection
from monitor.detect.scoring import rescored, score_scene
from monitor.detect.tracking import TRACKED, Past, track
from monitor.scene import Scene
from monitor.simulate.clouds import apply_clouds, make_clouds
from monitor.simulate.formations import (
    TROOP_FILL,
    UNIFORM_REFLECTANCE,
    VEHICLE_FILL,
    VEHICLE_REFLECTANCE,
    Footprint,
    cover_fraction,
    troop_lattice,
    vehicle_park,
)
from monitor.simulate.inject import (
    ASPHALT,
    CONCRETE,
    add_haze,
    date_atmosphere,
    inject_objects,
    pave,
    pavement_texture,
    render_zone,
    shift_scene,
)
from monitor.sources.local import time_from_name

CROWD = (slice(2, 32), slice(2, 32))  # 300 x 300 m
VEHICLE = (slice(33, 63), slice(33, 63))
EPISODES = [  # rehearsal periods after the warm-up (the first 10 usable dates end in Feb 2018)
    (datetime(2018, 3, 15, tzinfo=UTC), datetime(2018, 4, 30, tzinfo=UTC)),
    (datetime(2018, 6, 1, tzinfo=UTC), datetime(2018, 7, 10, tzinfo=UTC)),
    (datetime(2018, 8, 10, tzinfo=UTC), datetime(2018, 9, 12, tzinfo=UTC)),
    (datetime(2018, 10, 1, tzinfo=UTC), datetime(2018, 11, 10, tzinfo=UTC)),
]
REST_DAY = 0.25  # share of rehearsal dates without troops on the square
WARMUP = 10
MIN_SCENE_USABLE = 0.5
SCL_CLEAR = (4, 5, 6)
# a 3-row park: 3 x 40 vehicles side by side across a 200 m wide lot
PARK_VEHICLES = 120
PARK_AREA_M = (300.0, 200.0)
LATTICE_BLOCKS = 8
SEEN_SHARE = 0.5  # a formation counts as seen when at least this share of its footprint was compared


@dataclass
class Date:
    scene_id: str
    acquired: datetime
    data: np.ndarray  # (4, 64, 64) reflectance
    scl: np.ndarray


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U), ties averaged; NaN without both classes."""
    pos = label.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def load(folder: Path) -> list[Date]:
    out = []
    for path in sorted(folder.glob("S2_*.tif")):
        with rasterio.open(path) as src:
            raw = src.read()
        acquired = time_from_name(path.stem)
        assert acquired is not None
        out.append(Date(path.stem, acquired, raw[:4].astype(np.float32) / 1e4, raw[4].astype(np.int16)))
    return out


def to_scene(date: Date, data: np.ndarray, scl: np.ndarray) -> Scene:
    valid = np.isin(scl, SCL_CLEAR) & np.all(np.isfinite(data), axis=0)
    return Scene(
        scene_id=date.scene_id,
        sensor="S2",
        acquired=date.acquired,
        bands=("B02", "B03", "B04", "B08"),
        data=data.astype(np.float32),
        valid=valid,
        transform=Affine(10, 0, 501360, 0, -10, 5629680),
        crs=rasterio.crs.CRS.from_epsg(32631),
        aux={"SCL": scl.astype(np.float32)},
    )


@dataclass
class Plan:
    crowd: tuple[Footprint, ...] | None
    park: tuple[Footprint, ...] | None
    episode: int | None


def plan_dates(
    dates: list[Date],
    rng: np.random.Generator,
    blocks: int | tuple[int, int] = LATTICE_BLOCKS,
    vehicles: int | tuple[int, int] = PARK_VEHICLES,
) -> list[Plan]:
    """What stands in the zones on each date: a troop lattice of ``blocks`` blocks on rehearsal days (not on
    rest days), one park of ``vehicles`` vehicles per episode. A ``(low, high)`` pair draws the number
    uniformly (inclusive) per lattice or per park."""

    def draw(n: int | tuple[int, int]) -> int:
        return n if isinstance(n, int) else int(rng.integers(n[0], n[1] + 1))

    plans = []
    parks = [vehicle_park(rng, PARK_AREA_M, draw(vehicles)) for _ in EPISODES]
    for d in dates:
        ep = next((i for i, (a, b) in enumerate(EPISODES) if a <= d.acquired <= b), None)
        if ep is None:
            plans.append(Plan(None, None, None))
            continue
        crowd = troop_lattice(rng, (300.0, 300.0), draw(blocks)) if rng.random() >= REST_DAY else None
        plans.append(Plan(crowd, parks[ep], ep))
    return plans


def render(
    dates: list[Date],
    plans: list[Plan],
    reference: np.ndarray,
    invariant: np.ndarray,
    rng: np.random.Generator,
    *,
    paved: bool = True,
    inject: bool = True,
    confounders: bool = False,
) -> list[Scene]:
    tex_c = pavement_texture(np.random.default_rng(11), (30, 30))
    tex_v = pavement_texture(np.random.default_rng(12), (30, 30), amplitude=0.04)
    first_episode = EPISODES[0][0]
    scenes = []
    for d, plan in zip(dates, plans, strict=True):
        data, scl = d.data.copy(), d.scl.copy()
        clear = np.isin(scl, SCL_CLEAR)
        atm = date_atmosphere(data, reference, clear & invariant)
        wet = rng.random() < 0.15
        crowd_objs = []
        vehicle_objs = []
        if inject and plan.crowd:
            crowd_objs.append((plan.crowd, UNIFORM_REFLECTANCE, TROOP_FILL))
        if inject and plan.park:
            vehicle_objs.append((plan.park, VEHICLE_REFLECTANCE, VEHICLE_FILL))
        if confounders and d.acquired >= first_episode:
            # construction: a dark-roofed hall on the square and a bright shed on the lot, from then on
            crowd_objs.append(((Footprint(220.0, 230.0, 50.0, 40.0, 10.0),), (0.09, 0.10, 0.10, 0.13), 1.0))
            vehicle_objs.append(((Footprint(60.0, 240.0, 60.0, 25.0, 0.0),), (0.26, 0.28, 0.29, 0.32), 1.0))
        if paved:
            data, scl = pave(data, scl, CROWD, render_zone(CONCRETE, tex_c, atm, rng, crowd_objs, wet=wet))
            data, scl = pave(data, scl, VEHICLE, render_zone(ASPHALT, tex_v, atm, rng, vehicle_objs, wet=wet))
        else:
            data = inject_objects(data, scl, CROWD, crowd_objs)
            data = inject_objects(data, scl, VEHICLE, vehicle_objs)
        if confounders:
            data, scl = confound(data, scl, rng)
        scenes.append(to_scene(d, data, scl))
    return scenes


def confound(data: np.ndarray, scl: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The whole-scene confounders of one date: haze on 20 %, simulated clouds on 20 %, a 0.7 px shift on 30 %."""
    if rng.random() < 0.2:
        data = add_haze(data, float(rng.uniform(0.02, 0.04)))
    if rng.random() < 0.2:
        clouds = make_clouds(rng, scl.shape, float(rng.uniform(0.1, 0.4)))
        data = apply_clouds(data, clouds)
        scl = np.where(clouds.alpha >= 0.25, 9, np.where(clouds.alpha > 0, 10, scl)).astype(scl.dtype)
        scl = np.where((clouds.shadow >= 0.1) & (clouds.alpha <= 0), 3, scl).astype(scl.dtype)
    if rng.random() < 0.3:
        shift = (float(rng.choice([-0.7, 0.7])), float(rng.choice([-0.7, 0.7])))
        data, scl = shift_scene(data, scl, shift)
    return data, scl


@dataclass
class Result:
    scene_id: str
    acquired: datetime
    zone: str
    usable: float
    score: float | None
    truth: bool
    episode: int | None
    state: str
    seen: float | None = None  # share of the formation's footprint among the compared pixels (None: none)
    detections: tuple[Detection, ...] = ()  # the zone's detections after tracking
    clear_view: bool = True  # the zone was seen clearly enough for one observation to open an alert


def evaluate(scenes: list[Scene], plans: list[Plan]) -> list[Result]:
    usable = [s for s in scenes if s.valid.mean() >= MIN_SCENE_USABLE]
    warm = usable[:WARMUP]
    baseline, _ = baseline_from_scenes(warm)
    masks = {"crowd": np.zeros((64, 64), bool), "vehicle": np.zeros((64, 64), bool)}
    # zones are drawn a pixel inside the paved area, as an analyst draws them on the lot, not on its kerb
    masks["crowd"][CROWD[0].start + 1 : CROWD[0].stop - 1, CROWD[1].start + 1 : CROWD[1].stop - 1] = True
    masks["vehicle"][VEHICLE[0].start + 1 : VEHICLE[0].stop - 1, VEHICLE[1].start + 1 : VEHICLE[1].stop - 1] = True
    out = []
    start = scenes.index(warm[-1]) + 1
    history: dict[str, list[Past]] = {"crowd": [], "vehicle": []}
    config = AlertsConfig()
    for scene, plan in zip(scenes[start:], plans[start:], strict=True):
        change = score_scene(scene, baseline, masks)
        seen = {
            "crowd": _seen(plan.crowd, change.compared[CROWD]),
            "vehicle": _seen(plan.park, change.compared[VEHICLE]),
        }
        for zs in change.zones:
            if zs.change_fraction is not None:  # as monitor.pipeline.score: track against earlier observations
                detections = track(zs.detections, history[zs.zone], scene.acquired, 10.0)
                zs = rescored(zs, detections, 10.0, config.threshold)
                if zs.usable_fraction >= config.min_usable_fraction:
                    centres = tuple((d.row, d.col) for d in detections if d.cls in (*TRACKED, "persistent-change"))
                    history[zs.zone].append(Past(scene.acquired, centres))
            kind_score = zs.crowd_score if zs.zone == "crowd" else zs.vehicle_score
            truth = plan.crowd is not None if zs.zone == "crowd" else plan.park is not None
            out.append(
                Result(
                    scene.scene_id,
                    scene.acquired,
                    zs.zone,
                    zs.usable_fraction,
                    kind_score,
                    truth,
                    plan.episode,
                    change.state,
                    seen[zs.zone],
                    tuple(zs.detections),
                    zs.clear_view is not False,
                )
            )
    return out


def _seen(footprints: tuple[Footprint, ...] | None, compared: np.ndarray) -> float | None:
    """Share of a formation's sub-pixel cover that falls on compared pixels (not under a cloud, its
    margin or a baseline hole), or None without a formation."""
    if not footprints:
        return None
    cover = cover_fraction(footprints, compared.shape)
    return float((cover * compared).sum() / max(float(cover.sum()), 1e-9))


def alerts(results: list[Result], config: AlertsConfig) -> list[tuple[str, str, datetime]]:
    """(zone, action, time) of every alert opened by the default state machine."""
    opened = []
    for zone in ("crowd", "vehicle"):
        alert, previous = None, None
        for r in (r for r in results if r.zone == zone):
            obs = Observation("flanders", zone, r.scene_id, r.acquired, r.usable, r.score, clear_view=r.clear_view)
            change = step(alert, "crowd" if zone == "crowd" else "vehicle", obs, config, previous)
            if r.score is not None and r.usable >= config.min_usable_fraction:
                previous = obs
            if change is None:
                continue
            alert = change.alert if change.alert.firing else None
            if change.action == "opened":
                opened.append((zone, change.action, r.acquired))
    return opened


def _first_opening(usable: list[Result], config: AlertsConfig) -> int | None:
    """At which of an episode's usable observations (1 = the first) the alert rule would open: a score
    at or above the threshold with a clear view, or after a usable observation that also reached it
    (``alerts.engine.step``); None if never."""
    before = False
    for i, r in enumerate(usable):
        up = r.score is not None and r.score >= config.threshold
        if up and (r.clear_view or before):
            return i + 1
        before = up
    return None


def episode_delays(results: list[Result], config: AlertsConfig) -> list[str]:
    """For each episode and zone: at which usable observation of the episode the alert rule would first
    open (1 = the first; see :func:`_first_opening`), or 'missed'."""
    lines = []
    for zone in ("crowd", "vehicle"):
        for ep in range(len(EPISODES)):
            obs = [r for r in results if r.zone == zone and r.episode == ep]
            usable = [r for r in obs if r.score is not None and r.usable >= config.min_usable_fraction]
            hit = _first_opening(usable, config)
            seen = sum(1 for r in usable if r.truth and (r.seen or 0.0) >= SEEN_SHARE)
            lines.append(
                f"{zone} episode {ep + 1}: {len(usable)} usable obs ({seen} with the formation seen), "
                f"alerted at obs {hit or 'missed'}"
            )
    return lines


def auc_line(results: list[Result], zone: str, config: AlertsConfig) -> str:
    """ROC-AUC over the zone's usable observations, then over those where the formation, if any, was
    mostly seen (at least half its footprint on compared pixels: not under a cloud or its margin)."""
    rs = [r for r in results if r.zone == zone and r.score is not None and r.usable >= config.min_usable_fraction]
    auc = roc_auc(np.array([r.score for r in rs]), np.array([r.truth for r in rs]))
    pos = [r.score for r in rs if r.truth]
    neg = [r.score for r in rs if not r.truth]
    median_pos = float(np.median(pos)) if pos else float("nan")
    max_neg = max(neg) if neg else float("nan")
    seen = [r for r in rs if not r.truth or (r.seen or 0.0) >= SEEN_SHARE]
    auc_seen = roc_auc(np.array([r.score for r in seen]), np.array([r.truth for r in seen]))
    hidden = len(rs) - len(seen)
    return (
        f"{zone:<8} ROC-AUC {auc:.3f}  ({len(pos)} with formation: median score {median_pos:.2f}; "
        f"{len(neg)} without: max {max_neg:.2f}); formation seen: ROC-AUC {auc_seen:.3f} "
        f"({hidden} with the formation mostly under cloud left out)"
    )


def pseudo_invariant(dates: list[Date]) -> tuple[np.ndarray, np.ndarray]:
    """The series' clear-sky median (bands, rows, cols) and its pseudo-invariant pixels (roofs, roads of
    the village): the 15 % with the least relative date-to-date variation. Each date's illumination and
    atmosphere are fitted on them, not on the crops."""
    clear_stack = np.stack([np.where(np.isin(d.scl, SCL_CLEAR)[None], d.data, np.nan) for d in dates])
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            reference = np.nanmedian(clear_stack, axis=0).astype(np.float32)
            spread = np.nanmedian(np.abs(clear_stack - reference[None]), axis=0) / np.abs(reference)
            variation = np.nansum(spread, axis=0)
    variation[~np.all(np.isfinite(reference), axis=0)] = np.inf
    return reference, variation <= np.percentile(variation[np.isfinite(variation)], 15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--seed", type=int, default=1)
    opts = parser.parse_args()
    folder = opts.data / "worldcereal-flanders" / "s2"
    if not folder.is_dir():
        sys.exit(f"no Sentinel-2 series at {folder}")
    started = time.perf_counter()
    dates = load(folder)
    reference, invariant = pseudo_invariant(dates)
    plans = plan_dates(dates, np.random.default_rng(opts.seed))
    config = AlertsConfig()
    print(
        f"{len(dates)} real dates; formations on {sum(p.crowd is not None for p in plans)} (troops) and "
        f"{sum(p.park is not None for p in plans)} (park) dates in {len(EPISODES)} episodes; seed {opts.seed}"
    )

    for title, kwargs in [
        ("paved, formations injected", dict(paved=True, inject=True)),
        ("paved, formations injected, with confounders", dict(paved=True, inject=True, confounders=True)),
        ("unpaved farmland, formations injected", dict(paved=False, inject=True)),
    ]:
        results = evaluate(
            render(dates, plans, reference, invariant, np.random.default_rng(opts.seed + 1), **kwargs), plans
        )
        print(f"\n== {title}")
        print(auc_line(results, "crowd", config))
        print(auc_line(results, "vehicle", config))
        for line in episode_delays(results, config):
            print("  " + line)
    for title, kwargs in [
        ("paved, no formation", dict(paved=True, inject=False)),
        (
            "paved, no formation, construction + shifts + haze + clouds",
            dict(paved=True, inject=False, confounders=True),
        ),
        ("unpaved, no formation (the real series)", dict(paved=False, inject=False)),
    ]:
        results = evaluate(
            render(dates, plans, reference, invariant, np.random.default_rng(opts.seed + 1), **kwargs), plans
        )
        opened = alerts(results, config)
        top = {z: max((r.score or 0.0 for r in results if r.zone == z), default=0.0) for z in ("crowd", "vehicle")}
        states = {s: sum(1 for r in results if r.state == s and r.zone == "crowd") for s in {r.state for r in results}}
        print(
            f"\n== {title}: {len(opened)} alert(s) opened; max crowd {top['crowd']:.2f}, "
            f"max vehicle {top['vehicle']:.2f}; scene states {states}"
        )
        for zone, _, when in opened:
            print(f"  alert {zone} at {when:%Y-%m-%d}")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()

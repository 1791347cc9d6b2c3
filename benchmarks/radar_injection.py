"""Benchmark: parks of metal vehicles injected into the real Sentinel-1 series of Flanders (calibration of
the radar vehicle evidence).

The real series (159 ascending VV/VH scenes at 20 m, two relative orbits, Aug 2017 - Nov 2018) covers
farmland. A 240 x 240 m zone is first paved as asphalt: smooth asphalt is a specular surface at C band
(sigma0 about -18 dB VV, -25 dB VH at 30-45 degrees incidence), carrying each date's real scene-wide
level change (wet days, the orbit's incidence) and speckle of the real series' number of looks (measured
on the real fields' date-to-date spread within one orbit). Parks of metal vehicles are then injected over
four episodes after the warm-up: a dense park (75-95 % of the ground under vehicles) raises the pixels it
covers by 6-10 dB over asphalt (double bounce between vehicle sides and the ground, corner reflectors of
cabs and racks), a sparse one in proportion to its occupancy (25-75 %: 10 log10(1 + occupancy k)),
with k from the dense figure. Each scene is scored with the monitor's own ``score_scene`` against the
baseline of its own pass (the first 10 scenes of that relative orbit, kept all year).

Prints, per seed: the ROC-AUC of the radar ``vehicle_score`` and of the bright-target count over every
scored observation, how dense and sparse parks score, the highest score and target count without a park,
and the same on the real series with no park (the paved zone and the unpaved farmland). Asserts
nothing. Usage:

    python benchmarks/radar_injection.py [--data ../shared/data] [--seed 1] [--seeds 1-5]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flanders_injection import roc_auc

from monitor.detect.baseline import Candidate, baseline_from_scenes, same_pass
from monitor.detect.scoring import score_scene
from monitor.scene import Scene
from monitor.sources.local import time_from_name

ZONE = (slice(10, 22), slice(10, 22))  # 12 x 12 px at 20 m: 240 x 240 m
#: Asphalt at C band, 30-45 degrees incidence (dB): a smooth, specular surface.
ASPHALT_DB = (-18.0, -25.0)
#: A dense park (75-95 % of the ground under vehicles) raises its pixels by this much over asphalt (dB).
DENSE_RISE_DB = (6.0, 10.0)
DENSE_OCCUPANCY = (0.75, 0.95)
SPARSE_OCCUPANCY = (0.25, 0.75)
EPISODES = [
    (datetime(2018, 3, 15, tzinfo=UTC), datetime(2018, 4, 30, tzinfo=UTC)),
    (datetime(2018, 6, 1, tzinfo=UTC), datetime(2018, 7, 10, tzinfo=UTC)),
    (datetime(2018, 8, 10, tzinfo=UTC), datetime(2018, 9, 12, tzinfo=UTC)),
    (datetime(2018, 10, 1, tzinfo=UTC), datetime(2018, 11, 10, tzinfo=UTC)),
]
WARMUP = 10
TRANSFORM = Affine(20, 0, 501360, 0, -20, 5629680)


@dataclass
class Date:
    scene_id: str
    acquired: datetime
    data: np.ndarray  # (2, 32, 32) linear sigma0


@dataclass(frozen=True)
class Park:
    rows: slice
    cols: slice
    occupancy: float
    rise_db: float  # the rise a dense park of this episode gives (dB)

    @property
    def dense(self) -> bool:
        return self.occupancy >= DENSE_OCCUPANCY[0]


def pixel_rise_db(park: Park) -> float:
    """The rise (dB over asphalt) of a pixel the park covers: 10 log10(1 + occupancy k)."""
    k = (10.0 ** (park.rise_db / 10.0) - 1.0) / float(np.mean(DENSE_OCCUPANCY))
    return float(10.0 * np.log10(1.0 + park.occupancy * k))


def load(folder: Path) -> list[Date]:
    out = []
    for path in sorted(folder.glob("S1_*.tif")):
        with rasterio.open(path) as src:
            data = src.read().astype(np.float32)
        acquired = time_from_name(path.stem)
        assert acquired is not None
        out.append(Date(path.stem, acquired, data))
    return out


def passes(dates: list[Date]) -> list[list[Date]]:
    """The dates grouped by pass (relative orbit, told apart by the time of day: local files carry none)."""
    groups: list[list[Date]] = []
    for d in dates:
        for g in groups:
            if same_pass(Candidate(g[0].scene_id, g[0].acquired), None, d.acquired):
                g.append(d)
                break
        else:
            groups.append([d])
    return groups


def looks(dates: list[Date]) -> float:
    """The equivalent number of looks of the series: 1 / variance of the ratio of a pixel to its local
    temporal median, within one pass, over the winter (fields bare, least real change). Real change adds
    to the spread, so this understates the looks: the injected speckle is, if anything, too strong."""
    winter = [d for d in dates if d.acquired.month in (12, 1, 2)]
    stack = np.stack([d.data for d in winter])
    ratio = stack / np.median(stack, axis=0)[None]
    return float(1.0 / np.median(np.var(ratio, axis=0)))


def render(
    dates: list[Date], parks: list[Park | None], enl: float, rng: np.random.Generator, paved: bool = True
) -> list[Scene]:
    """Scenes with the zone paved (asphalt with the date's level and speckle) and each date's park."""
    series_level = np.median(np.stack([d.data for d in dates]), axis=(0, 2, 3))
    out = []
    for d, park in zip(dates, parks, strict=True):
        data = d.data.copy()
        if paved:
            level = np.median(d.data, axis=(1, 2)) / series_level  # the date's scene-wide change, linear
            shape = (2, ZONE[0].stop - ZONE[0].start, ZONE[1].stop - ZONE[1].start)
            asphalt = 10.0 ** (np.asarray(ASPHALT_DB)[:, None, None] / 10.0) * level[:, None, None]
            multiplier = np.ones(shape, np.float32)
            if park is not None:
                k = (10.0 ** (park.rise_db / 10.0) - 1.0) / float(np.mean(DENSE_OCCUPANCY))
                inside = np.zeros(shape[1:], np.float32)
                r0, c0 = ZONE[0].start, ZONE[1].start
                inside[park.rows.start - r0 : park.rows.stop - r0, park.cols.start - c0 : park.cols.stop - c0] = 1.0
                multiplier = (1.0 + park.occupancy * k * inside)[None].repeat(2, axis=0)
            speckle = rng.gamma(enl, 1.0 / enl, shape).astype(np.float32)
            data[(slice(None), *ZONE)] = asphalt * multiplier * speckle
        elif park is not None:
            k = (10.0 ** (park.rise_db / 10.0) - 1.0) / float(np.mean(DENSE_OCCUPANCY))
            data[:, park.rows, park.cols] *= 1.0 + park.occupancy * k
        out.append(
            Scene(
                scene_id=d.scene_id,
                sensor="S1",
                acquired=d.acquired,
                bands=("VV", "VH"),
                data=data.astype(np.float32),
                valid=np.all(np.isfinite(data) & (data > 0), axis=0),
                transform=TRANSFORM,
                crs=rasterio.crs.CRS.from_epsg(32631),
            )
        )
    return out


def plan(dates: list[Date], rng: np.random.Generator) -> list[Park | None]:
    """One park per episode: 60-200 m on a side inside the zone, dense or sparse at random."""
    parks = []
    for _ in EPISODES:
        h, w = (int(rng.integers(3, 11)) for _ in range(2))
        r, c = ZONE[0].start + int(rng.integers(0, 12 - h + 1)), ZONE[1].start + int(rng.integers(0, 12 - w + 1))
        dense = rng.random() < 0.5
        occupancy = float(rng.uniform(*(DENSE_OCCUPANCY if dense else SPARSE_OCCUPANCY)))
        parks.append(Park(slice(r, r + h), slice(c, c + w), occupancy, float(rng.uniform(*DENSE_RISE_DB))))
    out: list[Park | None] = []
    for d in dates:
        ep = next((i for i, (a, b) in enumerate(EPISODES) if a <= d.acquired <= b), None)
        out.append(None if ep is None else parks[ep])
    return out


@dataclass
class Result:
    acquired: datetime
    park: Park | None
    score: float | None
    targets: int


def evaluate(scenes: list[Scene]) -> list[Result]:
    """Every scene after its pass's warm-up, scored against the first 10 scenes of that pass."""
    mask = np.zeros((32, 32), bool)
    mask[ZONE] = True
    out: list[Result] = []
    by_id = {s.scene_id: s for s in scenes}
    for group in passes([Date(s.scene_id, s.acquired, s.data) for s in scenes]):
        members = [by_id[d.scene_id] for d in group]
        baseline, _ = baseline_from_scenes(members[:WARMUP])
        for s in members[WARMUP:]:
            zone = score_scene(s, baseline, {"zone": mask}).zones[0]
            out.append(
                Result(s.acquired, None, zone.vehicle_score, sum(d.cls == "bright-target" for d in zone.detections))
            )
    return sorted(out, key=lambda r: r.acquired)


def run_seed(dates: list[Date], enl: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    parks = plan(dates, rng)
    when = {d.acquired: p for d, p in zip(dates, parks, strict=True)}
    results = evaluate(render(dates, parks, enl, np.random.default_rng(seed + 1)))
    for r in results:
        r.park = when[r.acquired]
    scored = [r for r in results if r.score is not None]
    truth = np.array([r.park is not None for r in scored])
    score = np.array([r.score for r in scored], dtype=float)
    count = np.array([r.targets for r in scored], dtype=float)
    dense = [r.score for r in scored if r.park is not None and r.park.dense]
    sparse = [r.score for r in scored if r.park is not None and not r.park.dense]
    quiet = [r for r in scored if r.park is None]
    print(
        f"seed {seed}: {len(scored)} observations ({int(truth.sum())} with a park): vehicle_score ROC-AUC "
        f"{roc_auc(score, truth):.3f}, bright-target count ROC-AUC {roc_auc(count, truth):.3f}"
    )
    for name, values in (("dense", dense), ("sparse", sparse)):
        if values:
            print(
                f"  {name} parks: {len(values)} obs, median score {np.median(values):.2f}, "
                f"min {min(values):.2f}, share >= 0.5: {np.mean(np.array(values) >= 0.5):.2f}"
            )
    episodes = list({id(p): p for p in parks if p is not None}.values())
    for ep, p in enumerate(episodes):
        area = (p.rows.stop - p.rows.start) * (p.cols.stop - p.cols.start) * 400
        got = [r.score for r in scored if r.park is p]
        print(
            f"  episode {ep + 1}: {area / 1e4:.2f} ha, occupancy {p.occupancy:.2f}, dense rise {p.rise_db:.1f} dB -> "
            f"pixel rise {pixel_rise_db(p):.1f} dB; "
            f"scores {', '.join(f'{s:.2f}' for s in got)}"
        )
    print(
        f"  without a park: {len(quiet)} obs, max score {max((r.score or 0.0) for r in quiet):.2f}, "
        f"max targets {max((r.targets for r in quiet), default=0)}, "
        f"mean targets {np.mean([r.targets for r in quiet]):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--seeds", default="1-5", help="seeds, e.g. 1-5 or 3")
    opts = parser.parse_args()
    folder = opts.data / "worldcereal-flanders" / "s1"
    if not folder.is_dir():
        sys.exit(f"no Sentinel-1 series at {folder}")
    started = time.perf_counter()
    dates = load(folder)
    enl = looks(dates)
    groups = passes(dates)
    print(
        f"{len(dates)} real Sentinel-1 dates in {len(groups)} passes "
        f"({', '.join(f'{len(g)} at {g[0].acquired:%H:%M}' for g in groups)} UTC); "
        f"equivalent number of looks {enl:.1f}"
    )
    lo, _, hi = opts.seeds.partition("-")
    for seed in range(int(lo), int(hi or lo) + 1):
        run_seed(dates, enl, seed)
    for title, paved in (("paved, no park", True), ("unpaved farmland, no park (the real series)", False)):
        results = evaluate(render(dates, [None] * len(dates), enl, np.random.default_rng(99), paved=paved))
        scored = [r for r in results if r.score is not None]
        print(
            f"{title}: {len(scored)} obs, max vehicle score {max(r.score or 0.0 for r in scored):.2f}, "
            f"scores >= 0.5: {sum((r.score or 0.0) >= 0.5 for r in scored)}, "
            f"mean targets {np.mean([r.targets for r in scored]):.2f}, max {max(r.targets for r in scored)}"
        )
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()

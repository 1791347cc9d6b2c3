"""Benchmark: an independent, physics-first injector into the real Flanders series, scored by the monitor.

Lays asphalt and concrete zones into the real Sentinel-2 farmland (each date's real haze, clouds and
cloud shadows carried onto them; SCL untouched), renders troop lattices and vehicle parks at 1 m with
shadows for each date's sun, aggregates them through a Sentinel-2 PSF with sub-pixel shifts, puts metal
vehicle parks with speckle into the real Sentinel-1 series, then runs the monitor under test as a black
box (``python -m monitor run`` / ``scores`` / ``alerts``) and prints its figures. It asserts nothing.

Runs: a real (nothing added), b paved, c paved + confounders, d paved + formations,
e paved + formations + confounders. Physics and constants: docs/physics-injection.md.

    python benchmarks/physics_injection.py [--monitor PATH] [--seed 0] [--quick] [--runs abcde]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from physics import atmosphere, metrics, radar, scenario
from physics.scenario import EPISODES, ZONES, Options

ROOT = Path(__file__).resolve().parents[1]
RUNS = {
    "a": ("a real series", Options(paved=False, formations=False, confounders=False)),
    "b": ("b paved", Options(paved=True, formations=False, confounders=False)),
    "c": ("c paved + confounders", Options(paved=True, formations=False, confounders=True)),
    "d": ("d paved + formations", Options(paved=True, formations=True, confounders=False)),
    "e": ("e paved + formations + confounders", Options(paved=True, formations=True, confounders=True)),
}
QUICK_UNTIL = datetime(2018, 6, 15).date()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Series:
    """The real worldcereal-flanders series, loaded once."""

    def __init__(self, data: Path, quick: bool, with_s1: bool) -> None:
        root = data / "worldcereal-flanders"
        self.s2_files = sorted((root / "s2").glob("S2_*.tif"))
        self.s1_files = sorted((root / "s1").glob("S1_*.tif")) if with_s1 else []
        if quick:
            self.s2_files = [f for f in self.s2_files if scenario.acquired(f).date() <= QUICK_UNTIL]
            self.s1_files = [f for f in self.s1_files if scenario.acquired(f).date() <= QUICK_UNTIL]
        if not self.s2_files:
            sys.exit(f"no Sentinel-2 series under {root / 's2'}")
        stack = []
        for f in self.s2_files:
            with rasterio.open(f) as ds:
                stack.append(ds.read())
                crs, tr = ds.crs.to_string(), ds.transform
        arr = np.array(stack)
        self.dn = arr[:, :4].astype(np.float64)
        self.scl = arr[:, 4]
        self.refl = self.dn * 1e-4
        self.times = [scenario.acquired(f) for f in self.s2_files]
        days = np.array([t.timestamp() / 86400 for t in self.times])
        self.sky = atmosphere.clear_reference(self.refl, self.scl, days)
        self.grid = scenario.Grid(crs, tr.c, tr.f, arr.shape[-1])
        self.lonlat = self.grid.lonlat(self.grid.size / 2, self.grid.size / 2)
        self.s1 = []
        for f in self.s1_files:
            with rasterio.open(f) as ds:
                self.s1.append(ds.read().astype(np.float64))
        self.s1_times = [scenario.acquired(f) for f in self.s1_files]
        if self.s1:
            minutes = np.array([t.hour * 60 + t.minute for t in self.s1_times])
            self.orbit = (minutes > np.median(minutes)).astype(int)  # ~17:32 vs ~17:40 UTC: two relative orbits
            self.looks = radar.estimate_looks(np.array(self.s1)[:, 0], self.orbit)
        else:
            self.orbit, self.looks = np.zeros(0, int), 1.0


def build(series: Series, opts: Options, seed: int, folder: Path) -> pd.DataFrame:
    """Write one run's imagery and config into ``folder``; return its truth table."""
    img = folder / "imagery"
    img.mkdir(parents=True)
    scenario.write_config(series.grid, folder)
    world = scenario.World(seed, series.grid)
    rows = []
    for i, (f, when) in enumerate(zip(series.s2_files, series.times, strict=True)):
        out, kinds = scenario.s2_date(
            world,
            when,
            series.refl[i],
            (series.sky.before[i], series.sky.after[i], series.sky.ref[i]),
            series.scl[i],
            opts,
            series.lonlat,
        )
        dn = np.clip(np.rint(out * 1e4), 1, 65535) if opts.paved else series.dn[i]
        scenario.write_like(f, img / f.name, np.concatenate([dn, series.scl[i][None]]), "uint16")
        rows += [
            (z, f.stem, when, "S2", k, scenario.episode_of(_zone(z), when.date()) if k else None) for z, k in kinds
        ]
    for i, (f, when) in enumerate(zip(series.s1_files, series.s1_times, strict=True)):
        offset = 0.8 if series.orbit[i] else -0.8
        out, kinds = scenario.s1_date(world, when, series.s1[i], opts, series.looks, offset)
        scenario.write_like(f, img / f.name, out, "float32")
        rows += [
            (z, f.stem, when, "S1", k, scenario.episode_of(_zone(z), when.date()) if k else None) for z, k in kinds
        ]
    return pd.DataFrame(rows, columns=["zone", "scene_id", "acquired", "sensor", "kind", "episode"])


def _zone(zid: str) -> scenario.Zone:
    return next(z for z in ZONES if z.id == zid)


def monitor(monitor_root: Path, config: Path, *args: str) -> str:
    env = dict(
        os.environ, PYTHONPATH=str(monitor_root), PYTHONDONTWRITEBYTECODE="1"
    )  # never write into the tree under test
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args, "--config", str(config)],
        env=env,
        cwd=config.parent,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"monitor {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def prepare(series: Series, key: str, seed: int, work: Path, reuse: Path | None) -> tuple[Path, pd.DataFrame]:
    """Build run ``key``'s folder (or point it at ``reuse``'s imagery of the same run); return config, truth."""
    name, opts = RUNS[key]
    folder = work / f"run-{key}"
    stamp = {"seed": seed, "s2": [f.name for f in series.s2_files], "s1": [f.name for f in series.s1_files]}
    if reuse is not None:
        old = reuse.resolve() / f"run-{key}"
        try:
            same = json.loads((old / "build.json").read_text()) == stamp
        except (OSError, ValueError):
            same = False
        if not same:
            sys.exit(f"--reuse {reuse}: run {key} there was not built with this seed and these dates")
        folder.mkdir(parents=True)
        scenario.write_config(series.grid, folder, imagery=old / "imagery")
        truth = pd.read_csv(old / "truth.csv")
        log(f"{name}: imagery reused from {old}")
        return folder / "monitor.toml", truth
    t0 = time.perf_counter()
    truth = build(series, opts, seed, folder)
    truth.to_csv(folder / "truth.csv", index=False)
    (folder / "build.json").write_text(json.dumps(stamp))
    log(f"{name}: imagery built in {time.perf_counter() - t0:.1f} s")
    return folder / "monitor.toml", truth


def score(series: Series, key: str, monitor_root: Path, config: Path, truth: pd.DataFrame) -> metrics.RunFigures:
    """Run the monitor under test on one prepared run and evaluate what it reports."""
    name, opts = RUNS[key]
    t0 = time.perf_counter()
    monitor(monitor_root, config, "-q", "run")
    log(f"{name}: monitor run {time.perf_counter() - t0:.1f} s")
    scores = pd.read_csv(StringIO(monitor(monitor_root, config, "scores", "--format", "csv")))
    alerts = json.loads(monitor(monitor_root, config, "alerts", "--format", "json"))
    eps = [ep for ep in EPISODES if ep.start <= series.times[-1].date()] if opts.formations else []
    return metrics.evaluate(name, scores, alerts, truth, eps)


def report(figs: list[metrics.RunFigures], series: Series, args: argparse.Namespace) -> None:
    print(
        f"physics injector: seed {args.seed}, {'quick' if args.quick else 'full'}: {len(series.s2_files)} S2 dates "
        f"(every cloudy date kept), {len(series.s1_files)} S1 dates"
        + (f" (ENL from the data {series.looks:.1f})" if series.s1_files else "")
        + "; "
        f"monitor under test: {args.monitor}"
    )
    zones = ", ".join(f"{z.id} ({z.kind}, {z.material})" for z in ZONES)
    print(f"zones: {zones}; usable obs: usable_fraction >= {metrics.USABLE}")
    for f in figs:
        aucs = ", ".join(f"{k} {v:.3f} (n+={f.n_pos[k]})" for k, v in f.auc.items()) or "-"
        print(f"\n[{f.name}]")
        print(f"  ROC-AUC: {aucs}")
        print(
            f"  alerts {f.alerts}, false {f.false_alerts} "
            f"({100 * f.false_alerts / max(f.quiet_observations, 1):.2f} per 100 zone-obs without formation, "
            f"n={f.quiet_observations}), precision {'-' if np.isnan(f.precision) else f'{f.precision:.3f}'}"
        )
        print(f"  highest score without a formation: {f.max_quiet_score:.3f} ({f.max_quiet_where})")
        for ep, zone, res in f.episodes:
            print(f"  episode {ep} {zone}: first alerted at usable {res}")
    keys = ["S2 crowd", "S2 vehicle", "S1 vehicle"]
    print(
        "\nsummary: run | " + " | ".join(f"AUC {k}" for k in keys) + " | alerts | false | precision | max quiet | late"
    )
    for f in figs:
        late = sum(1 for _, _, r in f.episodes if not r.startswith(("obs 1 ", "obs 2 ", "no usable")))
        cells = [f"{f.auc[k]:.3f}" if k in f.auc else "-" for k in keys]
        prec = "-" if np.isnan(f.precision) else f"{f.precision:.3f}"
        print(
            f"summary: {f.name.split()[0]} | "
            + " | ".join(cells)
            + f" | {f.alerts} | {f.false_alerts} | {prec} | {f.max_quiet_score:.3f} | {late}/{len(f.episodes)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--monitor", type=Path, default=ROOT, help="checkout of the monitor under test (its PYTHONPATH)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help=f"dates up to {QUICK_UNTIL} only (development)")
    parser.add_argument("--runs", default="abcde", help="which runs, e.g. 'ade'")
    parser.add_argument("--no-s1", action="store_true", help="leave Sentinel-1 out")
    parser.add_argument("--jobs", type=int, default=1, help="monitor runs at once (the machine is shared)")
    parser.add_argument("--reuse", type=Path, help="take the imagery of a --keep folder (same seed and dates)")
    parser.add_argument("--keep", type=Path, help="write the runs' folders here and keep them")
    args = parser.parse_args()
    args.monitor = args.monitor.resolve()
    t0 = time.perf_counter()
    series = Series(args.data, args.quick, not args.no_s1)
    log(f"loaded {len(series.s2_files)} S2 + {len(series.s1_files)} S1 dates in {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        prepared = {k: prepare(series, k, args.seed, work, args.reuse) for k in args.runs}
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(score, series, k, args.monitor, *prepared[k]) for k in args.runs]
            figs = [f.result() for f in futures]
    report(figs, series, args)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

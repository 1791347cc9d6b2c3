"""Backfill memory: the peak resident memory of a 1,000-scene backfill against a 100-scene one.

Writes N synthetic Sentinel-2 scenes of the small test site (paved square and parking, per-date gain and
noise, one scene in seven cloudy, a crowd formation now and then), one every 5 days, as a local imagery
folder; then backfills them in a fresh process on a Dask LocalCluster of worker threads in that process
(so one ``ru_maxrss`` covers the writer and the workers) and prints the process's peak RSS. Scenes
stream through: the writer holds a bounded look-ahead of fetches, one batch of scores and a bounded set
of baselines, so the peak should not grow with the history. Target: peak(1000) <= 1.2 x peak(100).

    python benchmarks/backfill_memory.py --small 100 --large 1000 --workers 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_history(folder: Path, scenes: int) -> Path:
    """The config and ``scenes`` scenes of the synthetic site in ``folder``; returns the config path."""
    import numpy as np

    from tests.conftest import site_grid_of, write_config, write_s2

    imagery = folder / "imagery"
    imagery.mkdir(parents=True)
    config_path = write_config(folder)
    grid = site_grid_of(config_path)
    rng = np.random.default_rng(1)
    h, w = grid.shape
    base = np.empty((4, h, w), np.float32)
    base[:] = np.array([0.06, 0.08, 0.10, 0.30], np.float32)[:, None, None]
    crowd, vehicle = grid.zone_masks["square"], grid.zone_masks["parking"]
    base[:, crowd] = np.array([0.22, 0.24, 0.25, 0.28], np.float32)[:, None]
    base[:, vehicle] = np.array([0.07, 0.075, 0.08, 0.10], np.float32)[:, None]
    texture = rng.normal(0, 0.01, (4, h, w)).astype(np.float32)
    t0 = datetime(2012, 1, 3, 2, 15, 30, tzinfo=UTC)
    rows, cols = np.nonzero(crowd)
    for i in range(scenes):
        gain = rng.uniform(0.9, 1.1)
        refl = (base + texture) * gain + rng.normal(0, 0.004, (4, h, w)).astype(np.float32)
        scl = np.where(crowd | vehicle, 5, 4).astype(np.uint8)
        if i % 7 == 6:
            refl[:] = 0.6
            scl[:] = 9
        elif i % 53 == 40:  # a rehearsal: dark blocks on the square
            r0, c0 = rows.min() + 4, cols.min() + 4
            for br in range(2):
                for bc in range(4):
                    r, c = r0 + 5 * br, c0 + 4 * bc
                    refl[:3, r : r + 2, c : c + 2] = 0.05 * gain
                    refl[3, r : r + 2, c : c + 2] = 0.15 * gain
        stamp = (t0 + timedelta(days=5 * i)).strftime("%Y%m%dT%H%M%S")
        write_s2(imagery / f"S2_{stamp}.tif", refl, grid.transform, grid.crs, scl)
    return config_path


def measure(config_path: Path, workers: int) -> None:
    """Backfill in this process and print 'peak_mb seconds scenes'."""
    import logging
    import resource
    from datetime import date

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    from monitor.config import load_config
    from monitor.pipeline.backfill import backfill

    start = time.perf_counter()
    summary = backfill(load_config(config_path, env={}), since=date(2000, 1, 1), workers=workers, processes=False)
    assert not summary.errors, summary.errors[:3]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{peak_kib / 1024:.1f} {time.perf_counter() - start:.1f} {summary.done}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        measure(args.measure, args.workers)
        return 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    peaks = {}
    print(f"{'scenes':>7}{'peak RSS MB':>13}{'seconds':>9}{'scenes/min':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.small, args.large):
            config_path = write_history(Path(tmp) / f"n{n}", n)
            out = subprocess.run(
                [sys.executable, __file__, "--measure", str(config_path), "--workers", str(args.workers)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            peak, seconds, done = out.stdout.split()[-3:]
            peaks[n] = float(peak)
            print(f"{n:>7}{float(peak):>13.1f}{float(seconds):>9.1f}{int(done) / float(seconds) * 60:>12.1f}")
    ratio = peaks[args.large] / peaks[args.small]
    print(f"peak({args.large}) / peak({args.small}) = {ratio:.2f} (target <= 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

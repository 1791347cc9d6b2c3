"""Benchmark: the cost of scoring one scene of a site, against reading that scene's crop from the archive.

Runs ``monitor demo`` into a temporary folder (a simulated 347 x 401 px, 10 m Sentinel-2 site, Mirim-like,
with three zones: 31 dates, troop lattices, vehicle parks, clouds), then for every archived crop times
``read_crop_file`` and ``score_scene`` (every stage: co-registration, cloud margin, haze check, radiometric
and zone match, change statistic, regions, formations, scores) against the stored baseline, ``--repeat``
times each. Prints the medians and their ratio (target: at most 5x, aim 2x), in wall-clock and in CPU time
(the second is the one to trust on a loaded machine). Asserts nothing. Usage:

    python benchmarks/scoring_cost.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from monitor.archive.catalogue import Catalogue
from monitor.archive.crops import read_crop_file
from monitor.config import load_config
from monitor.detect.scoring import score_scene
from monitor.grid import site_grid
from monitor.pipeline.baselines import site_baseline
from monitor.pipeline.context import SiteContext

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(
            [sys.executable, "-m", "monitor", "-q", "demo", "--out", str(out)], check=True, env=env, capture_output=True
        )
        config = load_config(out / "config.toml")
        site = config.sites[0]
        catalogue = Catalogue(config.data_dir)
        ctx = SiteContext.build(config, site, site_grid(site))
        baseline = site_baseline(catalogue, ctx, "S2")
        assert baseline is not None
        masks = dict(ctx.masks)
        crops = [Path(r.crop) for r in catalogue.scenes(site.id, status="ok") if r.crop]
        reads, scores, shape = [], [], (0, 0)
        read_cpu, score_cpu = [], []
        for path in crops:
            read_crop_file(path)  # the page cache holds the file, as after ingest
            for _ in range(opts.repeat):
                start, cpu = time.perf_counter(), time.process_time()
                scene = read_crop_file(path)
                reads.append(time.perf_counter() - start)
                read_cpu.append(time.process_time() - cpu)
                start, cpu = time.perf_counter(), time.process_time()
                score_scene(scene, baseline, masks, config.detect.false_alarm_rate, config.detect.cloud_margin_m)
                scores.append(time.perf_counter() - start)
                score_cpu.append(time.process_time() - cpu)
                shape = scene.shape
        catalogue.close()
    read, score = statistics.median(reads), statistics.median(scores)
    print(f"site {shape[0]} x {shape[1]} px (simulated demo), {len(baseline.bands)} bands + SCL, {len(masks)} zones")
    print(f"{len(crops)} scenes x {opts.repeat} repeats")
    print(f"read crop from the archive: median {1000 * read:.1f} ms")
    print(f"score_scene (all stages):   median {1000 * score:.1f} ms (max {1000 * max(scores):.1f} ms)")
    print(f"ratio score / read:         {score / read:.1f}x  (target <= 5x, aim 2x)")
    # CPU time (this process, every thread) as well: on a machine shared with other work the wall-clock
    # medians move with the load (a waiting process counts as busy); CPU time moves much less
    cpu_read, cpu_score = statistics.median(read_cpu), statistics.median(score_cpu)
    print(
        f"CPU time: read {1000 * cpu_read:.1f} ms, score {1000 * cpu_score:.1f} ms, ratio {cpu_score / cpu_read:.1f}x"
    )


if __name__ == "__main__":
    main()

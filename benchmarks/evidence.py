"""Benchmark: the evidence of one alert (PNG, phone PNG, GIF, change COG, GeoJSON) and its email.

Prints wall-clock figures and file sizes; it asserts nothing. Usage:

    python benchmarks/evidence.py [--demo DIR] [--repeat 3]

Runs ``monitor demo`` into DIR (a temporary folder by default; an existing demo folder is reused), then
renders the newest raising scene of every alert again ``--repeat`` times and builds the message that
announces all alerts, as a run would.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.archive.catalogue import Catalogue
from monitor.config import load_config
from monitor.detect.scoring import score_scene
from monitor.grid import site_grid
from monitor.notify import build_message
from monitor.pipeline.baselines import load_crop, site_baseline
from monitor.pipeline.context import SiteContext
from monitor.pipeline.demo import run_demo
from monitor.pipeline.evidence import evidence_history, render_zone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    folder = opts.demo or Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    start = time.perf_counter()
    result = run_demo(folder)
    print(f"demo run: {time.perf_counter() - start:.1f} s ({result.scenes} scenes, {len(result.alerts)} alerts)")
    config = load_config(result.config_path, env={})
    site = config.sites[0]
    ctx = SiteContext.build(config, site, site_grid(site))
    masks = dict(ctx.masks)
    with Catalogue(config.data_dir) as catalogue:
        alerts = catalogue.alerts()
        for alert in alerts:
            row = catalogue.scene(site.id, alert.scene_ids[-1])
            assert row is not None
            scene = load_crop(catalogue, row)
            baseline = site_baseline(catalogue, ctx, row.sensor)
            assert scene is not None and baseline is not None
            change = score_scene(scene, baseline, masks, config.detect.false_alarm_rate, config.detect.cloud_margin_m)
            times = []
            for _ in range(opts.repeat):
                t0 = time.perf_counter()
                history = evidence_history(catalogue, ctx, scene, baseline, alert.zone)
                paths = render_zone(ctx, scene, baseline, change, alert.zone, history)
                times.append(time.perf_counter() - t0)
            shape = "x".join(str(s.stop - s.start) for s in _window(masks[alert.zone]))
            median = statistics.median(times)
            print(f"{alert.id} ({shape} px window): evidence in {median:.2f} s (median of {opts.repeat})")
            for p in paths:
                print(f"    {p.name:<40} {p.stat().st_size / 1024:8.0f} KiB")
        t0 = time.perf_counter()
        msg = build_message(alerts, sender=config.email.sender, recipients=config.email.recipients, simulated=True)
        size = len(msg.as_bytes())
        print(f"message for {len(alerts)} alert(s): built in {time.perf_counter() - t0:.2f} s, {size / 1024:.0f} KiB")


def _window(mask):  # type: ignore[no-untyped-def]
    from monitor.pipeline.evidence import zone_window

    return zone_window(mask)


if __name__ == "__main__":
    main()

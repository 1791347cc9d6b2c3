"""Benchmark: how long ``monitor demo`` takes, and where the time goes.

Prints the wall-clock and CPU time of one demo into a fresh folder, then the time spent in each step
(simulating the imagery, ingesting, building baselines, scoring, rendering evidence, notifying) and the
evidence files per alert. It asserts nothing; the target (``docs/alerts.md``) is 20 s wall on a
2-core machine. The machine's load average is printed too: on a shared machine the wall clock
measures the neighbours as much as the monitor, the CPU time does not. Usage:

    python benchmarks/demo_time.py [--out DIR]
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# by import_module: the package re-exports a function ``run`` under the name of its module
demo_module = importlib.import_module("monitor.pipeline.demo")
run_module = importlib.import_module("monitor.pipeline.run")
score_module = importlib.import_module("monitor.pipeline.score")
# baselines and evidence are imported where they are used (the no-op run loads neither): time them at home
baselines_module = importlib.import_module("monitor.pipeline.baselines")
evidence_module = importlib.import_module("monitor.pipeline.evidence")

#: (module, attribute, step): the functions timed; none of them calls another one of the list.
STEPS = (
    (demo_module, "build_demo_imagery", "simulate imagery"),
    (run_module, "ingest_site", "ingest (read, crop, archive)"),
    (baselines_module, "scene_baseline", "baselines (load or build)"),
    (score_module, "score_scene_task", "score scenes"),
    (evidence_module, "render_zone", "render evidence"),
    (run_module, "notify", "notify (message, outbox)"),
)


def _timed(fn: Callable[..., Any], step: str, wall: dict[str, float], calls: dict[str, int]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            wall[step] += time.perf_counter() - start
            calls[step] += 1

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="demo folder (default: a fresh temporary one)")
    opts = parser.parse_args()
    out = opts.out or Path(tempfile.mkdtemp(prefix="monitor-demo-time-")) / "demo"
    wall: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for module, name, step in STEPS:
        setattr(module, name, _timed(getattr(module, name), step, wall, calls))
    load = os.getloadavg()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = demo_module.run_demo(out)
    elapsed = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(f"monitor demo into {out}: {elapsed:.1f} s wall, {cpu:.1f} s CPU (load average before: {load[0]:.1f})")
    print(f"  {result.scenes} scenes, {len(result.alerts)} alerts")
    for _, _, step in STEPS:
        share = 100 * wall[step] / elapsed if elapsed else 0.0
        print(f"  {step:<30} {wall[step]:6.1f} s  {share:4.0f} %  ({calls[step]} call(s))")
    other = elapsed - sum(wall.values())
    print(f"  {'other (imports, archive, alerts)':<30} {other:6.1f} s  {100 * other / elapsed:4.0f} %")
    for alert in result.alerts:
        print(f"  {alert['id']}: {len(alert['scene_ids'])} scene(s), {len(alert['evidence'])} evidence file(s)")


if __name__ == "__main__":
    main()

"""Benchmark: what an analyst waits for. Prints the median of N fresh interpreters for

- ``import monitor`` (must stay cheap: the cron path and every CLI command pay it),
- ``import monitor; monitor.open(ARCHIVE)`` (pandas, xarray, rioxarray load here),
- the first ``m.scores()``, ``m.scene(...)`` and ``m.change(...)`` on that archive.

Usage (ARCHIVE: a ``monitor demo --out DIR`` folder or a config file):

    python benchmarks/analysis_startup.py ARCHIVE [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import time, sys
t0 = time.perf_counter()
import monitor
t1 = time.perf_counter()
m = monitor.open(sys.argv[1])
t2 = time.perf_counter()
scores = m.scores()
t3 = time.perf_counter()
alerts = m.alerts()
scene_id = alerts["scene_ids"].iloc[0][0] if len(alerts) else scores["scene_id"].iloc[-1]
site = str(scores["site"].iloc[0])
m.scene(site, scene_id)
t4 = time.perf_counter()
m.change(site, scene_id)
t5 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)
"""
LABELS = ("import monitor", "monitor.open", "first m.scores()", "first m.scene()", "first m.change()")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    samples = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, args.archive], capture_output=True, text=True, env=env, check=True
        )
        samples.append([float(v) for v in out.stdout.split()])
    for i, label in enumerate(LABELS):
        values = [s[i] * 1000 for s in samples]
        print(f"{label:<18} median {statistics.median(values):8.1f} ms  (min {min(values):.1f}, {args.runs} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

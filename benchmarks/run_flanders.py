"""Benchmark: `monitor run` on the real 118-date Sentinel-2 series, then a no-op second run.

Prints wall-clock figures; it asserts nothing. Usage:

    python benchmarks/run_flanders.py [--data ../shared/data] [--repeat 3]

The first run ingests all 118 scenes (window read + warp + crop write), builds the baseline and scores
every scene; the second finds nothing new and must do (almost) nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLANDERS = Path(__file__).resolve().parents[1] / "configs" / "flanders.toml"


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "monitor", "-q", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    imagery = opts.data / "worldcereal-flanders" / "s2"
    if not imagery.is_dir():
        sys.exit(f"no Sentinel-2 series at {imagery}")
    n = len(list(imagery.glob("*.tif")))
    first, second, startup = [], [], []
    for _ in range(opts.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "monitor.toml"
            text = FLANDERS.read_text().replace("../monitor-data/flanders", str(Path(tmp) / "data"))
            config.write_text(text.replace("../../shared/data", str(opts.data)))
            first.append(timed(["run", "--config", str(config)]))
            second.append(timed(["run", "--config", str(config)]))
            startup.append(timed(["--version"]))
    print(f"scenes: {n} (64 x 64 px, Sentinel-2 L2A, real), repeats: {opts.repeat}")
    print(
        f"first run (ingest + baseline + score): median {statistics.median(first):.2f} s "
        f"({1000 * statistics.median(first) / n:.1f} ms/scene), runs {', '.join(f'{t:.2f}' for t in first)}"
    )
    print(
        f"second run (nothing new):              median {statistics.median(second):.2f} s, "
        f"runs {', '.join(f'{t:.2f}' for t in second)}"
    )
    print(f"interpreter + import (monitor --version): median {statistics.median(startup):.2f} s")


if __name__ == "__main__":
    main()

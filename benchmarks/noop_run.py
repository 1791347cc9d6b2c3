"""Benchmark: the cron path when nothing happened. Prints the median wall time (and CPU time) of N fresh
processes for

- ``monitor -q run`` with nothing new (a local source, an archive already up to date),
- ``python -c "import rasterio"``, the reference, measured in the same run, interleaved with the above,
- ``monitor --help``,

and the ratio no-op run / import rasterio (target: at most 1.5) and ``--help`` (target: under 0.3 s).

Usage (CONFIG: any config whose archive is up to date, e.g. a ``monitor demo --out DIR`` folder's
``DIR/config.toml``; default: a small synthetic archive built here, 12 scenes, scored once first):

    python benchmarks/noop_run.py [CONFIG] [--runs 11]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[monitor]
data_dir = "data"

[[sources]]
kind = "local"
path = "imagery"

[[sites]]
id = "bench"
bbox = [125.840, 39.010, 125.847, 39.0155]

  [[sites.zones]]
  id = "square"
  kind = "crowd"
  bbox = [125.8410, 39.0110, 125.8435, 39.0135]

[detect]
warmup_scenes = 6
"""


def synthetic_archive(folder: Path, scenes: int = 12) -> Path:
    """A config over ``scenes`` quiet Sentinel-2-like GeoTIFFs on the site's grid."""
    import numpy as np
    import rasterio

    from monitor.config import load_config
    from monitor.grid import site_grid

    (folder / "imagery").mkdir(parents=True)
    config_path = folder / "monitor.toml"
    config_path.write_text(CONFIG)
    grid = site_grid(load_config(config_path, env={}).sites[0])
    rng = np.random.default_rng(0)
    h, w = grid.shape
    base = np.array([0.06, 0.08, 0.10, 0.30], np.float32)[:, None, None] + rng.normal(0, 0.01, (4, h, w))
    t0 = datetime(2025, 5, 1, 2, 15, 30, tzinfo=UTC)
    for i in range(scenes):
        refl = base * rng.uniform(0.9, 1.1) + rng.normal(0, 0.004, (4, h, w))
        dn = np.clip(np.round(refl * 10000), 1, 65535).astype(np.uint16)
        scl = np.full((1, h, w), 4, np.uint16)
        path = folder / "imagery" / f"S2_{(t0 + timedelta(days=5 * i)):%Y%m%dT%H%M%S}.tif"
        profile = {"driver": "GTiff", "width": w, "height": h, "count": 5, "dtype": "uint16", "nodata": 0}
        with rasterio.open(path, "w", crs=grid.crs, transform=grid.transform, **profile) as dst:
            dst.write(np.concatenate([dn, scl]))
            for band, name in enumerate(("B02", "B03", "B04", "B08", "SCL"), start=1):
                dst.set_band_description(band, name)
    return config_path


def measure(argv: list[str], env: dict[str, str], output: Path) -> tuple[float, float, bytes]:
    """Wall and CPU (user + system) seconds of one fresh process, and what it printed (stdout + stderr).
    CPU comes from the kernel's accounting of that child, so it is less sensitive to machine load."""
    with output.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {output.read_text()}")
    return wall, usage.ru_utime + usage.ru_stime, output.read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", type=Path, help="a config whose archive is up to date")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    env.pop("MONITOR_CONFIG", None)
    with tempfile.TemporaryDirectory() as tmp:
        # Bytecode as an installed package has it (pip compiles at install): kept in a private cache, so
        # neither PYTHONDONTWRITEBYTECODE nor a checkout without __pycache__ times the compiler.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        config = args.config.resolve() if args.config else synthetic_archive(Path(tmp))
        prime = subprocess.run([sys.executable, "-m", "monitor", "-q", "run", "--config", str(config)], env=env)
        if prime.returncode != 0:
            raise SystemExit(f"the first run of {config} failed (exit {prime.returncode})")
        commands = {
            "no-op monitor -q run": [sys.executable, "-m", "monitor", "-q", "run", "--config", str(config)],
            'python -c "import rasterio"': [sys.executable, "-c", "import rasterio"],
            "monitor --help": [sys.executable, "-m", "monitor", "--help"],
        }
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for argv in commands.values():  # fills the bytecode cache
            measure(argv, env, Path(tmp) / "output.txt")
        for _ in range(args.runs):  # interleaved, so a change in machine load hits all three alike
            for name, argv in commands.items():
                wall, cpu, output = measure(argv, env, Path(tmp) / "output.txt")
                if name.startswith("no-op") and output:
                    raise SystemExit(f"the no-op run printed something: {output.decode()!r}")
                samples[name].append((wall, cpu))
    medians = {
        name: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s)) for name, s in samples.items()
    }
    for name, (wall, cpu) in medians.items():
        print(f"{name:<28} wall median {wall * 1000:7.1f} ms   cpu median {cpu * 1000:7.1f} ms   ({args.runs} runs)")
    run, ref, helped = (
        medians["no-op monitor -q run"],
        medians['python -c "import rasterio"'],
        medians["monitor --help"],
    )
    print(f"no-op run / import rasterio: wall {run[0] / ref[0]:.2f}x, cpu {run[1] / ref[1]:.2f}x (target <= 1.5x)")
    print(f"monitor --help: wall {helped[0]:.3f} s (target < 0.3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

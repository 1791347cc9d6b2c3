"""Benchmark: would ukis-csmask's learned cloud/shadow mask lower false change? (issue 11)

ukis-csmask (DLR, Apache-2.0) ships a CNN for Sentinel-2 L2A that classifies each pixel as clear, cloud or
cloud shadow from B02 B03 B04 B08. The monitor would use it as a second opinion beside Sen2Cor's SCL: a
pixel either calls cloud or shadow is not compared. This script measures that rule without changing the
monitor: it copies the imagery of a ``physics_injection.py --keep`` folder and writes, into each
Sentinel-2 file's SCL band, cloud (9) where the model says cloud and shadow (3) where it says shadow and
SCL said clear (4, 5, 6, 7, 11). Then

    python benchmarks/physics_injection.py --monitor PATH --seed N --reuse OUT

scores the monitor on exactly the same scenes with the union mask, to set beside the same command with
``--reuse`` of the original folder. It also prints how often the model and SCL disagree on the real
series (run ``a``) and the model's cost per scene. Asserts nothing. Needs ``pip install 'ukis-csmask[cpu]'``.

    python benchmarks/cloudmask_eval.py --keep /tmp/inj/s0 --out /tmp/inj/s0-csmask
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import rasterio

SCL_CLEAR = (4, 5, 6, 7, 11)
SCL_CLOUD = (8, 9, 10)
SCL_SHADOW = 3


def model_classes(bands: np.ndarray) -> np.ndarray:
    """0 clear, 1 cloud, 2 cloud shadow per pixel, from (4, rows, cols) L2A reflectance (0-1)."""
    from ukis_csmask.mask import CSmask

    img = np.moveaxis(bands, 0, -1).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "smaller than the 256 px tiles": padded by the model
        mask = CSmask(
            img,
            ["blue", "green", "red", "nir"],
            product_level="l2a",
            intra_op_num_threads=1,
            inter_op_num_threads=1,
        )
    return np.asarray(mask.csm[..., 0])


def merge(path: Path, out: Path) -> tuple[int, int, int, float]:
    """Write ``path`` to ``out`` with the model's calls added to SCL; return (px, +cloud, +shadow, seconds)."""
    with rasterio.open(path) as src:
        data = src.read()
        profile = src.profile
        names = src.descriptions
    t0 = time.perf_counter()
    classes = model_classes(data[:4].astype(np.float32) * 1e-4)
    seconds = time.perf_counter() - t0
    scl = data[4].copy()
    clear = np.isin(scl, SCL_CLEAR)
    add_cloud = clear & (classes == 1)
    add_shadow = clear & (classes == 2)
    scl[add_cloud] = 9
    scl[add_shadow] = SCL_SHADOW
    data[4] = scl
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
        for i, name in enumerate(names, start=1):
            if name:
                dst.set_band_description(i, name)
    return scl.size, int(add_cloud.sum()), int(add_shadow.sum()), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, required=True, help="a physics_injection.py --keep folder")
    parser.add_argument("--out", type=Path, required=True, help="new folder, for physics_injection.py --reuse")
    opts = parser.parse_args()
    try:
        import ukis_csmask  # noqa: F401
    except ImportError:
        sys.exit("needs ukis-csmask: pip install 'ukis-csmask[cpu]'")
    runs = sorted(p for p in opts.keep.glob("run-*") if (p / "build.json").is_file())
    if not runs:
        sys.exit(f"{opts.keep}: no run-*/build.json (make it with physics_injection.py --keep)")
    times: list[float] = []
    print("run  S2 scenes  clear px called cloud  clear px called shadow  scenes changed")
    for run in runs:
        dest = opts.out / run.name
        (dest / "imagery").mkdir(parents=True, exist_ok=True)
        for name in ("build.json", "truth.csv"):
            shutil.copy2(run / name, dest / name)
        total = cloud = shadow = changed = n = 0
        for tif in sorted((run / "imagery").glob("*.tif")):
            if not tif.name.startswith("S2_"):
                shutil.copy2(tif, dest / "imagery" / tif.name)
                continue
            px, c, s, sec = merge(tif, dest / "imagery" / tif.name)
            times.append(sec)
            n += 1
            total += px
            cloud += c
            shadow += s
            changed += (c + s) > 0
        print(f"{run.name[4:]:>3}  {n:9d}  {cloud / total:21.2%}  {shadow / total:22.2%}  {changed:14d}")
    print(f"model time per 64 x 64 px scene: median {np.median(times) * 1e3:.0f} ms (one thread)")


if __name__ == "__main__":
    main()

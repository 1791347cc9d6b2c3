"""Benchmark: ROC-AUC of `monitor diff` on the OSCD cities in ../shared/data/oscd-dev (evaluation only).

Prints one line per city and the mean; asserts nothing. The labels are CC BY-NC-SA and are only read
here, never copied. Usage:

    python benchmarks/oscd_auc.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from scipy.stats import rankdata

from monitor.pipeline.diff import diff_images


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U), ties averaged."""
    ranks = rankdata(score)
    pos = label.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    opts = parser.parse_args()
    root = opts.data / "oscd-dev"
    cities = sorted(p for p in root.iterdir() if (p / "label.tif").exists()) if root.is_dir() else []
    if not cities:
        sys.exit(f"no OSCD cities under {root}")
    aucs = []
    with tempfile.TemporaryDirectory() as tmp:
        for city in cities:
            start = time.perf_counter()
            result = diff_images(city / "before.tif", city / "after.tif", Path(tmp) / f"{city.name}.tif")
            seconds = time.perf_counter() - start
            with rasterio.open(city / "label.tif") as src:
                label = src.read(1)
            ok = np.isfinite(result.change)
            auc = roc_auc(result.change[ok], label[ok])
            aucs.append(auc)
            print(f"{city.name:<12} ROC-AUC {auc:.3f}  ({ok.sum()} px, {seconds:.2f} s)")
    print(f"{'mean':<12} ROC-AUC {np.mean(aucs):.3f}")


if __name__ == "__main__":
    main()

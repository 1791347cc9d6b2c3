"""Calibration of ``crowd_score`` and ``vehicle_score`` on simulations, checked on held-out ones.

Formations of random size are injected into the real 118-date Flanders Sentinel-2 series exactly as in
``flanders_injection.py`` (paved zones, each date's own light and atmosphere, wet dates, real clouds; a
second run adds construction, +-0.7 px shifts, haze and clouds): troop lattices of 3-16 blocks (25 % rest
days) and parks of 30-200 vehicles, over four episodes. Each usable zone observation (zone at least
``alerts.min_usable_fraction`` clear, score not empty) is one example: was a formation there, and what
did the detector find (block-equivalents and lattice regularity of the crowd blocks; changed area of
vehicle rows and parks).

The free constants of the two scores are fitted by maximum likelihood (log-loss) on the training seeds:

* ``crowd_score = regularity / (1 + exp(-slope * (blocks - centre)))`` (``CROWD_CENTRE_BLOCKS``,
  ``CROWD_SLOPE`` in ``monitor/detect/formations.py``);
* ``vehicle_score = 1 - exp(-area / scale)`` (``VEHICLE_SCALE_M2``).

Then, on the held-out seeds, the reliability of the installed constants and of the fitted ones is
printed: per score bin, how many observations and what share had a formation, with the Brier score
and the expected calibration error. A calibrated score is the share of observations with a formation
among those with that score (in these simulations, where a formation stands on about 4 in 10 dates of
an episode season). Asserts nothing. Usage:

    PYTHONPATH=. python benchmarks/calibration.py [--train 11-20] [--test 1-5] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flanders_injection as fi

from monitor.config import AlertsConfig
from monitor.detect import formations
from monitor.detect.formations import formation_measures

BLOCKS = (3, 16)
VEHICLES = (30, 200)
BINS = np.array([0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0001])
EPS = 1e-3


@dataclass
class Example:
    zone: str
    truth: bool
    blocks: float  # block-equivalents of the formation's crowd blocks (0: fewer than 3 whole blobs)
    regularity: float
    area_m2: float  # changed area of vehicle rows and parks


def features(zone: str, truth: bool, detections: tuple[formations.Detection, ...]) -> Example:
    """What the scores are computed from (:func:`formations.formation_measures`, the vehicle area)."""
    n, regular = formation_measures(list(detections), 10.0) or (0.0, 0.0)
    area = sum(d.area_m2 for d in detections if d.cls in {"vehicle-row", "vehicle-park"})
    return Example(zone, truth, n, regular, float(area))


def crowd(e: Example, centre: float, slope: float) -> float:
    if e.blocks <= 0:
        return 0.0
    return e.regularity / (1.0 + math.exp(-slope * (e.blocks - centre)))


def vehicle(e: Example, scale: float) -> float:
    return 1.0 - math.exp(-e.area_m2 / scale)


def collect(dates: list[fi.Date], reference: np.ndarray, invariant: np.ndarray, seeds: list[int]) -> list[Example]:
    config = AlertsConfig()
    out = []
    for seed in seeds:
        plans = fi.plan_dates(dates, np.random.default_rng(seed), BLOCKS, VEHICLES)
        for confounders in (False, True):
            scenes = fi.render(
                dates, plans, reference, invariant, np.random.default_rng(seed + 1), confounders=confounders
            )
            for r in fi.evaluate(scenes, plans):
                if r.score is None or r.usable < config.min_usable_fraction:
                    continue
                out.append(features(r.zone, r.truth, r.detections))
    return out


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, EPS, 1.0 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def reliability(p: np.ndarray, y: np.ndarray) -> list[str]:
    lines, ece = [], 0.0
    for lo, hi in itertools.pairwise(BINS):
        inside = (p >= lo) & (p < hi)
        if not inside.any():
            continue
        share, mean = float(y[inside].mean()), float(p[inside].mean())
        ece += inside.mean() * abs(share - mean)
        label = f"score {lo:.2f}-{min(hi, 1.0):.2f}"
        lines.append(f"    {label}: {int(inside.sum()):4d} obs, mean score {mean:.2f}, with formation {share:.2f}")
    brier = float(np.mean((p - y) ** 2))
    lines.append(f"    Brier {brier:.4f}, log-loss {log_loss(p, y):.4f}, expected calibration error {ece:.4f}")
    return lines


def seeds_of(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--train", default="11-20", help="training seeds, e.g. 11-20")
    parser.add_argument("--test", default="1-5", help="held-out seeds, e.g. 1-5")
    opts = parser.parse_args()
    folder = opts.data / "worldcereal-flanders" / "s2"
    if not folder.is_dir():
        sys.exit(f"no Sentinel-2 series at {folder}")
    started = time.perf_counter()
    dates = fi.load(folder)
    reference, invariant = fi.pseudo_invariant(dates)
    train = collect(dates, reference, invariant, seeds_of(opts.train))
    test = collect(dates, reference, invariant, seeds_of(opts.test))
    print(f"{len(train)} training and {len(test)} held-out zone observations ({time.perf_counter() - started:.0f} s)")

    installed = (formations.CROWD_CENTRE_BLOCKS, formations.CROWD_SLOPE, formations.VEHICLE_SCALE_M2)
    cr_train = [e for e in train if e.zone == "crowd"]
    y_cr = np.array([e.truth for e in cr_train], dtype=float)
    fit_cr = minimize(
        lambda v: log_loss(np.array([crowd(e, v[0], math.exp(v[1])) for e in cr_train]), y_cr),
        x0=[installed[0], math.log(installed[1])],
        method="Nelder-Mead",
    )
    centre, slope = float(fit_cr.x[0]), float(math.exp(fit_cr.x[1]))
    ve_train = [e for e in train if e.zone == "vehicle"]
    y_ve = np.array([e.truth for e in ve_train], dtype=float)
    fit_ve = minimize(
        lambda v: log_loss(np.array([vehicle(e, math.exp(v[0])) for e in ve_train]), y_ve),
        x0=[math.log(installed[2])],
        method="Nelder-Mead",
    )
    scale = float(math.exp(fit_ve.x[0]))
    crowd_text = f"crowd centre {installed[0]:.2f} blocks, slope {installed[1]:.2f}"
    print(f"installed: {crowd_text}; vehicle scale {installed[2]:.0f} m2")
    print(f"fitted:    crowd centre {centre:.2f} blocks, slope {slope:.2f}; vehicle scale {scale:.0f} m2")

    for zone in ("crowd", "vehicle"):
        held = [e for e in test if e.zone == zone]
        y = np.array([e.truth for e in held], dtype=float)
        for title, params in (("installed", installed), ("fitted", (centre, slope, scale))):
            if zone == "crowd":
                p = np.array([crowd(e, params[0], params[1]) for e in held])
            else:
                p = np.array([vehicle(e, params[2]) for e in held])
            counts = f"{int(y.sum())} of {len(y)} with formation"
            print(f"\n{zone} score on held-out seeds {opts.test}, {title} constants ({counts}):")
            for line in reliability(p, y):
                print(line)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()

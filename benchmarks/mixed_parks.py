"""Benchmark: vehicle parks as they look at 10 m, injected into the real Flanders Sentinel-2 series.

The Flanders benchmark (``flanders_injection.py``) renders parks of one olive spectrum at full cover. Here
a park is what the issue describes: rows of olive vehicles (three olive paints, NIR 0.22-0.30) 6.5-11 m
long, side by side with 2-3 m gaps, 75-95 % of the slots filled, 0-2 rows of light-roofed coaches
(0.42-0.52 in every band), and every vehicle's shadow cast on the asphalt along the anti-sun direction for
the date's sun elevation at Flanders (vehicle height 2.8 m; a shadow keeps the sky light, 20-45 % of
each band, most in the blue). Parks hold 30-200 vehicles; the rest of the harness (paving with each
date's atmosphere, wet dates, real clouds, the confounders: a bright shed, haze, clouds, +-0.7 px
shifts; the fixed baseline of the first 10 usable scenes) is the Flanders benchmark's. Prints the
vehicle ROC-AUC per seed with and without confounders, and the alerts and highest vehicle score on the
same series without parks. Asserts nothing. Usage:

    PYTHONPATH=. python benchmarks/mixed_parks.py [--seeds 1-5]
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flanders_injection as fi

from monitor.config import AlertsConfig
from monitor.scene import Scene
from monitor.simulate.formations import Footprint, cover_fraction
from monitor.simulate.inject import (
    ASPHALT,
    CONCRETE,
    WET_FACTOR,
    date_atmosphere,
    pave,
    pavement_texture,
)
from monitor.simulate.sensor import NOISE_SIGMA, PSF_SIGMA_PX, apply_psf

#: Olive paints (B02 B03 B04 B08): olive drab and two CARC-like greens, dark in the visible, NIR 0.22-0.30.
OLIVE = [(0.045, 0.060, 0.055, 0.22), (0.055, 0.070, 0.065, 0.30), (0.05, 0.065, 0.06, 0.26)]
#: A coach's white roof.
ROOF = (0.42, 0.46, 0.48, 0.52)
#: What a shadow leaves of each band: sky light only, most in the blue.
SHADOW_K = np.array([0.45, 0.35, 0.30, 0.22], np.float32)[:, None, None]
#: One vehicle of a park: its footprint and whether it is a light-roofed coach.
Vehicle = tuple[Footprint, bool]


def sun_elev(d: datetime) -> float:
    """Sun elevation (degrees) at Flanders (51 N) at about 10:50 UTC, a little before solar noon."""
    doy = d.timetuple().tm_yday
    decl = 23.44 * math.sin(math.radians(360 * (284 + doy) / 365))
    return 90 - 51.0 + decl - 5


def park(rng: np.random.Generator, n: int) -> list[Vehicle]:
    """Rows of ``n`` vehicles side by side, 2-3 m gaps, 75-95 % of the slots filled, 0-2 coach rows."""
    occ = rng.uniform(0.75, 0.95)
    rows: list[Vehicle] = []
    y = 15.0
    placed = 0
    coach_rows = set(rng.choice(6, size=rng.integers(0, 3), replace=False).tolist())
    r = 0
    while placed < n and y < 270:
        x = 15.0
        coach = r in coach_rows
        length = 12.0 if coach else rng.uniform(6.5, 11.0)
        while placed < n and x < 185:
            if rng.random() < occ:
                rows.append((Footprint(x + 1.25, y + length / 2, length, 2.5, 90.0), coach))
                placed += 1
            x += 2.5 + rng.uniform(2.0, 3.0)
        y += length + rng.uniform(6.0, 9.0)
        r += 1
    return rows


def render_park(surface: np.ndarray, objs: list[Vehicle], elev: float, rng: np.random.Generator) -> np.ndarray:
    """``surface`` (4, rows, cols) with the vehicles' shadows (for sun elevation ``elev``), olive bodies
    and coach roofs mixed in at their 1 m cover."""
    if not objs:
        return surface
    shape = surface.shape[1:]
    veh = [f for f, c in objs if not c]
    coach = [f for f, c in objs if c]
    h = 2.8
    length = h / math.tan(math.radians(max(elev, 10)))
    az = math.radians(rng.uniform(150, 170))  # sun azimuth from north; shadow towards az+180
    dx, dy = -math.sin(az), math.cos(az)  # x east, y south: shadow points away from sun (north-ish)
    allf = [f for f, _ in objs]
    body = cover_fraction(tuple(allf), shape)
    sh = np.zeros(shape, np.float32)
    for t in (0.33, 0.66, 1.0):
        sh = np.maximum(
            sh,
            cover_fraction(
                tuple(
                    Footprint(f.x + dx * length * t, f.y + dy * length * t, f.length, f.width, f.angle_deg)
                    for f in allf
                ),
                shape,
            ),
        )
    shadow = np.clip(sh - body, 0, 1)
    out = surface * (1 - shadow * (1 - SHADOW_K))
    if veh:
        groups = [veh[i::3] for i in range(3)]
        for g, spec in zip(groups, OLIVE, strict=True):
            if g:
                c = cover_fraction(tuple(g), shape)[None]
                out = (1 - c) * out + c * np.asarray(spec, np.float32)[:, None, None]
    if coach:
        c = cover_fraction(tuple(coach), shape)[None]
        out = (1 - c) * out + c * np.asarray(ROOF, np.float32)[:, None, None]
    return out.astype(np.float32)


def render(
    dates: list[fi.Date],
    parks: list[list[Vehicle] | None],
    reference: np.ndarray,
    invariant: np.ndarray,
    rng: np.random.Generator,
    inject: bool = True,
    confounders: bool = False,
) -> list[Scene]:
    """The series with both zones paved (the crowd zone empty), each date's park and the confounders."""
    tex_c = pavement_texture(np.random.default_rng(11), (30, 30))
    tex_v = pavement_texture(np.random.default_rng(12), (30, 30), amplitude=0.04)
    scenes = []
    for d, p in zip(dates, parks, strict=True):
        data, scl = d.data.copy(), d.scl.copy()
        clear = np.isin(scl, fi.SCL_CLEAR)
        atm = date_atmosphere(data, reference, clear & invariant)
        wet = rng.random() < 0.15
        for tex, window, pavement, objs in (
            (tex_c, fi.CROWD, CONCRETE, None),
            (tex_v, fi.VEHICLE, ASPHALT, p if inject else None),
        ):
            surf = np.asarray(pavement, np.float32)[:, None, None] * tex[None]
            if wet:
                surf = surf * np.float32(WET_FACTOR)
            if objs:
                surf = render_park(surf, objs, sun_elev(d.acquired), rng)
            if confounders and d.acquired >= fi.EPISODES[0][0] and window is fi.VEHICLE:
                c = cover_fraction((Footprint(60.0, 240.0, 60.0, 25.0, 0.0),), (30, 30))[None]
                surf = (1 - c) * surf + c * np.asarray((0.26, 0.28, 0.29, 0.32), np.float32)[:, None, None]
            surf = apply_psf(surf, PSF_SIGMA_PX)
            obs = atm.apply(surf) + rng.standard_normal(surf.shape, dtype=np.float32) * np.float32(NOISE_SIGMA)
            data, scl = pave(data, scl, window, obs.astype(np.float32))
        if confounders:
            data, scl = fi.confound(data, scl, rng)
        scenes.append(fi.to_scene(d, data, scl))
    return scenes


def main(seed: int) -> None:
    """One seed: vehicle ROC-AUC with and without confounders, and the series without parks."""
    dates = fi.load(Path(__file__).resolve().parents[2] / "shared" / "data" / "worldcereal-flanders" / "s2")
    reference, invariant = fi.pseudo_invariant(dates)
    rng = np.random.default_rng(seed)
    eps = [park(rng, int(rng.integers(30, 200))) for _ in fi.EPISODES]
    parks: list[list[Vehicle] | None] = []
    plans = []
    for d in dates:
        ep = next((i for i, (a, b) in enumerate(fi.EPISODES) if a <= d.acquired <= b), None)
        parks.append(eps[ep] if ep is not None else None)
        plans.append(fi.Plan(None, tuple(f for f, _ in eps[ep]) if ep is not None else None, ep))
    config = AlertsConfig()
    for conf in (False, True):
        res = fi.evaluate(
            render(dates, parks, reference, invariant, np.random.default_rng(seed + 1), True, conf), plans
        )
        print(f"seed {seed} confounders={conf}:", fi.auc_line(res, "vehicle", config))
    res = fi.evaluate(render(dates, parks, reference, invariant, np.random.default_rng(seed + 1), False, True), plans)
    top = max((r.score or 0.0) for r in res if r.zone == "vehicle")
    print(f"seed {seed} no formation + confounders: alerts {fi.alerts(res, config)}, max vehicle {top:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1-5", help="seeds, e.g. 1-5 or 3")
    opts = parser.parse_args()
    lo, _, hi = opts.seeds.partition("-")
    for s in range(int(lo), int(hi or lo) + 1):
        main(s)

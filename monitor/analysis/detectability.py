"""How small a formation the detector sees, by pixel size: Monte Carlo on simulated formations.

Each trial renders a paved zone (concrete or asphalt) amid grass and soil, with the simulator's
formation geometry and spectra (:mod:`monitor.simulate.formations`) and its sensor model (PSF, noise:
:mod:`monitor.simulate.sensor`), builds a baseline from quiet dates the way the pipeline does, and scores
the formation date with the production detector (:func:`monitor.detect.scoring.score_scene`) at a fixed
per-pixel false-alarm rate. A formation is *seen* when its score reaches the alert threshold. Trials
with no formation give the scene-level false-alarm rate the curves must be read against.

Kept deliberately narrow: it uses the simulator's public formation and sensor functions and the
detector's public entry point only, so either can change underneath it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from monitor.detect.baseline import Baseline, normalised_stats
from monitor.detect.change import normalise_linear
from monitor.detect.scoring import score_scene
from monitor.scene import Scene
from monitor.simulate.formations import (
    TROOP_FILL,
    UNIFORM_REFLECTANCE,
    VEHICLE_FILL,
    VEHICLE_REFLECTANCE,
    cover_fraction,
    mix,
    troop_lattice,
    vehicle_park,
)
from monitor.simulate.sensor import NOISE_SIGMA, add_noise, apply_psf

BANDS = ("B02", "B03", "B04", "B08")
#: Ground spectra (reflectance B02 B03 B04 B08): the replica square's concrete, the parking's asphalt.
CONCRETE = (0.22, 0.24, 0.25, 0.28)
ASPHALT = (0.07, 0.075, 0.08, 0.10)
GROUNDS = {"concrete": CONCRETE, "asphalt": ASPHALT}
#: Surroundings of the paved zone: grass and bare soil in 30 m patches, so the scene-wide radiometric match
#: sees varied ground, as on a real site, and not only the pavement the formation stands on.
GRASS = (0.04, 0.07, 0.05, 0.30)
SOIL = (0.10, 0.12, 0.14, 0.20)
PATCH_M = 30
#: Side of the simulated scene and of the paved zone in its centre, metres (multiples of 3, 10 and 30:
#: a 54 px scene and 24 px zone at 10 m, 180 px and 80 px at 3 m).
WINDOW_M = 540
ZONE_M = 240
#: Quiet dates behind each trial's baseline (the pipeline's default warm-up).
BASELINE_DATES = 10
CRS_UTM = CRS.from_epsg(32651)


@dataclass(frozen=True)
class Trial:
    """One simulated observation: what was there, at what pixel size, and the detector's scores."""

    kind: str  # crowd | vehicle
    count: int  # troop blocks or vehicles; 0 = nothing (false-alarm trial)
    pixel_m: int
    crowd_score: float
    vehicle_score: float

    @property
    def score(self) -> float:
        """The score of the trial's own kind."""
        return self.crowd_score if self.kind == "crowd" else self.vehicle_score


def _date(ground: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One date of the ground: illumination gain of a few percent, PSF, white noise."""
    gain = np.float32(rng.uniform(0.93, 1.07))
    return add_noise(apply_psf(ground * gain), rng, NOISE_SIGMA)


def run_trial(
    kind: str, count: int, pixel_m: int, seed: int, false_alarm_rate: float = 1e-4, ground: str = "concrete"
) -> Trial:
    """Simulate one formation (``count`` troop blocks or vehicles, 0 for none) at ``pixel_m`` metres on
    ``ground`` (concrete | asphalt) and score it with the production detector."""
    if kind not in ("crowd", "vehicle"):
        raise ValueError(f"kind must be crowd or vehicle, not {kind!r}")
    if pixel_m < 1 or any(size % pixel_m for size in (PATCH_M, ZONE_M, (WINDOW_M - ZONE_M) // 2)):
        raise ValueError(f"pixel_m must divide {PATCH_M} m (1, 2, 3, 5, 6, 10, 15 or 30), not {pixel_m}")
    if ground not in GROUNDS:
        raise ValueError(f"ground must be one of {', '.join(GROUNDS)}, not {ground!r}")
    rng = np.random.default_rng(seed)
    n, z0, nz = WINDOW_M // pixel_m, (WINDOW_M - ZONE_M) // 2 // pixel_m, ZONE_M // pixel_m
    zone = np.zeros((n, n), dtype=bool)
    zone[z0 : z0 + nz, z0 : z0 + nz] = True
    patches = rng.random((WINDOW_M // PATCH_M, WINDOW_M // PATCH_M)) < 0.5
    patches = np.repeat(np.repeat(patches, PATCH_M // pixel_m, axis=0), PATCH_M // pixel_m, axis=1)
    spectra = np.asarray([GRASS, SOIL, GROUNDS[ground]], np.float32)  # (3, 4)
    cover_class = np.where(zone, 2, patches.astype(np.int64))
    texture = rng.normal(0.0, 0.01, (4, n, n)).astype(np.float32)
    quiet = (np.moveaxis(spectra[cover_class], -1, 0) + texture).astype(np.float32)
    stack = np.stack([_date(quiet, rng) for _ in range(BASELINE_DATES)])
    valid = np.ones((BASELINE_DATES, n, n), dtype=bool)
    median, sigma, counts = normalised_stats(stack, valid, normalise_linear)
    baseline = Baseline("S2", BANDS, median, sigma, counts, tuple(f"q{i}" for i in range(BASELINE_DATES)))
    surface = quiet
    if count > 0:
        area = (float(ZONE_M), float(ZONE_M))
        if kind == "crowd":
            footprints = troop_lattice(rng, area, count)
            target, fill = UNIFORM_REFLECTANCE, TROOP_FILL
        else:
            footprints = vehicle_park(rng, area, count)
            target, fill = VEHICLE_REFLECTANCE, VEHICLE_FILL
        cover = np.zeros((n, n), dtype=np.float32)
        cover[zone] = cover_fraction(footprints, (nz, nz), pixel_m=pixel_m).ravel()
        surface = mix(quiet, cover, target, fill)
    data = _date(surface, rng)
    scene = Scene(
        scene_id=f"sim-{kind}-{count}-{pixel_m}m-{seed}",
        sensor="S2",
        acquired=datetime(2025, 7, 1, 2, 6, tzinfo=UTC),
        bands=BANDS,
        data=data,
        valid=np.ones((n, n), dtype=bool),
        transform=Affine(float(pixel_m), 0.0, 0.0, 0.0, -float(pixel_m), float(WINDOW_M)),
        crs=CRS_UTM,
    )
    change = score_scene(scene, baseline, {"zone": zone}, false_alarm_rate, 0.0)
    scored = change.zones[0]
    return Trial(kind, count, pixel_m, float(scored.crowd_score or 0.0), float(scored.vehicle_score or 0.0))


def detection_rates(
    kind: str,
    counts: list[int],
    pixel_sizes: list[int],
    *,
    trials: int = 5,
    threshold: float = 0.5,
    false_alarm_rate: float = 1e-4,
    ground: str = "concrete",
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Share of ``trials`` in which ``count`` troop blocks / vehicles score at least ``threshold``, for
    every count (0 included, the false-alarm trials) and pixel size: rows of kind, pixel_m, count, rate."""
    rows = []
    for pixel_m in pixel_sizes:
        for count in [0, *counts] if 0 not in counts else counts:
            seen = [
                run_trial(kind, count, pixel_m, seed + 1000 * count + t, false_alarm_rate, ground).score >= threshold
                for t in range(trials)
            ]
            rows.append({"kind": kind, "pixel_m": pixel_m, "count": count, "rate": float(np.mean(seen))})
    return rows


def smallest_seen(rows: list[dict[str, Any]], rate: float = 0.8) -> dict[int, int | None]:
    """Per pixel size, the smallest count seen in at least ``rate`` of trials (None if none was)."""
    out: dict[int, int | None] = {}
    for pixel_m in sorted({int(r["pixel_m"]) for r in rows}):
        ok = [int(r["count"]) for r in rows if r["pixel_m"] == pixel_m and r["count"] > 0 and r["rate"] >= rate]
        out[pixel_m] = min(ok) if ok else None
    return out

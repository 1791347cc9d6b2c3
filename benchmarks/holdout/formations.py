"""Formations and confounding objects as lists of boxes on a zone canvas (metres from its origin).

Sizes follow the issue and common vehicle data: a person 0.5 m x 0.5 m x 1.75 m, 0.5 m apart in a rank;
olive trucks 2.5 x 8 m (3.0 m tall), tanks 3.5 x 7 m (2.4 m), coaches with light roofs 2.5 x 12 m
(3.2 m), civilian cars 1.8 x 4.5 m (1.5 m). Vehicles stand side by side in rows, 2-4 m apart.
Radar: each vehicle's metal adds a sigma0 over its footprint, drawn log-normally (3 dB) around a
per-type mean, so that a dense park on asphalt comes out 6-10 dB above the asphalt at 10-20 m and a
sparse one 3-5 dB (see docs/holdout.md for the calibration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.holdout import physics, spectra
from benchmarks.holdout.render import Box

PERSON_M = 0.5
PERSON_H = 1.75


@dataclass(frozen=True)
class VehicleType:
    """A vehicle: footprint (m), height (m), roof material and mean metal sigma0 per m^2 (VV, VH)."""

    name: str
    length: float
    width: float
    height: float
    material: spectra.Material
    metal_vv: float
    metal_vh: float


TRUCK = VehicleType("olive truck", 8.0, 2.5, 3.0, spectra.OLIVE_PAINT, 0.15, 0.025)
TANK = VehicleType("tank", 7.0, 3.5, 2.4, spectra.TANK_OLIVE, 0.18, 0.03)
COACH = VehicleType("light-roofed coach", 12.0, 2.5, 3.2, spectra.WHITE_ROOF, 0.12, 0.02)
CAR = VehicleType("civilian car", 4.5, 1.8, 1.5, spectra.CIVIL_CAR, 0.10, 0.015)

Region = tuple[float, float, float, float]  # r0, c0, r1, c1 in canvas metres


def troop_block(
    r: float, c: float, ranks: int, files: int, uniform: spectra.Material, depth_pitch: float = 1.1
) -> list[Box]:
    """A block of ``ranks`` x ``files`` people 0.5 m apart side by side (1.0 m pitch) and ``depth_pitch`` m
    rank to rank, top-left at (r, c) m."""
    out = []
    for i in range(ranks):
        for j in range(files):
            out.append(Box(r + i * depth_pitch, c + j * (PERSON_M + 0.5), PERSON_M, PERSON_M, PERSON_H, uniform.rho))
    return out


def block_size_m(ranks: int, files: int, depth_pitch: float = 1.1) -> tuple[float, float]:
    """(rows, cols) extent in metres of a troop block."""
    return (ranks - 1) * depth_pitch + PERSON_M, (files - 1) * (PERSON_M + 0.5) + PERSON_M


def troop_blocks(region: Region, rng: np.random.Generator, uniform: spectra.Material, n_blocks: int) -> list[Box]:
    """Up to ``n_blocks`` rectangular blocks (8-20 ranks x 10-24 files, one size per formation) in a grid
    of lines and columns with 3-8 m gaps, placed at random inside ``region``; lines and columns that do
    not fit are dropped (a small square holds fewer blocks)."""
    r0, c0, r1, c1 = region
    ranks, files = int(rng.integers(8, 21)), int(rng.integers(10, 25))
    h, w = block_size_m(ranks, files)
    gap_r, gap_c = float(rng.uniform(3, 8)), float(rng.uniform(3, 8))
    fit_r = max(0, int((r1 - r0 + gap_r) // (h + gap_r)))
    fit_c = max(0, int((c1 - c0 + gap_c) // (w + gap_c)))
    if fit_r == 0 or fit_c == 0:
        return []
    n_c = min(fit_c, max(1, int(rng.integers(1, n_blocks + 1))))
    n_r = min(fit_r, max(1, -(-n_blocks // n_c)))
    total_h, total_w = n_r * (h + gap_r) - gap_r, n_c * (w + gap_c) - gap_c
    rr = float(rng.uniform(r0, r1 - total_h))
    cc = float(rng.uniform(c0, c1 - total_w))
    out: list[Box] = []
    for i in range(n_r):
        for j in range(n_c):
            if i * n_c + j < n_blocks:
                out += troop_block(rr + i * (h + gap_r), cc + j * (w + gap_c), ranks, files, uniform)
    return out


def marching_column(region: Region, rng: np.random.Generator, uniform: spectra.Material) -> list[Box]:
    """A column marching along a road (the region's long axis, columns): companies of 8-12 files x 10-16
    ranks with 4-10 m gaps between them, 60-200 m long in all."""
    r0, c0, r1, c1 = region
    files = int(rng.integers(8, 13))
    width_m = (files - 1) * 1.0 + PERSON_M
    if width_m > r1 - r0:
        files = max(2, int(r1 - r0))
        width_m = (files - 1) * 1.0 + PERSON_M
    length = float(rng.uniform(60, min(200, c1 - c0)))
    cstart = float(rng.uniform(c0, c1 - length))
    rstart = float(rng.uniform(r0, r1 - width_m))
    out: list[Box] = []
    c = cstart
    while c < cstart + length:
        ranks = int(rng.integers(10, 17))
        for i in range(ranks):
            cc = c + i * 1.2
            if cc > cstart + length:
                break
            for j in range(files):
                out.append(Box(rstart + j * 1.0, cc, PERSON_M, PERSON_M, PERSON_H, uniform.rho))
        c += ranks * 1.2 + float(rng.uniform(4, 10))
    return out


def _vehicle_box(r: float, c: float, vt: VehicleType, along_rows: bool, rng: np.random.Generator) -> Box:
    """One vehicle at (r, c), its long axis along rows (north-south) or columns; radar drawn log-normally."""
    size_r, size_c = (vt.length, vt.width) if along_rows else (vt.width, vt.length)
    k = float(physics.db_to_linear(float(rng.normal(0.0, 3.0))))
    return Box(r, c, size_r, size_c, vt.height, vt.material.rho, vt.metal_vv * k, vt.metal_vh * k)


def vehicle_park(
    region: Region,
    rng: np.random.Generator,
    mix: dict[VehicleType, float],
    occupancy: float,
    gap_range: tuple[float, float] = (2.0, 4.0),
    aisle_range: tuple[float, float] = (5.0, 8.0),
) -> tuple[list[Box], int, int]:
    """Rows of vehicles parked side by side (long axis north-south), ``occupancy`` of the slots filled.

    Each row holds one type, drawn from ``mix`` (weights); rows are separated by an aisle. Returns the
    boxes, the number of slots and the number filled.
    """
    r0, c0, r1, c1 = region
    types = list(mix)
    weights = np.array([mix[t] for t in types], dtype=float)
    weights /= weights.sum()
    gap = float(rng.uniform(*gap_range))
    aisle = float(rng.uniform(*aisle_range))
    slots: list[tuple[float, float, VehicleType]] = []
    r = r0
    while True:
        vt = types[int(rng.choice(len(types), p=weights))]
        if r + vt.length > r1:
            break
        c = c0
        while c + vt.width <= c1:
            slots.append((r, c, vt))
            c += vt.width + gap
        r += vt.length + aisle
    if not slots:
        return [], 0, 0
    filled = physics.fill_slots(len(slots), occupancy, rng)
    boxes = [_vehicle_box(r, c, vt, True, rng) for (r, c, vt), f in zip(slots, filled, strict=True) if f]
    return boxes, len(slots), int(filled.sum())


@dataclass(frozen=True)
class Pile:
    """A construction-yard item: position and size (m), height (m), material, metal or not."""

    r: float
    c: float
    size_r: float
    size_c: float
    height: float
    material: spectra.Material
    metal: bool


def yard_piles(region: Region, rng: np.random.Generator, n: int = 60) -> list[Pile]:
    """The order in which a yard fills: ``n`` piles of sand, bricks and steel, 3-8 m, 1-3 m tall."""
    r0, c0, r1, c1 = region
    mats = (spectra.SAND, spectra.BRICK_PALLETS, spectra.STEEL)
    out = []
    for _ in range(n):
        sr, sc = float(rng.uniform(3, 8)), float(rng.uniform(3, 8))
        k = int(rng.integers(3))
        out.append(
            Pile(
                float(rng.uniform(r0, r1 - sr)),
                float(rng.uniform(c0, c1 - sc)),
                sr,
                sc,
                float(rng.uniform(1, 3)),
                mats[k],
                k == 2,
            )
        )
    return out


def pile_boxes(piles: list[Pile]) -> list[Box]:
    """Boxes of piles (steel adds radar)."""
    return [
        Box(p.r, p.c, p.size_r, p.size_c, p.height, p.material.rho, 0.08 if p.metal else 0.0, 0.012 if p.metal else 0.0)
        for p in piles
    ]


def tower_crane(r: float, c: float, sun: physics.Sun, height: float = 40.0, jib: float = 50.0) -> list[Box]:
    """A tower crane: a 1.6 m lattice mast ``height`` m tall (its shadow cast by the renderer) and the
    shadow of its jib (a 1.5 m wide lattice ``jib`` m long, east-west, at the mast's top), drawn where the
    sun puts it: h / tan(elevation) from the mast along the anti-sun direction. Metal adds radar."""
    out = [Box(r, c, 1.6, 1.6, height, spectra.STEEL.rho, 2.0, 0.3)]
    if sun.elevation_deg > 0:
        length = physics.shadow_length_m(height, sun.elevation_deg)
        dr, dc = physics.anti_sun_unit(sun.azimuth_deg)
        out.append(
            Box(
                r + dr * length,
                c + dc * length - jib / 2,
                1.5,
                jib,
                0.0,
                spectra.STEEL.rho,
                shade=0.5,
                ground_level=True,
            )
        )
    return out

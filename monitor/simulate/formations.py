"""Formations: troop-block lattices, vehicle rows and tent camps, rendered as sub-pixel cover fractions.

Geometry is in metres in a *window* (a zone rectangle of the site grid): ``x`` eastward from the window's
west edge, ``y`` southward from its north edge. Objects are rotated rectangles (:class:`Footprint`).
:func:`cover_fraction` rasterises them on a 1 m grid (each 1 m cell itself 4 x 4 supersampled), then
averages 10 x 10 cells into each 10 m pixel, so the 10 m cover sums to the objects' area (/100 m^2) up to
the supersampling error (<0.5 % over a formation). Only the window is rasterised, never the whole site.

:func:`mix` blends a target spectrum into the ground with that cover. A troop block is not opaque: seen
from 786 km, a 20 x 20 m block of ~300 soldiers at ~1.3 m^2 each hides ~60 % of the pavement under heads,
shoulders and their own shadows, hence :data:`TROOP_FILL` = 0.6. Vehicles hide their full footprint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Spectrum = tuple[float, float, float, float]
"""Reflectance (0-1) in ``B02 B03 B04 B08``."""

UNIFORM_REFLECTANCE: Spectrum = (0.045, 0.055, 0.050, 0.18)
"""Dark olive/black uniforms seen from above (visible 0.045-0.055, NIR 0.18)."""

VEHICLE_REFLECTANCE: Spectrum = (0.055, 0.070, 0.065, 0.22)
"""Olive-drab painted vehicles (visible 0.055-0.07, NIR 0.22)."""

TENT_REFLECTANCE: Spectrum = (0.06, 0.08, 0.07, 0.30)
"""Olive canvas of army tents: dark in the visible, brighter in the NIR than paint (dyes made to
match foliage in the near infrared)."""

TROOP_FILL = 0.6
"""Fraction of a troop block's footprint hidden by soldiers and their shadows (0-1)."""

VEHICLE_FILL = 1.0
"""Fraction of a vehicle's footprint that shows the vehicle spectrum."""

TROOP_BLOCK_M = 20.0
"""Nominal side of a troop block in metres (about 300 soldiers in 15 x 20 ranks)."""

SOLDIERS_PER_BLOCK = 300
"""Nominal soldiers per block (for reporting; the rendering uses the block footprint and fill)."""

VEHICLE_WIDTH_M = 2.5
"""Vehicle width in metres; lengths are drawn in 10-12 m."""


@dataclass(frozen=True)
class Footprint:
    """A rotated rectangle in window metres.

    Attributes:
        x: centre, metres east of the window's west edge.
        y: centre, metres south of the window's north edge.
        length: side along the rectangle's axis, metres.
        width: side across the axis, metres.
        angle_deg: direction of the ``length`` axis, degrees counter-clockwise from east on a north-up map.
    """

    x: float
    y: float
    length: float
    width: float
    angle_deg: float = 0.0

    @property
    def area(self) -> float:
        """Area in square metres."""
        return self.length * self.width


def troop_lattice(
    rng: np.random.Generator,
    area_m: tuple[float, float],
    n_blocks: int,
    *,
    margin_m: float = 15.0,
    max_angle_deg: float = 25.0,
) -> tuple[Footprint, ...]:
    """A lattice of ``n_blocks`` square troop blocks with a random spacing, orientation and position.

    Blocks are 18.5-21.5 m square (one size per call), 10-20 m apart, in ``round(sqrt(n / 1.6))`` ranks
    (the last rank centred if partial), rotated by up to ``max_angle_deg`` and placed at a uniform random
    position that keeps the whole lattice ``margin_m`` inside the window.

    Args:
        rng: random generator.
        area_m: ``(height, width)`` of the window in metres.
        n_blocks: number of blocks, >= 1.
        margin_m: minimum distance from the lattice's bounding box to the window edge, metres.
        max_angle_deg: orientation drawn uniformly in ``[-max_angle_deg, max_angle_deg]``.

    Raises:
        ValueError: if the lattice cannot fit in the window.
    """
    if n_blocks < 1:
        raise ValueError("n_blocks must be >= 1")
    side = TROOP_BLOCK_M + float(rng.uniform(-1.5, 1.5))
    gap = float(rng.uniform(10.0, 20.0))
    angle = float(rng.uniform(-max_angle_deg, max_angle_deg))
    ranks = max(1, round(math.sqrt(n_blocks / 1.6)))
    files = math.ceil(n_blocks / ranks)
    pitch = side + gap
    local: list[tuple[float, float]] = []
    for index in range(n_blocks):
        rank, file = divmod(index, files)
        in_rank = min(files, n_blocks - rank * files)
        u = (file - (in_rank - 1) / 2.0) * pitch
        v = (rank - (ranks - 1) / 2.0) * pitch
        local.append((u, v))
    half_u = ((files - 1) * pitch + side) / 2.0
    half_v = ((ranks - 1) * pitch + side) / 2.0
    centre = _place(rng, area_m, half_u, half_v, angle, margin_m)
    return tuple(_to_window(centre, u, v, side, side, angle) for u, v in local)


def vehicle_park(
    rng: np.random.Generator, area_m: tuple[float, float], n_vehicles: int, *, margin_m: float = 10.0
) -> tuple[Footprint, ...]:
    """A vehicle park: west-east rows of vehicles parked side by side (long axis north-south).

    Vehicles are 10-12 x 2.5 m with 1-3 m between neighbours; rows are 8-15 m apart (one value per
    park). Rows fill from the north edge (the access side), west to east, so the first ``k`` footprints
    of the result are the park with ``k`` vehicles: slice it to grow or shrink a persistent park.

    Args:
        rng: random generator.
        area_m: ``(height, width)`` of the window in metres.
        n_vehicles: number of vehicles, >= 1.
        margin_m: distance kept from the window edges, metres.

    Raises:
        ValueError: if the vehicles do not fit.
    """
    return _vehicle_rows(rng, area_m, n_vehicles, margin_m=margin_m, side_by_side=True)


def vehicle_column(
    rng: np.random.Generator, area_m: tuple[float, float], n_vehicles: int, *, margin_m: float = 10.0
) -> tuple[Footprint, ...]:
    """Vehicle columns forming up: west-east lanes of vehicles nose to tail (long axis west-east).

    Vehicles are 10-12 x 2.5 m with 3-8 m between bumpers; lanes are 3.5-6.5 m apart side to side.

    Raises:
        ValueError: if the vehicles do not fit.
    """
    return _vehicle_rows(rng, area_m, n_vehicles, margin_m=margin_m, side_by_side=False)


def tent_camp(
    rng: np.random.Generator, area_m: tuple[float, float], n_tents: int, *, margin_m: float = 10.0
) -> tuple[Footprint, ...]:
    """A tent camp: west-east rows of large army tents (one size per camp, 8-11 x 4.5-6 m, long axis
    west-east), 3-6 m apart within a row, rows 8-14 m apart, filled from the north-west corner.

    Args:
        rng: random generator.
        area_m: ``(height, width)`` of the window in metres.
        n_tents: number of tents, >= 1.
        margin_m: distance kept from the window edges, metres.

    Raises:
        ValueError: if the tents do not fit.
    """
    if n_tents < 1:
        raise ValueError("n_tents must be >= 1")
    height, width = area_m
    length, depth = float(rng.uniform(8.0, 11.0)), float(rng.uniform(4.5, 6.0))
    gap, row_gap = float(rng.uniform(3.0, 6.0)), float(rng.uniform(8.0, 14.0))
    result: list[Footprint] = []
    y = margin_m
    while len(result) < n_tents:
        if y + depth > height - margin_m:
            raise ValueError(f"{n_tents} tents do not fit in {width:.0f} x {height:.0f} m")
        x = margin_m
        while len(result) < n_tents and x + length <= width - margin_m:
            result.append(Footprint(x + length / 2, y + depth / 2, length, depth, float(rng.uniform(-1.0, 1.0))))
            x += length + gap
        y += depth + row_gap
    return tuple(result)


def cover_fraction(
    footprints: tuple[Footprint, ...] | list[Footprint],
    shape_px: tuple[int, int],
    *,
    pixel_m: int = 10,
    supersample: int = 4,
) -> NDArray[np.float32]:
    """Fraction of each pixel covered by the footprints (0-1), rendered at 1 m then averaged.

    Args:
        footprints: objects in window metres; parts outside the window are dropped.
        shape_px: ``(rows, cols)`` of the window in pixels.
        pixel_m: pixel size in metres (the 1 m grid has ``pixel_m`` cells per pixel side).
        supersample: samples per 1 m cell side used to antialias edges.

    Returns:
        ``(rows, cols)`` float32 cover; overlapping objects saturate at 1.
    """
    rows_m, cols_m = shape_px[0] * pixel_m, shape_px[1] * pixel_m
    fine = np.zeros((rows_m, cols_m), dtype=np.float32)
    offsets = (np.arange(supersample, dtype=np.float64) + 0.5) / supersample
    for fp in footprints:
        reach = 0.5 * math.hypot(fp.length, fp.width)
        c0, c1 = max(math.floor(fp.x - reach), 0), min(math.ceil(fp.x + reach), cols_m)
        r0, r1 = max(math.floor(fp.y - reach), 0), min(math.ceil(fp.y + reach), rows_m)
        if c1 <= c0 or r1 <= r0:
            continue
        xs = (np.arange(c0, c1)[:, None] + offsets[None, :]).ravel() - fp.x
        ys = (np.arange(r0, r1)[:, None] + offsets[None, :]).ravel() - fp.y
        theta = math.radians(fp.angle_deg)
        cos_t, sin_t = math.cos(theta), math.sin(theta)
        # Axis unit vector on the map is (cos, sin) with y pointing north, i.e. (cos, -sin) in window x, y.
        along = xs[None, :] * cos_t - ys[:, None] * sin_t
        across = xs[None, :] * sin_t + ys[:, None] * cos_t
        inside = (np.abs(along) <= fp.length / 2) & (np.abs(across) <= fp.width / 2)
        cells = inside.reshape(r1 - r0, supersample, c1 - c0, supersample).mean(axis=(1, 3))
        fine[r0:r1, c0:c1] += cells.astype(np.float32)
    np.clip(fine, 0.0, 1.0, out=fine)
    coarse = fine.reshape(shape_px[0], pixel_m, shape_px[1], pixel_m).mean(axis=(1, 3), dtype=np.float64)
    return np.asarray(coarse, dtype=np.float32)


def mix(surface: NDArray[np.float32], cover: NDArray[np.float32], target: Spectrum, fill: float) -> NDArray[np.float32]:
    """Linear spectral mixing of a target into the ground: ``(1 - f c) ground + f c target``.

    Args:
        surface: ``(4, rows, cols)`` ground reflectance of the window.
        cover: ``(rows, cols)`` cover fraction (0-1) from :func:`cover_fraction`.
        target: target reflectance in ``B02 B03 B04 B08``.
        fill: fraction of the footprint showing the target (:data:`TROOP_FILL`, :data:`VEHICLE_FILL`).

    Returns:
        ``(4, rows, cols)`` float32 mixed reflectance (a new array).
    """
    weight = (fill * cover)[None].astype(np.float32)
    spectrum = np.asarray(target, dtype=np.float32)[:, None, None]
    return ((1.0 - weight) * surface + weight * spectrum).astype(np.float32, copy=False)


def _vehicle_rows(
    rng: np.random.Generator,
    area_m: tuple[float, float],
    n_vehicles: int,
    *,
    margin_m: float,
    side_by_side: bool,
) -> tuple[Footprint, ...]:
    if n_vehicles < 1:
        raise ValueError("n_vehicles must be >= 1")
    height, width = area_m
    row_pitch = 12.0 + float(rng.uniform(8.0, 15.0)) if side_by_side else VEHICLE_WIDTH_M + float(rng.uniform(3.5, 6.5))
    row_depth = 12.0 if side_by_side else VEHICLE_WIDTH_M  # metres a row occupies north-south
    result: list[Footprint] = []
    y = margin_m
    while len(result) < n_vehicles:
        if y + row_depth > height - margin_m:
            raise ValueError(f"{n_vehicles} vehicles do not fit in {width:.0f} x {height:.0f} m")
        x = margin_m
        while len(result) < n_vehicles:
            length = float(rng.uniform(10.0, 12.0))
            extent = VEHICLE_WIDTH_M if side_by_side else length
            if x + extent > width - margin_m:
                break
            slack = float(rng.uniform(-0.3, 0.3))  # imperfect alignment along the vehicle axis
            if side_by_side:
                centre = (x + extent / 2, y + 6.0 + slack)
                angle = 90.0 + float(rng.uniform(-1.0, 1.0))
            else:
                centre = (x + extent / 2 + slack, y + VEHICLE_WIDTH_M / 2)
                angle = float(rng.uniform(-1.0, 1.0))
            result.append(Footprint(centre[0], centre[1], length, VEHICLE_WIDTH_M, angle))
            gap = float(rng.uniform(1.0, 3.0)) if side_by_side else float(rng.uniform(3.0, 8.0))
            x += extent + gap
        y += row_pitch
    return tuple(result)


def _place(
    rng: np.random.Generator,
    area_m: tuple[float, float],
    half_u: float,
    half_v: float,
    angle_deg: float,
    margin_m: float,
) -> tuple[float, float]:
    """A uniform random centre keeping a rotated ``2 half_u x 2 half_v`` box ``margin_m`` inside the area."""
    theta = math.radians(angle_deg)
    reach_x = abs(half_u * math.cos(theta)) + abs(half_v * math.sin(theta))
    reach_y = abs(half_u * math.sin(theta)) + abs(half_v * math.cos(theta))
    height, width = area_m
    lo_x, hi_x = margin_m + reach_x, width - margin_m - reach_x
    lo_y, hi_y = margin_m + reach_y, height - margin_m - reach_y
    if hi_x < lo_x or hi_y < lo_y:
        size = f"{2 * half_u:.0f} x {2 * half_v:.0f} m"
        raise ValueError(f"a {size} lattice does not fit in {width:.0f} x {height:.0f} m")
    return (float(rng.uniform(lo_x, hi_x)), float(rng.uniform(lo_y, hi_y)))


def _to_window(
    centre: tuple[float, float], u: float, v: float, length: float, width: float, angle_deg: float
) -> Footprint:
    """Footprint at lattice offset ``(u, v)`` (metres along/across the lattice axis) from ``centre``."""
    theta = math.radians(angle_deg)
    # Lattice axis u points (cos, -sin) in window x, y (map angle, y southward); v is u turned clockwise
    # on the map, i.e. "behind the front rank" when u faces east.
    x = centre[0] + u * math.cos(theta) + v * math.sin(theta)
    y = centre[1] - u * math.sin(theta) + v * math.cos(theta)
    return Footprint(x, y, length, width, angle_deg)

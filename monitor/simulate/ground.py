"""Procedural ground of the site on the 10 m grid: a class map and per-date surface reflectance.

The ground is built once per seed (:func:`make_ground`) and is static except for vegetation, whose
reflectance follows a seasonal greenness cycle (:func:`greenness`). Reflectances are Sentinel-2 L2A
bottom-of-atmosphere values (0-1, i.e. DN / 10000) for the bands ``B02 B03 B04 B08`` (blue, green, red,
NIR at 490, 560, 665, 842 nm). Typical values (before texture):

=============  ======  ======  ======  ======
class           B02     B03     B04     B08
=============  ======  ======  ======  ======
concrete        0.21    0.23    0.25    0.28
asphalt         0.065   0.075   0.085   0.10
bright roof     0.26    0.28    0.29    0.32
dark roof       0.09    0.10    0.10    0.13
bare soil       0.10    0.13    0.16    0.22
water           0.05    0.06    0.04    0.02
grass (July)    0.03    0.065   0.04    0.36   (NDVI 0.8; dry grass 0.065 0.085 0.105 0.22)
trees (July)    0.02    0.045   0.025   0.30
=============  ======  ======  ======  ======

Within-class texture is a static multiplicative brightness field (smooth, 30 m correlation, plus per-pixel
grain), 1.5-8 % standard deviation depending on the class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import seeding
from .fields import smooth_field
from .layout import LandCover, SiteLayout

BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B08")
"""Reflective bands rendered, in order (blue, green, red, NIR)."""

# Reflectance (B02, B03, B04, B08). For non-vegetation classes "green" and "dry" are equal.
_GREEN: dict[LandCover, tuple[float, float, float, float]] = {
    LandCover.GRASS: (0.030, 0.065, 0.040, 0.36),
    LandCover.TREES: (0.020, 0.045, 0.025, 0.30),
    LandCover.SOIL: (0.10, 0.13, 0.16, 0.22),
    LandCover.CONCRETE: (0.21, 0.23, 0.25, 0.28),
    LandCover.ASPHALT: (0.065, 0.075, 0.085, 0.10),
    LandCover.ROOF_BRIGHT: (0.26, 0.28, 0.29, 0.32),
    LandCover.ROOF_DARK: (0.09, 0.10, 0.10, 0.13),
    LandCover.WATER: (0.05, 0.06, 0.04, 0.02),
}
_DRY: dict[LandCover, tuple[float, float, float, float]] = {
    **_GREEN,
    LandCover.GRASS: (0.065, 0.085, 0.105, 0.22),
    LandCover.TREES: (0.045, 0.065, 0.075, 0.20),
}
# Texture: (smooth amplitude, per-pixel grain amplitude), relative brightness standard deviations.
_TEXTURE: dict[LandCover, tuple[float, float]] = {
    LandCover.GRASS: (0.06, 0.03),
    LandCover.TREES: (0.08, 0.05),
    LandCover.SOIL: (0.08, 0.04),
    LandCover.CONCRETE: (0.025, 0.015),
    LandCover.ASPHALT: (0.04, 0.02),
    LandCover.ROOF_BRIGHT: (0.02, 0.02),
    LandCover.ROOF_DARK: (0.03, 0.02),
    LandCover.WATER: (0.03, 0.01),
}
_N_CODES = max(LandCover) + 1


@dataclass(frozen=True)
class Ground:
    """The static ground of a site.

    Attributes:
        classes: ``(H, W)`` uint8 :class:`LandCover` codes.
        brightness: ``(H, W)`` float32 multiplicative texture, about 0.8-1.2 (mean 1).
        vigour: ``(H, W)`` float32 local offset to vegetation greenness, about -0.3..0.3.
    """

    classes: NDArray[np.uint8]
    brightness: NDArray[np.float32]
    vigour: NDArray[np.float32]

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` in pixels."""
        return (int(self.classes.shape[0]), int(self.classes.shape[1]))


def greenness(day_of_year: int) -> float:
    """Seasonal greenness of grass, 0 (dormant) to 1 (peak, about 19 July): drives the NDVI cycle.

    About 0.5 on 1 May, 0.75 on 1 June, 1.0 mid-July, 0.55 on 30 September.
    """
    return float(np.clip(0.3 + 0.7 * np.exp(-(((day_of_year - 200) / 70.0) ** 2)), 0.0, 1.0))


def make_ground(layout: SiteLayout, shape: tuple[int, int], seed: int) -> Ground:
    """Paint the site's class map and texture, deterministically from ``seed``.

    Procedural elements (tree clumps, bare-soil patches, barracks rows) are seeded; the fixed features and
    zones of ``layout`` are painted exactly. Zones grown by ``layout.zone_margin_px`` get no procedural
    element.

    Args:
        layout: the site layout (pixel coordinates of the grid).
        shape: ``(H, W)`` of the site grid in pixels.
        seed: the demo seed; the ground uses its own sub-stream.
    """
    rng = seeding.rng_for(seed, seeding.GROUND)
    height, width = shape
    classes = np.full(shape, LandCover.GRASS, dtype=np.uint8)
    protected = np.zeros(shape, dtype=bool)
    for zone in layout.zones:
        protected[zone.rect.grow(layout.zone_margin_px).clipped(height, width).slices] = True

    trees = smooth_field(rng, shape, 4.0) > 1.3
    soil = smooth_field(rng, shape, 6.0) > 1.6
    classes[trees & ~protected] = LandCover.TREES
    classes[soil & ~protected] = LandCover.SOIL

    for feature in layout.features:
        classes[feature.rect.clipped(height, width).slices] = feature.cover
    for area in layout.building_areas:
        _paint_barracks(classes, area.clipped(height, width).slices, rng)

    rows, cols = np.mgrid[0:height, 0:width]
    pond = layout.pond
    drow = (rows + 0.5 - pond.row) / pond.radius_rows
    dcol = (cols + 0.5 - pond.col) / pond.radius_cols
    inside = drow**2 + dcol**2
    classes[inside <= 1.0] = LandCover.WATER

    smooth_amp = _lut({k: v[0] for k, v in _TEXTURE.items()})[classes]
    grain_amp = _lut({k: v[1] for k, v in _TEXTURE.items()})[classes]
    texture = smooth_amp * smooth_field(rng, shape, 3.0) + grain_amp * smooth_field(rng, shape, 0.0)
    brightness = (1.0 + texture).astype(np.float32)
    vigour = (0.12 * smooth_field(rng, shape, 6.0)).astype(np.float32)
    for array in (classes, brightness, vigour):
        array.setflags(write=False)
    return Ground(classes=classes, brightness=brightness, vigour=vigour)


def ground_reflectance(ground: Ground, day_of_year: int) -> NDArray[np.float32]:
    """Surface reflectance of the ground on a given day, before formations, PSF and atmosphere.

    Args:
        ground: the static ground.
        day_of_year: 1-366; sets vegetation greenness.

    Returns:
        ``(4, H, W)`` float32 reflectance (0-1) for ``B02 B03 B04 B08``.
    """
    g = greenness(day_of_year)
    class_greenness = np.ones(_N_CODES, dtype=np.float32)
    class_greenness[LandCover.GRASS] = g
    class_greenness[LandCover.TREES] = 0.55 + 0.45 * g
    weight = np.clip(class_greenness[ground.classes] + ground.vigour, 0.0, 1.0)[None]
    green = np.moveaxis(_lut4(_GREEN)[ground.classes], -1, 0)
    dry = np.moveaxis(_lut4(_DRY)[ground.classes], -1, 0)
    reflectance = (dry + weight * (green - dry)) * ground.brightness[None]
    return np.asarray(reflectance, dtype=np.float32)


def _paint_barracks(classes: NDArray[np.uint8], window: tuple[slice, slice], rng: np.random.Generator) -> None:
    """Fill a window with rows of barracks (20-30 m deep, 50-120 m long) separated by lanes."""
    area = classes[window]
    height, width = area.shape
    area[:] = LandCover.GRASS
    row = 1
    while row + 3 <= height - 1:
        depth = int(rng.integers(2, 4))
        area[min(row + depth + 1, height - 1), :] = LandCover.ASPHALT  # lane south of the row
        col = 1
        while True:
            length = int(rng.integers(5, 13))
            if col + length > width - 1:
                break
            if rng.random() > 0.15:
                roof = LandCover.ROOF_BRIGHT if rng.random() < 0.4 else LandCover.ROOF_DARK
                area[row : row + depth, col : col + length] = roof
            col += length + int(rng.integers(2, 4))
        row += depth + 3


def _lut(values: dict[LandCover, float]) -> NDArray[np.float32]:
    table = np.zeros(_N_CODES, dtype=np.float32)
    for cover, value in values.items():
        table[cover] = value
    return table


def _lut4(values: dict[LandCover, tuple[float, float, float, float]]) -> NDArray[np.float32]:
    table = np.zeros((_N_CODES, 4), dtype=np.float32)
    for cover, value in values.items():
        table[cover] = value
    return table

"""Render a zone at 0.5 m (ground, objects, their shadows at the date's sun) and view it as the sensors do.

Objects are boxes on the ground: a person (0.5 m x 0.5 m, 1.75 m tall), a truck, a tank, a coach, a
car, a pile of material. Sentinel-2: each 0.5 m cell takes the reflectance of what is on top, ground in
an object's shadow keeps only the sky light (``spectra.SHADOW_DIFFUSE``), and the field goes through a
Gaussian PSF and a sub-pixel shift before it is averaged to 10 m. Sentinel-1: each cell holds the ground's
sigma0 plus the metal's, averaged to 20 m and speckled with the series' number of looks.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from benchmarks.holdout import physics, spectra
from benchmarks.holdout.layout import PIXEL_M, Rect, Zone

FINE_M = 0.5
#: fine cells per 10 m pixel
FACTOR = round(PIXEL_M / FINE_M)
#: canvas margin around a zone, 10 m pixels (room for the PSF and the shadows)
MARGIN_PX = 3
#: Gaussian PSF of Sentinel-2's 10 m bands, in 10 m pixels (MTF about 0.3 at Nyquist)
S2_PSF_SIGMA = 0.45
#: Sentinel-1 GRD (20 m product of a 20 x 22 m resolution cell)
S1_PSF_SIGMA = 0.4


@dataclass(frozen=True)
class Box:
    """An object on the ground: top-left corner (row, col) in metres from the zone canvas origin,
    size (m) along rows and columns, height (m), top reflectance (4 bands) and radar cross-section per
    unit area (linear sigma0 added over its footprint, VV and VH; 0 for non-metal objects).
    ``shade`` < 1 makes a see-through object (a crane lattice) cast a partial shadow."""

    r: float
    c: float
    size_r: float
    size_c: float
    height: float
    rho: tuple[float, float, float, float]
    metal_vv: float = 0.0
    metal_vh: float = 0.0
    shade: float = 1.0
    ground_level: bool = False  # drawn onto the ground (no height, no shadow): e.g. a crane's jib shadow


@dataclass(frozen=True)
class GroundState:
    """The zone's own ground on one date: material reflectance (4 bands) and the factors confounders apply."""

    rho: tuple[float, float, float, float]
    grass_green: float = 0.0  # 0 dry .. 1 green, for the grass border
    wet: bool = False
    s1_vv_db: float = -19.0
    s1_vh_db: float = -27.0


@dataclass
class Canvas:
    """A zone's 0.5 m canvas: origin in 10 m patch pixels, size in 10 m pixels."""

    zone: Zone
    origin: tuple[int, int]
    shape_px: tuple[int, int]
    alpha: np.ndarray = field(init=False)
    texture: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        h, w = self.shape_px
        self.alpha = self.zone.mask((h * FACTOR, w * FACTOR), FACTOR, self.origin).astype(float)
        # fixed surface texture (patching, stains): 2 m correlated, 4 % rms, the same on every date
        rng = np.random.default_rng(zlib.crc32(self.zone.id.encode()))
        noise = ndimage.gaussian_filter(rng.standard_normal((h * FACTOR, w * FACTOR)), 2.0 / FINE_M)
        self.texture = 1.0 + 0.04 * noise / max(float(noise.std()), 1e-9)

    @property
    def fine_shape(self) -> tuple[int, int]:
        return self.shape_px[0] * FACTOR, self.shape_px[1] * FACTOR


def canvas_for(zone: Zone) -> Canvas:
    """The canvas covering a zone and MARGIN_PX pixels around it."""
    b = zone.bounds
    origin = (b.r0 - MARGIN_PX, b.c0 - MARGIN_PX)
    return Canvas(zone, origin, (b.r1 - b.r0 + 2 * MARGIN_PX, b.c1 - b.c0 + 2 * MARGIN_PX))


def zone_rect_m(canvas: Canvas, rect: Rect | None = None) -> tuple[float, float, float, float]:
    """A zone rectangle (default: the zone's bounds) in canvas metres: (r0, c0, r1, c1)."""
    rect = rect or canvas.zone.bounds
    o = canvas.origin
    return (
        (rect.r0 - o[0]) * PIXEL_M,
        (rect.c0 - o[1]) * PIXEL_M,
        (rect.r1 - o[0]) * PIXEL_M,
        (rect.c1 - o[1]) * PIXEL_M,
    )


def _slices(box: Box, shape: tuple[int, int]) -> tuple[slice, slice]:
    r0 = round(box.r / FINE_M)
    c0 = round(box.c / FINE_M)
    r1 = max(r0 + 1, round((box.r + box.size_r) / FINE_M))
    c1 = max(c0 + 1, round((box.c + box.size_c) / FINE_M))
    return slice(max(0, r0), min(shape[0], r1)), slice(max(0, c0), min(shape[1], c1))


def ground_field(canvas: Canvas, ground: GroundState) -> np.ndarray:
    """Ground reflectance (4, H, W) on the canvas: the zone's material with its texture, grass border, wetness."""
    h, w = canvas.fine_shape
    rho = np.asarray(ground.rho, dtype=float)[:, None, None] * canvas.texture[None]
    edge = canvas.zone.grass_edge_px
    if edge:
        b = canvas.zone.bounds
        o = canvas.origin
        border = np.zeros((h, w), dtype=bool)
        border[(b.r1 - o[0] - edge) * FACTOR : (b.r1 - o[0]) * FACTOR, :] = True  # south
        border[:, (b.c0 - o[1]) * FACTOR : (b.c0 - o[1] + edge) * FACTOR] = True  # west
        g = ground.grass_green
        grass = g * spectra.GRASS_GREEN.array() + (1 - g) * spectra.GRASS_DRY.array()
        rho[:, border] = grass[:, None] * canvas.texture[border][None]
    if ground.wet:
        rho *= spectra.WET_FACTOR[:, None, None]
    return rho


def render_s2(
    canvas: Canvas,
    ground: GroundState,
    boxes: list[Box],
    sun: physics.Sun,
    shift_px: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Sentinel-2 view of the zone: (paint (4, h, w) reflectance already weighted by coverage, coverage (h, w)).

    The patch pixel then becomes ``(1 - coverage) * real ground + paint``. Each object's top varies by 5 %
    around its material (dust, age, paint batch).
    """
    shape = canvas.fine_shape
    top = ground_field(canvas, ground)
    height = np.zeros(shape)
    shade = np.ones(shape)
    for box in boxes:
        rs, cs = _slices(box, shape)
        rho = np.asarray(box.rho)[:, None, None] * (1.0 + 0.05 * rng.standard_normal())
        if box.ground_level:  # only a shadow drawn on the ground
            shade[rs, cs] = np.minimum(shade[rs, cs], box.shade)
            continue
        top[:, rs, cs] = rho
        height[rs, cs] = np.maximum(height[rs, cs], box.height)
        if box.shade < 1.0:
            shade[rs, cs] = np.minimum(shade[rs, cs], box.shade)
    shadow = physics.cast_shadows(height, FINE_M, sun)
    dark = shadow & (canvas.alpha > 0)
    top[:, dark] *= spectra.SHADOW_DIFFUSE[:, None]
    # partial shade (see-through lattice, drawn shadows): sky light plus the share of sun that passes
    partial = (shade < 1.0) & (height <= 0)
    if partial.any():
        k = spectra.SHADOW_DIFFUSE[:, None] + (1 - spectra.SHADOW_DIFFUSE[:, None]) * shade[partial][None]
        top[:, partial] *= k
    paint = physics.aggregate(top * canvas.alpha[None], FACTOR, S2_PSF_SIGMA, shift_px)
    cover = physics.aggregate(canvas.alpha, FACTOR, S2_PSF_SIGMA, shift_px)
    return paint, cover


def footprint(canvas: Canvas, boxes: list[Box]) -> np.ndarray:
    """Boolean (h, w) on the canvas's 10 m pixels: the pixels an object of ``boxes`` touches."""
    shape = canvas.fine_shape
    m = np.zeros(shape, dtype=bool)
    for box in boxes:
        if not box.ground_level:
            rs, cs = _slices(box, shape)
            m[rs, cs] = True
    h, w = canvas.shape_px
    return np.asarray(m.reshape(h, FACTOR, w, FACTOR).any(axis=(1, 3)))


def render_s1(
    canvas: Canvas, ground: GroundState, boxes: list[Box], s1_factor: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Sentinel-1 view of the zone on the 20 m grid: (sigma0 (2, h, w) weighted by coverage, coverage (h, w)).

    Needs a canvas whose origin and shape are even in 10 m pixels. Speckle is applied by the caller to
    the whole zone contribution.
    """
    if (
        canvas.origin[0] % s1_factor
        or canvas.origin[1] % s1_factor
        or canvas.shape_px[0] % s1_factor
        or canvas.shape_px[1] % s1_factor
    ):
        raise ValueError("the Sentinel-1 canvas must align with the 20 m grid")
    shape = canvas.fine_shape
    vv = np.full(shape, float(physics.db_to_linear(ground.s1_vv_db))) * canvas.texture
    vh = np.full(shape, float(physics.db_to_linear(ground.s1_vh_db))) * canvas.texture
    for box in boxes:
        if box.metal_vv <= 0 and box.metal_vh <= 0:
            continue
        rs, cs = _slices(box, shape)
        vv[rs, cs] += box.metal_vv
        vh[rs, cs] += box.metal_vh
    sig = np.stack([vv, vh]) * canvas.alpha[None]
    f = FACTOR * s1_factor
    return physics.aggregate(sig, f, S1_PSF_SIGMA), physics.aggregate(canvas.alpha, f, S1_PSF_SIGMA)


def s1_canvas_for(zone: Zone) -> Canvas:
    """A canvas aligned with the 20 m Sentinel-1 grid (even origin and size in 10 m pixels)."""
    b = zone.bounds
    r0 = (b.r0 - 2) // 2 * 2
    c0 = (b.c0 - 2) // 2 * 2
    r1 = -(-(b.r1 + 2) // 2) * 2
    c1 = -(-(b.c1 + 2) // 2) * 2
    return Canvas(zone, (r0, c0), (r1 - r0, c1 - c0))

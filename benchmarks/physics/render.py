"""Formations and pavement rendered at 1 m, shadows cast by height, and the Sentinel-2 10 m PSF.

Coordinates: a *canvas* is a north-up 1 m raster (rows grow southwards, columns eastwards) whose
top-left corner lies on a 10 m pixel corner of the site grid. Objects are drawn axis-aligned in their
own local frame and pasted into the canvas rotated by the formation's heading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from . import materials as mat
from .sun import Sun

#: Sentinel-2 10 m bands: MTF at Nyquist 0.15-0.30 (ESA S2 MSI requirements). A Gaussian optics +
#: motion blur of sigma 4 m times the 10 m detector box gives 0.29 at Nyquist.
PSF_SIGMA_M = 4.0
PIXEL_M = 10


@dataclass(frozen=True)
class Vehicle:
    """One parked vehicle: centre in canvas metres (row, col), footprint, and what it is."""

    row: float
    col: float
    length_m: float
    width_m: float
    coach: bool


@dataclass
class Layers:
    """What a formation adds at 1 m: top reflectance where an object is, its cover and heights.

    ``cover``: share of the 1 m cell hidden by the object's top, 0..1 (1 for a vehicle roof, about 0.3
    for a soldier's head and shoulders). ``solid``/``porous``: heights in metres of opaque objects and of
    troop blocks (whose shadows are broken, ``POROUS_SHADOW``).
    """

    top: np.ndarray  # (4, h, w)
    cover: np.ndarray  # (h, w)
    solid: np.ndarray  # (h, w)
    porous: np.ndarray  # (h, w)
    vehicles: list[Vehicle] = field(default_factory=list)

    @classmethod
    def empty(cls, h: int, w: int) -> Layers:
        z = np.zeros((h, w), np.float32)
        return cls(np.zeros((4, h, w), np.float32), z.copy(), z.copy(), z.copy(), [])


#: A troop block's cast shadow is partial: bodies at 1 m pitch, 0.45 m shoulders, cover about 55 % of a line of sight.
POROUS_SHADOW = 0.55
#: Share of a 1 m cell seen from above as a soldier's head and shoulders (0.45 x 0.3 m plus cap, 1 m pitch).
SOLDIER_COVER = 0.30
SOLDIER_HEIGHT_M = 1.75
TRUCK = (7.5, 2.5, 2.9)  # length, width, height (m): Ural/KrAZ class trucks, KrAZ 8.6 x 2.7 x 2.9
APC = (7.0, 3.0, 2.4)  # BTR/VTT-323 class armoured vehicles
COACH = (12.0, 2.5, 3.4)  # standard coach


def troop_lattice(rng: np.random.Generator, scale: float) -> Layers:
    """Drilled troop blocks in a lattice: ``n x m`` blocks of soldiers at 1 m pitch, 4-8 m between blocks.

    ``scale`` 0..1 grows the formation (rehearsals build up): 2-4 blocks a side, 8-24 soldiers a block
    side (companies of 64 to 500), 4-12 m between blocks.
    """
    nb_r = int(rng.integers(2, 3 + round(2 * scale)))
    nb_c = int(rng.integers(2, 3 + round(2 * scale)))
    side_r = int(rng.integers(8, 10 + round(14 * scale)))
    side_c = int(rng.integers(8, 10 + round(14 * scale)))
    gap = int(rng.integers(4, 13))
    h = nb_r * side_r + (nb_r - 1) * gap
    w = nb_c * side_c + (nb_c - 1) * gap
    lay = Layers.empty(h, w)
    for i in range(nb_r):
        for j in range(nb_c):
            r0, c0 = i * (side_r + gap), j * (side_c + gap)
            sl = (slice(r0, r0 + side_r), slice(c0, c0 + side_c))
            lay.top[(slice(None), *sl)] = (mat.UNIFORM * rng.normal(1.0, 0.05))[:, None, None]
            lay.cover[sl] = SOLDIER_COVER
            lay.porous[sl] = SOLDIER_HEIGHT_M
    return lay


def vehicle_park(rng: np.random.Generator, scale: float) -> Layers:
    """Rows of olive vehicles side by side, 75-95 % of the slots filled, 2-3 m between them.

    Some parks hold one or two rows of light-roofed coaches. Vehicles are mixed trucks (olive paint or
    canvas tarpaulin) and armoured vehicles; each paint job varies by +-8 % in brightness.
    """
    rows = int(rng.integers(3, 4 + round(4 * scale)))
    per_row = int(rng.integers(8, 10 + round(12 * scale)))
    occupancy = float(rng.uniform(0.75, 0.95))
    gap = int(rng.integers(2, 4))
    aisle = int(rng.integers(2, 4))
    coach_rows = (
        set(rng.choice(rows, size=int(rng.integers(1, 3)), replace=False).tolist()) if rng.random() < 0.5 else set()
    )
    pitch = 3 + gap  # a 2.5-3 m wide vehicle rendered on a 3 m footprint
    lengths = [12 if r in coach_rows else 8 for r in range(rows)]
    h = sum(lengths) + aisle * (rows - 1)
    w = per_row * pitch - gap
    lay = Layers.empty(h, w)
    r0 = 0
    for r in range(rows):
        coach = r in coach_rows
        for k in range(per_row):
            if rng.random() > occupancy:
                continue
            if coach:
                length, width, height, spec = COACH[0], COACH[1], COACH[2], mat.COACH_ROOF
            else:
                dims = TRUCK if rng.random() < 0.7 else APC
                length, width, height = dims
                spec = mat.OLIVE_CANVAS if rng.random() < 0.3 else mat.OLIVE_PAINT
            L, W = round(length), math.ceil(width)  # mirrors and cab overhang round up
            c0 = k * pitch + (3 - W) // 2
            rr0 = r0 + (lengths[r] - L) // 2
            sl = (slice(rr0, rr0 + L), slice(c0, c0 + W))
            lay.top[(slice(None), *sl)] = (spec * rng.normal(1.0, 0.08))[:, None, None]
            lay.cover[sl] = 1.0
            lay.solid[sl] = height
            lay.vehicles.append(Vehicle(rr0 + L / 2, c0 + W / 2, length, width, coach))
        r0 += lengths[r] + aisle
    return lay


def paste(canvas: Layers, lay: Layers, centre_rc: tuple[float, float], heading_deg: float) -> None:
    """Draw ``lay`` into ``canvas`` centred at ``centre_rc`` (canvas metres), rotated by ``heading_deg``."""
    h, w = lay.cover.shape
    H, W = canvas.cover.shape
    th = np.radians(heading_deg)
    cos, sin = np.cos(th), np.sin(th)
    rr, cc = np.mgrid[0:H, 0:W].astype(np.float64) + 0.5
    dr, dc = rr - centre_rc[0], cc - centre_rc[1]
    lr = cos * dr + sin * dc + h / 2 - 0.5
    lc = -sin * dr + cos * dc + w / 2 - 0.5
    inside = (lr > -0.5) & (lr < h - 0.5) & (lc > -0.5) & (lc < w - 0.5)
    ir = np.clip(np.rint(lr), 0, h - 1).astype(int)
    ic = np.clip(np.rint(lc), 0, w - 1).astype(int)
    hit = inside & (lay.cover[ir, ic] > 0)
    canvas.cover[hit] = lay.cover[ir, ic][hit]
    canvas.solid[hit] = lay.solid[ir, ic][hit]
    canvas.porous[hit] = lay.porous[ir, ic][hit]
    for b in range(4):
        canvas.top[b][hit] = lay.top[b][ir, ic][hit]
    for v in lay.vehicles:
        d_r, d_c = v.row - h / 2, v.col - w / 2
        canvas.vehicles.append(
            Vehicle(
                centre_rc[0] + cos * d_r - sin * d_c,
                centre_rc[1] + sin * d_r + cos * d_c,
                v.length_m,
                v.width_m,
                v.coach,
            )
        )


def _shifted(a: np.ndarray, dr: int, dc: int) -> np.ndarray:
    """``out[r, c] = a[r + dr, c + dc]``, zero outside."""
    out = np.zeros_like(a)
    H, W = a.shape
    r0, r1 = max(0, -dr), min(H, H - dr)
    c0, c1 = max(0, -dc), min(W, W - dc)
    if r0 < r1 and c0 < c1:
        out[r0:r1, c0:c1] = a[r0 + dr : r1 + dr, c0 + dc : c1 + dc]
    return out


def shadows(solid: np.ndarray, porous: np.ndarray, sun: Sun) -> tuple[np.ndarray, np.ndarray]:
    """Shadow fractions (0..1) on the ground and on solid tops, by ray stepping towards the sun.

    A point is in shadow when, stepping ``s`` metres towards the sun's azimuth, an object stands taller
    than ``s * tan(elevation)`` above it. Troop blocks (``porous``) shade ``POROUS_SHADOW`` of the ground.
    """
    ur, uc = sun.sunward_rc()
    tan_e = np.tan(np.radians(max(sun.elevation_deg, 1.0)))
    top = float(max(solid.max(initial=0.0), porous.max(initial=0.0)))
    ground = np.zeros_like(solid)
    roof = np.zeros_like(solid)
    if top <= 0:
        return ground, roof
    steps = np.arange(0.5, top / tan_e + 0.5, 0.5)
    for s in steps:
        dr, dc = round(s * ur), round(s * uc)
        if dr == 0 and dc == 0:
            continue
        rise = s * tan_e
        sol = _shifted(solid, dr, dc)
        por = _shifted(porous, dr, dc)
        ground = np.maximum(ground, np.where(sol > rise, 1.0, np.where(por > rise, POROUS_SHADOW, 0.0)))
        roof = np.maximum(roof, (sol > solid + rise).astype(solid.dtype))
    return ground, roof


def compose(ground: np.ndarray, lay: Layers, sun: Sun) -> np.ndarray:
    """Reflectance at 1 m (4, H, W): object tops over ``ground``, shadows keep only the diffuse light."""
    if not lay.cover.any():
        return ground.astype(np.float32)
    sh_g, sh_t = shadows(lay.solid, lay.porous, sun)
    diffuse = mat.diffuse_fraction(sun.elevation_deg)[:, None, None]
    lit_ground = 1.0 - sh_g[None] * (1.0 - diffuse)
    lit_top = np.where(lay.solid[None] > 0, 1.0 - sh_t[None] * (1.0 - diffuse), 1.0)
    cover = lay.cover[None]
    return (cover * lay.top * lit_top + (1.0 - cover) * ground * lit_ground).astype(np.float32)


def pavement(rng: np.random.Generator, h: int, w: int, spectrum: np.ndarray, joints_m: int = 0) -> np.ndarray:
    """A paved surface at 1 m (4, h, w): the material's spectrum with wear texture, patches and markings.

    Texture: correlated brightness variation (2 m correlation, 6 % rms), a few repair patches 10-30 %
    darker, painted marking lines every 20-40 m; concrete gets dark joints every ``joints_m`` metres.
    """
    tex = ndimage.gaussian_filter(rng.normal(size=(h, w)), 2.0)
    tex = 1.0 + 0.06 * tex / (tex.std() + 1e-9)
    for _ in range(int(rng.integers(2, 6))):
        r, c = int(rng.integers(0, h)), int(rng.integers(0, w))
        ph, pw = int(rng.integers(5, 25)), int(rng.integers(5, 25))
        tex[r : r + ph, c : c + pw] *= rng.uniform(0.7, 0.9)
    if joints_m:
        tex[::joints_m, :] *= 0.7
        tex[:, ::joints_m] *= 0.7
    img = spectrum[:, None, None] * tex[None]
    pitch = int(rng.integers(20, 41))
    img[:, pitch // 2 :: pitch, :] = mat.MARKING[:, None, None]
    return img.astype(np.float32)


def spectrum(img: np.ndarray) -> np.ndarray:
    """The 2-D real FFT of a 1 m raster (..., H, W), for :func:`from_spectrum`."""
    return np.asarray(sfft.rfft2(np.asarray(img, np.float64)))


def from_spectrum(spec: np.ndarray, shape: tuple[int, int], shift_m: tuple[float, float]) -> np.ndarray:
    """:func:`to_10m` of the raster whose :func:`spectrum` is ``spec`` (``shape`` its H, W)."""
    H, W = shape
    fr = np.fft.fftfreq(H)[:, None]
    fc = np.fft.rfftfreq(W)[None, :]
    kernel = np.exp(-2.0 * np.pi**2 * PSF_SIGMA_M**2 * (fr**2 + fc**2)) * np.exp(
        -2j * np.pi * (fr * shift_m[0] + fc * shift_m[1])
    )
    moved = np.asarray(sfft.irfft2(spec * kernel, s=(H, W)))
    lead = moved.shape[:-2]
    return moved.reshape(*lead, H // PIXEL_M, PIXEL_M, W // PIXEL_M, PIXEL_M).mean(axis=(-3, -1))


def to_10m(img: np.ndarray, shift_m: tuple[float, float]) -> np.ndarray:
    """Aggregate a 1 m raster (..., H, W), H and W multiples of 10, to 10 m through the S2 PSF.

    The scene is blurred by the Gaussian PSF and shifted by ``shift_m`` (row, col metres, the date's
    sub-pixel registration error) in one step in the Fourier domain, then averaged over each 10 m
    detector. The FFT is periodic: canvases keep a 20 m empty margin, more than the blur and shift reach.
    """
    return from_spectrum(spectrum(img), (img.shape[-2], img.shape[-1]), shift_m)

"""Injection of simulated pavement and formations into *real* Sentinel-2 scenes.

The calibration and the Flanders benchmark need formations on real imagery: real illumination, real
atmosphere, real clouds and SCL, real date-to-date noise. Parade grounds and parking lots are paved; the
real series available (Flanders farmland) is not. So a zone is first *paved* (:func:`pave`): its clear
pixels are replaced by a pavement surface carrying that date's own illumination and atmosphere, measured
from the scene itself (:func:`date_atmosphere`); cloudy pixels are left as they are. Formations are then
mixed into the surface reflectance at 1 m sub-pixel cover (:mod:`.formations`), blurred by the PSF and
passed through the same date's illumination (:func:`render_zone`). Confounders: :func:`add_haze`,
:func:`shift_scene`; construction is a footprint with a roof spectrum that stays.

All reflectances are 0-1 in ``B02 B03 B04 B08``; ``scl`` is the Sen2Cor class layer of the scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .fields import smooth_field
from .formations import Footprint, Spectrum, cover_fraction, mix
from .sensor import NOISE_SIGMA, PSF_SIGMA_PX, SCL_NOT_VEGETATED, apply_psf

CONCRETE: Spectrum = (0.21, 0.23, 0.25, 0.28)
"""Concrete of a parade square (as :mod:`.ground`)."""
ASPHALT: Spectrum = (0.065, 0.075, 0.085, 0.10)
"""Asphalt of a parking lot (as :mod:`.ground`)."""
WET_FACTOR = 0.75
"""Wet pavement reflects about a quarter less in every band (a water film darkens concrete and asphalt)."""
CLEAR_SCL = (4, 5, 6)
"""SCL classes of clear ground (they become SCL 5 when paved)."""
SURFACE_SCL = (2, 4, 5, 6, 7)
"""SCL classes that are no cloud, shadow, snow or defect: clear ground, 2 dark area and 7 unclassified (see
:data:`monitor.detect.validity.SCL_ALSO_COMPARED`). What Sen2Cor called the farmland says nothing of a
paved square laid over it: these pixels are paved; clouds, shadows and snow are left as they are."""
HAZE_SHAPE = (1.0, 0.7, 0.5, 0.2)
"""Relative path radiance of haze in B02 B03 B04 B08 (Rayleigh/aerosol scattering falls with wavelength)."""


@dataclass(frozen=True)
class Atmosphere:
    """How one date maps reference reflectance to its own: ``scene = gain * reference + offset`` per band."""

    gain: tuple[float, ...]
    offset: tuple[float, ...]

    def apply(self, surface: NDArray[np.float32]) -> NDArray[np.float32]:
        """``gain * surface + offset`` on a ``(bands, rows, cols)`` reflectance."""
        g = np.asarray(self.gain, dtype=np.float32)[:, None, None]
        o = np.asarray(self.offset, dtype=np.float32)[:, None, None]
        return (surface * g + o).astype(np.float32)


def date_atmosphere(scene: NDArray[np.float32], reference: NDArray[np.float32], clear: NDArray[np.bool_]) -> Atmosphere:
    """The date's illumination (gain) and path radiance (offset) against a reference, per band.

    A straight line through the paired 5th..95th percentiles of the scene and the reference over clear
    pixels (the same robust pairing the detector uses, in the other direction). With fewer than 50 clear
    pixels the identity is returned (the zone will be cloudy anyway).
    """
    bands = scene.shape[0]
    if int(clear.sum()) < 50:
        return Atmosphere((1.0,) * bands, (0.0,) * bands)
    qs = np.linspace(5.0, 95.0, 19)
    gains, offsets = [], []
    for b in range(bands):
        pr, ps = np.percentile(reference[b][clear], qs), np.percentile(scene[b][clear], qs)
        gain, offset = np.polyfit(pr, ps, 1) if np.ptp(pr) > 0 else (1.0, 0.0)
        if not (np.isfinite(gain) and 0.2 < gain < 5.0):
            gain, offset = 1.0, float(np.median(ps - pr))
        gains.append(float(gain))
        offsets.append(float(offset))
    return Atmosphere(tuple(gains), tuple(offsets))


def pavement_texture(rng: np.random.Generator, shape: tuple[int, int], amplitude: float = 0.025) -> NDArray[np.float32]:
    """A static multiplicative brightness field for a paved surface: 30 m smooth variation plus grain."""
    field = 1.0 + amplitude * smooth_field(rng, shape, 3.0) + 0.6 * amplitude * smooth_field(rng, shape, 0.0)
    return np.asarray(field, dtype=np.float32)


def render_zone(
    pavement: Spectrum,
    texture: NDArray[np.float32],
    atmosphere: Atmosphere,
    rng: np.random.Generator,
    objects: list[tuple[tuple[Footprint, ...], Spectrum, float]] | None = None,
    *,
    wet: bool = False,
    pixel_m: int = 10,
) -> NDArray[np.float32]:
    """The observed reflectance of a paved zone on one date, ``(4, rows, cols)``.

    Pavement (times ``texture``, times :data:`WET_FACTOR` when ``wet``) with ``objects`` (footprints in
    zone metres, their spectrum and fill, see :func:`.formations.mix`) mixed in at 1 m sub-pixel cover,
    blurred by the sensor PSF, passed through the date's ``atmosphere`` and given sensor noise.
    """
    shape = texture.shape
    surface = np.asarray(pavement, dtype=np.float32)[:, None, None] * texture[None]
    if wet:
        surface = surface * np.float32(WET_FACTOR)
    for footprints, spectrum, fill in objects or []:
        surface = mix(surface, cover_fraction(footprints, shape, pixel_m=pixel_m), spectrum, fill)
    surface = apply_psf(surface, PSF_SIGMA_PX)
    observed = atmosphere.apply(surface)
    noise = rng.standard_normal(observed.shape, dtype=np.float32) * np.float32(NOISE_SIGMA)
    return (observed + noise).astype(np.float32)


def pave(
    scene: NDArray[np.float32],
    scl: NDArray[np.integer],
    window: tuple[slice, slice],
    zone: NDArray[np.float32],
) -> tuple[NDArray[np.float32], NDArray[np.integer]]:
    """``scene`` with the ground pixels of ``window`` (:data:`SURFACE_SCL`) replaced by ``zone`` (from
    :func:`render_zone`).

    Cloudy, shadowed or snowy pixels keep their real values and class, so real clouds cross the pavement
    as they crossed the fields; replaced clear pixels become SCL 5 (not vegetated); dark-area and
    unclassified pixels keep their class, as Sen2Cor's noise would stay on a square.
    """
    out, out_scl = scene.copy(), scl.copy()
    clear = np.isin(scl[window], CLEAR_SCL)
    ground = np.isin(scl[window], SURFACE_SCL)
    region = out[(slice(None), *window)]
    region[:, ground] = zone[:, ground]
    out_scl[window] = np.where(clear, SCL_NOT_VEGETATED, scl[window])
    return out, out_scl


def inject_objects(
    scene: NDArray[np.float32],
    scl: NDArray[np.integer],
    window: tuple[slice, slice],
    objects: list[tuple[tuple[Footprint, ...], Spectrum, float]],
    *,
    pixel_m: int = 10,
) -> NDArray[np.float32]:
    """Objects mixed into the clear pixels of ``window`` of a real (unpaved) scene.

    Used to measure detection on the real ground itself (farmland): the real pixel stands for the
    ground; the object's cover (after the PSF) replaces that share of it with the object's spectrum
    as seen through the date's atmosphere, approximated here by the scene's own values (no gain).
    """
    out = scene.copy()
    clear = np.isin(scl[window], CLEAR_SCL)
    region = out[(slice(None), *window)]
    shape = region.shape[1:]
    for footprints, spectrum, fill in objects:
        cover = apply_psf(cover_fraction(footprints, shape, pixel_m=pixel_m)[None], PSF_SIGMA_PX)[0]
        mixed = mix(region, cover, spectrum, fill)
        region[:, clear] = mixed[:, clear]
    return out


def add_haze(scene: NDArray[np.float32], blue: float) -> NDArray[np.float32]:
    """Scene-wide additive haze: ``blue`` reflectance of path radiance in B02, scaled by :data:`HAZE_SHAPE`."""
    shape = np.asarray(HAZE_SHAPE[: scene.shape[0]], dtype=np.float32)[:, None, None]
    return (scene + np.float32(blue) * shape).astype(np.float32)


def shift_scene(
    scene: NDArray[np.float32], scl: NDArray[np.integer], shift_px: tuple[float, float]
) -> tuple[NDArray[np.float32], NDArray[np.integer]]:
    """A misregistered scene: bands shifted by ``(rows, cols)`` px bilinearly, SCL by nearest neighbour."""
    bands = ndimage.shift(scene, (0.0, *shift_px), order=1, mode="nearest").astype(np.float32)
    classes = ndimage.shift(scl, shift_px, order=0, mode="nearest")
    return bands, classes

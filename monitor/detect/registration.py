"""Co-registration: the sub-pixel shift of a scene against the site's reference, and applying it.

Sentinel-2 scenes are geolocated to about 1 pixel (the multi-temporal registration spec is < 0.3 px at
2 sigma since 2019, worse before and across relative orbits). Half a pixel of shift turns every sharp
edge of a site (kerbs, roofs, field boundaries) into a line of "change"; aligning each scene with the
baseline before comparing removes that. The shift is measured by phase correlation upsampled to
1/10 px (scikit-image), trusted only when the correlation peak stands well clear of chance, and applied
by bilinear interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import numpy as np
from scipy.fft import fftfreq, irfft2, next_fast_len, rfft2
from scipy.ndimage import shift as nd_shift
from skimage.filters import window

#: Phase-correlation peak located to 1/UPSAMPLE px (0.1 px: a tenth of the residual that matters).
UPSAMPLE = 10
#: A shift larger than this (metres) is not a geolocation error of Sentinel-2 (spec: ~11 m at 2 sigma)
#: but a failed match (clouds, snow, a scene of another place).
MAX_SHIFT_M = 30.0
#: The phase-correlation peak must stand this many standard deviations above the rest of the correlation
#: surface. Two unrelated images peak at ~4 sigma by chance over 64 x 64 px (~5 sigma over 330 x 390);
#: a real translation peaks far higher (10-35 sigma on the real Flanders series, against 4-6 for the
#: scenes whose peak was a cloud or a changed field). Below it the shift cannot be trusted.
MIN_PEAK_SIGMA = 7.0
#: A peak within this distance (metres, Sentinel-2's 2-sigma geolocation accuracy and a half) is where a
#: shift is expected to be, and needs less evidence: MIN_PEAK_SIGMA_NEAR. Seasonal change (a summer scene
#: against a winter baseline) weakens the peak of real farmland to 4.5-7 sigma without moving it.
NEAR_SHIFT_M = 15.0
MIN_PEAK_SIGMA_NEAR = 4.5
#: At least this share of the image must be clear in both the scene and the reference.
MIN_CLEAR_SHARE = 0.3
#: Images smaller than this (px, either side) carry too little structure to register.
MIN_SIDE_PX = 16
#: A shift beyond NEAR_SHIFT_M (Sentinel-2's 2-sigma geolocation error and a half; scenes of one
#: relative orbit are co-located to 0.3-0.5 px) is unusual and is applied only when independent
#: sub-windows of the site confirm it (see :func:`confirm_shift`): a wrong peak (a cloud edge, a new
#: building, haze over part of the site) comes from one part of the image, a real misregistration moves
#: every part alike. Within it, a wrong shift costs at most the edge change of a 1.5 px shift, which the
#: baseline's spread of edge pixels absorbs in part; beyond it, kerbs and roofs read as blocks and rows.
CONFIRM_BEYOND_M = NEAR_SHIFT_M
#: Sub-windows agree with the whole-site shift when within this distance (px) of it.
AGREE_PX = 0.5
#: The site is cut into GRID x GRID independent sub-windows for the confirmation.
CONFIRM_GRID = 2
#: Shifts smaller than this (px) are not applied: interpolation would blur the scene for nothing.
MIN_APPLIED_PX = 0.05


class RegistrationState(StrEnum):
    """The outcome of a co-registration, the word before the reason in its status text: ``ok``,
    ``unregistered: <reason>`` (the scene must not be scored) or ``skipped: <reason>`` (not attempted)."""

    OK = "ok"
    UNREGISTERED = "unregistered"
    SKIPPED = "skipped"

    @classmethod
    def of(cls, status: str) -> RegistrationState:
        """The state of a status text (``unregistered: too cloudy ...`` -> ``UNREGISTERED``)."""
        return cls(status.split(":", 1)[0].strip())


@dataclass(frozen=True)
class Registration:
    """The outcome of registering one scene: ``shift`` (rows, cols) in pixels is what was applied to the
    scene to align it with the reference (positive rows = moved down/south, positive cols = east);
    ``status`` is ``ok``, or ``unregistered: <reason>`` (the scene must not be scored), or ``skipped:
    <reason>`` (not attempted, the scene is compared as it is)."""

    shift: tuple[float, float]
    status: str

    @property
    def state(self) -> RegistrationState:
        """The outcome without its reason."""
        return RegistrationState.of(self.status)

    @property
    def ok(self) -> bool:
        """True unless the scene could not be registered."""
        return not self.status.startswith(RegistrationState.UNREGISTERED)

    @property
    def cloudy(self) -> bool:
        """True when the scene could not be registered because too little of it was clear."""
        return self.status.startswith("unregistered: too cloudy")

    @property
    def dx_px(self) -> float:
        """Applied eastward shift, px."""
        return self.shift[1]

    @property
    def dy_px(self) -> float:
        """Applied shift along rows (southward), px."""
        return self.shift[0]


def _prepare(image: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """Cloudy and invalid pixels set to the clear mean, so they add no structure of their own."""
    clear = clear & np.isfinite(image)
    fill = float(np.mean(image[clear])) if clear.any() else 0.0
    return np.where(clear, image - fill, 0.0).astype(np.float64, copy=False)


@lru_cache(maxsize=8)
def _taper(shape: tuple[int, int]) -> np.ndarray:
    """Tukey window (30 % taper) of an image shape; cached, sites keep their shape."""
    return np.asarray(window(("tukey", 0.3), shape), dtype=np.float64)


def _fast_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """The padded size the FFT is fast for: tapered to zero at the border, an image can be zero-padded
    (a 347 px side is prime); the padding adds no edge."""
    return (next_fast_len(shape[0], real=True), next_fast_len(shape[1], real=True))


def _spectrum(image: np.ndarray) -> np.ndarray:
    """The half (real-input) spectrum of a prepared image, tapered to zero at its border first: the FFT
    treats an image as periodic, and the wrap-around edge, identical in both images, would otherwise pull
    the peak to zero shift."""
    rows, cols = image.shape
    padded = np.zeros(_fast_shape(image.shape))  # the zero padding rfft2(s=...) would make, written into
    np.multiply(image, _taper(image.shape), out=padded[:rows, :cols])
    return np.asarray(rfft2(padded))


@dataclass(frozen=True)
class PreparedReference:
    """A registration reference prepared once (a baseline serves every scene of a month): the mean-free,
    masked image, its clear pixels and its half spectrum (:func:`_spectrum`)."""

    image: np.ndarray
    clear: np.ndarray
    spectrum: np.ndarray


def prepare_reference(reference: np.ndarray, reference_clear: np.ndarray | None = None) -> PreparedReference:
    """The :class:`PreparedReference` of ``reference`` (rows, cols) with its own clear mask (default: finite)."""
    clear = np.isfinite(reference) if reference_clear is None else reference_clear & np.isfinite(reference)
    image = _prepare(reference, clear)
    return PreparedReference(image, clear, _spectrum(image))


def _pcc(reference: np.ndarray, moving: np.ndarray) -> tuple[np.ndarray, float]:
    """Shift (rows, cols) and peak strength (sigma above the correlation surface) of the phase correlation
    of two prepared (mean-free) images of one shape."""
    return _correlate(_spectrum(reference), _spectrum(moving), _fast_shape(reference.shape))


def _correlate(ref_half: np.ndarray, mov_half: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Phase correlation of two half spectra (:func:`_spectrum`) of images padded to ``shape``: the shift
    that aligns the moving image with the reference, located to 1/:data:`UPSAMPLE` px, and the peak's
    strength.

    The same steps as scikit-image's ``phase_cross_correlation(normalization="phase",
    upsample_factor=UPSAMPLE)``, on real-input FFTs: the normalised cross-power spectrum is formed once on
    the half spectrum, one inverse FFT gives the correlation surface for both the whole-pixel peak and
    its strength (scikit-image's inverse FFT and a second one for the strength ran on the full complex
    spectrum), and the peak is refined by the matrix-multiply DFT of the full spectrum (rebuilt from its
    Hermitian half) on a 1.5 px neighbourhood upsampled ``UPSAMPLE`` times.
    """
    product = ref_half * np.conj(mov_half)
    magnitude = np.abs(product)
    product /= np.maximum(magnitude, 100 * np.finfo(np.float64).eps, out=magnitude)
    surface = irfft2(product, s=shape)
    spread = float(surface.std())
    peak = float((surface.max() - surface.mean()) / spread) if spread > 0 else 0.0
    maxima = np.unravel_index(int(np.argmax(np.abs(surface))), surface.shape)
    size = np.array(shape, dtype=np.float64)
    shift = np.array(maxima, dtype=np.float64)
    shift[shift > np.trunc(size / 2)] -= size[shift > np.trunc(size / 2)]
    factor = float(UPSAMPLE)
    shift = np.round(shift * factor) / factor
    region = float(np.ceil(factor * 1.5))
    centre = np.trunc(region / 2.0)
    conj_full = _full_spectrum(product, shape[1], conjugate=True)
    upsampled = _upsampled_dft(conj_full, int(region), factor, centre - shift * factor).conj()
    fine = np.array(np.unravel_index(int(np.argmax(np.abs(upsampled))), upsampled.shape), dtype=np.float64)
    return shift + (fine - centre) / factor, peak


def _full_spectrum(half: np.ndarray, cols: int, conjugate: bool = False) -> np.ndarray:
    """The full 2-D spectrum of a real image from its half (``rfft2``) spectrum: F[k, l] = conj(F[-k, -l]);
    its complex conjugate with ``conjugate`` (what the upsampled DFT takes), made in the same one pass."""
    rows, n = half.shape
    full = np.empty((rows, cols), dtype=half.dtype)
    if conjugate:
        np.conjugate(half, out=full[:, :n])
    else:
        full[:, :n] = half
    # row k holds row -k (mod rows): row 0, then rows - 1 .. 1; columns cols - l for l = n .. cols - 1,
    # descending. Views of the half spectrum, written into place: no rolled copy.
    cut = slice(cols - n, 0, -1)
    for dst, src in ((full[:1, n:], half[:1, cut]), (full[1:, n:], half[:0:-1, cut])):
        if conjugate:
            dst[...] = src
        else:
            np.conjugate(src, out=dst)
    return full


def _upsampled_dft(data: np.ndarray, size: int, factor: float, offsets: np.ndarray) -> np.ndarray:
    """scikit-image's matrix-multiply DFT (``registration._phase_cross_correlation._upsampled_dft``): the
    inverse DFT of ``data`` upsampled ``factor`` times on a ``size`` x ``size`` region starting at
    ``offsets``, without zero-padding."""
    for n_items, offset in list(zip(data.shape, offsets, strict=True))[::-1]:
        kernel = np.exp(-2j * np.pi * (np.arange(size) - offset)[:, None] * fftfreq(n_items, factor))
        data = np.tensordot(kernel.astype(data.dtype, copy=False), data, axes=(1, -1))
    return data


def estimate_shift(
    reference: np.ndarray,
    moving: np.ndarray,
    moving_clear: np.ndarray,
    reference_clear: np.ndarray | None = None,
    pixel_size_m: float = 10.0,
    prepared: PreparedReference | None = None,
) -> Registration:
    """Sub-pixel shift that aligns ``moving`` with ``reference`` (both (rows, cols), same grid).

    ``prepared`` is :func:`prepare_reference` of ``reference`` and ``reference_clear``, when the caller
    keeps it (a baseline registers every scene of a month against one reference): its spectrum is then
    not computed again.

    ``moving_clear`` and ``reference_clear`` mark each image's own clear pixels (default: finite ones).
    Each image is masked with its own mask only: masking both with a joint mask would give both the same
    artificial edges, which correlate best at a zero shift. The correlation peak must reach
    :data:`MIN_PEAK_SIGMA` and the shift be at most :data:`MAX_SHIFT_M`, and a shift beyond
    :data:`CONFIRM_BEYOND_M` must be confirmed by the site's sub-windows (:func:`confirm_shift`);
    otherwise the scene is ``unregistered``.
    """
    rows, cols = reference.shape
    if min(rows, cols) < MIN_SIDE_PX:
        return Registration((0.0, 0.0), f"skipped: image smaller than {MIN_SIDE_PX} px")
    ref_clear = np.isfinite(reference) if reference_clear is None else reference_clear & np.isfinite(reference)
    clear = moving_clear & np.isfinite(moving) & ref_clear
    share = float(clear.mean())
    if share < MIN_CLEAR_SHARE:
        return Registration((0.0, 0.0), f"unregistered: too cloudy, only {share:.0%} of the image is clear")
    if prepared is None:
        prepared = prepare_reference(reference, reference_clear)
    ref, mov = prepared.image, _prepare(moving, moving_clear)
    whole, peak = _correlate(prepared.spectrum, _spectrum(mov), _fast_shape(mov.shape))
    near = float(np.hypot(*whole)) * pixel_size_m <= NEAR_SHIFT_M
    if peak < (MIN_PEAK_SIGMA_NEAR if near else MIN_PEAK_SIGMA):
        return Registration(
            (0.0, 0.0),
            f"unregistered: correlation peak {peak:.1f} sigma at ({whole[0]:+.2f}, {whole[1]:+.2f}) px is too weak",
        )
    limit = MAX_SHIFT_M / pixel_size_m
    if float(np.hypot(*whole)) > limit:
        return Registration(
            (0.0, 0.0), f"unregistered: shift ({whole[0]:+.2f}, {whole[1]:+.2f}) px exceeds {MAX_SHIFT_M:g} m"
        )
    if float(np.hypot(*whole)) * pixel_size_m > CONFIRM_BEYOND_M:
        reason = confirm_shift(ref, mov, ref_clear & moving_clear, whole)
        if reason:
            return Registration((0.0, 0.0), f"unregistered: shift ({whole[0]:+.2f}, {whole[1]:+.2f}) px {reason}")
    return Registration((float(whole[0]), float(whole[1])), "ok")


def confirm_shift(reference: np.ndarray, moving: np.ndarray, clear: np.ndarray, whole: np.ndarray) -> str | None:
    """None when independent sub-windows of the site confirm the whole-site shift ``whole`` (px), else why not.

    ``reference`` and ``moving`` are prepared (mean-free, masked) images and ``clear`` the pixels clear in
    both. The site is cut into :data:`CONFIRM_GRID` x :data:`CONFIRM_GRID` windows; each window with
    enough clear pixels and a trustworthy peak (:data:`MIN_PEAK_SIGMA_NEAR`) gives its own shift. The
    shift is confirmed when at least two windows agree with it within :data:`AGREE_PX`, and more windows
    agree than disagree: a misregistration moves the whole scene, a spurious peak comes from one part.
    """
    rows, cols = reference.shape
    agree = disagree = 0
    for i in range(CONFIRM_GRID):
        for j in range(CONFIRM_GRID):
            win = (
                slice(i * rows // CONFIRM_GRID, (i + 1) * rows // CONFIRM_GRID),
                slice(j * cols // CONFIRM_GRID, (j + 1) * cols // CONFIRM_GRID),
            )
            if min(reference[win].shape) < MIN_SIDE_PX or float(clear[win].mean()) < MIN_CLEAR_SHARE:
                continue
            local, peak = _pcc(reference[win], moving[win])
            if peak < MIN_PEAK_SIGMA_NEAR:
                continue
            if float(np.hypot(*(local - whole))) <= AGREE_PX:
                agree += 1
            else:
                disagree += 1
    if agree >= 2 and agree > disagree:
        return None
    return f"not confirmed by the site's sub-windows ({agree} agree, {disagree} disagree)"


def bilinear_shift(image: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    """``image`` (..., rows, cols) moved by ``shift`` px with bilinear interpolation, 0 outside.

    The same result as ``scipy.ndimage.shift(order=1, mode="constant")`` on the last two axes, written
    as four weighted integer shifts: ten times faster on a site crop, and every band moves at once.
    """
    out = np.zeros(image.shape, dtype=np.float64)
    iy, ix = int(np.floor(shift[0])), int(np.floor(shift[1]))
    fy, fx = shift[0] - iy, shift[1] - ix
    rows, cols = image.shape[-2:]
    for dy, wy in ((iy, 1.0 - fy), (iy + 1, fy)):
        for dx, wx in ((ix, 1.0 - fx), (ix + 1, fx)):
            w = wy * wx
            if w == 0.0 or abs(dy) >= rows or abs(dx) >= cols:
                continue
            dst = (..., slice(max(dy, 0), rows + min(dy, 0)), slice(max(dx, 0), cols + min(dx, 0)))
            src = (..., slice(max(-dy, 0), rows + min(-dy, 0)), slice(max(-dx, 0), cols + min(-dx, 0)))
            out[dst] += w * image[src]
    return out


def apply_shift(
    data: np.ndarray, valid: np.ndarray, shift: tuple[float, float], aux: dict[str, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``data`` (bands, rows, cols), ``valid`` (rows, cols) and categorical ``aux`` layers moved by ``shift`` px.

    Bands are interpolated bilinearly; a pixel stays valid only if every pixel it was interpolated from
    was valid (and inside the image). Categorical layers (SCL) take their nearest value. Shifts below
    :data:`MIN_APPLIED_PX` return the inputs unchanged.
    """
    aux = dict(aux or {})
    if max(abs(shift[0]), abs(shift[1])) < MIN_APPLIED_PX:
        return data, valid, aux
    filled = np.where(valid[None] & np.isfinite(data), data, 0.0)
    moved = bilinear_shift(filled, shift).astype(np.float32)
    new_valid = bilinear_shift(valid.astype(np.float64), shift) > 0.999
    moved[:, ~new_valid] = np.nan
    nearest = (round(shift[0]), round(shift[1]))
    moved_aux = {
        k: nd_shift(np.nan_to_num(v, nan=0), nearest, order=0, mode="constant", cval=0).astype(v.dtype)
        for k, v in aux.items()
    }
    return moved, new_valid, moved_aux


def registration_image(values: np.ndarray) -> np.ndarray:
    """The single layer registered: the mean of the bands of ``values`` (bands, rows, cols), whose edges
    are the site's edges in every band."""
    return np.asarray(np.mean(values, axis=0), dtype=np.float64)

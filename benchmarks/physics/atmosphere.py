"""Each real date's atmosphere, clouds and cloud shadows, carried from the real farmland onto pavement.

The real pixel ``R`` is read as the clear-sky ground ``G`` seen through that date's atmosphere. Three
per-pixel cases, decided from SCL and from the pixel's departure from its own clear-sky state:

* veil (cloud, thin cloud, haze; SCL 8/9/10, or blue brightened most): a mixture
  ``R = (1 - a) G + a K`` with the date's cloud reflectance ``K`` (``a`` from the visible bands); the
  pavement ``S`` is seen as ``(1 - a) S + a K``, i.e. ``R' = R + (1 - a)(S - G)``;
* shadow (SCL 3, or every band darkened by a similar factor against the scene's own level): only
  diffuse light reaches the ground,
  ``R = f G`` per band, so ``R' = f S``;
* clear: ``R' = S``. Snow (SCL 11) is left as it is (it covers the pavement too).

``G`` for a clouded or shadowed date comes from the pixel's nearest clear dates before and after (linear
in time, leave-one-out), so the real cloud's edges stay exactly where SCL and the pixels put them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage import morphology

CLEAR_SCL = (4, 5, 6)
VEIL_SCL = (8, 9, 10)
CLOUD_SHADOW_SCL = 3  # SCL 2 ("dark area") is dark ground, not shadow
SNOW_SCL = 11
#: Blue brightening (reflectance) above which an SCL-clear pixel is taken as veiled by thin cloud/haze;
#: 3x the L2A noise of a clear land pixel over a few days (about 0.005).
VEIL_BLUE = 0.015
#: All bands darker than this ratio, with ratios within SHADOW_SPREAD of each other: an unmasked shadow.
SHADOW_RATIO = 0.8
SHADOW_SPREAD = 0.35
#: Share of a scene in SCL 8-10 above which unmasked cloud shadows and rims are looked for.
CLOUDY_SCENE = 0.01
#: Share of a scene that must look veiled for cloud-free haze to be carried.
HAZY_SCENE = 0.3
#: Holes smaller than this (pixels) inside a veil or a shadow are filled.
HOLE_PX = 16
#: Thick-cloud reflectance when a date has too few SCL-9 pixels to measure it (typical L2A values).
DEFAULT_CLOUD = np.array([0.45, 0.44, 0.43, 0.46])


@dataclass(frozen=True)
class Transfer:
    """``R' = R + k (A - P * g)`` per band and pixel: ``A`` the paved reflectance aggregated with its cover ``P``."""

    k: np.ndarray  # (4, H, W)
    g: np.ndarray  # (4, H, W)
    case: np.ndarray  # (H, W): 0 clear, 1 veil, 2 shadow, 3 snow
    drop: np.ndarray  # (4, H, W): the field's own change under a veil, taken out where paved

    def apply(self, real: np.ndarray, paved: np.ndarray, cover: np.ndarray) -> np.ndarray:
        return real + self.k * (paved - cover[None] * self.g) - cover[None] * self.drop


@dataclass(frozen=True)
class ClearSky:
    """Per date and pixel (T, 4, H, W): the nearest clear observation before, after, and between them."""

    before: np.ndarray
    after: np.ndarray
    ref: np.ndarray


def clear_reference(refl: np.ndarray, scl: np.ndarray, days: np.ndarray) -> ClearSky:
    """Leave-one-out clear-sky state: per pixel, linear in time between its nearest clear dates.

    Clear: SCL 4/5/6 and blue reflectance below 0.12 (bright blue on farmland is cloud Sen2Cor missed).
    """
    T = refl.shape[0]
    clear = np.isin(scl, CLEAR_SCL) & (refl[:, 0] < 0.12)
    prev = np.full((T, *scl.shape[1:]), -1)
    nxt = np.full((T, *scl.shape[1:]), -1)
    last = np.full(scl.shape[1:], -1)
    for t in range(T):
        prev[t] = last
        last = np.where(clear[t], t, last)
    last = np.full(scl.shape[1:], -1)
    for t in range(T - 1, -1, -1):
        nxt[t] = last
        last = np.where(clear[t], t, last)
    fallback = np.median(refl, axis=0)
    out = np.empty_like(refl)
    before = np.empty_like(refl)
    after = np.empty_like(refl)
    ii, jj = np.indices(scl.shape[1:])
    for t in range(T):
        p, n = prev[t], nxt[t]
        vp = refl[np.maximum(p, 0), :, ii, jj].transpose(2, 0, 1)
        vn = refl[np.maximum(n, 0), :, ii, jj].transpose(2, 0, 1)
        dp = days[t] - days[np.maximum(p, 0)]
        dn = days[np.maximum(n, 0)] - days[t]
        w = np.where((p >= 0) & (n >= 0), dp / np.maximum(dp + dn, 1e-9), np.where(p >= 0, 0.0, 1.0))
        val = (1 - w)[None] * vp + w[None] * vn
        none = ((p < 0) & (n < 0))[None]
        out[t] = np.where(none, fallback, val)
        before[t] = np.where(none, fallback, np.where((p >= 0)[None], vp, vn))
        after[t] = np.where(none, fallback, np.where((n >= 0)[None], vn, vp))
    return ClearSky(before, after, out)


def cloud_reflectance(refl: np.ndarray, scl: np.ndarray) -> np.ndarray:
    """The date's thick-cloud reflectance per band: median over SCL 9 pixels, else ``DEFAULT_CLOUD``."""
    thick = scl == 9
    if thick.sum() < 30:
        return DEFAULT_CLOUD
    return np.median(refl[:, thick], axis=1)


def _coherent(flag: np.ndarray, size: int) -> np.ndarray:
    """A flag that holds on at least 60 % of the ``size`` x ``size`` pixels around: clouds, haze and
    their shadows are spatially coherent over tens of metres; single-pixel departures are ground change."""
    return ndimage.uniform_filter(flag.astype(np.float64), size, mode="nearest") >= 0.6 - 1e-9


def _grown(core: np.ndarray, faint: np.ndarray) -> np.ndarray:
    """``core`` grown into neighbouring pixels that show the same effect faintly (hysteresis), and with
    holes under ``HOLE_PX`` pixels filled: a cloud's or shadow's edge fades, it does not stop at a threshold,
    and a veil does not have 20 m clear holes where one pixel's neighbouring clear dates happen to differ."""
    grown = core | (ndimage.binary_dilation(core, iterations=2) & faint)
    return morphology.remove_small_holes(grown, max_size=HOLE_PX)


def transfer(
    real: np.ndarray, ref: np.ndarray, scl: np.ndarray, cloud: np.ndarray, before: np.ndarray, after: np.ndarray
) -> Transfer:
    """The per-pixel transfer of one date (see the module docstring); ``real``/``ref`` (4, H, W) reflectance.

    Clouds and their shadows pass: a veil or shadow is a departure from both the clear date before and
    the clear date after (``before``/``after``), where a ploughed or harvested field stays changed.
    A pixel SCL calls clear is taken as veiled or shadowed only when its departure is spatially coherent:
    over 30 m (3 x 3 px) when the scene holds clouds (at least ``CLOUDY_SCENE`` of it in SCL 8-10) or,
    for a veil, when it covers ``HAZY_SCENE`` of the scene (haze); else over 50 m (5 x 5 px), the smallest
    cumulus and its shadow, so that a cloud outside the patch still casts its shadow into it.
    """
    d = real - ref
    ratio = real / np.maximum(ref, 1e-3)
    # A whole scene darker than its clear neighbours (low winter sun on ploughed, furrowed fields: a
    # surface BRDF effect flat pavement does not share) is not a shadow; shadows are local darkening.
    clear = np.isin(scl, CLEAR_SCL)
    level = np.clip(np.median(ratio[:, clear], axis=1) if clear.sum() > 50 else np.ones(4), 0.3, 1.0)[:, None, None]
    ratio = ratio / level
    worst = np.maximum(real / np.maximum(before, 1e-3), real / np.maximum(after, 1e-3)) / level
    gain = np.minimum(real - before, real - after)
    cloudy = float(np.isin(scl, VEIL_SCL).mean()) >= CLOUDY_SCENE
    looks_veiled = (gain[0] > VEIL_BLUE) & (d[0] >= d[2] - 0.005) & (gain[1] > 0.005)
    faintly_veiled = (gain[0] > VEIL_BLUE / 2) & (d[0] >= d[2] - 0.01)
    looks_shadowed = (worst.max(axis=0) < SHADOW_RATIO) & (ratio.max(axis=0) - ratio.min(axis=0) < SHADOW_SPREAD)
    faintly_shadowed = worst.max(axis=0) < (1 + SHADOW_RATIO) / 2
    hazy = float(_coherent(looks_veiled, 3).mean()) >= HAZY_SCENE
    veil = _grown(np.isin(scl, VEIL_SCL) | _coherent(looks_veiled, 3 if (cloudy or hazy) else 5), faintly_veiled)
    # SCL 3 on a pixel that is not darker than its clear dates is a misplaced shadow: not a shadow here
    shadow_seed = ((scl == CLOUD_SHADOW_SCL) & (worst.max(axis=0) < 1.0)) | _coherent(
        looks_shadowed, 3 if cloudy else 5
    )
    shadow = ~veil & _grown(shadow_seed, faintly_shadowed)
    snow = scl == SNOW_SCL
    denom = cloud[:, None, None] - ref
    ok = np.abs(denom) > 0.05
    a = np.where(ok, d / np.where(ok, denom, 1.0), np.nan)
    # One opacity per pixel, from the visible bands: there a cloud stands far above the ground
    # (|K - G| large) and crops change little; in the NIR K - G is small over vegetation and the
    # per-band ratio would amplify the field's own change. The veil's own colour (blue-heavy haze)
    # stays in R itself: only the share (1 - a) of the pavement's difference shows through it.
    vis = a[:3]
    count = np.isfinite(vis).sum(axis=0)
    a_vis = np.where(count > 0, np.nansum(np.nan_to_num(vis, nan=0.0), axis=0) / np.maximum(count, 1), 1.0)
    a = np.broadcast_to(ndimage.median_filter(np.clip(a_vis, 0.0, 1.0), 3, mode="nearest"), real.shape)
    f = np.stack([ndimage.median_filter(b, 3, mode="nearest") for b in np.clip(ratio, 0.02, 1.0)])
    # Under a veil the part of R the mixture does not explain, R - (1 - a) G - a K, is the veil's own
    # colour (blue-heavy haze, a cloud's texture) in the visible, but mostly the field's own growth in the
    # NIR. Keep it in the visible; in the NIR keep it in proportion to a (all of it under a thick cloud).
    residual = real - (1.0 - a) * ref - a * cloud[:, None, None]
    keep = np.ones_like(real)
    keep[3] = a[3]
    drop = np.where(veil[None], (1.0 - keep) * residual, 0.0)
    k = np.ones_like(real)
    g = real.copy()
    k = np.where(veil[None], 1.0 - a, k)
    g = np.where(veil[None] | shadow[None], ref, g)
    k = np.where(shadow[None], f, k)
    k = np.where(snow[None], 0.0, k)
    case = np.select([snow, veil, shadow], [3, 1, 2], 0)
    return Transfer(k.astype(np.float64), g.astype(np.float64), case, drop.astype(np.float64))


def haze(real: np.ndarray, rng: np.random.Generator, wavelength_nm: np.ndarray) -> np.ndarray:
    """Add an unmasked haze layer: blue-heavy path reflectance ``p0 (lambda/492)^-2`` and its transmission loss.

    ``p0`` 0.015-0.04 in blue (aerosol optical depth about 0.2-0.5 left by the L2A correction), with a
    smooth +-25 % gradient across the site. SCL is not changed: this is haze Sen2Cor did not see.
    """
    p0 = rng.uniform(0.015, 0.04)
    path = p0 * (wavelength_nm / 492.0) ** -2.0
    H, W = real.shape[1:]
    yy, xx = np.mgrid[0:H, 0:W] / max(H, W)
    ang = rng.uniform(0, 2 * np.pi)
    field = 1.0 + 0.25 * (np.cos(ang) * (xx - 0.5) + np.sin(ang) * (yy - 0.5)) * 2
    return real * (1.0 - 1.2 * path[:, None, None] * field[None]) + path[:, None, None] * field[None]

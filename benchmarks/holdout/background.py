"""The real Flanders series as background: each date's own atmosphere and clouds carried onto new ground.

A zone painted on the real patch must look through each date's real atmosphere. Per pixel and date the
real value R is read as ``R = (1 - c) * s * G + c * C``: G the clear-sky ground (the pixel itself on a
clear date; else interpolated in time between its clear dates), c the share a cloud hides (from the blue
excess over G, which thin cloud and haze raise at least as much as red, while bare soil raises red
most), s a shadow's transmission (all bands darker than G by a similar factor). The new ground N is then
seen as ``R + (1 - c) * (N - G)`` under cloud and haze, ``N * R / G`` in shadow: opaque cloud stays
exactly the real cloud, clear pixels show N, and a thin rim keeps its real brightening. SCL is never
changed, so whatever Sen2Cor missed stays missed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

CLEAR_SCL = (4, 5, 6)
#: blue reflectance a fully opaque cloud adds over the ground (Sentinel-2 B02 of thick cumulus/stratus 0.3-0.6)
CLOUD_BLUE_EXCESS = 0.3
#: blue excess over the clear ground above which an SCL-clear pixel is taken as thin cloud or haze
HAZE_BLUE_EXCESS = 0.025
#: all-visible-band darkening below which a pixel is taken as shadowed
SHADOW_RATIO = 0.85
#: a clear-ground estimate older than this (days) is not trusted to tell a shadow
SHADOW_GAP_DAYS = 30.0
#: window (px) over which a shadow is decided and its darkening measured
SHADOW_WINDOW = 9


@dataclass(frozen=True)
class Acquisition:
    """One real file: path, UTC time, sensor (``S2`` or ``S1``)."""

    path: Path
    when: datetime
    sensor: str


def acquisitions(folder: Path, sensor: str) -> list[Acquisition]:
    """The real series' files of one sensor, in time order (time from the ``YYYYMMDDTHHMMSS`` name)."""
    out = []
    for p in sorted(folder.glob(f"{sensor}_*.tif")):
        m = re.search(r"(\d{8}T\d{6})", p.stem)
        if m is None:
            raise ValueError(f"{p}: no YYYYMMDDTHHMMSS time in the file name")
        out.append(Acquisition(p, datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC), sensor))
    return out


@dataclass(frozen=True)
class S2Series:
    """The real Sentinel-2 stack: reflectance (T, 4, H, W), SCL (T, H, W), and the clear-ground estimate G."""

    acq: tuple[Acquisition, ...]
    refl: np.ndarray
    scl: np.ndarray
    ground: np.ndarray
    clear: np.ndarray  # (T, H, W) bool: the pixel shows ground (SCL clear and no blue excess)
    gap_days: np.ndarray  # (T, H, W): days to the farther of the clear dates G was interpolated from


def read_s2(folder: Path) -> S2Series:
    """Read every S2 file of ``folder`` and estimate each pixel's clear-sky ground on every date."""
    import rasterio

    acq = acquisitions(folder, "S2")
    refl, scl = [], []
    for a in acq:
        with rasterio.open(a.path) as src:
            names = list(src.descriptions)
            data = src.read()
        refl.append(np.stack([data[names.index(b)] for b in ("B02", "B03", "B04", "B08")]).astype(float) * 1e-4)
        scl.append(data[names.index("SCL")])
    r = np.stack(refl)
    s = np.stack(scl)
    times = np.array([a.when.timestamp() for a in acq]) / 86400.0
    clear = np.isin(s, CLEAR_SCL)
    ground, _ = interpolate_clear(r, clear, times, exclude_self=True)
    excess = r - ground
    hazy = (excess[:, 0] > HAZE_BLUE_EXCESS) & (excess[:, 0] >= excess[:, 2])
    clear &= ~hazy
    ground, gap = interpolate_clear(r, clear, times, exclude_self=False)
    return S2Series(tuple(acq), r, s, ground, clear, gap)


def interpolate_clear(
    r: np.ndarray, clear: np.ndarray, days: np.ndarray, exclude_self: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the value of the nearest clear dates before and after, interpolated linearly in time.

    ``r`` (T, B, H, W), ``clear`` (T, H, W), ``days`` (T,). On a clear date the pixel's own value unless
    ``exclude_self`` (then its neighbours in time: a reference to test the date against). A pixel
    never clear gets its median over all dates. Also returns, per date and pixel, the days to the farther
    clear date used (0 on a clear date, inf when never clear): how much the estimate is worth.
    """
    t_n = r.shape[0]
    prev = np.full(clear.shape, -1, dtype=int)
    nxt = np.full(clear.shape, -1, dtype=int)
    last = np.full(clear.shape[1:], -1, dtype=int)
    for t in range(t_n):
        prev[t] = last
        last = np.where(clear[t], t, last)
    last = np.full(clear.shape[1:], -1, dtype=int)
    for t in range(t_n - 1, -1, -1):
        nxt[t] = last
        last = np.where(clear[t], t, last)
    fallback = np.median(r, axis=0)
    out = np.empty_like(r)
    gap = np.zeros(clear.shape)
    ii, jj = np.indices(clear.shape[1:])
    for t in range(t_n):
        p, n = prev[t], nxt[t]
        vp = r[np.maximum(p, 0), :, ii, jj].transpose(2, 0, 1)
        vn = r[np.maximum(n, 0), :, ii, jj].transpose(2, 0, 1)
        dp = days[t] - days[np.maximum(p, 0)]
        dn = days[np.maximum(n, 0)] - days[t]
        w = np.where((p >= 0) & (n >= 0), dp / np.maximum(dp + dn, 1e-9), np.where(p >= 0, 0.0, 1.0))
        v = (1 - w)[None] * vp + w[None] * vn
        v = np.where(((p < 0) & (n < 0))[None], fallback, v)
        g = np.where((p >= 0) & (n >= 0), np.maximum(dp, dn), np.where(p >= 0, dp, dn))
        g = np.where((p < 0) & (n < 0), np.inf, g)
        if not exclude_self:
            v = np.where(clear[t][None], r[t], v)
            g = np.where(clear[t], 0.0, g)
        out[t] = v
        gap[t] = g
    return out, gap


def carry_atmosphere(
    real: np.ndarray, ground: np.ndarray, paint: np.ndarray, cover: np.ndarray, scl: np.ndarray, gap_days: np.ndarray
) -> np.ndarray:
    """A painted surface seen through the atmosphere of the real pixels it is painted into.

    ``paint`` (4, H, W) is the painted surface's clear-sky reflectance already weighted by ``cover`` (H, W),
    the share of each pixel it covers (1 inside a zone, falling to 0 across the PSF's fringe). The real
    pixel is read as ``R = (1 - c) s G + A`` (A = c C the cloud's own light) and the result is
    ``(1 - cover) R + (1 - c) s paint + cover A``: the part of the pixel not painted stays exactly real.

    - cloud (SCL 8, 9, 10, or blue up by 0.1 or more and at least as much as red: a harvest or bare
      soil raises red more than blue): c = blue excess / CLOUD_BLUE_EXCESS per pixel (opaque: the real
      pixel);
    - thin cloud and haze SCL left clear: the same with the excess median-filtered over 5 x 5 px, where the
      smoothed blue excess is above 0.015 and at least the red one (haze is smooth and blue; a roof's glint
      or a ploughed field is neither);
    - shadow (SCL 3, or every visible band darker than 0.85 x ground with a cloud within 25 px, counted
      only where G comes from clear dates at most SHADOW_GAP_DAYS away, and true of at least half of
      those pixels in a 9 x 9 window): s = the window's geometric mean of real / ground per band.
      Without the gap rule the village's long winter shadows, never SCL-clear, compared with its summer
      ground, would darken a flat square that has no buildings; without the window, pixels with and
      without a recent clear date would make dark blobs inside one cloud shadow;
    - anything else (a change of the real ground itself: crops, the village's winter shadows) is not
      carried: the paint is shown as it is.
    """
    from scipy import ndimage

    excess = real - ground
    cloud = np.isin(scl, (8, 9, 10)) | ((excess[0] >= 0.1) & (excess[0] >= excess[2] - 0.01))
    c = np.clip(excess[0] / CLOUD_BLUE_EXCESS, 0.0, 1.0)
    ex_s = ndimage.median_filter(excess, size=(1, 5, 5), mode="nearest")
    g_s = ndimage.median_filter(ground, size=(1, 5, 5), mode="nearest")
    c_s = np.clip(ex_s[0] / CLOUD_BLUE_EXCESS, 0.0, 1.0)
    thin = ~cloud & (ex_s[0] > 0.015) & (ex_s[0] >= ex_s[2] - 0.01)
    # Shadows are smooth at 10 m (a cloud's shadow has a penumbra of tens of metres): decided and
    # measured over a window from the pixels whose clear ground is recent, never pixel by pixel
    trusted = (gap_days <= SHADOW_GAP_DAYS) | (scl == 3)
    log_ratio = np.log(np.clip(real / np.maximum(ground, 1e-4), 0.02, 1.0))
    w = ndimage.uniform_filter(trusted.astype(float), SHADOW_WINDOW, mode="nearest")
    ratio = np.exp(
        ndimage.uniform_filter(log_ratio * trusted[None], (1, SHADOW_WINDOW, SHADOW_WINDOW), mode="nearest")
        / np.maximum(w, 1e-6)[None]
    )
    near = np.ones((3, 3), dtype=bool)
    near_cloud = ndimage.binary_dilation(cloud, near, iterations=25) if cloud.any() else np.zeros_like(cloud)
    dark = trusted & (np.all(log_ratio[:3] < np.log(SHADOW_RATIO), axis=0) & near_cloud | (scl == 3))
    share = ndimage.uniform_filter(dark.astype(float), SHADOW_WINDOW, mode="nearest") / np.maximum(w, 1e-6)
    shadow = ~cloud & ~thin & (w > 0.2) & (share >= 0.5) & np.all(ratio[:3] < 1.0, axis=0)

    hide = np.where(cloud, c, np.where(thin, c_s, 0.0))
    light = np.where(cloud[None], excess + c[None] * ground, np.where(thin[None], ex_s + c_s[None] * g_s, 0.0))
    trans = np.where(shadow[None], np.clip(ratio, 0.02, 1.0), 1.0)
    cov = cover[None]
    return np.asarray((1 - cov) * real + (1 - hide)[None] * trans * paint + cov * light)

"""Sentinel-1 C-band: paved ground, parked metal vehicles, and speckle, into the real sigma0 series."""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

#: Smooth asphalt is a dim, mostly specular surface at 30-45 deg incidence (VV -18..-22 dB; Ulaby &
#: Long 2014 smooth-surface curves; S1 over airport aprons and car parks). VH about 7 dB below VV.
ASPHALT_DB = np.array([-20.0, -27.0])
#: Broom-finished concrete is rougher: a few dB brighter than asphalt.
CONCRETE_DB = np.array([-15.0, -22.5])
#: Wet pavement: the water film makes the surface smoother (more specular): about 1.5 dB darker.
WET_DB = -1.5
#: Mean radar cross-section per vehicle (m^2), Swerling I (exponential) from date to date. Set so that a
#: dense park (one vehicle per about 58 m^2: 5.5 m pitch across, 10.5 m along, 95 % occupancy) lifts
#: -20 dB asphalt by +8 dB VV, the middle of issue 11's +6..10 dB: 3.4 m^2 (5.3 dBsm, within the
#: 0-10 dBsm of trucks averaged over aspect at C-band). VH about 9 dB below VV (dihedrals are co-polar),
#: which lifts -27 dB VH asphalt by about +6.5 dB. Coaches: larger flat metal sides, 1.6 x.
VEHICLE_RCS = np.array([3.4, 0.45])
COACH_RCS = np.array([5.4, 0.72])


def estimate_looks(series: np.ndarray, orbit: np.ndarray) -> float:
    """Equivalent number of looks from log-ratios of consecutive same-orbit dates (VV, linear power).

    For two independent L-look intensities of one sigma0, ``var(ln(I1/I2)) = 2 psi1(L)``. Real change
    between dates only adds variance, so this is a lower bound; the robust (MAD) variance limits that.
    """
    logs = []
    for o in np.unique(orbit):
        s = series[orbit == o]
        logs.append(np.log(s[1:] / s[:-1]).ravel())
    lr = np.concatenate(logs)
    lr = lr[np.isfinite(lr)]
    sigma = 1.4826 * np.median(np.abs(lr - np.median(lr)))
    target = sigma**2 / 2.0
    return float(optimize.brentq(lambda L: special.polygamma(1, L) - target, 0.5, 500.0))


def speckle(rng: np.random.Generator, shape: tuple[int, ...], looks: float) -> np.ndarray:
    """Multiplicative speckle of an ``looks``-look intensity: Gamma(L, 1/L), mean 1."""
    return rng.gamma(looks, 1.0 / looks, size=shape)


def inject(
    real: np.ndarray,
    cover: np.ndarray,
    ground_db: np.ndarray,
    vehicle_cover: np.ndarray,
    points: list[tuple[float, float, bool]],
    pixel_m: float,
    offset_db: float,
    looks: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One S1 date (2, H, W linear sigma0) with pavement of share ``cover`` and vehicles at ``points``.

    ``ground_db`` (2, H, W): the pavement's sigma0 (dB) per pixel; ``vehicle_cover``: share of each pixel
    under vehicles (their roofs hide the ground's own return); ``points``: (row, col, coach) vehicle
    centres in pixel units, each a Swerling I point target spread bilinearly over the pixels around it.
    """
    ground = 10 ** ((ground_db + offset_db) / 10) * (1.0 - vehicle_cover)[None]
    paved = ground * speckle(rng, ground.shape, looks)
    out = (1.0 - cover)[None] * real + cover[None] * paved
    H, W = cover.shape
    area = pixel_m * pixel_m
    for r, c, coach in points:
        rcs = rng.exponential(COACH_RCS if coach else VEHICLE_RCS)
        fr, fc = r - 0.5, c - 0.5
        r0, c0 = int(np.floor(fr)), int(np.floor(fc))
        wr, wc = fr - r0, fc - c0
        for dr, wy in ((0, 1 - wr), (1, wr)):
            for dc, wx in ((0, 1 - wc), (1, wc)):
                rr, cc = r0 + dr, c0 + dc
                if 0 <= rr < H and 0 <= cc < W:
                    out[:, rr, cc] += rcs * wy * wx / area
    return out

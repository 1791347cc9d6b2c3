"""Per-pixel change of a scene against a baseline, and between two images (``monitor diff``)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.special import chdtr, chdtri

from monitor.detect.quantiles import median_rows, sorted_percentiles


def _nanmedian(a: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmedian(a)) if a.size else float("nan")


def normalise_gain(x: np.ndarray, reference: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Scale each band of ``x`` so its median over ``usable`` pixels matches ``reference``'s.

    Removes scene-wide illumination and haze gain (sun angle, season, thin uniform haze); the median
    is robust to the few pixels that really changed. Bands with no usable pixel are left as they are.
    """
    out = x.copy()
    idx = sample_index(usable)
    for b in range(x.shape[0]):
        xs, rs = x[b].ravel()[idx], reference[b].ravel()[idx]
        mx, mr = _nanmedian(xs), _nanmedian(rs)
        if np.isfinite(mx) and np.isfinite(mr) and mx > 0 and mr > 0:
            out[b] *= np.float32(mr / mx)
    return out


#: Quantiles for the radiometric match are taken on at most about this many pixels (an even stride).
QUANTILE_SAMPLES = 20_000


def sample_index(usable: np.ndarray, samples: int = QUANTILE_SAMPLES) -> np.ndarray:
    """Flat indices of every ``n // samples``-th ``usable`` pixel (row-major order), ``n`` the usable count:
    the same pixels as ``image[usable][::stride]``, found once for every band instead of once per band."""
    flat = np.flatnonzero(usable)
    return flat[:: max(1, len(flat) // samples)]


def normalise_linear(x: np.ndarray, reference: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Map each band of ``x`` linearly (gain and offset) onto ``reference`` by matching quantiles.

    The 5th..95th percentiles of ``x`` and ``reference`` over ``usable`` pixels are paired and a straight
    line is fitted through the pairs: the gain absorbs illumination (sun angle, season), the offset the
    additive path radiance of residual haze, which lifts dark surfaces such as asphalt far more than a
    gain would. Quantiles are robust to the few percent of pixels that really changed. Falls back to
    :func:`normalise_gain` for a band with too few usable pixels or a degenerate fit.
    """
    idx = sample_index(usable)
    if idx.size < 50:
        return normalise_gain(x, reference, usable)
    out = np.empty_like(x)  # every band is written below
    qs = np.linspace(5.0, 95.0, 19)
    k = x.shape[0]
    # the sampled pixels of every band at once (two gathers instead of two per band)
    x_all, r_all = x.reshape(k, -1)[:, idx], reference.reshape(k, -1)[:, idx]
    for b in range(k):
        xs, rs = x_all[b], r_all[b]
        ok = np.isfinite(xs) & np.isfinite(rs)
        fitted = False
        if ok.sum() >= 50:
            if not ok.all():
                xs, rs = xs[ok], rs[ok]
            # sorted in place (the gathers are copies): numpy's quantiles (see sorted_percentiles) without
            # a partition per band
            xs.sort()
            rs.sort()
            px, pr = sorted_percentiles(xs, qs), sorted_percentiles(rs, qs)
            if np.ptp(px) > 0:
                gain, offset = np.polyfit(px, pr, 1)
                if np.isfinite(gain) and np.isfinite(offset) and 0.2 < gain < 5.0:
                    if x.dtype == np.float32:  # the same two float32 operations, without temporaries
                        np.multiply(x[b], np.float32(gain), out=out[b])
                        out[b] += np.float32(offset)
                    else:
                        out[b] = (x[b] * np.float32(gain) + np.float32(offset)).astype(np.float32)
                    fitted = True
        if not fitted:
            out[b] = normalise_gain(x[b : b + 1], reference[b : b + 1], usable)[0]
    return out


def normalise_offset(x: np.ndarray, reference: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Shift each band of ``x`` (in dB) so its median difference to ``reference`` over ``usable`` is 0."""
    out = x.copy()
    for b in range(x.shape[0]):
        d = _nanmedian(x[b][usable] - reference[b][usable])
        if np.isfinite(d):
            out[b] -= np.float32(d)
    return out


def robust_z(x: np.ndarray, median: np.ndarray, sigma: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Per-pixel, per-band robust z-score of ``x`` against a baseline: (x - median) / hypot(sigma, floor)."""
    return scaled_z(x, median, np.hypot(sigma, floor))


def scaled_z(x: np.ndarray, median: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """:func:`robust_z` with its denominator ``scale = hypot(sigma, floor)`` computed once per baseline."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((x - median) / scale).astype(np.float32, copy=False)


def change_statistic(z: np.ndarray) -> np.ndarray:
    """Sum of squared z over bands, (rows, cols); NaN where any band is NaN.

    For Gaussian noise this follows a chi-square law with one degree of freedom per band, which is
    what :func:`chi2_threshold` uses to turn a false-alarm rate into a threshold.
    """
    return np.sum(z.astype(np.float64) ** 2, axis=0).astype(np.float32)


def chi2_threshold(n_bands: int, false_alarm_rate: float) -> float:
    """The change statistic above which a no-change pixel lies with probability ``false_alarm_rate``."""
    return float(chdtri(n_bands, false_alarm_rate))  # inverse chi-square survival function


#: Gaussian scales (sigma, metres) at which :func:`bitemporal_change` compares two images. Urban change
#: (a building, a road) spans several 10 m pixels while noise and residual misregistration do not:
#: averaging the difference over 10-20 m removes most of the noise and keeps the change.
DIFF_SCALES_M = (0.0, 10.0, 20.0)
#: Share of pixels assumed unchanged when estimating the no-change covariance (the 95 % of a chi-square law).
NO_CHANGE_QUANTILE = 0.95


#: Robust covariances are estimated on at most this many pixels (an even stride through the image):
#: ten thousand samples pin a 4 x 4 covariance to about 1 %, and keep the cost independent of site size.
COVARIANCE_SAMPLES = 10_000


def robust_covariance(d: np.ndarray, iterations: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Centre and covariance of the no-change population of difference vectors ``d`` (pixels, bands).

    Iteratively reweighted: start from all pixels, keep those whose Mahalanobis statistic lies below the
    :data:`NO_CHANGE_QUANTILE` point of the chi-square law, re-estimate, repeat. Changed pixels (a few
    percent) then no longer inflate the covariance, and what remains is the joint noise of the bands:
    illumination, haze and phenology move bands together, so their differences are correlated, and a
    change that breaks that correlation stands out more than a per-band z-score would show.
    """
    if len(d) > COVARIANCE_SAMPLES:
        d = d[:: -(-len(d) // COVARIANCE_SAMPLES)]
    return robust_covariance_columns(np.ascontiguousarray(d.T, dtype=np.float64), iterations)


def covariance_sample(mask: np.ndarray) -> np.ndarray:
    """Flat indices of the ``mask`` pixels that :func:`robust_covariance` would keep of ``image[mask]``
    (every ``ceil(n / COVARIANCE_SAMPLES)``-th): pick them first, and only they are copied."""
    flat = np.flatnonzero(mask)
    if len(flat) > COVARIANCE_SAMPLES:
        flat = flat[:: -(-len(flat) // COVARIANCE_SAMPLES)]
    return flat


def covariance_rows(x: np.ndarray) -> np.ndarray:
    """``np.cov(x)`` of a float64 (bands, pixels) array, pixels >= 2, as a (bands, bands) array: numpy's
    own steps (the mean of each row taken off, the product with the transposed conjugate, times
    1 / (n - 1)) on ``x`` itself, which is overwritten, instead of on a copy."""
    x -= x.mean(axis=1)[:, None]
    c = np.dot(x, x.T.conj())
    c *= np.true_divide(1, x.shape[1] - 1)
    return c


def robust_covariance_columns(d: np.ndarray, iterations: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """:func:`robust_covariance` of the columns of ``d`` (bands, pixels), already sampled."""
    k = d.shape[0]
    keep = np.ones(d.shape[1], dtype=bool)
    limit = float(chdtri(k, 1.0 - NO_CHANGE_QUANTILE))
    # keeping the central 95 % of a Gaussian shrinks its covariance by this factor: undo it
    consistency = NO_CHANGE_QUANTILE / float(chdtr(k + 2, limit))
    centre = cov = None
    for i in range(iterations):
        if keep.sum() <= 2 * k:
            break
        kept = d if i == 0 else d.take(np.flatnonzero(keep), axis=1)  # the first round keeps every pixel
        centre = median_rows(kept)
        cov = covariance_rows(kept - centre[:, None]) * consistency
        if i < iterations - 1:  # the last round's selection would not be used
            keep = mahalanobis_columns(d, centre, cov) < limit
    if centre is None or cov is None:
        centre, cov = median_rows(d), np.cov(d).reshape(k, k)
    return centre.astype(np.float64), cov.astype(np.float64)


def mahalanobis(d: np.ndarray, centre: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each row of ``d`` (pixels, bands) from ``centre`` under ``cov``.

    A singular covariance (a constant band) is regularised with 1e-9 of its trace on the diagonal.
    """
    return mahalanobis_columns(np.ascontiguousarray(d.T), centre, cov)


#: :func:`mahalanobis_columns` works through this many pixels at a time: four bands of 8,192 float64
#: pixels and the temporaries of the product (about 1 MB) stay in the core's cache, where a whole
#: 347 x 401 px site (4.5 MB a layer) goes out to memory for every step; measured twice as fast on a
#: site, the same values (each pixel's distance is computed from its own column only, in the same order).
MAHALANOBIS_CHUNK = 8192


def mahalanobis_columns(d: np.ndarray, centre: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """:func:`mahalanobis` of the columns of ``d`` (bands, pixels), the layout of an image's bands: each
    band is one contiguous row, so the products and the sum over bands run on whole rows. ``d`` may be
    float32 (an image's z-scores): each chunk of :data:`MAHALANOBIS_CHUNK` pixels is taken to float64 as
    it is used, which gives the float64 result without a float64 copy of the whole image. Returns float64."""
    k = d.shape[0]
    cov = cov + np.eye(k) * (1e-9 * max(float(np.trace(cov)), 1e-12))
    inv_t = np.linalg.inv(cov).T
    c = np.asarray(centre, dtype=np.float64)[:, None]
    n = d.shape[1]
    if n <= MAHALANOBIS_CHUNK:
        x = d - c
        return np.sum((inv_t @ x) * x, axis=0)
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, MAHALANOBIS_CHUNK):
        x = d[:, start : start + MAHALANOBIS_CHUNK] - c  # float64, as the whole product would be
        np.sum((inv_t @ x) * x, axis=0, out=out[start : start + MAHALANOBIS_CHUNK])
    return out


#: ``monitor diff`` estimates its no-change model separately in this many ground-cover strata: the
#: quantiles of the pixels' NDVI (mean of the two dates), so that each holds an equal share of the image.
#: Vegetation changes between two dates with phenology, soil moisture and harvest (NIR and red by tens of
#: percent), pavement and roofs by a few percent: one covariance for the whole image is a mixture of the
#: two, too wide for built ground, where urban change happens, and too narrow for fields. Quantiles rather
#: than fixed NDVI limits: OSCD is top-of-atmosphere (L1C), where NDVI runs lower than at the ground, and
#: a city's share of fields varies. Eight strata: enough to separate bare or built, mixed and vegetated
#: ground (measured on OSCD: 2 strata 0.916, 4 0.924, 8 0.925, 16 0.924; docs/detection.md section 7).
DIFF_STRATA = 8
#: A stratum needs at least this many pixels per band for its own covariance (else fewer strata are used).
MIN_STRATUM_PIXELS_PER_BAND = 50


def ndvi_strata(
    before: np.ndarray, after: np.ndarray, usable: np.ndarray, bands: tuple[str, ...] | None, radar: bool
) -> np.ndarray | None:
    """The ground-cover stratum (0..n-1) of each ``usable`` pixel, in ``usable`` order, by the quantiles of
    its NDVI averaged over ``before`` and ``after`` (:data:`DIFF_STRATA`); None when the bands hold no red
    and NIR (``bands`` None, radar) or the image is too small for two strata. Pixels without a positive
    red + NIR count as NDVI 0."""
    if radar or bands is None or "B04" not in bands or "B08" not in bands:
        return None
    red, nir = bands.index("B04"), bands.index("B08")
    n = int(usable.sum())
    strata = min(DIFF_STRATA, n // (MIN_STRATUM_PIXELS_PER_BAND * before.shape[0]))
    if strata < 2:
        return None

    def ndvi(x: np.ndarray) -> np.ndarray:
        r, v = x[red][usable].astype(np.float64), x[nir][usable].astype(np.float64)
        total = r + v
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, (v - r) / total, 0.0)

    mean = (ndvi(before) + ndvi(after)) / 2.0
    edges = np.quantile(mean, np.linspace(0.0, 1.0, strata + 1)[1:-1])
    return np.asarray(np.digitize(mean, edges), dtype=np.intp)


def bitemporal_change(
    before: np.ndarray,
    after: np.ndarray,
    radar: bool = False,
    pixel_size_m: float = 10.0,
    bands: tuple[str, ...] | None = None,
) -> np.ndarray:
    """Change between two co-registered images, float32 (rows, cols), higher = more change, NaN if invalid.

    ``before`` and ``after`` are (bands, rows, cols) in analysis units; ``pixel_size_m`` is the ground size
    of a pixel; ``bands`` their names (Sentinel-2's), when known. After a global radiometric match (linear
    quantile match for optical, dB offset for radar), the band differences are smoothed at each scale of
    :data:`DIFF_SCALES_M` and compared with the no-change population by a band-covariance Mahalanobis
    statistic (:func:`robust_covariance`), which for unchanged pixels follows a chi-square law with one
    degree of freedom per band. With red and NIR bands the no-change population is taken per ground-cover
    stratum (:func:`ndvi_strata`): a pixel is judged against ground like its own. The result is the
    geometric mean of the per-scale statistics: a pixel must stand out at fine and at coarse scale.
    """
    usable = np.all(np.isfinite(before), axis=0) & np.all(np.isfinite(after), axis=0)
    out = np.full(before.shape[1:], np.nan, dtype=np.float32)
    if not usable.any():
        return out
    matched = normalise_offset(after, before, usable) if radar else normalise_linear(after, before, usable)
    strata = ndvi_strata(before, matched, usable, bands, radar)
    groups = (
        [np.arange(int(usable.sum()))]
        if strata is None
        else [np.flatnonzero(strata == i) for i in range(int(strata.max()) + 1)]
    )
    diff = np.where(usable, matched - before, 0.0).astype(np.float64)
    weight = usable.astype(np.float64)
    log_sum = np.zeros(int(usable.sum()))
    for scale_m in DIFF_SCALES_M:
        sigma = scale_m / pixel_size_m
        if sigma > 0:
            # normalised convolution: invalid pixels neither contribute nor dilute their neighbours
            norm = gaussian_filter(weight, sigma)
            with np.errstate(divide="ignore", invalid="ignore"):
                smooth = np.stack([gaussian_filter(b, sigma) for b in diff]) / norm
        else:
            smooth = diff
        d = smooth[:, usable].T
        stat = np.empty(len(d))
        for group in groups:
            centre, cov = robust_covariance(d[group])
            stat[group] = mahalanobis(d[group], centre, cov)
        log_sum += np.log1p(stat)
    out[usable] = np.expm1(log_sum / len(DIFF_SCALES_M)).astype(np.float32)
    return out

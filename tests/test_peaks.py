"""``label_peaks`` finds scikit-image's ``peak_local_max`` peaks, in its order."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.feature import peak_local_max
from skimage.measure import label

from monitor.detect.peaks import label_peaks


def _case(seed: int, shape: tuple[int, int], quantise: float | None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    stat = gaussian_filter(rng.gamma(1.0, 4.0, shape), 1.0) * 10
    if quantise:
        stat = np.round(stat / quantise) * quantise  # plateaus: equal neighbours, flat regions
    significant = stat > np.quantile(stat, 0.7)
    components = label(significant, connectivity=2)
    surface = np.where(significant, stat, 0.0)
    return surface, components


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("quantise", [None, 0.5, 3.0])
@pytest.mark.parametrize("distance", [1, 2, 3])
def test_label_peaks_are_scikit_images(seed: int, quantise: float | None, distance: int) -> None:
    surface, components = _case(seed, (40 + seed, 57), quantise)
    want = peak_local_max(surface, min_distance=distance, labels=components, exclude_border=False)
    got = label_peaks(surface, components, distance)
    assert np.array_equal(got, want)


def test_flat_and_single_pixel_regions() -> None:
    surface = np.zeros((12, 12))
    surface[2:5, 2:6] = 3.0  # a flat block: scikit-image keeps none of it (no isolated pixel)
    surface[8, 8] = 5.0  # one pixel: a peak
    surface[8:11, 1] = 2.0  # a flat line one pixel wide: every pixel is isolated
    components = label(surface > 0, connectivity=2)
    want = peak_local_max(surface, min_distance=2, labels=components, exclude_border=False)
    assert np.array_equal(label_peaks(surface, components, 2), want)
    assert len(label_peaks(np.zeros((5, 5)), np.zeros((5, 5), int), 2)) == 0


def test_non_finite_images_are_scikit_images_business() -> None:
    surface, components = _case(3, (30, 30), None)
    surface[4, 4] = np.nan
    want = peak_local_max(surface, min_distance=2, labels=components, exclude_border=False)
    assert np.array_equal(label_peaks(surface, components, 2), want)

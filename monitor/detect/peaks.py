"""Local maxima of an image within each labelled region: scikit-image's ``peak_local_max`` with ``labels``,
the same peaks in the same order, computed for all regions at once.

scikit-image finds the peaks of a labelled image region by region (a crop, a maximum filter, a k-d tree
for the spacing), about 0.2 ms a region; a zone with a formation holds dozens of regions and a scene
three zones. Here the maximum over a pixel's window among the pixels of its own region is taken for
every pixel in (2 d + 1)^2 shifted comparisons, and only regions with two peaks closer than the
spacing (plateaus; the maxima of one window are otherwise unique) go through the greedy spacing rule.
``tests/test_peaks.py`` holds the result to scikit-image's.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_opening, find_objects
from skimage.feature import peak_local_max


def label_peaks(image: np.ndarray, labels: np.ndarray, min_distance: int) -> np.ndarray:
    """``peak_local_max(image, min_distance=min_distance, labels=labels, exclude_border=False)``.

    ``image`` (rows, cols) float; ``labels`` (rows, cols) int, 0 the background; ``min_distance`` >= 1 (px).
    A pixel is a peak of its region when no pixel of the same region within ``min_distance`` (a square
    window) is higher, it is above the image's minimum, and it is not in a region whose every pixel is
    such a maximum (a flat region: then only its pixels that a 3 x 3 cross opening removes count, as
    scikit-image does). Peaks of one region closer than ``min_distance`` (Chebyshev) are thinned
    greedily, highest first. Returns (n, 2) row, col indices: by region label, then highest first, then
    row-major. An image with a non-finite value is handed to scikit-image itself.
    """
    if image.ndim != 2 or labels.shape != image.shape or min_distance < 1 or not np.isfinite(image).all():
        return np.asarray(
            peak_local_max(image, min_distance=min_distance, labels=labels, exclude_border=False), dtype=np.intp
        )
    d = int(min_distance)
    rows, cols = image.shape
    inside = labels > 0
    if not inside.any():
        return np.empty((0, 2), dtype=np.intp)
    threshold = image.min()
    padded_img = np.pad(image.astype(np.float64, copy=False), d, constant_values=-np.inf)
    padded_lab = np.pad(labels, d, constant_values=0)
    local_max = np.full(image.shape, -np.inf)
    for dy in range(-d, d + 1):
        for dx in range(-d, d + 1):
            window = (slice(d + dy, d + dy + rows), slice(d + dx, d + dx + cols))
            same = padded_lab[window] == labels
            np.maximum(local_max, np.where(same, padded_img[window], -np.inf), out=local_max)
    peak = inside & (image == local_max)
    # a region whose every pixel is a maximum of its window (flat): its isolated pixels only
    n_labels = int(labels.max())
    count = np.bincount(labels[inside], minlength=n_labels + 1)
    peaks_in = np.bincount(labels[peak], minlength=n_labels + 1)
    flat = np.flatnonzero((count == peaks_in) & (count > 1))  # one pixel: itself isolated, a peak as it is
    if flat.size:
        boxes = find_objects(labels, max_label=n_labels)
        for flat_label in flat:
            box = boxes[flat_label - 1]
            assert box is not None  # the label has pixels
            mask = labels[box] == flat_label  # the opening on the region's box: outside it is not the region
            peak[box][mask] = (mask & ~binary_opening(mask))[mask]
    peak &= image > threshold
    r, c = np.nonzero(peak)  # row-major
    lab = labels[r, c]
    order = np.lexsort((-image[r, c], lab))  # by label, highest first; stable: row-major among equals
    r, c, lab = r[order], c[order], lab[order]
    keep = _spaced(r, c, lab, d, image.shape)
    return np.stack([r[keep], c[keep]], axis=1).astype(np.intp)


def _spaced(r: np.ndarray, c: np.ndarray, lab: np.ndarray, d: int, shape: tuple[int, ...]) -> np.ndarray:
    """Which of the ordered peaks survive scikit-image's spacing rule (``ensure_spacing``, Chebyshev
    norm): going down the list, a peak not yet rejected rejects every later peak of its own region closer
    than ``d``. Only regions with such a close pair are walked."""
    keep = np.ones(len(r), dtype=bool)
    if len(r) < 2 or d < 2:
        return keep  # peaks are distinct pixels: none is closer than 1 to another
    # close pairs of one region: the peaks' labels on a grid, against the grid shifted by every offset < d
    grid = np.zeros((shape[0] + 2 * d, shape[1] + 2 * d), dtype=np.int64)
    grid[r + d, c + d] = lab
    crowded: set[int] = set()
    for dy in range(-d + 1, d):
        for dx in range(-d + 1, d):
            if dy or dx:
                other = grid[r + d + dy, c + d + dx]
                crowded.update(int(k) for k in lab[other == lab])
    for k in crowded:
        members = np.flatnonzero(lab == k)  # in list order
        rejected = np.zeros(len(members), dtype=bool)
        for i in range(len(members)):
            if rejected[i]:
                continue
            near = np.maximum(np.abs(r[members] - r[members[i]]), np.abs(c[members] - c[members[i]])) < d
            near[i] = False
            rejected |= near
        keep[members[rejected]] = False
    return keep

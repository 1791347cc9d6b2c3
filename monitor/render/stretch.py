"""Display stretches and composites: one stretch for every panel of a picture that shows the same bands,
the composite chosen by what changed, and the band difference that shows it."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from monitor.detect.classes import VEHICLE_CLASSES


def percentile_limits(rgb: np.ndarray, low: float = 2.0, high: float = 99.0) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) limits for a (3, rows, cols) array: percentiles over all channels together, ignoring NaN.

    One range for the three channels keeps the colour balance (grey asphalt stays grey), as a
    per-channel stretch would not.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.full(rgb.shape[0], np.nanpercentile(rgb, low))
        hi = np.full(rgb.shape[0], np.nanpercentile(rgb, high))
    lo = np.where(np.isfinite(lo), lo, 0.0)
    hi = np.where(np.isfinite(hi) & (hi > lo), hi, lo + 1.0)
    return lo, hi


def to_display(rgb: np.ndarray, limits: tuple[np.ndarray, np.ndarray], gamma: float = 1.0 / 1.6) -> np.ndarray:
    """(3, rows, cols) values -> (rows, cols, 4) RGBA floats 0..1; NaN pixels transparent grey."""
    lo, hi = limits
    scaled = (rgb - lo[:, None, None]) / (hi - lo)[:, None, None]
    scaled = np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 1.0) ** gamma
    alpha = np.all(np.isfinite(rgb), axis=0).astype(float)
    out = np.concatenate([np.moveaxis(scaled, 0, -1), alpha[..., None]], axis=-1)
    return out


class Composite(Enum):
    """How the baseline and scene panels are coloured, chosen by what changed (:func:`choose_composite`)."""

    TRUE_COLOUR = ("B04", "B03", "B02")
    FALSE_COLOUR = ("B08", "B04", "B03")  # near-infrared, red, green

    @property
    def label(self) -> str:
        """Words for a panel title."""
        if self is Composite.FALSE_COLOUR:
            return "false colour: near-infrared, red, green"
        return "true colour"


#: Formation classes whose paint shows in the near-infrared rather than the visible bands.
NIR_CLASSES = frozenset(VEHICLE_CLASSES)
#: Band names as a picture calls them.
BAND_NAMES = {"B02": "blue", "B03": "green", "B04": "red", "B08": "near-infrared", "B11": "SWIR-1", "B12": "SWIR-2"}


def choose_composite(classes: Iterable[str], bands: Sequence[str]) -> Composite | None:
    """False colour (NIR, red, green) when a vehicle formation is outlined and the scene has the bands:
    olive paint differs from asphalt and concrete mostly in the near-infrared, while troops darken the
    visible bands and show best in true colour. None: neither composite is available (radar)."""
    if NIR_CLASSES & set(classes) and all(b in bands for b in Composite.FALSE_COLOUR.value):
        return Composite.FALSE_COLOUR
    if all(b in bands for b in Composite.TRUE_COLOUR.value):
        return Composite.TRUE_COLOUR
    return None


def changed_band(difference: np.ndarray, where: np.ndarray) -> int:
    """The band (index into ``difference``, (bands, rows, cols) scene minus baseline) that changed most
    over the pixels ``where``, against its own scatter over the whole picture: the largest
    |median over ``where``| / (1.4826 MAD over every valid pixel). Band 0 when ``where`` holds no valid pixel."""
    best, index = -1.0, 0
    for b, layer in enumerate(difference):
        inside = layer[where & np.isfinite(layer)]
        finite = layer[np.isfinite(layer)]
        if inside.size == 0 or finite.size < 2:
            continue
        spread = 1.4826 * float(np.median(np.abs(finite - np.median(finite)))) or 1e-6
        contrast = abs(float(np.median(inside)) - float(np.median(finite))) / spread
        if contrast > best:
            best, index = contrast, b
    return index


def difference_limit(layer: np.ndarray, where: np.ndarray) -> float:
    """Symmetric colour limit of a band difference: the 98th percentile of |difference| over ``where``
    (the changed pixels) so the change saturates just at its strongest, at least four times the scatter of
    the picture so noise stays pale."""
    finite = layer[np.isfinite(layer)]
    if finite.size == 0:
        return 1.0
    scatter = 1.4826 * float(np.median(np.abs(finite - np.median(finite))))
    inside = np.abs(layer[where & np.isfinite(layer)])
    peak = float(np.percentile(inside, 98)) if inside.size else 0.0
    return max(peak, 4.0 * scatter, 1e-6)


@dataclass(frozen=True)
class Difference:
    """A band difference panel: scene minus baseline in one band (rows, cols; NaN: no data), its band
    code and name, unit, and the symmetric colour limit (:func:`difference_limit`)."""

    layer: np.ndarray
    band: str
    name: str
    unit: str
    limit: float

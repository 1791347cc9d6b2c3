"""Outlines of detections on the pixel grid: the oriented rectangle of each region's moment axes."""

from __future__ import annotations

import math

import numpy as np

from monitor.detect.formations import Detection


def detection_outline(det: Detection, resolution: float) -> np.ndarray:
    """(5, 2) closed ring of (col, row) coordinates in the detector's index space, where pixel ``(r, c)``
    is centred on ``(c, r)`` (as matplotlib's ``imshow`` draws it; add 0.5 for an affine transform).

    The rectangle is centred on the region's centroid, ``length_m`` along its major axis and
    ``width_m`` across (each at least one pixel), rotated by ``orientation_deg`` (scikit-image's
    convention: the angle between the row axis and the major axis, counter-clockwise).
    """
    theta = math.radians(det.orientation_deg)
    half_l = max(det.length_m / resolution, 1.0) / 2.0
    half_w = max(det.width_m / resolution, 1.0) / 2.0
    major = np.array([math.sin(theta), math.cos(theta)])  # (dcol, drow)
    minor = np.array([math.cos(theta), -math.sin(theta)])
    centre = np.array([det.col, det.row])
    corners = [
        centre + half_l * major + half_w * minor,
        centre + half_l * major - half_w * minor,
        centre - half_l * major - half_w * minor,
        centre - half_l * major + half_w * minor,
    ]
    return np.array([*corners, corners[0]])


def detection_label(det: Detection) -> str:
    """A short label of a detection for a picture: class, area and estimate (without its assumptions)."""
    label = f"{det.cls}, {det.area_m2:,.0f} m2"
    if det.estimate:
        label += ", " + det.estimate.split(" (")[0]
    return label

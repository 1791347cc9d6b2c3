"""Outlines of detections on the pixel grid: the traced outline of each detection's own pixels.

A detection's pixels are the ones the scorer labelled for it (``ZoneScore.footprints``: a blob's changed
pixels, a vehicle park's bridged footprint). Their outline is traced along the pixel edges
(:func:`rasterio.features.shapes`) after clipping them to the zone, so an outline never leaves its zone
and follows a row of change as it lies on the grid. A detection without labelled pixels (a radar bright
target, or scores stored before footprints existed) falls back to the rectangle of its moment axes,
clipped to the zone as well.

Coordinates are (col, row) pixel-corner coordinates of the site grid: pixel ``(r, c)`` covers
``[c, c + 1] x [r, r + 1]``, as an affine transform maps them. ``imshow`` centres pixel ``(r, c)`` on
``(c, r)``: subtract 0.5 to draw (:func:`rings_in_window`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.features import shapes
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from monitor.detect.classes import VEHICLE_CLASSES, DetectionClass
from monitor.detect.formations import M2_PER_VEHICLE, PERSONNEL_PER_M2, Detection, block_equivalents

#: Basis of the estimates, printed on every picture that shows one (``detect.formations`` constants).
PERSONNEL_BASIS = f"one soldier per {1 / PERSONNEL_PER_M2[1]:g}-{1 / PERSONNEL_PER_M2[0]:g} m2 of troop block"
VEHICLE_BASIS = f"one vehicle per {M2_PER_VEHICLE[0]:.0f}-{M2_PER_VEHICLE[1]:.0f} m2 of footprint"


@dataclass(frozen=True)
class Outline:
    """A detection of a zone and its outline on the site grid (pixel-corner coordinates, see the module)."""

    zone: str
    detection: Detection
    geometry: BaseGeometry  # Polygon or MultiPolygon; empty when nothing of it lies in the zone
    traced: bool = True  # False: the moment-axes rectangle clipped to the zone (no labelled pixels)


def mask_geometry(mask: np.ndarray, origin: tuple[int, int] = (0, 0)) -> BaseGeometry:
    """The union of the pixels of a boolean ``mask`` as polygons traced along pixel edges, in pixel-corner
    coordinates shifted by ``origin`` (the mask's top-left pixel on the site grid, (row, col))."""
    if not mask.any():
        return Polygon()
    transform = Affine.translation(origin[1], origin[0])
    values = mask.astype(np.uint8)
    polygons = [shape(geom) for geom, value in shapes(values, mask=mask, connectivity=4, transform=transform)]
    return unary_union([p for p in polygons if p.is_valid and not p.is_empty])


def detection_outline(det: Detection, resolution: float) -> np.ndarray:
    """(5, 2) closed ring of (col, row) pixel-corner coordinates: the rectangle of the region's moment
    axes, centred on its centroid, ``length_m`` along its major axis and ``width_m`` across (each at
    least one pixel), rotated by ``orientation_deg`` (scikit-image's convention: the angle between the
    row axis and the major axis, counter-clockwise). The fallback of :func:`trace`."""
    theta = math.radians(det.orientation_deg)
    half_l = max(det.length_m / resolution, 1.0) / 2.0
    half_w = max(det.width_m / resolution, 1.0) / 2.0
    major = np.array([math.sin(theta), math.cos(theta)])  # (dcol, drow)
    minor = np.array([math.cos(theta), -math.sin(theta)])
    centre = np.array([det.col + 0.5, det.row + 0.5])  # centroid of pixel centres -> corner coordinates
    corners = [
        centre + half_l * major + half_w * minor,
        centre + half_l * major - half_w * minor,
        centre - half_l * major - half_w * minor,
        centre - half_l * major + half_w * minor,
    ]
    return np.array([*corners, corners[0]])


def trace(
    zone: str,
    det: Detection,
    zone_mask: np.ndarray,
    footprints: np.ndarray | None,
    origin: tuple[int, int],
    resolution: float,
    zone_shape: BaseGeometry | None = None,
) -> Outline:
    """A detection's outline on the site grid, inside its zone (``zone_mask``: site-grid booleans).

    Traced from its pixels in ``footprints`` (the zone's label image whose top-left pixel is ``origin``)
    when it has any there; else its moment-axes rectangle intersected with the zone (``zone_shape``: the
    zone's :func:`mask_geometry`, computed here when not given).
    """
    if footprints is not None and det.region > 0:
        r0, c0 = origin
        rows, cols = footprints.shape
        own = (footprints == det.region) & zone_mask[r0 : r0 + rows, c0 : c0 + cols]
        if own.any():
            return Outline(zone, det, mask_geometry(own, origin))
    shape_ = zone_shape if zone_shape is not None else mask_geometry(zone_mask)
    return Outline(zone, det, Polygon(detection_outline(det, resolution)).intersection(shape_), traced=False)


def polygons(geometry: BaseGeometry) -> list[Polygon]:
    """The polygons of a Polygon / MultiPolygon / GeometryCollection (lines and points dropped)."""
    if isinstance(geometry, Polygon):
        return [] if geometry.is_empty else [geometry]
    if isinstance(geometry, MultiPolygon):
        return [p for p in geometry.geoms if not p.is_empty]
    return [p for g in getattr(geometry, "geoms", []) for p in polygons(g)]


def rings_in_window(geometry: BaseGeometry, window_origin: tuple[int, int]) -> list[np.ndarray]:
    """Every ring (exteriors and holes) of ``geometry`` as (n, 2) (col, row) arrays in ``imshow`` index
    coordinates of a window whose top-left pixel is ``window_origin`` (row, col) on the site grid."""
    r0, c0 = window_origin
    shift = np.array([c0 + 0.5, r0 + 0.5])
    rings = []
    for poly in polygons(geometry):
        for ring in (poly.exterior, *poly.interiors):
            rings.append(np.asarray(ring.coords) - shift)
    return rings


def footprint_m2(det: Detection) -> float:
    """The ground a formation covers, m2: a vehicle park's bridged footprint (its changed area over the
    share of it that changed), else the changed area itself (a block, a row)."""
    if det.cls == DetectionClass.VEHICLE_PARK and det.extent > 0:
        return det.area_m2 / det.extent
    return det.area_m2


def detection_label(det: Detection, resolution: float = 10.0) -> str:
    """A short label of a formation for a picture, with the areas named: a troop block blob's changed
    area, the blocks it holds and the personnel; a vehicle formation's footprint (and its changed area
    when they differ) and the vehicles. The estimates' basis is printed once under the key
    (:data:`PERSONNEL_BASIS`, :data:`VEHICLE_BASIS`)."""
    if det.cls == DetectionClass.CROWD_BLOCK:
        lo, hi = (det.area_m2 * k for k in PERSONNEL_PER_M2)
        blocks = block_equivalents(det, resolution)
        return f"troop-block blob: changed {det.area_m2:,.0f} m2 = {blocks:.1f} block(s), {lo:,.0f}-{hi:,.0f} personnel"
    if det.cls in VEHICLE_CLASSES:
        area = footprint_m2(det)
        lo, hi = (area / k for k in reversed(M2_PER_VEHICLE))
        changed = f" ({det.area_m2:,.0f} m2 changed)" if det.cls == DetectionClass.VEHICLE_PARK else ""
        return f"{det.cls}: footprint {area:,.0f} m2{changed}, {lo:,.0f}-{hi:,.0f} vehicles"
    return f"{det.cls}: changed {det.area_m2:,.0f} m2"


def summary_line(outlines: Sequence[Outline], resolution: float) -> str:
    """One line for the picture's heading with the same definitions as the labels: troop blocks counted
    in the outlined blobs (to a tenth, as each blob's label gives them),
    vehicle footprints and their estimates."""
    dets = [o.detection for o in outlines]
    parts = []
    blobs = [d for d in dets if d.cls == DetectionClass.CROWD_BLOCK]
    if blobs:
        area = sum(d.area_m2 for d in blobs)
        blocks = sum(block_equivalents(d, resolution) for d in blobs)
        lo, hi = (area * k for k in PERSONNEL_PER_M2)
        parts.append(
            f"{len(blobs)} troop-block blob(s) outlined = {blocks:.1f} block(s), changed {area:,.0f} m2, "
            f"{lo:,.0f}-{hi:,.0f} personnel"
        )
    vehicles = [d for d in dets if d.cls in VEHICLE_CLASSES]
    if vehicles:
        area = sum(footprint_m2(d) for d in vehicles)
        lo, hi = (area / k for k in reversed(M2_PER_VEHICLE))
        parts.append(
            f"{len(vehicles)} vehicle formation(s) outlined, footprint {area:,.0f} m2, {lo:,.0f}-{hi:,.0f} vehicles"
        )
    return "; ".join(parts) or "no formation-like change outlined"

"""Evidence for GIS: the change map as a Cloud-Optimized GeoTIFF, detections as RFC 7946 GeoJSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from shapely.geometry import MultiPolygon, mapping
from shapely.geometry.polygon import orient

from monitor.archive.files import atomic_path
from monitor.detect.classes import VEHICLE_CLASSES, DetectionClass
from monitor.errors import ArchiveError
from monitor.render.outlines import PERSONNEL_BASIS, VEHICLE_BASIS, Outline, footprint_m2, polygons


def write_change_cog(
    path: Path, change: np.ndarray, transform: Affine, crs: CRS, tags: Mapping[str, str] | None = None
) -> Path:
    """Write a (rows, cols) change statistic as a float32 Cloud-Optimized GeoTIFF (NaN = not compared),
    DEFLATE-compressed with internal overviews, atomically. QGIS opens it as it is."""
    profile: dict[str, Any] = {
        "driver": "COG",
        "count": 1,
        "height": change.shape[0],
        "width": change.shape[1],
        "dtype": "float32",
        "crs": crs,
        "transform": transform,
        "nodata": float("nan"),
        "compress": "deflate",
        "predictor": 3,
        "blocksize": 256,
        "overview_resampling": "average",
    }
    try:
        with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
            dst.write(change.astype(np.float32)[None])
            dst.set_band_description(1, "change")
            dst.update_tags(**(tags or {}))
    except Exception as exc:  # rasterio raises TypeError/ValueError too
        raise ArchiveError(f"cannot write {path}: {exc}") from exc
    return path


def detections_geojson(
    outlines: Sequence[Outline],
    *,
    transform: Affine,
    crs: CRS,
    properties: Mapping[str, Any],
) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection: one feature per detection, its traced outline inside its zone
    (:mod:`monitor.render.outlines`; a Polygon, or a MultiPolygon when the zone cuts it in parts) in WGS84
    lon/lat (exterior rings counter-clockwise, no ``crs`` member), with the detection's fields,
    ``footprint_m2``, how the outline was made (``outline``), the basis of its estimate and
    ``properties`` (site, zone, scene, ...) as its properties. Outlines are on the grid of
    ``transform``, in pixel-corner coordinates. A detection with nothing inside its zone is left out."""
    to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def lonlat(coords: np.ndarray) -> np.ndarray:
        """(n, 2) pixel-corner (col, row) -> (n, 2) lon, lat through the grid and the CRS."""
        col, row = coords[:, 0], coords[:, 1]
        x = transform.a * col + transform.b * row + transform.c
        y = transform.d * col + transform.e * row + transform.f
        lon, lat = to_wgs84.transform(x, y)
        return np.round(np.column_stack([lon, lat]), 7)

    features = []
    for outline in outlines:
        det = outline.detection
        if outline.geometry.is_empty:
            continue
        geometry = shapely.transform(outline.geometry, lonlat)
        parts = [orient(p, sign=1.0) for p in polygons(geometry)]
        if not parts:
            continue
        shape_out = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        basis = (
            PERSONNEL_BASIS
            if det.cls == DetectionClass.CROWD_BLOCK
            else VEHICLE_BASIS
            if det.cls in VEHICLE_CLASSES
            else None
        )
        props = {
            **properties,
            "class": det.cls,
            **{k: v for k, v in det.to_dict().items() if k != "cls"},
            "footprint_m2": round(footprint_m2(det), 1),
            "outline": "traced pixels" if outline.traced else "moment-axes rectangle clipped to the zone",
            "estimate_basis": basis,
        }
        features.append({"type": "Feature", "geometry": mapping(shape_out), "properties": props})
    return {"type": "FeatureCollection", "features": features}


def write_geojson(path: Path, collection: Mapping[str, Any]) -> Path:
    """Write a GeoJSON document atomically (UTF-8, ``.geojson``)."""
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(collection, separators=(",", ":"), default=_plain), encoding="utf-8")
    except OSError as exc:
        raise ArchiveError(f"cannot write {path}: {exc}") from exc
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

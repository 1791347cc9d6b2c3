"""Evidence for GIS: the change map as a Cloud-Optimized GeoTIFF, detections as RFC 7946 GeoJSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from shapely.geometry import Polygon, mapping
from shapely.geometry.polygon import orient

from monitor.archive.files import atomic_path
from monitor.detect.formations import Detection
from monitor.errors import ArchiveError
from monitor.render.outlines import detection_outline


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
    detections: Sequence[Detection],
    *,
    transform: Affine,
    crs: CRS,
    resolution: float,
    properties: Mapping[str, Any],
) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection: one Polygon per detection in WGS84 lon/lat (exterior ring
    counter-clockwise, no ``crs`` member), with the detection's fields and ``properties`` (site, zone,
    scene, ...) as its properties. ``row``/``col`` of the detections are on the grid of ``transform``."""
    to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    features = []
    for det in detections:
        ring = detection_outline(det, resolution)
        col, row = ring[:, 0] + 0.5, ring[:, 1] + 0.5  # index space -> pixel-corner space of the transform
        x = transform.a * col + transform.b * row + transform.c
        y = transform.d * col + transform.e * row + transform.f
        lon, lat = to_wgs84.transform(np.asarray(x), np.asarray(y))
        polygon = orient(Polygon(zip(np.round(lon, 7), np.round(lat, 7), strict=True)), sign=1.0)
        props = {**properties, "class": det.cls, **{k: v for k, v in det.to_dict().items() if k != "cls"}}
        features.append({"type": "Feature", "geometry": mapping(polygon), "properties": props})
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

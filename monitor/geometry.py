"""Footprints of sites and zones as shapely geometries in WGS84 lon/lat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shapely.geometry import MultiPolygon, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from monitor.errors import ConfigError

Footprint = Polygon | MultiPolygon


def read_geojson(path: Path) -> Footprint:
    """Read a GeoJSON Polygon, MultiPolygon, Feature or single-feature FeatureCollection (WGS84)."""
    try:
        doc: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("geometry file does not exist", path=str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"not a readable GeoJSON file: {exc}", path=str(path)) from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features") or []
        if len(features) != 1:
            raise ConfigError(
                f"a FeatureCollection must hold exactly one feature, it holds {len(features)}", path=str(path)
            )
        doc = features[0]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
    try:
        geom: BaseGeometry = shape(doc)
    except Exception as exc:  # shapely raises several types for malformed input
        raise ConfigError(f"not a GeoJSON geometry: {exc}", path=str(path)) from None
    if not isinstance(geom, Polygon | MultiPolygon):
        raise ConfigError(f"expected a Polygon or MultiPolygon, got {geom.geom_type}", path=str(path))
    if geom.is_empty or not geom.is_valid:
        raise ConfigError("the polygon is empty or invalid (self-intersecting?)", path=str(path))
    xmin, ymin, xmax, ymax = geom.bounds
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        raise ConfigError("coordinates must be WGS84 lon/lat (RFC 7946)", path=str(path))
    return geom


def footprint(bbox: tuple[float, float, float, float] | None, geometry: Path | None) -> Footprint:
    """The footprint of a site or zone config: its bbox, or the polygon in its GeoJSON file."""
    if geometry is not None:
        return read_geojson(geometry)
    if bbox is None:
        raise ConfigError("needs a bbox or a geometry")
    return box(*bbox)


def covers(outer: Footprint, inner: Footprint, tolerance: float = 1e-9) -> bool:
    """True if ``inner`` lies inside ``outer`` (area outside at most ``tolerance`` of inner's area)."""
    return bool(inner.difference(outer).area <= tolerance * max(inner.area, 1e-30))

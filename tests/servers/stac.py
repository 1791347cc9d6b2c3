"""A STAC API stand-in: landing page, conformance, collections and item search (GET and POST) with paging.

Items are plain dicts in the providers' shapes (see :func:`earth_search_item`, :func:`pc_item`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.servers.http import Handler

CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "http://www.opengis.net/spec/ogcapi-features-1/conf/1.0/core",
    "http://www.opengis.net/spec/ogcapi-features-1/conf/1.0/geojson",
]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class StacApi:
    """The app: ``items`` is the whole catalogue; ``base`` is the server URL (set when it starts)."""

    def __init__(self, items: Sequence[dict[str, Any]] = ()) -> None:
        self.items: list[dict[str, Any]] = list(items)
        self.base = ""

    def _links(self) -> list[dict[str, str]]:
        return [
            {"rel": "self", "href": f"{self.base}/", "type": "application/json"},
            {"rel": "root", "href": f"{self.base}/", "type": "application/json"},
            {"rel": "conformance", "href": f"{self.base}/conformance", "type": "application/json"},
            {"rel": "data", "href": f"{self.base}/collections", "type": "application/json"},
            {"rel": "search", "href": f"{self.base}/search", "type": "application/geo+json", "method": "GET"},
            {"rel": "search", "href": f"{self.base}/search", "type": "application/geo+json", "method": "POST"},
        ]

    def __call__(self, handler: Handler, method: str, path: str, body: bytes) -> None:
        parts = urlsplit(path)
        if parts.path in {"", "/"}:
            doc = {
                "type": "Catalog",
                "stac_version": "1.0.0",
                "id": "stand-in",
                "description": "STAC API stand-in",
                "conformsTo": CONFORMANCE,
                "links": self._links(),
            }
            handler.reply(200, json.dumps(doc).encode())
        elif parts.path == "/conformance":
            handler.reply(200, json.dumps({"conformsTo": CONFORMANCE}).encode())
        elif parts.path == "/search":
            if method == "POST":
                params = json.loads(body or b"{}")
            else:
                query = parse_qs(parts.query)
                params = {k: v[0] for k, v in query.items()}
                for key in ("collections", "bbox"):
                    if key in params and isinstance(params[key], str):
                        params[key] = params[key].split(",")
            self.search(handler, method, params)
        else:
            handler.reply(404, b'{"code": "NotFound"}')

    def search(self, handler: Handler, method: str, params: dict[str, Any]) -> None:
        matches = [i for i in self.items if self._matches(i, params)]
        matches.sort(key=lambda i: (i["properties"]["datetime"], i["id"]), reverse=True)  # newest first, like them
        limit = int(params.get("limit") or 10)
        offset = int(params.get("token") or 0)
        page = matches[offset : offset + limit]
        links = []
        if offset + limit < len(matches):
            nxt = {**params, "token": str(offset + limit)}
            if method == "POST":
                links.append(
                    {"rel": "next", "href": f"{self.base}/search", "method": "POST", "body": nxt, "merge": False}
                )
            else:
                flat = {k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in nxt.items()}
                links.append({"rel": "next", "href": f"{self.base}/search?{urlencode(flat)}", "method": "GET"})
        doc = {
            "type": "FeatureCollection",
            "features": page,
            "links": links,
            "numberMatched": len(matches),
            "numberReturned": len(page),
        }
        handler.reply(200, json.dumps(doc).encode(), "application/geo+json")

    @staticmethod
    def _matches(item: dict[str, Any], params: dict[str, Any]) -> bool:
        collections = params.get("collections")
        if collections and item.get("collection") not in collections:
            return False
        bbox = params.get("bbox")
        if bbox:
            x0, y0, x1, y1 = map(float, bbox)
            ix0, iy0, ix1, iy1 = item["bbox"]
            if ix1 < x0 or ix0 > x1 or iy1 < y0 or iy0 > y1:
                return False
        window = params.get("datetime")
        if window:
            start, _, end = str(window).partition("/")
            t = _time(item["properties"]["datetime"])
            if start not in {"", ".."} and t < _time(start):
                return False
            if end not in {"", ".."} and t > _time(end):
                return False
        return True


def _feature(item_id: str, collection: str, bbox: Sequence[float], props: dict[str, Any], assets: dict[str, Any]):  # type: ignore[no-untyped-def]
    x0, y0, x1, y1 = bbox
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "id": item_id,
        "collection": collection,
        "bbox": list(bbox),
        "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]},
        "properties": props,
        "assets": assets,
        "links": [],
    }


def earth_search_item(
    *,
    tile: str,
    when: datetime,
    platform: str,
    orbit: int,
    bbox: Sequence[float],
    hrefs: dict[str, str],
    epsg: int,
    collection: str = "sentinel-2-l2a",
    baseline: str = "05.09",
    offset_applied: bool = False,
) -> dict[str, Any]:
    """An item shaped like Earth Search v1's ``sentinel-2-l2a``: asset keys blue/green/red/nir/scl/..."""
    zone, band, square = tile[:2], tile[2], tile[3:]
    item_id = f"{platform.upper().replace('SENTINEL-', 'S')}_{tile}_{when:%Y%m%d}_0_L2A"
    props = {
        "datetime": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "platform": platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": 3.2,
        # projection extension v2 (proj:code) in the reprocessed collection, v1 (proj:epsg) in the old one
        **({"proj:code": f"EPSG:{epsg}"} if "c1" in collection else {"proj:epsg": epsg}),
        "mgrs:utm_zone": int(zone),
        "mgrs:latitude_band": band,
        "mgrs:grid_square": square,
        "grid:code": f"MGRS-{tile}",
        "sat:relative_orbit": orbit,
        "s2:processing_baseline": baseline,
        "s2:product_type": "S2MSI2A",
        "earthsearch:boa_offset_applied": offset_applied,
        "processing:software": {"sentinel2-to-stac": "0.1.1"},
    }
    raster = {"nodata": 0, "data_type": "uint16", "scale": 0.0001, "offset": -0.1}
    assets = {
        key: {
            "href": href,
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data"],
            "raster:bands": [raster if key != "scl" else {"nodata": 0, "data_type": "uint8"}],
        }
        for key, href in hrefs.items()
    }
    assets["thumbnail"] = {"href": "https://example.invalid/preview.jpg", "type": "image/jpeg", "roles": ["thumbnail"]}
    return _feature(item_id, collection, bbox, props, assets)


def pc_item(
    *,
    tile: str,
    when: datetime,
    platform: str,
    orbit: int,
    bbox: Sequence[float],
    hrefs: dict[str, str],
    epsg: int,
    baseline: str = "05.09",
) -> dict[str, Any]:
    """An item shaped like Planetary Computer's ``sentinel-2-l2a``: asset keys B02/B03/B04/B08/SCL."""
    code = platform.upper().replace("SENTINEL-", "S")
    item_id = f"{code}_MSIL2A_{when:%Y%m%dT%H%M%S}_R{orbit:03d}_T{tile}_{when:%Y%m%dT%H%M%S}"
    props = {
        "datetime": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "platform": platform,
        "constellation": "Sentinel 2",
        "proj:epsg": epsg,
        "s2:mgrs_tile": tile,
        "sat:relative_orbit": orbit,
        "sat:orbit_state": "descending",
        "s2:processing_baseline": baseline,
        "s2:product_type": "S2MSI2A",
        "eo:cloud_cover": 3.2,
    }
    assets = {
        key: {"href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized", "roles": ["data"]}
        for key, href in hrefs.items()
    }
    return _feature(item_id, "sentinel-2-l2a", bbox, props, assets)

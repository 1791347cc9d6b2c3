"""A Sentinel Hub stand-in: OAuth2 client-credentials token, Catalog API search and Process API, over TLS.

The Process endpoint cuts the requested bbox (in the requested CRS) and size out of its source rasters
with rasterio, like the real service renders onto the requested grid, and reports the processing units
spent in ``x-processingunits-spent``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.io import MemoryFile
from rasterio.warp import reproject

from tests.servers.http import Handler


@dataclass
class Acquisition:
    """One acquisition the stand-in holds: its raster (bands, rows, cols) and catalog feature."""

    collection: str  # sentinel-2-l2a | sentinel-1-grd
    item_id: str
    when: datetime
    platform: str
    bbox: tuple[float, float, float, float]  # WGS84
    bands: dict[str, np.ndarray]
    crs: str
    transform: Affine
    offset: int = 1000  # DN offset in the stored Sentinel-2 values (baseline >= 04.00)
    extra: dict[str, Any] = field(default_factory=dict)


class SentinelHubStandIn:
    """The app. ``client_id``/``client_secret`` are the only accepted credentials."""

    def __init__(self, client_id: str = "test-client", client_secret: str = "s3cret-value") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: dict[str, bool] = {}  # token -> valid
        self.acquisitions: list[Acquisition] = []
        self.process_requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (401), although its holder thinks it is valid."""
        with self._lock:
            for token in self.tokens:
                self.tokens[token] = False

    def __call__(self, handler: Handler, method: str, path: str, body: bytes) -> None:
        if path == "/oauth/token" and method == "POST":
            self.token(handler, body)
            return
        if not self._authorised(handler):
            handler.reply(
                401,
                json.dumps(
                    {"error": {"status": 401, "reason": "Unauthorized", "message": "Token expired or invalid"}}
                ).encode(),
            )
            return
        if path == "/api/v1/catalog/1.0.0/search" and method == "POST":
            self.catalog(handler, json.loads(body))
        elif path == "/api/v1/process" and method == "POST":
            self.process(handler, json.loads(body))
        else:
            handler.reply(404, b'{"error": {"status": 404}}')

    def token(self, handler: Handler, body: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials" or (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            handler.reply(401, json.dumps({"error": "invalid_client", "error_description": "bad credentials"}).encode())
            return
        token = _jwt({"azp": self.client_id, "exp": int(time.time()) + 3600, "jti": secrets.token_hex(8)})
        with self._lock:
            self.tokens[token] = True
        handler.reply(200, json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600}).encode())

    def _authorised(self, handler: Handler) -> bool:
        match = re.fullmatch(r"Bearer (\S+)", handler.headers.get("Authorization") or "")
        with self._lock:
            return bool(match and self.tokens.get(match.group(1)))

    def catalog(self, handler: Handler, params: dict[str, Any]) -> None:
        (collection,) = params["collections"]
        start, _, end = params.get("datetime", "../..").partition("/")
        x0, y0, x1, y1 = params["bbox"]
        found = []
        for acq in sorted(self.acquisitions, key=lambda a: a.when):
            ax0, ay0, ax1, ay1 = acq.bbox
            if acq.collection != collection or ax1 < x0 or ax0 > x1 or ay1 < y0 or ay0 > y1:
                continue
            if start not in {"", ".."} and acq.when < datetime.fromisoformat(start.replace("Z", "+00:00")):
                continue
            if end not in {"", ".."} and acq.when > datetime.fromisoformat(end.replace("Z", "+00:00")):
                continue
            props = {"datetime": acq.when.strftime("%Y-%m-%dT%H:%M:%SZ"), "platform": acq.platform, **acq.extra}
            found.append(
                {
                    "type": "Feature",
                    "stac_version": "1.0.0",
                    "id": acq.item_id,
                    "bbox": list(acq.bbox),
                    "properties": props,
                    "assets": {},
                    "links": [],
                }
            )
        limit = int(params.get("limit", 10))
        offset = int(params.get("next") or 0)
        page = found[offset : offset + limit]
        context: dict[str, Any] = {"limit": limit, "returned": len(page)}
        if offset + limit < len(found):
            context["next"] = offset + limit
        handler.reply(
            200, json.dumps({"type": "FeatureCollection", "features": page, "links": [], "context": context}).encode()
        )

    def process(self, handler: Handler, request: dict[str, Any]) -> None:
        self.process_requests.append(request)
        bounds = request["input"]["bounds"]
        crs = CRS.from_epsg(int(re.search(r"(\d+)$", bounds["properties"]["crs"]).group(1)))  # type: ignore[union-attr]
        x0, y0, x1, y1 = bounds["bbox"]
        width, height = request["output"]["width"], request["output"]["height"]
        (data,) = request["input"]["data"]
        time_from = datetime.fromisoformat(data["dataFilter"]["timeRange"]["from"].replace("Z", "+00:00"))
        time_to = datetime.fromisoformat(data["dataFilter"]["timeRange"]["to"].replace("Z", "+00:00"))
        processing = data.get("processing", {})
        wanted = re.search(r"bands:\s*\[([^\]]*)\]", request["evalscript"]).group(1)  # type: ignore[union-attr]
        bands = [b.strip().strip('"') for b in wanted.split(",")]
        float_out = "FLOAT32" in request["evalscript"]
        transform = Affine((x1 - x0) / width, 0, x0, 0, -(y1 - y0) / height, y1)
        out = np.zeros((len(bands), height, width), np.float32)
        mask = np.zeros((height, width), bool)
        hits = [
            a
            for a in self.acquisitions
            if time_from <= a.when <= time_to
            and a.collection.startswith("sentinel-2" if data["type"] in {"sentinel-2-l2a", "S2L2A"} else "sentinel-1")
        ]
        for acq in sorted(hits, key=lambda a: a.when):  # later ones drawn over earlier: mostRecent
            valid_src = np.ones(next(iter(acq.bands.values())).shape, np.float32)
            valid = np.zeros((height, width), np.float32)
            reproject(
                valid_src,
                valid,
                src_transform=acq.transform,
                src_crs=acq.crs,
                dst_transform=transform,
                dst_crs=crs,
                resampling=Resampling.nearest,
                dst_nodata=0,
            )
            take = valid > 0
            for i, band in enumerate(bands):
                if band == "dataMask":
                    continue
                layer = np.zeros((height, width), np.float32)
                reproject(
                    acq.bands[band].astype(np.float32),
                    layer,
                    src_transform=acq.transform,
                    src_crs=acq.crs,
                    dst_transform=transform,
                    dst_crs=crs,
                    resampling=Resampling.nearest,
                )
                if band.startswith("B") and acq.offset and processing.get("harmonizeValues", True):
                    layer = np.maximum(layer - acq.offset, 0)
                out[i][take] = layer[take]
            mask |= take
        if "dataMask" in bands:
            out[bands.index("dataMask")] = mask
        dtype = "float32" if float_out else "uint16"
        with MemoryFile() as mem:
            with mem.open(
                driver="GTiff", width=width, height=height, count=len(bands), dtype=dtype, crs=crs, transform=transform
            ) as dst:
                dst.write(out.astype(dtype))
            payload = bytes(mem.read())
        units = max(0.005, width * height / 512**2 * len(bands) / 3 * (2 if float_out else 1))
        handler.reply(200, payload, "image/tiff", {"x-processingunits-spent": f"{units:.4f}"})


def _jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped (unsigned) token: clients decode its claims (``azp``, ``exp``) as from the real one."""

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"

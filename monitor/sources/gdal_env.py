"""GDAL settings that make small windowed reads of remote COGs cheap, scoped in ``rasterio.Env``.

A site crop needs a few hundred kilobytes out of a tile of a hundred megabytes. With these settings GDAL
opens a COG with one request for its header (no directory listing), reads only the blocks the window
touches, merges consecutive block ranges into one request, multiplexes requests over one HTTP/2
connection and keeps what it read in a cache for the other bands of the same file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import rasterio

#: The settings (GDAL configuration options) for reading COGs over HTTP. Values are strings, as GDAL wants.
COG_OPTIONS: Mapping[str, str] = {
    # do not list the "directory" of a URL on open (one GET per open instead of a listing round trip)
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    # only GeoTIFFs are expected: do not probe for sidecar files (.aux.xml, .ovr, .msk)
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.TIF,.tiff,.TIFF",
    "GDAL_PAM_ENABLED": "NO",
    # adjacent blocks in one range request; several ranges in flight over one HTTP/2 connection
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "GDAL_HTTP_VERSION": "2",
    # keep what was read for the other bands and windows of the same file
    "VSI_CACHE": "TRUE",
    "VSI_CACHE_SIZE": str(64 * 1024 * 1024),
    # bounded retries inside GDAL for 429 and 5xx answers, then the monitor's own retry takes over
    "GDAL_HTTP_MAX_RETRY": "3",
    "GDAL_HTTP_RETRY_DELAY": "1",
    "GDAL_HTTP_TIMEOUT": "60",
    "GDAL_HTTP_CONNECTTIMEOUT": "20",
    # public buckets: never look for AWS credentials
    "AWS_NO_SIGN_REQUEST": "YES",
}


def cog_options(*, ca_bundle: str | None = None, **overrides: Any) -> dict[str, str]:
    """The GDAL options for remote COG reads; ``ca_bundle`` (a PEM file) is the CA trust store to use.

    ``overrides`` replace single options (e.g. ``GDAL_HTTP_RETRY_DELAY="0.2"``).
    """
    options = dict(COG_OPTIONS)
    if ca_bundle:
        options["CURL_CA_BUNDLE"] = ca_bundle
    options.update({k: str(v) for k, v in overrides.items()})
    return options


def cog_env(*, ca_bundle: str | None = None, **overrides: Any) -> rasterio.Env:
    """A ``rasterio.Env`` with :data:`COG_OPTIONS` (see :func:`cog_options`)."""
    return rasterio.Env(**cog_options(ca_bundle=ca_bundle, **overrides))

"""GDAL settings that make small windowed reads of remote COGs cheap, scoped in ``rasterio.Env``.

A site crop needs a few hundred kilobytes out of a tile of a hundred megabytes. With these settings GDAL
opens a COG with one request for its header (no directory listing), reads only the blocks the window
touches, merges consecutive block ranges into one request, multiplexes requests over one HTTP/2
connection and keeps what it read in a cache for the other bands of the same file.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterable, Mapping
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


# --- keeping GDAL on the allowed hosts ------------------------------------------------------------------
#
# GDAL's HTTP client (libcurl) follows every redirect, to any host, and has no option to stop it. It does
# honour a proxy (GDAL_HTTP_PROXY) and libcurl skips the proxy for the hosts listed in ``no_proxy``. So the
# hosts a source may contact go into ``no_proxy`` and every other host is sent to a "proxy" that is a
# socket bound on 127.0.0.1 and never listening: a redirect to a foreign host fails at once with
# "connection refused" and no packet leaves the machine. When the user routes traffic through a proxy of
# their own (``*_proxy`` variables, or GDAL_HTTP_PROXY), that proxy is their policy and this is not done.

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy")
_confine_lock = threading.Lock()
_sink: socket.socket | None = None
_confined: set[str] = set()


def user_proxy(options: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Whether the user routes HTTP through a proxy of their own (environment or GDAL option)."""
    env = os.environ if env is None else env
    if options and options.get("GDAL_HTTP_PROXY"):
        return True
    return any(env.get(v) or env.get(v.upper()) for v in (*_PROXY_VARS, "GDAL_HTTP_PROXY"))


def confine(hosts: Iterable[str], options: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The GDAL options that keep GDAL's HTTP requests (redirects included) on ``hosts``.

    Adds ``hosts`` to the process's ``no_proxy`` (the union over every source built in this process; call
    it when a source is built, before reads start, because changing the environment is not thread-safe).
    Returns ``{}`` when the user has a proxy of their own.
    """
    global _sink
    if user_proxy(options):
        return {}
    with _confine_lock:
        if _sink is None:
            _sink = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            _sink.bind(("127.0.0.1", 0))  # bound and never listening: every connection to it is refused
        new = {h.lower() for h in hosts if h} - _confined
        if new:
            _confined.update(new)
            value = ",".join(sorted(_confined))
            os.environ["no_proxy"] = os.environ["NO_PROXY"] = value
        port = _sink.getsockname()[1]
    return {"GDAL_HTTP_PROXY": f"http://127.0.0.1:{port}"}

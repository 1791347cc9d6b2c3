"""The ``planetary-computer`` source: Microsoft Planetary Computer's STAC API, assets signed per read.

Assets live in Azure Blob Storage and are read with a shared access signature (SAS) token that the
``planetary-computer`` package fetches from the SAS token endpoint (``PC_SDK_SAS_URL``; with
``PC_SDK_SUBSCRIPTION_KEY`` when you have one) and caches until shortly before it expires. Every band
read signs its href anew, and a read refused as forbidden (a token the service already considers
expired) drops the cached token so the retry signs with a fresh one.

Collections: ``sentinel-2-l2a`` and ``sentinel-1-grd``. Of the two Sentinel-1 collections only
``sentinel-1-grd`` is open without an account (``sentinel-1-rtc``, terrain-corrected gamma0, needs
one). GRD holds Level-1 digital numbers in radar geometry located by ground control points: the
source calibrates them to linear sigma0 with each product's calibration annotation and warps them onto
the site grid through the GCPs (:mod:`monitor.sources.s1_grd`).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.config import PLANETARY_COMPUTER_URL, SourceConfig
from monitor.errors import ConfigError, SourceError
from monitor.redact import redact, register
from monitor.sources.hosts import PLANETARY_COMPUTER_HOSTS
from monitor.sources.stac import StacSource

log = logging.getLogger(__name__)

#: Collections this source reads, and those it refuses with the reason.
SUPPORTED = ("sentinel-2-l2a", "sentinel-1-grd")
UNSUPPORTED = {
    "sentinel-1-rtc": "needs a Planetary Computer account (and is gamma0, not the sigma0 the monitor compares); "
    "use sentinel-1-grd, which is open",
}


class PlanetaryComputerSource(StacSource):
    """Sentinel-2 L2A from the Planetary Computer, COG reads signed with the ``planetary-computer`` package."""

    kind = "planetary-computer"
    default_url = PLANETARY_COMPUTER_URL
    default_collections = SUPPORTED
    provider_hosts = PLANETARY_COMPUTER_HOSTS

    def __init__(self, config: SourceConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._signing = threading.Lock()  # band files are read concurrently: fetch one token, not one each
        for collection in self.collections:
            if collection in UNSUPPORTED:
                raise ConfigError(f"collection {collection!r} {UNSUPPORTED[collection]}", key="collections")
            if collection not in SUPPORTED:
                raise ConfigError(
                    f"unknown collection {collection!r} (known: {', '.join(SUPPORTED)})", key="collections"
                )

    def sign(self, href: str) -> str:
        """``href`` signed with a SAS token (cached by the package until a minute before it expires)."""
        import planetary_computer
        import requests

        try:
            with self._signing:
                signed = str(planetary_computer.sign_url(href))
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise SourceError(f"cannot sign {href} at the SAS token endpoint: {redact(str(exc))}") from exc
        register(*parse_qs(urlsplit(signed).query).get("sig", ()))  # masked wherever it might be quoted
        return signed

    def read_failed(self, href: str, exc: SourceError, signed: str | None = None) -> None:
        """A forbidden read means the signature expired early: forget the token so the retry gets a new one.

        Only the token that ``signed`` carried is dropped: when several band reads fail with one expired
        token at once, the first drops it, the others find a fresh one already cached and keep it.
        """
        if re.search(r"\b403\b|forbidden|AuthenticationFailed", str(exc), re.IGNORECASE):
            with self._signing:
                dropped = drop_token(href, signed=signed)
            log.info("%s: read of %s refused; dropped %d cached SAS token(s)", self.name, href, dropped)


def drop_token(href: str, signed: str | None = None) -> int:
    """Remove the cached SAS token(s) of ``href``'s storage account and container; returns how many.

    With ``signed`` (the URL that was refused), only a cached token that URL carries is removed.
    """
    from planetary_computer import sas

    cache = sas.TOKEN_CACHE
    parts = urlsplit(href)
    account = parts.netloc.split(".")[0]
    container = parts.path.lstrip("/").split("/")[0]
    keys = [
        k
        for k in list(cache)
        if k.endswith(f"/{account}/{container}") and (signed is None or str(getattr(cache[k], "token", "")) in signed)
    ]
    for key in keys:
        cache.pop(key, None)
    return len(keys)

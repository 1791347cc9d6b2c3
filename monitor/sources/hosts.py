"""Which hosts a remote source may contact: the asset-href policy of CONTRACT.md ("Sources").

A STAC catalogue is input from outside. An item may name any URL as an asset href (``file:///etc/passwd``,
``/vsicurl/...``, a host of its choosing); following it would let a catalogue make the monitor read local
files or talk to hosts nobody configured. A remote source therefore follows an href only when it is
``http(s)://`` to its API's own host, one of the provider's asset hosts (:data:`EARTH_SEARCH_HOSTS`,
:data:`PLANETARY_COMPUTER_HOSTS`) or one of the hosts in the source's ``asset_hosts`` config list. An href
that fails the check is refused before any connection is made; the scene is recorded as failed with the
reason :meth:`HostPolicy.refusal` gives.

Hosts are compared by name (case-insensitive, any port): ``127.0.0.1`` and ``localhost`` are different
hosts, as they are to a TLS certificate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.errors import SceneError

#: Element 84's public Sentinel-2 buckets: ``sentinel-cogs`` (collection ``sentinel-2-l2a``) and the bucket
#: of the reprocessed collection ``sentinel-2-c1-l2a`` (``e84-earth-search-sentinel-data``).
EARTH_SEARCH_HOSTS = (
    "sentinel-cogs.s3.us-west-2.amazonaws.com",
    "sentinel-cogs.s3.amazonaws.com",
    "e84-earth-search-sentinel-data.s3.us-west-2.amazonaws.com",
)
#: The Planetary Computer's storage accounts of the collections the source reads (``sentinel-2-l2a``,
#: ``sentinel-1-grd``). Any other account (anyone can open one on ``blob.core.windows.net``) must be listed
#: in ``asset_hosts``.
PLANETARY_COMPUTER_HOSTS = ("sentinel2l2a01.blob.core.windows.net", "sentinel1euwest.blob.core.windows.net")

_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$")


class HostRefusedError(SceneError):
    """An href the source may not follow (a local path, a non-HTTP scheme or a host not allowed)."""


def host_of(url: str) -> str:
    """The lower-case host name of an http(s) URL ('' when it has none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return ""


def valid_host(name: str) -> bool:
    """Whether ``name`` is a plain host name or IP literal (no scheme, path, port, user or wildcard)."""
    return bool(_HOST.match(name.lower())) and len(name) <= 253


@dataclass(frozen=True)
class HostPolicy:
    """The hosts (lower-case names) a source may fetch from, and who it is (for the reasons it gives)."""

    source: str
    hosts: frozenset[str]

    @classmethod
    def of(cls, source: str, api_url: str, provider: Iterable[str] = (), extra: Iterable[str] = ()) -> HostPolicy:
        """The policy of a source whose API is at ``api_url``, with the provider's and the configured hosts."""
        hosts = {host_of(api_url), *(h.lower() for h in provider), *(h.lower() for h in extra)}
        return cls(source=source, hosts=frozenset(h for h in hosts if h))

    def refusal(self, href: str) -> str | None:
        """Why ``href`` may not be followed, or None when it may."""
        shown = href if len(href) <= 200 else href[:200] + "…"
        if any(ord(c) < 33 or ord(c) == 127 for c in href):
            return f"asset href {shown!r} holds spaces or control characters; refused"
        if href.lower().startswith("/vsi"):
            return f"asset href {shown!r} is a GDAL virtual file path; refused"
        try:
            parts = urlsplit(href)
        except ValueError:
            return f"asset href {shown!r} is not a URL; refused"
        scheme = parts.scheme.lower()
        if scheme not in {"http", "https"}:
            what = "a local path" if scheme in {"", "file"} or len(scheme) == 1 else f"a {scheme}:// URL"
            return f"asset href {shown!r} is {what}; only http(s) to the source's hosts is followed"
        if parts.username is not None or parts.password is not None:
            return f"asset href {shown!r} carries credentials; refused"
        host = host_of(href)
        if host not in self.hosts:
            allowed = ", ".join(sorted(self.hosts))
            return (
                f"asset href on host {host or '?'!r} is not one of {self.source}'s hosts ({allowed}); "
                "add it to the source's asset_hosts if you trust it"
            )
        return None

    def check(self, href: str) -> None:
        """Raise :class:`HostRefusedError` when ``href`` may not be followed."""
        reason = self.refusal(href)
        if reason is not None:
            raise HostRefusedError(reason)

"""Telling "the network is down or blocked" apart from a failing service.

DNS failure, connection refusal and a TLS certificate that does not verify do not go away in the seconds
a retry waits: a cron run offline should end in a second with one line per source (``cannot reach
earth-search.aws.element84.com: check the network or proxy``), not spend minutes in retries.
:func:`unreachable` looks through an exception's chain (``__cause__``, ``__context__``, urllib3's
``MaxRetryError.reason``, sentinelhub's ``request_exception``) for those causes.
"""

from __future__ import annotations

import socket
import ssl

from monitor.errors import SourceError


class UnreachableError(SourceError):
    """A source's host could not be resolved or refused the connection (never retried)."""

    def __init__(self, host: str, cause: str) -> None:
        self.host = host
        self.cause = cause
        super().__init__(f"cannot reach {host}: check the network or proxy ({cause})")


def unreachable(exc: BaseException) -> str | None:
    """'DNS lookup failed', 'connection refused' or 'TLS certificate not trusted' when that is what ``exc``
    comes down to, else None."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        name = type(e).__name__
        if isinstance(e, socket.gaierror) or name == "NameResolutionError":
            return "DNS lookup failed"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted; a CA bundle can be given in SSL_CERT_FILE"
        for nxt in (
            e.__cause__,
            e.__context__,
            getattr(e, "reason", None),
            getattr(e, "request_exception", None),
            *e.args,
        ):
            if isinstance(nxt, BaseException):
                stack.append(nxt)
    return None

"""An Azure Blob Storage stand-in with the Planetary Computer's SAS token endpoint.

GDAL reaches ``http://<account>.blob.core.windows.net/...`` hrefs through this server used as its HTTP
proxy (``GDAL_HTTP_PROXY``), so the hrefs keep the real host names that ``planetary_computer.sign``
recognises. A blob read needs a valid token in its query string (403 ``AuthenticationFailed`` otherwise).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from tests.servers.http import Files, Handler


class BlobStorage:
    """The app: ``/api/sas/v1/token/<account>/<container>`` hands out tokens; other paths are blobs."""

    def __init__(self) -> None:
        self.files = Files()
        self.valid: set[str] = set()
        self.issued: list[str] = []
        self._lock = threading.Lock()

    def expire_all(self) -> None:
        """Every token issued so far is refused from now on, before the expiry it announced."""
        with self._lock:
            self.valid.clear()

    def __call__(self, handler: Handler, method: str, path: str, body: bytes) -> None:
        parts = urlsplit(path)
        match = re.fullmatch(r"/api/sas/v1/token/([^/]+)/([^/]+)", parts.path)
        if match:
            sig = secrets.token_hex(8)
            with self._lock:
                self.valid.add(sig)
                self.issued.append(sig)
            expiry = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            token = f"st=2025-01-01T00%3A00%3A00Z&se={expiry}&sp=rl&sv=2021-06-08&sr=c&sig={sig}"
            handler.reply(200, json.dumps({"msft:expiry": expiry, "token": token}).encode())
            return
        if ".blob.core.windows.net/" not in parts.path:  # not a blob: a plain public file
            self.files(handler, method, parts.path, body)
            return
        sig = parse_qs(parts.query).get("sig", [""])[0]
        with self._lock:
            ok = sig in self.valid
        if not ok:
            handler.reply(
                403,
                b"<?xml version='1.0'?><Error><Code>AuthenticationFailed</Code>"
                b"<Message>Signature not valid in the specified time frame</Message></Error>",
                "application/xml",
            )
            return
        self.files(handler, method, parts.path, body)

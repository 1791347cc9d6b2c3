"""A threaded HTTP(S) server on 127.0.0.1 with a request log and faults that tests switch on."""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

#: Fault kinds: an HTTP status with Retry-After, a 5xx, a reset connection, no answer, half a body, half a
#: body then silence for ``delay`` seconds (a server that hangs mid-body).
FAULTS = ("429", "500", "502", "503", "reset", "timeout", "truncate", "stall")


@dataclass
class Fault:
    kind: str
    match: str = ""  # a regex the request path must contain
    times: int = 1  # how many requests it hits (then it is spent)
    retry_after: float | None = None
    delay: float = 5.0  # for "timeout": how long the server stays silent


@dataclass
class Logged:
    method: str
    path: str
    headers: dict[str, str]
    status: int = 0
    sent: int = 0  # body bytes sent
    at: float = field(default_factory=time.monotonic)
    body: bytes = b""


class Faults:
    """Faults waiting for the requests they match, each hitting ``times`` requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, kind: str, match: str = "", times: int = 1, **options: Any) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults.append(Fault(kind, match, times, **options))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and re.search(fault.match, path):
                    fault.times -= 1
                    return fault
        return None


class Handler(BaseHTTPRequestHandler):
    """Dispatches to the server's ``app(handler, method, path, body)``; applies faults first."""

    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path
        if path.startswith(("http://", "https://")):  # absolute form: we are being used as a proxy
            parts = urlsplit(path)
            path = f"/{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        self.entry = Logged(method, path, {k.lower(): v for k, v in self.headers.items()}, body=body)
        self.server.log.append(self.entry)
        if self.server.latency:
            time.sleep(self.server.latency)  # a distant server: every request costs a round trip
        fault = self.server.faults.take(path)
        if fault is not None and self._fault(fault):
            return
        self.server.app(self, method, path, body)

    def _fault(self, fault: Fault) -> bool:
        if fault.kind in {"429", "500", "502", "503"}:
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            self.reply(int(fault.kind), b'{"error": "fault"}', "application/json", headers)
            return True
        if fault.kind == "reset":
            self.reset()
            return True
        if fault.kind == "timeout":
            time.sleep(fault.delay)
            self.reset()
            return True
        self.truncate_next = True  # "truncate" / "stall": the app's reply is cut short
        self.stall_for = fault.delay if fault.kind == "stall" else 0.0
        return False

    def reset(self) -> None:
        """Abort the connection (TCP RST) without an answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.entry.status = -1

    def reply(
        self, status: int, payload: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        """Send a whole reply (or half of it, when a truncate fault hit this request)."""
        truncate = getattr(self, "truncate_next", False)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD":
            self.entry.status = status
            return
        if truncate:
            payload = payload[: len(payload) // 2]
            self.close_connection = True
        self.wfile.write(payload)
        self.wfile.flush()
        if truncate:
            time.sleep(getattr(self, "stall_for", 0.0))
            self.reset()
        self.entry.status = status
        self.entry.sent = len(payload)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")


App = Callable[[Handler, str, str, bytes], None]


class Server(ThreadingHTTPServer):
    """A threaded server on 127.0.0.1 (random port), TLS when given an ``ssl.SSLContext``."""

    daemon_threads = True

    def __init__(self, app: App, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.app = app
        self.faults = Faults()
        self.log: list[Logged] = []
        self.latency = 0.0  # seconds added to every request
        self.tls = tls
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (GDAL closes idle connections) is no error worth printing."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError | TimeoutError):
            super().handle_error(request, client_address)

    def requests(self, pattern: str = "") -> list[Logged]:
        return [e for e in self.log if re.search(pattern, e.path)]


class Files:
    """An in-memory file tree served with HTTP range support (single ranges, as GDAL asks)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def __call__(self, handler: Handler, method: str, path: str, body: bytes) -> None:
        key = urlsplit(path).path
        data = self.files.get(key)
        if data is None:
            handler.reply(404, b"not found", "text/plain")
            return
        spec = handler.headers.get("Range")
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", spec or "")
        if not match:
            handler.reply(200, data, "image/tiff", {"Accept-Ranges": "bytes"})
            return
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
        if start >= len(data):
            handler.reply(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"})
            return
        handler.reply(
            206,
            data[start : end + 1],
            "image/tiff",
            {"Content-Range": f"bytes {start}-{end}/{len(data)}", "Accept-Ranges": "bytes"},
        )

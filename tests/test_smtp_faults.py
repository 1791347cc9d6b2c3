"""SMTP faults (issue 13): a server that refuses any command with a 4xx or 5xx, or accepts the connection
and drops it, leaves the message in the outbox; a later delivery to a working server sends it exactly once."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.archive import Catalogue
from monitor.notify import deliver_pending, enqueue
from tests.test_notify import _alert, _config, _message


@contextlib.contextmanager
def faulty_smtp(fail_at: str, reply: str) -> Iterator[int]:
    """A minimal SMTP server on 127.0.0.1 that answers ``reply`` to the command ``fail_at`` (GREETING, EHLO,
    MAIL, RCPT, DATA, BODY: the end of the message) or, with reply "drop", closes the connection there."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    stop = threading.Event()

    def session(conn: socket.socket) -> None:
        stream = conn.makefile("rwb")

        def answer(step: str, ok: str) -> bool:
            if step == fail_at:
                if reply == "drop":
                    conn.close()
                    return False
                stream.write(f"{reply}\r\n".encode())
                stream.flush()
                return not reply.startswith("421")
            stream.write(f"{ok}\r\n".encode())
            stream.flush()
            return True

        with contextlib.suppress(OSError, ValueError), contextlib.closing(conn):
            if not answer("GREETING", "220 faulty ESMTP"):
                return
            in_data = False
            for raw in stream:
                line = raw.decode(errors="replace").rstrip("\r\n")
                if in_data:
                    if line == ".":
                        in_data = False
                        if not answer("BODY", "250 queued"):
                            return
                    continue
                verb = line.split(" ", 1)[0].upper()
                if verb in {"EHLO", "HELO"}:
                    ok = answer("EHLO", "250 faulty")
                elif verb == "MAIL":
                    ok = answer("MAIL", "250 ok")
                elif verb == "RCPT":
                    ok = answer("RCPT", "250 ok")
                elif verb == "DATA":
                    ok = answer("DATA", "354 go on")
                    in_data = ok and fail_at != "DATA"
                elif verb == "QUIT":
                    answer("QUIT", "221 bye")
                    return
                else:
                    ok = answer(verb, "250 ok")
                if not ok:
                    return

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=session, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


FAULTS = [
    ("GREETING", "drop"),
    ("GREETING", "421 service not available"),
    ("GREETING", "554 no service"),
    ("EHLO", "421 closing"),
    ("EHLO", "drop"),
    ("MAIL", "451 try later"),
    ("MAIL", "550 sender refused"),
    ("RCPT", "452 too many recipients"),
    ("RCPT", "550 no such user"),
    ("DATA", "451 local error"),
    ("DATA", "554 transaction failed"),
    ("BODY", "452 insufficient storage"),
    ("BODY", "552 message too big"),
    ("BODY", "drop"),
]


@pytest.mark.parametrize(("fail_at", "reply"), FAULTS)
def test_a_refusing_or_dropping_server_keeps_the_message_and_a_later_run_sends_it_once(
    tmp_path: Path, smtp_server: Any, fail_at: str, reply: str
) -> None:
    with faulty_smtp(fail_at, reply) as port:
        bad = _config(tmp_path, enabled=True, smtp_host="127.0.0.1", smtp_port=port, security="none", timeout=3)
        with Catalogue(bad.data_dir) as cat:
            enqueue(cat, _message([_alert()]), bad.data_dir / "outbox")
            assert deliver_pending(cat, bad) == (0, 1)  # no exception escapes
            (row,) = cat.outbox()
            assert row.status == "pending" and row.attempts == 1 and row.last_error
            if not reply.startswith(("drop", "421")):  # 421 closes the connection: smtplib may not read it
                assert reply.split()[0] in row.last_error  # the server's code is kept for the report
    server = smtp_server("none")
    good = _config(tmp_path, enabled=True, smtp_host="127.0.0.1", smtp_port=server.port, security="none", timeout=5)
    with Catalogue(good.data_dir) as cat:
        assert deliver_pending(cat, good) == (1, 0)
        assert deliver_pending(cat, good) == (0, 0)
        (row,) = cat.outbox()
    assert row.status == "sent" and row.attempts == 2 and len(server.messages) == 1

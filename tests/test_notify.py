"""Notifications: the message (text + HTML, escaping, SIMULATED label, stable id) and the outbox."""

from __future__ import annotations

import socket
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from monitor.archive import Catalogue
from monitor.config import Config, parse_config
from monitor.notify import build_message, deliver_pending, enqueue

SENDER = "monitor@watch.example.org"
RECIPIENTS = ["analyst@example.org", "desk@example.org"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _alert(
    alert_id: str = "a1",
    *,
    level: str = "medium",
    status: str = "firing",
    site: str = "mirim",
    zone: str = "square",
    evidence: list[str] | None = None,
    notified_status: str | None = None,
) -> dict[str, Any]:
    return {
        "id": alert_id,
        "site": site,
        "zone": zone,
        "kind": "crowd",
        "level": level,
        "status": status,
        "first_seen": "2025-05-01T02:15:30+00:00",
        "last_seen": "2025-05-06T02:15:30+00:00",
        "scene_ids": ["S2_20250501T021530", "S2_20250506T021530"],
        "score": 0.8312,
        "evidence": evidence or [],
        "notified_status": notified_status,
    }


def _message(alerts: list[dict[str, Any]], simulated: bool = False, **kwargs: Any) -> EmailMessage:
    return build_message(alerts, sender=SENDER, recipients=RECIPIENTS, simulated=simulated, **kwargs)


def _parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()  # type: ignore[attr-defined]


def _config(tmp_path: Path, **email: Any) -> Config:
    raw = {"sites": [{"id": "mirim", "bbox": [125.825, 39.005, 125.870, 39.035]}], "email": email}
    return parse_config(raw, base=tmp_path, env={})


def _free_port() -> int:
    """A local TCP port with nothing listening on it (bound once by the OS, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the message --------------------------------------------------------------------------------------


def test_message_is_text_and_html(tmp_path: Path) -> None:
    msg = _message([_alert()])
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text, html = _parts(msg)
    assert "[NEW] MEDIUM crowd at mirim/square score 0.83" in text
    assert "2025-05-01..2025-05-06" in text and "(2 scene(s))" in text
    assert html.lstrip().startswith("<html>") and "mirim/square" in html
    assert msg["From"] == SENDER and msg["To"] == ", ".join(RECIPIENTS)
    assert msg["Date"] and "1 alert change(s) at mirim" in msg["Subject"]
    assert not msg["Subject"].startswith("[SIMULATED]") and "SIMULATED" not in text + html


def test_action_words() -> None:
    alerts = [
        _alert("a1"),
        _alert("a2", level="high", notified_status="firing"),
        _alert("a3", status="resolved", notified_status="firing"),
    ]
    text, _ = _parts(_message(alerts))
    lines = [line for line in text.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] + "]" for line in lines] == ["[NEW]", "[RAISED]", "[RESOLVED]"]


def test_html_escapes_names() -> None:
    msg = _message([_alert(site="<script>alert(1)</script>", zone='"q"&<b>')])
    _, html = _parts(msg)
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&amp;&lt;b&gt;" in html


def test_simulated_messages_say_so() -> None:
    msg = _message([_alert()], simulated=True)
    assert msg["Subject"].startswith("[SIMULATED] ")
    text, html = _parts(msg)
    assert text.startswith("SIMULATED DATA") and "SIMULATED DATA" in html


def test_evidence_is_attached(tmp_path: Path) -> None:
    pngs = []
    for i in range(4):
        path = tmp_path / f"diff-{i}.png"
        path.write_bytes(PNG)
        pngs.append(str(path))
    alerts = [_alert(f"a{i}", evidence=[str(tmp_path / "missing.png"), pngs[i]]) for i in range(4)]
    msg = _message(alerts, max_images=3)
    assert msg.get_content_type() == "multipart/mixed"
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["diff-0.png", "diff-1.png", "diff-2.png"]
    assert all(a.get_content_type() == "image/png" and a.get_content() == PNG for a in attachments)
    text, _ = _parts(msg)
    assert all(p in text for p in pngs)  # every evidence path is listed, attached or not


def test_message_id_is_stable_for_the_same_states() -> None:
    alerts = [_alert("a1"), _alert("a2", level="high")]
    first = _message(alerts)
    again = _message(list(reversed(alerts)))
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"].startswith("<monitor-") and first["Message-ID"].endswith("@watch.example.org>")
    raised = _message([_alert("a1", level="high"), _alert("a2", level="high")])
    resolved = _message([_alert("a1", status="resolved"), _alert("a2", level="high")])
    fewer = _message([_alert("a1")])
    ids = {m["Message-ID"] for m in (first, raised, resolved, fewer)}
    assert len(ids) == 4


# --- the outbox ---------------------------------------------------------------------------------------


def test_enqueue_is_idempotent(tmp_path: Path) -> None:
    outbox = tmp_path / "data" / "outbox"
    with Catalogue(tmp_path / "data") as cat:
        first = enqueue(cat, _message([_alert()]), outbox)
        second = enqueue(cat, _message([_alert()]), outbox)
        rows = cat.query("SELECT * FROM outbox")
    assert first == second and first.parent == outbox and first.suffix == ".eml"
    assert len(rows) == 1 and rows[0]["status"] == "pending" and rows[0]["attempts"] == 0
    assert rows[0]["path"] == str(first) and rows[0]["recipients"] == ", ".join(RECIPIENTS)
    assert sorted(p.name for p in outbox.iterdir()) == [first.name]
    stored = BytesParser(policy=policy.default).parsebytes(first.read_bytes())
    assert stored["Message-ID"] == rows[0]["message_id"]


def test_deliver_with_email_disabled_marks_written(tmp_path: Path) -> None:
    config = _config(tmp_path, enabled=False)
    with Catalogue(config.data_dir) as cat:
        enqueue(cat, _message([_alert("a1")]), config.data_dir / "outbox")
        enqueue(cat, _message([_alert("a2")]), config.data_dir / "outbox")
        assert deliver_pending(cat, config) == (2, 0)
        rows = cat.query("SELECT * FROM outbox ORDER BY id")
        assert [r["status"] for r in rows] == ["written", "written"] and all(r["sent_at"] for r in rows)
        assert deliver_pending(cat, config) == (0, 0)  # nothing is delivered twice


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_an_unreachable_server_keeps_the_message_pending(tmp_path: Path, security: str) -> None:
    port = _free_port()
    config = _config(tmp_path, enabled=True, smtp_host="127.0.0.1", smtp_port=port, security=security, timeout=2)
    with Catalogue(config.data_dir) as cat:
        enqueue(cat, _message([_alert()]), config.data_dir / "outbox")
        for attempt in (1, 2):
            assert deliver_pending(cat, config) == (0, 1)  # no exception escapes
            (row,) = cat.query("SELECT * FROM outbox")
            assert row["status"] == "pending" and row["attempts"] == attempt and row["sent_at"] is None
            assert f"127.0.0.1:{port}" in row["last_error"]

"""Notifications: the message (text + HTML, escaping, SIMULATED label, stable id) and the outbox."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from monitor.archive import Catalogue
from monitor.archive.records import Alert, AlertKind
from monitor.config import Config, parse_config
from monitor.notify import DueAlert, build_message, deliver_pending, enqueue
from tests.conftest import SMTPServer, free_port

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
) -> Alert:
    return Alert(
        id=alert_id,
        site=site,
        zone=zone,
        kind=AlertKind.CROWD,
        level=level,
        status=status,
        first_seen="2025-05-01T02:15:30+00:00",
        last_seen="2025-05-06T02:15:30+00:00",
        scene_ids=("S2_20250501T021530", "S2_20250506T021530"),
        score=0.8312,
        evidence=tuple(evidence or ()),
        notified_status=notified_status,
    )


def _message(alerts: list[Alert | DueAlert], simulated: bool = False, **kwargs: Any) -> EmailMessage:
    return build_message(alerts, sender=SENDER, recipients=RECIPIENTS, simulated=simulated, **kwargs)


def _parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()  # type: ignore[attr-defined]


def _config(tmp_path: Path, **email: Any) -> Config:
    raw = {"sites": [{"id": "mirim", "bbox": [125.825, 39.005, 125.870, 39.035]}], "email": email}
    return parse_config(raw, base=tmp_path, env={})


# --- the message --------------------------------------------------------------------------------------


def _evidence(folder: Path, name: str = "S2_20250506T021530") -> list[str]:
    """A real evidence PNG (1600 px wide) and a GeoJSON, as the pipeline writes them."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{name}.png"
    Image.new("RGB", (1600, 600), (120, 30, 60)).save(png)
    geojson = folder / f"{name}.geojson"
    geojson.write_text('{"type": "FeatureCollection", "features": []}')
    return [str(png), str(folder / f"{name}.gif"), str(geojson)]


def _by_cid(msg: EmailMessage) -> dict[str, EmailMessage]:
    return {str(p["Content-ID"]).strip("<>"): p for p in msg.walk() if p["Content-ID"]}  # type: ignore[misc]


def test_message_is_text_and_html() -> None:
    msg = _message([_alert()])
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text, html = _parts(msg)
    assert "[NEW] MEDIUM crowd at mirim/square score 0.83" in text
    assert "2025-05-01..2025-05-06" in text and "(2 scene(s))" in text
    assert html.lstrip().startswith("<!DOCTYPE html>") and "mirim/square" in html
    assert msg["From"] == SENDER and msg["To"] == ", ".join(RECIPIENTS)
    assert msg["Date"] and "1 new alert(s) at mirim" in msg["Subject"]
    assert not msg["Subject"].startswith("[SIMULATED]") and "SIMULATED" not in text + html


def test_action_words() -> None:
    alerts = [
        _alert("a1"),
        _alert("a2", level="high", notified_status="firing"),
        _alert("a3", status="resolved", notified_status="firing"),
        _alert("a4", status="resolved"),
        DueAlert(_alert("a5", notified_status="firing"), repeat=True),
    ]
    msg = _message(alerts)
    text, _ = _parts(msg)
    lines = [line for line in text.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] + "]" for line in lines] == [
        "[NEW]",
        "[RAISED]",
        "[RESOLVED]",
        "[NEW+RESOLVED]",
        "[STILL FIRING]",
    ]
    assert "1 new, 1 raised, 1 resolved, 1 new+resolved, 1 still firing alert(s)" in msg["Subject"]


def test_html_escapes_names(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    alert = _alert(site=evil, zone='"q"&<b>', evidence=_evidence(tmp_path))
    msg = build_message(
        [alert], sender=SENDER, recipients=RECIPIENTS, simulated=False, site_names={evil: "<i>Mirim</i> & co"}
    )
    _, html = _parts(msg)
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&amp;&lt;b&gt;" in html
    assert "&lt;i&gt;Mirim&lt;/i&gt; &amp; co" in html


def test_simulated_messages_say_so() -> None:
    msg = _message([_alert()], simulated=True)
    assert msg["Subject"].startswith("[SIMULATED] ")
    text, html = _parts(msg)
    assert text.startswith("SIMULATED DATA") and "SIMULATED DATA" in html


def test_inline_images_resolve_by_content_id_and_geojson_is_attached(tmp_path: Path) -> None:
    alerts = [_alert(f"a{i}", zone=f"z{i}", evidence=_evidence(tmp_path / f"z{i}")) for i in range(4)]
    msg = _message(alerts, max_images=3, inline_width=640)
    assert msg.get_content_type() == "multipart/mixed"
    alternative = next(msg.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = list(alternative.iter_parts())
    assert plain.get_content_type() == "text/plain" and related.get_content_type() == "multipart/related"
    _, html = _parts(msg)
    cids = re.findall(r'src="cid:([^"]+)"', html)
    parts = _by_cid(msg)
    assert len(cids) == 3 and set(cids) == set(parts)  # every image referenced, every reference resolves
    from PIL import Image

    for cid in cids:
        part = parts[cid]
        assert part.get_content_type() == "image/jpeg"
        with Image.open(io.BytesIO(part.get_content())) as im:  # type: ignore[attr-defined]
            assert im.width == 640  # downscaled for a phone
    attachments = [p for p in msg.iter_attachments() if p.get_content_type() == "application/geo+json"]
    assert sorted(a.get_filename() for a in attachments) == [
        f"mirim-z{i}-crowd-S2_20250506T021530.geojson" for i in range(4)
    ]
    text, _ = _parts(msg)
    newest = [p for a in alerts for p in a.evidence if not p.endswith(".gif")]  # the GIF was never written
    assert all(p in text for p in newest)  # the newest evidence file of each kind is listed by path
    assert len(msg.as_bytes()) < 400_000


def test_pictures_are_inline_and_only_the_geojson_is_an_attachment(tmp_path: Path) -> None:
    """Parsed back as a mail client reads it: image parts say inline, the GeoJSON says attachment."""
    alerts = [_alert(f"a{i}", zone=f"z{i}", evidence=_evidence(tmp_path / f"z{i}")) for i in range(2)]
    raw = _message(alerts).as_bytes()
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    images = [p for p in parsed.walk() if p.get_content_maintype() == "image"]
    assert len(images) == 2
    assert all(p.get_content_disposition() == "inline" and p["Content-ID"] for p in images)
    assert all(p.get_filename() for p in images)  # still named, for clients that save them
    attachments = list(parsed.iter_attachments())  # type: ignore[attr-defined]
    assert [a.get_content_type() for a in attachments] == ["application/geo+json"] * 2
    assert all(a.get_content_disposition() == "attachment" for a in attachments)
    dispositions = {p.get_content_type(): p.get_content_disposition() for p in parsed.walk()}
    assert dispositions["text/plain"] is None and dispositions["text/html"] is None


def test_the_onset_is_shown_beside_the_latest(tmp_path: Path) -> None:
    """An alert that fired for a while: the text and HTML name the scene that opened it and show its
    picture after the latest one."""
    onset = _evidence(tmp_path / "z", "S2_20250501T021530")
    latest = _evidence(tmp_path / "z" / "confirmed", "S2_20250506T021530")
    alert = _alert(evidence=onset + latest)
    msg = _message([alert])
    text, html = _parts(msg)
    assert "onset:     2025-05-01 02:15 UTC, opened by scene S2_20250501T021530" in text
    assert "latest:    2025-05-06 02:15 UTC, 2 supporting scene(s)" in text
    assert onset[0] in text  # the onset picture, by path
    cids = re.findall(r'src="cid:([^"]+)"', html)
    assert len(cids) == 2 and cids[1].endswith(".onset@watch.example.org")
    assert html.index("Latest observation") < html.index("Onset: the observation that opened the alert")
    assert "opened by scene" in html and "S2_20250501T021530" in html
    one = _message([_alert(evidence=onset)])  # opened, never confirmed: one picture, no onset twice
    assert len(re.findall(r'src="cid:', _parts(one)[1])) == 1
    budget = _message([alert], max_images=1)  # the latest picture comes first within the budget
    _, budget_html = _parts(budget)
    assert len(re.findall(r'src="cid:', budget_html)) == 1 and onset[0] in budget_html


def test_message_id_is_stable_for_the_same_states() -> None:
    alerts = [_alert("a1"), _alert("a2", level="high")]
    first = _message(alerts)
    again = _message(list(reversed(alerts)))
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"].startswith("<monitor-") and first["Message-ID"].endswith("@watch.example.org>")
    raised = _message([_alert("a1", level="high"), _alert("a2", level="high")])
    resolved = _message([_alert("a1", status="resolved"), _alert("a2", level="high")])
    fewer = _message([_alert("a1")])
    reminder = _message([DueAlert(replace(_alert("a1"), notified_at="2025-05-07T00:00:00+00:00"), repeat=True)])
    ids = {m["Message-ID"] for m in (first, raised, resolved, fewer, reminder)}
    assert len(ids) == 5


# --- the outbox ---------------------------------------------------------------------------------------


def test_enqueue_is_idempotent(tmp_path: Path) -> None:
    outbox = tmp_path / "data" / "outbox"
    with Catalogue(tmp_path / "data") as cat:
        first = enqueue(cat, _message([_alert()]), outbox)
        second = enqueue(cat, _message([_alert()]), outbox)
        rows = cat.outbox()
    assert first == second and first.parent == outbox and first.suffix == ".eml"
    assert len(rows) == 1 and rows[0].status == "pending" and rows[0].attempts == 0
    assert rows[0].path == str(first) and rows[0].recipients == ", ".join(RECIPIENTS)
    assert sorted(p.name for p in outbox.iterdir()) == [first.name]
    stored = BytesParser(policy=policy.default).parsebytes(first.read_bytes())
    assert stored["Message-ID"] == rows[0].message_id


def test_deliver_with_email_disabled_marks_written(tmp_path: Path) -> None:
    config = _config(tmp_path, enabled=False)
    with Catalogue(config.data_dir) as cat:
        enqueue(cat, _message([_alert("a1")]), config.data_dir / "outbox")
        enqueue(cat, _message([_alert("a2")]), config.data_dir / "outbox")
        assert deliver_pending(cat, config) == (2, 0)
        rows = cat.outbox()
        assert [r.status for r in rows] == ["written", "written"] and all(r.sent_at for r in rows)
        assert deliver_pending(cat, config) == (0, 0)  # nothing is delivered twice


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_an_unreachable_server_keeps_the_message_pending(tmp_path: Path, security: str) -> None:
    port = free_port()
    config = _config(tmp_path, enabled=True, smtp_host="127.0.0.1", smtp_port=port, security=security, timeout=2)
    with Catalogue(config.data_dir) as cat:
        enqueue(cat, _message([_alert()]), config.data_dir / "outbox")
        for attempt in (1, 2):
            assert deliver_pending(cat, config) == (0, 1)  # no exception escapes
            (row,) = cat.outbox()
            assert row.status == "pending" and row.attempts == attempt and row.sent_at is None
            assert f"127.0.0.1:{port}" in row.last_error


# --- delivery to a real SMTP server on 127.0.0.1 ------------------------------------------------------


def _received(server: SMTPServer) -> list[EmailMessage]:
    out = []
    for raw in server.messages:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_delivery_over_smtp(tmp_path: Path, smtp_server: Any, security: str) -> None:
    server = smtp_server(security)
    config = _config(
        tmp_path,
        enabled=True,
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        security=security,
        timeout=5,
        ca_file=str(server.ca_file),
    )
    with Catalogue(config.data_dir) as cat:
        enqueue(cat, _message([_alert(evidence=_evidence(tmp_path / "ev"))]), config.data_dir / "outbox")
        assert deliver_pending(cat, config) == (1, 0)
        assert deliver_pending(cat, config) == (0, 0)
        (row,) = cat.outbox()
    assert row.status == "sent" and row.attempts == 1
    (msg,) = _received(server)
    assert msg["Message-ID"] == row.message_id
    assert server.sessions[0]["tls"] is (security != "none")
    assert sorted(server.sessions[0]["rcpt"]) == sorted(RECIPIENTS)  # type: ignore[call-overload]
    text, html = _parts(msg)
    assert "[NEW] MEDIUM crowd" in text and "cid:" in html


def test_starttls_with_login_from_the_environment(tmp_path: Path, smtp_server: Any) -> None:
    server = smtp_server("starttls", users={"watcher": "s3cret"})
    raw = {
        "sites": [{"id": "mirim", "bbox": [125.825, 39.005, 125.870, 39.035]}],
        "email": {"enabled": True, "smtp_host": "127.0.0.1", "smtp_port": server.port, "ca_file": str(server.ca_file)},
    }
    good = parse_config(raw, base=tmp_path, env={"MONITOR_SMTP_USER": "watcher", "MONITOR_SMTP_PASSWORD": "s3cret"})
    bad = parse_config(raw, base=tmp_path, env={"MONITOR_SMTP_USER": "watcher", "MONITOR_SMTP_PASSWORD": "wrong"})
    with Catalogue(good.data_dir) as cat:
        enqueue(cat, _message([_alert()]), good.data_dir / "outbox")
        assert deliver_pending(cat, bad) == (0, 1)  # an auth failure keeps the message
        assert "535" in (cat.outbox()[0].last_error or "")
        assert server.messages == []
        assert deliver_pending(cat, good) == (1, 0)
    assert server.sessions == [{"tls": True, "user": "watcher", "rcpt": RECIPIENTS}]


def test_starttls_required_by_default(tmp_path: Path, smtp_server: Any) -> None:
    """A server that does not offer STARTTLS gets nothing unless the config says security = "none"."""
    server = smtp_server("none")
    config = _config(tmp_path, enabled=True, smtp_host="127.0.0.1", smtp_port=server.port, timeout=5)
    assert config.email.security == "starttls"
    with Catalogue(config.data_dir) as cat:
        enqueue(cat, _message([_alert()]), config.data_dir / "outbox")
        assert deliver_pending(cat, config) == (0, 1)
        assert "STARTTLS" in (cat.outbox()[0].last_error or "")
    assert server.messages == []


def test_untrusted_certificate_is_refused(tmp_path: Path, smtp_server: Any) -> None:
    server = smtp_server("tls")
    config = _config(tmp_path, enabled=True, smtp_host="127.0.0.1", smtp_port=server.port, security="tls", timeout=5)
    with Catalogue(config.data_dir) as cat:
        enqueue(cat, _message([_alert()]), config.data_dir / "outbox")
        assert deliver_pending(cat, config) == (0, 1)
        assert "CERTIFICATE_VERIFY_FAILED" in (cat.outbox()[0].last_error or "")
    assert server.messages == []


def test_ca_file_must_exist(tmp_path: Path) -> None:
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match=r"email\.ca_file.*missing\.pem does not exist"):
        _config(tmp_path, ca_file="missing.pem")
    (tmp_path / "ca.pem").write_text("")
    assert _config(tmp_path, ca_file="ca.pem").email.ca_file == (tmp_path / "ca.pem").resolve()

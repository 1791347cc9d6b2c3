"""Notifications end to end: real runs, a real SMTP server on 127.0.0.1, the outbox between them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from monitor.archive import Catalogue
from monitor.config import load_config
from monitor.pipeline import run
from monitor.pipeline.feedback import acknowledge_alert
from monitor.pipeline.notify import notify
from monitor.pipeline.summary import RunSummary
from tests.conftest import free_port


def _email_config(config_path: Path, port: int, ca_file: Path) -> None:
    text = config_path.read_text().replace(
        'name = "Synthetic test site"',
        'name = "Synthetic <test> site & co"\nrecipients = ["site-desk@example.org", "duty@example.org"]',
    )
    text += (
        f'\n[email]\nenabled = true\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nsecurity = "starttls"\n'
        f'ca_file = "{ca_file}"\ntimeout = 5\nsender = "monitor@watch.example.org"\n'
    )
    config_path.write_text(text)


def _parse(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def test_server_down_then_back_delivers_exactly_once(synthetic_site: Any, smtp_server: Any) -> None:
    config_path = synthetic_site()
    port = free_port()
    server = smtp_server("starttls", port=port, start=False)
    _email_config(config_path, port, server.ca_file)
    config = load_config(config_path, env={})

    first = run(config)  # the server is down: the run succeeds, the message waits in the outbox
    assert first.errors == [] and first.alert_changes and first.messages_queued == 1
    assert first.messages_delivered == 0 and first.messages_pending == 1
    with Catalogue(config.data_dir) as cat:
        (row,) = cat.outbox()
        assert row.status == "pending" and row.attempts == 1 and f"127.0.0.1:{port}" in row.last_error

    server.start()
    second = run(config)  # nothing new to score: only the waiting message goes out
    assert second.errors == [] and second.scored_scenes == 0 and second.messages_queued == 0
    assert second.messages_delivered == 1 and second.messages_pending == 0
    third = run(config)
    assert third.messages_queued == 0 and third.messages_delivered == 0
    assert len(server.messages) == 1  # exactly once
    assert server.sessions[0]["tls"] is True  # STARTTLS, offered by the server, was used
    assert sorted(server.sessions[0]["rcpt"]) == ["duty@example.org", "site-desk@example.org"]  # per site

    msg = _parse(server.messages[0])
    with Catalogue(config.data_dir) as cat:
        (row,) = cat.outbox()
        history = cat.notifications()
    assert row.status == "sent" and row.attempts == 2 and msg["Message-ID"] == row.message_id
    assert {h.message_id for h in history} == {row.message_id} and {h.action for h in history} == {"NEW"}
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    text, page = plain.get_content(), html.get_content()  # type: ignore[attr-defined]
    assert "[NEW]" in text and "Synthetic <test> site & co" in text
    assert "Synthetic &lt;test&gt; site &amp; co" in page and "<test>" not in page
    cids = re.findall(r'src="cid:([^"]+)"', page)
    by_cid = {str(p["Content-ID"]).strip("<>"): p for p in msg.walk() if p["Content-ID"]}
    assert cids and all(c in by_cid and by_cid[c].get_content_type() == "image/jpeg" for c in cids)
    geojson = [p for p in msg.iter_attachments() if p.get_content_type() == "application/geo+json"]
    assert geojson and all(json.loads(p.get_content())["type"] == "FeatureCollection" for p in geojson)
    assert len(server.messages[0]) < 1_000_000  # small enough for a phone


def test_repeat_interval_reminds_unacknowledged_firing_alerts(synthetic_site: Any) -> None:
    config_path = synthetic_site(formations=("crowd", "crowd"))
    config = load_config(config_path, env={})
    run(config)
    with Catalogue(config.data_dir) as cat:
        firing = [a for a in cat.alerts() if a.firing]
        assert firing and all(a.notified_at for a in firing)
        soon = datetime.now(UTC) + timedelta(hours=config.alerts.repeat_interval_hours - 1)
        later = datetime.now(UTC) + timedelta(hours=config.alerts.repeat_interval_hours + 1)
        summary = RunSummary()
        notify(cat, config, summary, now=soon)
        assert summary.messages_queued == 0
        notify(cat, config, summary, now=later)
        assert summary.messages_queued == 1
        notify(cat, config, summary, now=later)  # the reminder reset the interval
        assert summary.messages_queued == 1
        reminders = [n for n in cat.notifications() if n.action == "STILL FIRING"]
        assert {r.alert_id for r in reminders} == {a.id for a in firing}
    assert len(firing) == 1  # the crowd on the square; nothing on the parking
    acknowledge_alert(config, firing[0].id)
    with Catalogue(config.data_dir) as cat:
        summary = RunSummary()
        notify(cat, config, summary, now=later + timedelta(hours=2 * config.alerts.repeat_interval_hours))
        assert summary.messages_queued == 0  # acknowledged: no more reminders
        (reminder,) = [p for p in (config.data_dir / "outbox").iterdir() if "STILL FIRING" in p.read_text()]
    assert "[STILL FIRING]" in reminder.read_text()

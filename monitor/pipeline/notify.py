"""The notification step: one message per recipient list for every alert change, then delivery.

Alertmanager's rules, on the archive: alerts are grouped per recipient list (a site's ``recipients``,
else ``[email] recipients``); an alert is in a message when it is new, raised in level or resolved since
its last message, or, while it keeps firing unacknowledged, when ``alerts.repeat_interval_hours`` have
passed since it was last notified (a ``STILL FIRING`` reminder). The message, the alerts' notified
state and the notification history commit together, so nothing is queued twice; the outbox then
delivers each message once.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.archive.catalogue import Catalogue
from monitor.config import Config
from monitor.notify import build_message, deliver_pending, enqueue
from monitor.notify.message import notice
from monitor.notify.webhook import encode_body, webhook_body
from monitor.pipeline.summary import RunSummary


def due_alerts(catalogue: Catalogue, config: Config, now: datetime) -> list[dict[str, Any]]:
    """Alerts to put in this run's messages: changed since their last message, or due for a reminder
    (``alert["repeat"]`` True), oldest first."""
    changed = catalogue.query(
        "SELECT id FROM alerts WHERE notified_level IS NOT level OR notified_status IS NOT status"
    )
    ids = {r["id"]: False for r in changed}
    hours = config.alerts.repeat_interval_hours
    if hours > 0:
        cutoff = (now - timedelta(hours=hours)).astimezone(UTC).isoformat(timespec="seconds")
        repeats = catalogue.query(
            "SELECT id FROM alerts WHERE status = 'firing' AND notified_status = 'firing' AND notified_level = level "
            "AND acked_at IS NULL AND dismissed_at IS NULL AND notified_at IS NOT NULL AND notified_at <= ?",
            (cutoff,),
        )
        ids.update({r["id"]: True for r in repeats if r["id"] not in ids})
    alerts = []
    for alert_id, repeat in ids.items():
        alert = catalogue.alert(alert_id)
        if alert is not None:
            alerts.append({**alert, "repeat": repeat})
    return sorted(alerts, key=lambda a: (a["first_seen"], a["id"]))


def notify(catalogue: Catalogue, config: Config, summary: RunSummary, now: datetime | None = None) -> None:
    """Queue one message per recipient list grouping every due alert, mark them notified and record the
    notification history in the same transaction, then deliver whatever is pending."""
    now = now or datetime.now(UTC)
    stamp = now.astimezone(UTC).isoformat(timespec="seconds")
    sites = {s.id: s for s in config.sites}
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for alert in due_alerts(catalogue, config, now):
        site = sites.get(alert["site"])
        recipients = tuple((site.recipients if site is not None else None) or config.email.recipients)
        groups.setdefault(recipients, []).append(alert)
    simulated = {
        r["site"]
        for r in catalogue.query("SELECT DISTINCT site FROM scenes WHERE provenance LIKE ?", ('%"SIMULATED": "yes"%',))
    }
    for recipients, alerts in groups.items():
        is_simulated = any(a["site"] in simulated for a in alerts)
        msg = build_message(
            alerts,
            sender=config.email.sender,
            recipients=recipients,
            simulated=is_simulated,
            max_images=config.email.max_inline_images,
            inline_width=config.email.inline_width,
            site_names={s.id: s.name or s.id for s in config.sites},
        )
        mid = str(msg["Message-ID"])
        history: list[tuple[str, ...]] = [(mid, a["id"], notice(a), a["level"], a["status"], stamp) for a in alerts]

        def mark_notified(db: sqlite3.Connection, history: list[tuple[str, ...]] = history) -> None:
            db.executemany(
                "UPDATE alerts SET notified_level = level, notified_status = status, notified_at = ? WHERE id = ?",
                [(stamp, h[1]) for h in history],
            )
            db.executemany(
                "INSERT INTO notifications (message_id, alert_id, action, level, status, queued_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                history,
            )

        bodies = [
            (
                hook.name,
                encode_body(webhook_body(alerts, subject=str(msg["Subject"]), message_id=mid, simulated=is_simulated)),
            )
            for hook in config.notify.webhooks
        ]
        enqueue(catalogue, msg, config.data_dir / "outbox", then=mark_notified, webhooks=bodies)
        summary.messages_queued += 1
    if catalogue.query("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")[0]["n"]:
        delivered, pending = deliver_pending(catalogue, config)
        summary.messages_delivered += delivered
        summary.messages_pending = pending

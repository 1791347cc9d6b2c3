"""The notification step: one message per recipient list for every alert change, then delivery.

Alertmanager's rules, on the archive: alerts are grouped per recipient list (a site's ``recipients``,
else ``[email] recipients``); an alert is in a message when it is new, raised in level or resolved since
its last message, or, while it keeps firing unacknowledged, when ``alerts.repeat_interval_hours`` have
passed since it was last notified (a ``STILL FIRING`` reminder). The message, the alerts' notified
state and the notification history commit together, so nothing is queued twice; the outbox then
delivers each message once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.archive.catalogue import Catalogue
from monitor.archive.records import Alert, OutboxStatus
from monitor.config import Config
from monitor.notify import DueAlert, build_message, deliver_pending, enqueue
from monitor.notify.message import notice
from monitor.notify.webhook import encode_body, webhook_body
from monitor.pipeline.summary import RunSummary


def due_alerts(catalogue: Catalogue, config: Config, now: datetime) -> list[DueAlert]:
    """Alerts to put in this run's messages: changed since their last message, or due for a reminder
    (``repeat`` True), oldest first."""
    due: dict[str, DueAlert] = {a.id: DueAlert(a) for a in catalogue.changed_alerts()}
    hours = config.alerts.repeat_interval_hours
    if hours > 0:
        cutoff = (now - timedelta(hours=hours)).astimezone(UTC).isoformat(timespec="seconds")
        for alert in catalogue.reminder_alerts(cutoff):
            due.setdefault(alert.id, DueAlert(alert, repeat=True))
    return sorted(due.values(), key=lambda d: (d.alert.first_seen, d.alert.id))


def notify(catalogue: Catalogue, config: Config, summary: RunSummary, now: datetime | None = None) -> None:
    """Queue one message per recipient list grouping every due alert, mark them notified and record the
    notification history in the same transaction, then deliver whatever is pending."""
    now = now or datetime.now(UTC)
    stamp = now.astimezone(UTC).isoformat(timespec="seconds")
    sites = {s.id: s for s in config.sites}
    groups: dict[tuple[str, ...], list[DueAlert]] = {}
    for due in due_alerts(catalogue, config, now):
        site = sites.get(due.alert.site)
        recipients = tuple((site.recipients if site is not None else None) or config.email.recipients)
        groups.setdefault(recipients, []).append(due)
    simulated = catalogue.simulated_sites()
    for recipients, alerts in groups.items():
        is_simulated = any(d.alert.site in simulated for d in alerts)
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
        notices: list[tuple[Alert, str]] = [(d.alert, notice(d)) for d in alerts]

        def mark_notified(mid: str = mid, notices: list[tuple[Alert, str]] = notices) -> None:
            catalogue.mark_notified(mid, notices, stamp)

        bodies = [
            (
                hook.name,
                encode_body(webhook_body(alerts, subject=str(msg["Subject"]), message_id=mid, simulated=is_simulated)),
            )
            for hook in config.notify.webhooks
        ]
        enqueue(catalogue, msg, config.data_dir / "outbox", then=mark_notified, webhooks=bodies)
        summary.messages_queued += 1
    if catalogue.outbox(OutboxStatus.PENDING):
        delivered, pending = deliver_pending(catalogue, config)
        summary.messages_delivered += delivered
        summary.messages_pending = pending

"""The notification step: one message per recipient list for every alert change, then delivery.

Alertmanager's rules, on the archive: alerts are grouped per recipient list (a site's ``recipients``,
else ``[email] recipients``); an alert is in a message when it is new, raised in level or resolved since
its last message, or, while it keeps firing unacknowledged, when ``alerts.repeat_interval_hours`` have
passed since it was last notified (a ``STILL FIRING`` reminder). The message, the alerts' notified
state and the notification history commit together, so nothing is queued twice; the outbox then
delivers each message once.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from monitor.archive.catalogue import Catalogue
from monitor.archive.records import Alert, OutboxStatus
from monitor.config import Config
from monitor.notify import DueAlert, build_message, deliver_pending, enqueue
from monitor.notify.message import build_summary_message, notice
from monitor.notify.webhook import encode_body, webhook_body
from monitor.pipeline.summary import RunSummary

log = logging.getLogger(__name__)


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


#: Times a run builds its messages again when analyst feedback lands while they are built; the last
#: build holds the write lock from the first read to the queueing, so it cannot be overtaken.
REBUILDS = 3


class _OvertakenError(Exception):
    """The alerts a message was built from changed before it was queued (an ack or a dismissal)."""


def notify(catalogue: Catalogue, config: Config, summary: RunSummary, now: datetime | None = None) -> None:
    """Queue one message per recipient list grouping every due alert, mark them notified and record the
    notification history in the same transaction, then deliver whatever is pending.

    ``monitor alerts ack|dismiss`` does not wait for the run, so an alert can be acknowledged or dismissed
    while its message is being built. Inside the transaction that queues a message, the alerts it names
    are read again: if one is no longer due as it was built (acked: no reminder; dismissed: no message),
    nothing is queued, the built files are removed and the messages are built again from what is stored
    (at most :data:`REBUILDS` times; the last build holds the write lock throughout)."""
    now = now or datetime.now(UTC)
    for attempt in range(REBUILDS + 1):
        try:
            if attempt == REBUILDS:
                with catalogue.transaction():
                    _queue_due(catalogue, config, summary, now)
            else:
                _queue_due(catalogue, config, summary, now)
            break
        except _OvertakenError as exc:
            log.info("analyst feedback arrived while a message was built (%s): building it again", exc)
    if catalogue.outbox(OutboxStatus.PENDING):
        delivered, pending = deliver_pending(catalogue, config)
        summary.messages_delivered += delivered
        summary.messages_pending = pending


def _queue_due(catalogue: Catalogue, config: Config, summary: RunSummary, now: datetime) -> None:
    """Build and queue the messages for the alerts due now; :class:`_OvertakenError` if a message's alerts
    changed before it was queued (that message is not queued; those queued before it stay)."""
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

        def mark_notified(
            mid: str = mid, notices: list[tuple[Alert, str]] = notices, built: list[DueAlert] = alerts
        ) -> None:
            still = {d.alert.id: d for d in due_alerts(catalogue, config, now)}
            gone = [d.alert.id for d in built if still.get(d.alert.id) != d]
            if gone:
                raise _OvertakenError(", ".join(gone))
            catalogue.mark_notified(mid, notices, stamp)

        bodies = [
            (
                hook.name,
                encode_body(webhook_body(alerts, subject=str(msg["Subject"]), message_id=mid, simulated=is_simulated)),
            )
            for hook in config.notify.webhooks
        ]
        outbox = config.data_dir / "outbox"
        stem = mid.strip("<>").split("@")[0]  # the files enqueue writes, if not there yet
        files = [outbox / f"{stem}.eml", *(outbox / f"{stem}.{name}.json" for name, _ in bodies)]
        new = [f for f in files if not f.exists()]
        try:
            enqueue(catalogue, msg, outbox, then=mark_notified, webhooks=bodies)
        except _OvertakenError:
            for path in new:  # written for this message only: no outbox row names them
                path.unlink(missing_ok=True)
            raise
        summary.messages_queued += 1


#: The notification history's word for alerts announced in a backfill's summary.
BACKFILL_NOTICE = "BACKFILL"


def notify_backfill(
    catalogue: Catalogue,
    config: Config,
    summary: RunSummary,
    since: date,
    until: date | None,
    now: datetime | None = None,
) -> None:
    """After a backfill: one summary message per recipient list naming every alert changed since its
    last message (found in history), marked notified with it; then deliver whatever is pending. Nothing
    is queued when there is nothing to say.

    The summary is text (no pictures: quick to build), so it is read, built and queued in one write
    transaction: an analyst's dismissal cannot land between the read and the queueing (it waits for it)."""
    now = now or datetime.now(UTC)
    with catalogue.transaction():
        _queue_backfill_summary(catalogue, config, summary, since, until, now)
    if catalogue.outbox(OutboxStatus.PENDING):
        delivered, pending = deliver_pending(catalogue, config)
        summary.messages_delivered += delivered
        summary.messages_pending = pending


def _queue_backfill_summary(
    catalogue: Catalogue, config: Config, summary: RunSummary, since: date, until: date | None, now: datetime
) -> None:
    """Build and queue the backfill's summary messages (the caller holds the transaction)."""
    stamp = now.astimezone(UTC).isoformat(timespec="seconds")
    period = f"{since.isoformat()} to {until.isoformat() if until else 'now'}"
    sites = {s.id: s for s in config.sites}
    groups: dict[tuple[str, ...], list[Alert]] = {}
    for alert in sorted(catalogue.changed_alerts(), key=lambda a: (a.first_seen, a.id)):
        site = sites.get(alert.site)
        recipients = tuple((site.recipients if site is not None else None) or config.email.recipients)
        groups.setdefault(recipients, []).append(alert)
    simulated = catalogue.simulated_sites()
    for recipients, alerts in groups.items():
        msg = build_summary_message(
            alerts,
            sender=config.email.sender,
            recipients=recipients,
            simulated=any(a.site in simulated for a in alerts),
            period=period,
            scenes=summary.scored_scenes,
            site_names={s.id: s.name or s.id for s in config.sites},
        )
        mid = str(msg["Message-ID"])
        notices = [(a, BACKFILL_NOTICE) for a in alerts]

        def mark_notified(mid: str = mid, notices: list[tuple[Alert, str]] = notices) -> None:
            catalogue.mark_notified(mid, notices, stamp)

        enqueue(catalogue, msg, config.data_dir / "outbox", then=mark_notified)
        summary.messages_queued += 1

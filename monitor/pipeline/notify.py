"""The notification step: one message per recipient list for every alert change, then delivery."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from monitor.archive.catalogue import Catalogue
from monitor.config import Config
from monitor.notify import build_message, deliver_pending, enqueue
from monitor.pipeline.summary import RunSummary


def notify(catalogue: Catalogue, config: Config, summary: RunSummary) -> None:
    """Queue one message per recipient list grouping every alert whose level or status changed since it was
    last notified, mark them notified in the same transaction, then deliver whatever is pending."""
    changed = catalogue.query(
        "SELECT * FROM alerts WHERE notified_level IS NOT level OR notified_status IS NOT status "
        "ORDER BY first_seen, id"
    )
    sites = {s.id: s for s in config.sites}
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for alert in changed:
        alert["scene_ids"] = json.loads(alert["scene_ids"])
        alert["evidence"] = json.loads(alert["evidence"])
        site = sites.get(alert["site"])
        recipients = tuple((site.recipients if site is not None else None) or config.email.recipients)
        groups.setdefault(recipients, []).append(alert)
    simulated = {
        r["site"]
        for r in catalogue.query("SELECT DISTINCT site FROM scenes WHERE provenance LIKE ?", ('%"SIMULATED": "yes"%',))
    }
    for recipients, alerts in groups.items():
        msg = build_message(
            alerts,
            sender=config.email.sender,
            recipients=recipients,
            simulated=any(a["site"] in simulated for a in alerts),
        )

        def mark_notified(db: sqlite3.Connection, ids: tuple[str, ...] = tuple(a["id"] for a in alerts)) -> None:
            db.executemany(
                "UPDATE alerts SET notified_level = level, notified_status = status WHERE id = ?", [(i,) for i in ids]
            )

        enqueue(catalogue, msg, config.data_dir / "outbox", then=mark_notified)
        summary.messages_queued += 1
    if catalogue.query("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")[0]["n"]:
        delivered, pending = deliver_pending(catalogue, config)
        summary.messages_delivered += delivered
        summary.messages_pending = pending

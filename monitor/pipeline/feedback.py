"""Analyst feedback stored in the archive: acknowledge or dismiss an alert (``monitor alerts ack|dismiss``).

Each action reads the alert, updates it and appends a row to the ``feedback`` table (what, why, when,
who) in one short SQLite write transaction. It does not take the run lock: an analyst's ack is never
refused because a run or a backfill is under way. A running pass cannot overwrite it either: the pass
reads each alert again inside the transaction that saves it and steps the stored one if it changed
(:func:`monitor.pipeline.writer.commit_scored`), and checks at queue time that the alerts a message was
built from are still due as built (:func:`monitor.pipeline.notify.notify`). See docs/reliability.md,
"Concurrency".
"""

from __future__ import annotations

import getpass
import logging
from datetime import UTC, datetime

from monitor.alerts import acknowledged, dismissed
from monitor.alerts.ids import resolve_alert_id
from monitor.archive.catalogue import Catalogue
from monitor.archive.records import Alert, FeedbackAction, FeedbackRecord
from monitor.config import Config
from monitor.errors import AlertNotFoundError, ArchiveError

log = logging.getLogger(__name__)


def _analyst() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return None


def _apply(config: Config, alert_id: str, action: FeedbackAction, reason: str | None, now: datetime | None) -> Alert:
    if not (config.data_dir / Catalogue.FILENAME).exists():
        raise ArchiveError(f"no archive at {config.data_dir} (run `monitor run` first)")
    at = (now or datetime.now(UTC)).astimezone(UTC)
    with Catalogue(config.data_dir) as catalogue, catalogue.transaction():
        # read and write in one write transaction: no run can step the alert in between
        alert_id = resolve_alert_id(alert_id, (a.id for a in catalogue.alerts()), where=str(config.data_dir))
        alert = catalogue.alert(alert_id)
        if alert is None:  # never: the id was just read in this transaction; but never a KeyError
            raise AlertNotFoundError(f"no alert {alert_id!r} in {config.data_dir} (see `monitor alerts`)")
        if action is FeedbackAction.ACK:
            updated = acknowledged(alert, at)
        else:
            assert reason is not None
            updated = dismissed(alert, reason, at, config.alerts)
        catalogue.save_alert(updated)
        catalogue.add_feedback(alert_id, action, reason, at.isoformat(timespec="seconds"), _analyst())
    log.info("alert %s: %s%s", alert_id, action, f" ({reason})" if reason else "")
    return updated


def acknowledge_alert(config: Config, alert_id: str, now: datetime | None = None) -> Alert:
    """Acknowledge an alert (its id or a unique prefix of it): it keeps firing, without repeat reminders.
    Returns the updated alert."""
    return _apply(config, alert_id, FeedbackAction.ACK, None, now)


def dismiss_alert(config: Config, alert_id: str, reason: str, now: datetime | None = None) -> Alert:
    """Dismiss an alert as not a formation, for ``reason`` (required, shown in reports): it is closed
    without a message, its scenes stay out of baselines, and its pattern does not re-alert at once."""
    if not reason.strip():
        raise ValueError("a dismissal needs a reason")
    return _apply(config, alert_id, FeedbackAction.DISMISS, reason.strip(), now)


def feedback_rows(catalogue: Catalogue, alert_id: str | None = None) -> list[FeedbackRecord]:
    """The feedback history (all alerts, or one), oldest first."""
    return catalogue.feedback(alert_id)

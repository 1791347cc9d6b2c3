"""Analyst feedback on an alert, pure: acknowledge it, or dismiss it as not a formation.

An acknowledged alert keeps firing and is still announced when its level rises or it resolves, but
gets no repeat reminders. A dismissed alert is closed at once without a message (the analyst who
dismissed it knows), keeps its ``scene_ids`` (so those scenes stay out of baselines as
not-a-formation) and suppresses its site/zone/kind for ``alerts.dismiss_suppress_days`` after its last
observation, unless a stronger pattern turns up (see :func:`monitor.alerts.engine.suppressed`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from monitor.archive.records import Alert, AlertStatus
from monitor.config import AlertsConfig


def acknowledged(alert: Alert, at: datetime) -> Alert:
    """``alert`` acknowledged at ``at`` (the first acknowledgement's time is kept)."""
    return replace(alert, acked_at=alert.acked_at or at.astimezone(UTC).isoformat(timespec="seconds"))


def dismissed(alert: Alert, reason: str, at: datetime, config: AlertsConfig) -> Alert:
    """``alert`` dismissed at ``at`` for ``reason``: resolved if it was firing, marked as notified in that
    state, and suppressing its pattern until its last observation plus ``dismiss_suppress_days``."""
    last_observed = alert.last_observed or alert.last_seen
    last = datetime.fromisoformat(last_observed)
    out = replace(
        alert,
        dismissed_at=at.astimezone(UTC).isoformat(timespec="seconds"),
        dismiss_reason=reason,
        suppress_until=(last + timedelta(days=config.dismiss_suppress_days)).astimezone(UTC).isoformat(),
    )
    if alert.firing:  # resolved at an acquisition time, as always
        out = replace(out, status=AlertStatus.RESOLVED, resolved_at=last_observed)
    # the analyst closed it: no message about it
    return replace(out, notified_status=out.status, notified_level=out.level)

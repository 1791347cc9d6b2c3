"""The "monitor is blind" and "sees again" notice: a short plain-text message, through the same outbox
as the alerts (stored first, then delivered once, retried by later runs while SMTP fails)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from email.message import EmailMessage

from monitor.archive.health import HealthNotice
from monitor.notify.envelope import envelope

#: What to check first, by subject, when the monitor is blind.
HINTS = {
    "site": "Scenes may be all cloud, or the sources may no longer cover the site: see `monitor scenes --site {name}`.",
    "source": "The source cannot be searched: see the runs' errors (cron mail or journal) and `monitor check`.",
}


def health_message(notices: Sequence[HealthNotice], *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """One message about every site or source that went blind, or sees again, in this run.

    Its Message-ID is derived from the notices (subject, name, state, time), so queueing the same
    notices twice stores one message.
    """
    blind = [n for n in notices if n.blind]
    seeing = [n for n in notices if not n.blind]
    names = ", ".join(f"{n.subject} {n.name}" for n in notices)
    if blind and not seeing:
        subject = f"monitor is blind: {names}"
    elif seeing and not blind:
        subject = f"monitor sees again: {names}"
    else:
        subject = f"monitor health: {len(blind)} blind, {len(seeing)} seeing again: {names}"
    lines = []
    for n in notices:
        word = "BLIND" if n.blind else "SEEING AGAIN"
        lines.append(f"{word}  {n.subject} {n.name}: {n.reason}")
        if n.blind:
            lines.append("  " + HINTS[n.subject].format(name=n.name))
        lines.append("")
    lines.append("Alerts cannot be raised from what the monitor does not see: until it sees again, a quiet")
    lines.append("monitor means nothing about the site. You get one message when it is blind, one when it sees.")
    state = repr(sorted((n.subject, n.name, n.blind, n.changed_at.isoformat()) for n in notices))
    domain = sender.rpartition("@")[2] or "localhost"
    msg = envelope(
        subject, sender, recipients, f"<monitor-health-{hashlib.sha256(state.encode()).hexdigest()[:24]}@{domain}>"
    )
    msg.set_content("\n".join(lines) + "\n")
    return msg

"""Compose the alert notification as a standard-library :class:`email.message.EmailMessage`."""

from __future__ import annotations

import hashlib
import html
import mimetypes
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

ACTION_WORDS = {"opened": "NEW", "raised": "RAISED", "resolved": "RESOLVED"}


def message_id(alert_states: Sequence[tuple[str, str, str]], domain: str) -> str:
    """A stable Message-ID for a set of (alert id, level, status) states: resending makes the same id."""
    digest = hashlib.sha256(repr(sorted(alert_states)).encode()).hexdigest()[:24]
    return f"<monitor-{digest}@{domain}>"


def _line(alert: dict[str, Any]) -> str:
    announced = alert.get("notified_status") is not None
    if alert["status"] == "resolved":
        word = "RESOLVED" if announced else "NEW+RESOLVED"
    else:
        word = "RAISED" if announced else "NEW"
    return (
        f"[{word}] {alert['level'].upper()} {alert['kind']} at {alert['site']}/{alert['zone']} "
        f"score {alert['score']:.2f}, seen {alert['first_seen'][:10]}..{alert['last_seen'][:10]} "
        f"({len(alert['scene_ids'])} scene(s))"
    )


def build_message(
    alerts: Sequence[dict[str, Any]],
    *,
    sender: str,
    recipients: Sequence[str],
    simulated: bool,
    max_images: int = 6,
) -> EmailMessage:
    """One message listing every alert change, plain text and HTML, with the evidence PNGs attached."""
    prefix = "[SIMULATED] " if simulated else ""
    sites = sorted({a["site"] for a in alerts})
    subject = f"{prefix}monitor: {len(alerts)} alert change(s) at {', '.join(sites)}"
    lines = [_line(a) for a in alerts]
    text = "\n".join(
        (["SIMULATED DATA: these alerts come from the offline demo, not from real imagery.", ""] if simulated else [])
        + lines
        + ["", "Evidence:"]
        + [f"  {p}" for a in alerts for p in a["evidence"]]
    )
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    banner = "<p><strong>SIMULATED DATA</strong> (offline demo)</p>" if simulated else ""
    body = f"<html><body>{banner}<ul>{items}</ul></body></html>"
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(usegmt=True)
    domain = sender.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = message_id([(a["id"], a["level"], a["status"]) for a in alerts], domain)
    msg.set_content(text)
    msg.add_alternative(body, subtype="html")
    attached = 0
    for alert in alerts:
        for path in alert["evidence"][-1:]:
            p = Path(path)
            if attached >= max_images or not p.is_file():
                continue
            ctype = mimetypes.guess_type(p.name)[0] or "application/octet-stream"
            maintype, subtype = ctype.split("/", 1)
            msg.add_attachment(p.read_bytes(), maintype=maintype, subtype=subtype, filename=p.name)
            attached += 1
    return msg

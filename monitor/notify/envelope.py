"""The headers every message of the monitor carries (alerts, backfill summary, health notices, test mail)."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate


def envelope(subject: str, sender: str, recipients: Sequence[str], message_id: str) -> EmailMessage:
    """An empty message with Subject, From, To, Date (now, UTC) and ``message_id`` (``<...@domain>``: a
    stable id makes a resent message recognisable as the same one)."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id
    return msg

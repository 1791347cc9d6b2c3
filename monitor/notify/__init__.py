"""Notifications: one message per run grouping alert changes, kept in an outbox until delivered."""

from monitor.notify.message import DueAlert, build_message
from monitor.notify.outbox import deliver_pending, enqueue

__all__ = ["DueAlert", "build_message", "deliver_pending", "enqueue"]

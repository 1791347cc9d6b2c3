"""Notifications: one message per run grouping alert changes, kept in an outbox until delivered.

Names are re-exported lazily: queueing and delivering (``outbox``) load no Jinja2 or Pillow, which only
composing an alert message (``message``) needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "build_message": "monitor.notify.message",
    "deliver_pending": "monitor.notify.outbox",
    "enqueue": "monitor.notify.outbox",
}

__all__ = ["build_message", "deliver_pending", "enqueue"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'monitor.notify' has no attribute {name!r}")

"""Webhook receivers: the same notification as the email, as one JSON POST (Slack / Matrix style).

Body (``Content-Type: application/json``, UTF-8)::

    {
      "text": "[SIMULATED] monitor: 1 NEW high alert(s) at mirim\\nNEW high crowd mirim/replica-square ...",
      "html": "<p><b>monitor: ...</b></p><ul><li>...</li></ul>",
      "monitor": {"version": 1, "message_id": "<monitor-...@example.org>", "subject": "...",
                  "simulated": false, "alerts": [{"id": ..., "site": ..., "zone": ..., "kind": ...,
                  "level": ..., "status": ..., "notice": ..., "score": ..., "first_seen": ...,
                  "last_seen": ..., "scene_ids": [...], "evidence": "/abs/path/newest.png" | null}]}
    }

``text`` is what a Slack incoming webhook shows and ``text``/``html`` what a Matrix hookshot generic
webhook posts; ``monitor`` is the structured copy for receivers of your own. A message is delivered when
the receiver answers 2xx; anything else keeps it in the outbox for the next run.

Only the URL's host is contacted: no redirects are followed and no proxy or ``.netrc`` from the
environment is used. The URL is never logged: logs and errors show :func:`display_url` (scheme and host)
and any echo of the URL's path or query in an exception is cut out.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from monitor.config import WebhookConfig
from monitor.errors import NotifyError
from monitor.notify.message import DueAlert, notice
from monitor.render.names import newest

#: Version of the ``monitor`` object in the body; bumped only when a field changes meaning.
BODY_VERSION = 1


def display_url(url: str) -> str:
    """``https://hooks.slack.com/…``: scheme, host and port, never the path or query that hold the secret."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def _scrub(text: str, url: str) -> str:
    """``text`` with the URL's secret parts (user info, path, query) replaced by ``…``."""
    parts = urlsplit(url)
    for secret in (
        url,
        parts.path + (f"?{parts.query}" if parts.query else ""),
        parts.path,
        parts.query,
        parts.password,
    ):
        if secret and secret not in {"/", ""}:
            text = text.replace(secret, "…")
    return text


def _line(due: DueAlert) -> str:
    a = due.alert
    return (
        f"{notice(due)} {a.level} {a.kind} {a.site}/{a.zone}, score {a.score:.2f}, "
        f"seen {a.first_seen[:10]}..{a.last_seen[:10]} ({a.id})"
    )


def webhook_body(alerts: Sequence[DueAlert], *, subject: str, message_id: str, simulated: bool) -> dict[str, Any]:
    """The JSON body for one notification (see the module docstring)."""
    lines = [subject, *(_line(a) for a in alerts)]
    if simulated:
        lines.append("SIMULATED DATA: scenes from monitor.simulate, not Copernicus imagery.")
    items = "".join(f"<li>{html.escape(_line(a))}</li>" for a in alerts)
    sim = "<p><b>SIMULATED DATA</b>: scenes from monitor.simulate, not Copernicus imagery.</p>" if simulated else ""
    return {
        "text": "\n".join(lines),
        "html": f"<p><b>{html.escape(subject)}</b></p><ul>{items}</ul>{sim}",
        "monitor": {
            "version": BODY_VERSION,
            "message_id": message_id,
            "subject": subject,
            "simulated": simulated,
            "alerts": [
                {
                    "id": d.alert.id,
                    "site": d.alert.site,
                    "zone": d.alert.zone,
                    "kind": str(d.alert.kind),
                    "level": str(d.alert.level),
                    "status": str(d.alert.status),
                    "notice": notice(d),
                    "score": d.alert.score,
                    "first_seen": d.alert.first_seen,
                    "last_seen": d.alert.last_seen,
                    "scene_ids": list(d.alert.scene_ids),
                    "evidence": str(p) if (p := newest(list(d.alert.evidence), "png")) else None,
                }
                for d in alerts
            ],
        },
    }


def post_webhook(hook: WebhookConfig, body: bytes) -> int:
    """POST ``body`` (JSON) to the webhook; returns the HTTP status. Raises :class:`NotifyError` (URL
    scrubbed) on a connection error or a status that is not 2xx. Redirects are refused, not followed."""
    import requests

    assert hook.url is not None  # filled from url_env when the config was loaded
    url = hook.url.get_secret_value()
    where = f"webhook {hook.name} ({display_url(url)})"
    session = requests.Session()
    session.trust_env = False  # no proxy, no .netrc: the URL's host is the only host contacted
    try:
        with session:
            response = session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "monitor"},
                timeout=hook.timeout,
                allow_redirects=False,
            )
    except requests.RequestException as exc:
        raise NotifyError(f"{where}: {_scrub(str(exc), url)}") from None
    if not 200 <= response.status_code < 300:
        reason = _excerpt(_scrub(response.text, url))
        raise NotifyError(f"{where}: HTTP {response.status_code}{': ' + reason if reason else ''}")
    return int(response.status_code)


#: Characters of a receiver's error body kept in the message (an HTML error page is cut, and says so).
BODY_EXCERPT = 300


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= BODY_EXCERPT:
        return flat
    head = flat[:BODY_EXCERPT].rsplit(" ", 1)[0]
    return f"{head} [... {len(flat) - len(head)} more characters]"


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The body as UTF-8 JSON bytes (what is stored in the outbox and sent)."""
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")

"""Compose the alert notification as a standard-library :class:`email.message.EmailMessage`.

Structure (RFC 2046/2387)::

    multipart/mixed
      multipart/alternative
        text/plain                 every alert, its onset and latest observation, evidence paths
        multipart/related
          text/html                the same, with <img src="cid:..."> pictures
          image/jpeg ...           evidence pictures (latest, then onset), downscaled; disposition inline
      application/geo+json ...     the detections of each alert, disposition attachment (full-resolution
                                   files are listed by path)

Text that comes from the config or the data is escaped in the HTML (Jinja2 autoescape).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.archive.records import Alert, AlertStatus
from monitor.notify.envelope import envelope
from monitor.render.names import newest, newest_of_each, onset

if TYPE_CHECKING:  # Jinja2 and Pillow load when a message is composed, not when a run has none to send
    import jinja2

log = logging.getLogger(__name__)

#: The word a notification uses for what happened to an alert since the last message.
NOTICES = ("NEW", "RAISED", "RESOLVED", "NEW+RESOLVED", "STILL FIRING")


@dataclass(frozen=True)
class DueAlert:
    """An alert a message is about; ``repeat``: a reminder that it is still firing."""

    alert: Alert
    repeat: bool = False


def _due(item: DueAlert | Alert) -> DueAlert:
    return item if isinstance(item, DueAlert) else DueAlert(item)


def notice(item: DueAlert | Alert) -> str:
    """What this message says about the alert: ``NEW``, ``RAISED``, ``RESOLVED``, ``NEW+RESOLVED`` (opened
    and resolved between two messages) or ``STILL FIRING`` (a repeat reminder, ``repeat``)."""
    due = _due(item)
    announced = due.alert.notified_status is not None
    if due.alert.status is AlertStatus.RESOLVED:
        return "RESOLVED" if announced else "NEW+RESOLVED"
    if due.repeat:
        return "STILL FIRING"
    return "RAISED" if announced else "NEW"


def message_id(alert_states: Sequence[tuple[str, ...]], domain: str) -> str:
    """A stable Message-ID for a set of alert states (id, level, status[, repeat marker]): building the
    same notification again (a retry after a crash) gives the same id, so the outbox keeps it once."""
    digest = hashlib.sha256(repr(sorted(alert_states)).encode()).hexdigest()[:24]
    return f"<monitor-{digest}@{domain}>"


def alert_state(item: DueAlert | Alert) -> tuple[str, ...]:
    """The part of an alert that makes one notification differ from another."""
    due = _due(item)
    alert = due.alert
    state = (alert.id, str(alert.level), str(alert.status))
    return (*state, f"repeat-after:{alert.notified_at}") if due.repeat else state


def _environment() -> jinja2.Environment:
    from monitor.render.templating import environment

    return environment("monitor.notify")


def render_template(name: str, **context: Any) -> str:
    """Render one of the package's templates (``*.html`` escaped, ``*.txt`` as is)."""
    return _environment().get_template(name).render(**context)


def inline_image(path: Path, width: int) -> bytes:
    """A JPEG of the picture at most ``width`` pixels wide (quality 85): small enough for a phone."""
    from PIL import Image

    with Image.open(path) as source:
        im = source.convert("RGB")
    if im.width > width:
        im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=85, optimize=True)
    return buffer.getvalue()


def build_message(
    alerts: Sequence[DueAlert | Alert],
    *,
    sender: str,
    recipients: Sequence[str],
    simulated: bool,
    max_images: int = 6,
    inline_width: int = 800,
    site_names: Mapping[str, str] | None = None,
) -> EmailMessage:
    """One message about every alert in ``alerts`` (new, raised, resolved, or reminders), text and HTML.

    Each alert is told from its onset (the observation that opened it: ``scene_ids[0]`` at
    ``first_seen``) to its latest observation. Up to ``max_images`` pictures are shown inline
    (``Content-Disposition: inline``, downscaled to ``inline_width`` pixels): every alert's latest
    evidence PNG first, then, while the budget lasts, the PNG of its onset. The latest detections
    GeoJSON of each alert is the only attachment, and the newest evidence file of each kind is listed
    by its absolute path.
    """
    site_names = site_names or {}
    domain = sender.rpartition("@")[2] or "localhost"
    msgid = message_id([alert_state(a) for a in alerts], domain)
    token = msgid.strip("<>").split("@")[0]
    items: list[dict[str, Any]] = []
    images: list[tuple[str, bytes]] = []
    attachments: list[tuple[str, bytes]] = []
    due = [_due(a) for a in alerts]

    def picture(path: Path | None, cid: str) -> str | None:
        if path is None or len(images) >= max_images:
            return None
        try:
            images.append((cid, inline_image(path, inline_width)))
        except OSError as exc:
            log.warning("evidence %s not shown inline: %s", path, exc)
            return None
        return cid

    for index, item in enumerate(due):
        alert = item.alert
        png = newest(alert.evidence, "phone") or newest(alert.evidence, "png")
        first = onset(alert.evidence, "phone") or onset(alert.evidence, "png")
        geojson = newest(alert.evidence, "geojson")
        if geojson is not None:
            name = f"{alert.site}-{alert.zone}-{alert.kind}-{geojson.stem}.geojson"
            attachments.append((name, geojson.read_bytes()))
        items.append(
            {
                "alert": alert,
                "notice": notice(item),
                "site_name": site_names.get(alert.site) or alert.site,
                "cid": picture(png, f"{token}.{index}@{domain}"),
                "png": png,
                "onset_png": first if first != png else None,
                "onset_cid": None,
                "geojson_name": geojson and attachments[-1][0],
                "latest": newest_of_each(alert.evidence),
            }
        )
    for index, entry in enumerate(items):  # the onsets' pictures after every alert's latest one
        if entry["onset_png"] is not None:
            entry["onset_cid"] = picture(entry["onset_png"], f"{token}.{index}.onset@{domain}")
    sites = sorted({d.alert.site for d in due})
    counts: dict[str, int] = {}
    for entry in items:
        word = str(entry["notice"])
        counts[word] = counts.get(word, 0) + 1
    headline = ", ".join(f"{n} {word.lower()}" for word, n in counts.items())
    subject = f"{'[SIMULATED] ' if simulated else ''}monitor: {headline} alert(s) at {', '.join(sites)}"
    context = {"items": items, "simulated": simulated, "subject": subject}
    msg = envelope(subject, sender, recipients, msgid)
    msg.set_content(render_template("message.txt", **context))
    msg.add_alternative(render_template("message.html", **context), subtype="html")
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for cid, payload in images:
        name = cid.split("@")[0] + ".jpg"
        # inline: mail clients show it in the text, not in the list of attachments (RFC 2183)
        html_part.add_related(
            payload, maintype="image", subtype="jpeg", cid=f"<{cid}>", filename=name, disposition="inline"
        )
    for name, payload in attachments:
        msg.add_attachment(payload, maintype="application", subtype="geo+json", filename=name, disposition="attachment")
    return msg


def build_summary_message(
    alerts: Sequence[Alert],
    *,
    sender: str,
    recipients: Sequence[str],
    simulated: bool,
    period: str,
    scenes: int,
    site_names: Mapping[str, str] | None = None,
) -> EmailMessage:
    """One plain-text message summing up the alerts a backfill of ``period`` found in history (one line
    each: level, kind, site/zone, dates, id), instead of a message per alert with its pictures; the
    evidence stays in the archive (``monitor alerts``, ``monitor report``)."""
    site_names = site_names or {}
    domain = sender.rpartition("@")[2] or "localhost"
    msgid = message_id([(*alert_state(a), f"backfill:{period}") for a in alerts], domain)
    sites = sorted({a.site for a in alerts})
    prefix = "[SIMULATED] " if simulated else ""
    subject = f"{prefix}monitor: backfill {period}: {len(alerts)} alert(s) in history at {', '.join(sites)}"
    lines = [
        f"{prefix}A backfill of {period} scored {scenes} scene(s) and recorded {len(alerts)} alert(s).",
        "They were found in history and are not announced one by one; see `monitor alerts` and",
        "`monitor report` for their scores and evidence.",
        "",
    ]
    for a in sorted(alerts, key=lambda a: (a.first_seen, a.id)):
        where = f"{site_names.get(a.site) or a.site}/{a.zone}"
        lines.append(
            f"{a.level.upper():<6} {a.kind:<7} {where}  {a.first_seen[:10]}..{a.last_seen[:10]}  "
            f"score {a.score:.2f}  {a.status}  {a.id}"
        )
    msg = envelope(subject, sender, recipients, msgid)
    msg.set_content("\n".join(lines) + "\n")
    return msg
